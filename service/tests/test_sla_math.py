from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from service.sla import BusinessHours

BERLIN = ZoneInfo("Europe/Berlin")
# Monday 1 December 2025 … the week the tests reason about.
HOURS = BusinessHours(tz=BERLIN, weekdays=frozenset({1, 2, 3, 4, 5}), start=time(9), end=time(17))


def berlin(day: int, hour: int, minute: int = 0, month: int = 12, year: int = 2025) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=BERLIN)


def test_within_the_working_day_it_adds_wall_time():
    assert HOURS.add(berlin(1, 10), 2 * 3600) == berlin(1, 12)


def test_it_carries_over_to_the_next_working_morning():
    # 16:00 Monday + 2 working hours: one hour Monday, one hour Tuesday from 9:00.
    assert HOURS.add(berlin(1, 16), 2 * 3600) == berlin(2, 10)


def test_a_start_before_opening_counts_from_opening():
    assert HOURS.add(berlin(1, 6), 30 * 60) == berlin(1, 9, 30)


def test_the_weekend_is_skipped():
    # Friday 16:30 + 1 hour: 30 minutes Friday, 30 minutes Monday.
    assert HOURS.add(berlin(5, 16, 30), 3600) == berlin(8, 9, 30)


def test_holidays_are_skipped():
    hours = BusinessHours(tz=BERLIN, start=time(9), end=time(17), holidays=frozenset({date(2025, 12, 2)}))
    assert hours.add(berlin(1, 16), 2 * 3600) == berlin(3, 10)


def test_the_time_zone_decides_the_working_day():
    # 07:30 UTC in winter is 08:30 in Berlin: half an hour before opening.
    start = datetime(2025, 12, 1, 7, 30, tzinfo=UTC)
    assert HOURS.add(start, 60) == berlin(1, 9, 1)


def test_daylight_saving_change_keeps_local_opening_hours():
    # Sunday 30 March 2025 the clocks go forward; Monday still opens at 9:00 local time.
    friday = datetime(2025, 3, 28, 16, tzinfo=BERLIN)
    assert HOURS.add(friday, 2 * 3600) == datetime(2025, 3, 31, 10, tzinfo=BERLIN)


def test_seconds_between_counts_only_working_time():
    assert HOURS.seconds_between(berlin(5, 16), berlin(8, 10)) == 2 * 3600
    assert HOURS.seconds_between(berlin(1, 18), berlin(2, 8)) == 0
    assert HOURS.seconds_between(berlin(2, 8), berlin(1, 18)) == 0


def test_add_and_seconds_between_agree():
    start = berlin(3, 15, 17)
    for seconds in (1, 3599, 8 * 3600, 40 * 3600 + 7):
        assert HOURS.seconds_between(start, HOURS.add(start, seconds)) == seconds


def test_around_the_clock_is_wall_time():
    hours = BusinessHours.around_the_clock()
    start = berlin(6, 23)
    assert hours.add(start, 3600) == start + timedelta(hours=1)
    assert hours.seconds_between(start, start + timedelta(days=2)) == 2 * 86400


def test_a_calendar_without_working_days_falls_back_to_wall_time():
    hours = BusinessHours(weekdays=frozenset())
    start = berlin(1, 10)
    assert hours.add(start, 60) == start + timedelta(seconds=60)
