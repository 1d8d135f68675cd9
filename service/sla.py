"""Business-time arithmetic for SLA clocks: working hours per weekday, holidays, a time zone.

A ``BusinessHours`` answers two questions: when does a budget of N working seconds that
starts at ``t`` run out (``add``), and how many working seconds lie between two instants
(``seconds_between``). Times in and out are aware datetimes; the calendar's own zone decides
which local day and hour an instant falls on (daylight saving included).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

# A search bound: a calendar with no working day at all would otherwise loop forever.
MAX_DAYS = 3660


@dataclass(frozen=True)
class BusinessHours:
    """``weekdays``: ISO weekdays (1 = Monday) that are working days; ``start``–``end`` the
    working hours of each; ``holidays`` local dates that are not worked. ``always`` makes
    every second count (a 24/7 desk, or a team without a calendar)."""

    tz: ZoneInfo = field(default_factory=lambda: ZoneInfo("UTC"))
    weekdays: frozenset[int] = frozenset({1, 2, 3, 4, 5})
    start: time = time(9, 0)
    end: time = time(17, 0)
    holidays: frozenset[date] = frozenset()
    always: bool = False

    @classmethod
    def around_the_clock(cls) -> BusinessHours:
        return cls(always=True)

    def _working(self, day: date) -> bool:
        return day.isoweekday() in self.weekdays and day not in self.holidays

    def _window(self, day: date) -> tuple[datetime, datetime]:
        """The day's working hours as aware instants (UTC arithmetic: DST-safe)."""
        opens = datetime.combine(day, self.start, tzinfo=self.tz)
        closes = datetime.combine(day, self.end, tzinfo=self.tz)
        return opens, closes

    def _windows_from(self, moment: datetime) -> Iterable[tuple[datetime, datetime]]:
        """Working windows that end after ``moment``, in order (the first may be clipped)."""
        day = moment.astimezone(self.tz).date()
        for _ in range(MAX_DAYS):
            if self._working(day):
                opens, closes = self._window(day)
                if closes > moment:
                    yield max(opens, moment), closes
            day += timedelta(days=1)

    def add(self, moment: datetime, seconds: float) -> datetime:
        """The instant when ``seconds`` of working time starting at ``moment`` are used up."""
        if self.always or self.start >= self.end or not self.weekdays:
            return moment + timedelta(seconds=seconds)
        left = timedelta(seconds=max(seconds, 0))
        last = moment
        for opens, closes in self._windows_from(moment):
            span = closes - opens
            if left <= span:
                return opens + left
            left -= span
            last = closes
        return last + left  # no working day within ten years: count wall time

    def seconds_between(self, start: datetime, end: datetime) -> float:
        """Working seconds in ``[start, end)`` (0 when ``end`` is not after ``start``)."""
        if end <= start:
            return 0.0
        if self.always or self.start >= self.end or not self.weekdays:
            return (end - start).total_seconds()
        total = 0.0
        for opens, closes in self._windows_from(start):
            if opens >= end:
                break
            total += (min(closes, end) - opens).total_seconds()
        return total
