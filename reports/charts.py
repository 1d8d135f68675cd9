"""SVG charts drawn on the server: geometry here, markup in ``reports/jinja2/reports/charts/``
(Jinja2, written by ``{% chart_svg %}`` in ``reports/templatetags/chart_tags.py``).

Every chart carries a title and a description for screen readers (``role="img"`` with
``<title>``/``<desc>``), and every page prints the same numbers in a table under it, so no
JavaScript chart library is needed and nothing is lost without sight or without SVG.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from django.utils.formats import get_format

WIDTH = 720
PLOT_LEFT = 64
PLOT_RIGHT = 16
PLOT_TOP = 16
PLOT_BOTTOM = 40

Number = int | float | Decimal


def _short(value: Number) -> str:
    """Axis and bar labels: 1.2M, 35k, 12 — with the reader's decimal separator (1,2M in Russian)."""
    number = float(value)
    for limit, suffix in ((1_000_000_000, "B"), (1_000_000, "M"), (1_000, "k")):
        if abs(number) >= limit:
            return _decimal(f"{number / limit:.1f}".rstrip("0").rstrip(".")) + suffix
    return _decimal(f"{number:.1f}".rstrip("0").rstrip(".")) if number % 1 else f"{number:.0f}"


def _decimal(text: str) -> str:
    return text.replace(".", get_format("DECIMAL_SEPARATOR"))


def _nice_max(value: float) -> float:
    if value <= 0:
        return 1.0
    magnitude = 10 ** (len(str(int(value))) - 1)
    for step in (1, 2, 2.5, 5, 10):
        if value <= step * magnitude:
            return step * magnitude
    return 10 * magnitude


def _label_step(count: int, most: int = 8) -> int:
    """Label every n-th group so at most ``most`` axis labels share the width without overlapping."""
    return max(1, -(-count // most))


@dataclass
class Chart:
    kind: str
    title: str
    description: str
    height: int
    width: int = WIDTH
    shapes: list[dict] = field(default_factory=list)
    ticks: list[dict] = field(default_factory=list)
    labels: list[dict] = field(default_factory=list)
    legend: list[dict] = field(default_factory=list)
    points: str = ""

    @property
    def template_name(self) -> str:
        return f"reports/charts/{self.kind}.svg"

    @property
    def view_box(self) -> str:
        return f"0 0 {self.width} {self.height}"


def _y_ticks(top: float, plot_height: float, maximum: float, *, suffix: str = "") -> list[dict]:
    return [
        {
            "y": round(top + plot_height - plot_height * i / 4, 1),
            "label": _short(maximum * i / 4) + suffix,
        }
        for i in range(5)
    ]


def bar_chart(
    *,
    title: str,
    description: str,
    labels: Sequence[str],
    series: Sequence[tuple[str, Sequence[Number | None]]],
    height: int = 260,
) -> Chart:
    """Grouped vertical bars: one group per label, one bar per series."""
    chart = Chart(kind="bars", title=title, description=description, height=height)
    values = [float(v or 0) for _name, data in series for v in data]
    maximum = _nice_max(max(values, default=0))
    plot_width = WIDTH - PLOT_LEFT - PLOT_RIGHT
    plot_height = height - PLOT_TOP - PLOT_BOTTOM
    group = plot_width / max(len(labels), 1)
    bar = group * 0.8 / max(len(series), 1)
    chart.ticks = _y_ticks(PLOT_TOP, plot_height, maximum)
    for s_index, (name, data) in enumerate(series):
        chart.legend.append({"name": name, "series": s_index, "x": PLOT_LEFT + s_index * 160})
        for l_index, value in enumerate(data):
            bar_height = plot_height * float(value or 0) / maximum
            chart.shapes.append(
                {
                    "x": round(PLOT_LEFT + l_index * group + group * 0.1 + s_index * bar, 1),
                    "y": round(PLOT_TOP + plot_height - bar_height, 1),
                    "width": round(max(bar - 2, 1), 1),
                    "height": round(bar_height, 1),
                    "series": s_index,
                    "tooltip": f"{labels[l_index]} · {name}: {_short(value or 0)}",
                }
            )
    step = _label_step(len(labels))
    room = max(int(group * step / AXIS_CHAR_WIDTH), 4)
    chart.labels = [
        {
            "x": round(PLOT_LEFT + i * group + group / 2, 1),
            "y": height - PLOT_BOTTOM + 16,
            "text": label,
            "lines": _axis_lines(str(label), room),
        }
        for i, label in enumerate(labels)
        if i % step == 0
    ]
    return chart


# The width of an axis label's character in viewBox units (a CJK character counts twice).
AXIS_CHAR_WIDTH = 6.5


def _axis_lines(text: str, room: int) -> list[str]:
    """``text`` in at most two lines of about ``room`` characters, broken between words: the
    Russian segment names ("Потенциально лояльные") ran into their neighbours on one line."""

    def width(part: str) -> int:
        return sum(2 if "\u2e80" <= ch <= "\uffef" else 1 for ch in part)

    if width(text) <= room or " " not in text.strip():
        return [text]
    lines = [""]
    for word in text.split():
        if lines[-1] and len(lines) == 1 and width(f"{lines[-1]} {word}") > room:
            lines.append(word)
        else:
            lines[-1] = f"{lines[-1]} {word}".strip()
    return lines


def funnel_chart(*, title: str, description: str, steps: Sequence[tuple[str, int, str]]) -> Chart:
    """Centred horizontal bars whose width follows each step's count; ``steps``: (label, count, note)."""
    row = 44
    height = max(len(steps), 1) * row + 8
    chart = Chart(kind="funnel", title=title, description=description, height=height)
    left, usable = 200, WIDTH - 200 - 16
    top = max((count for _label, count, _note in steps), default=0) or 1
    for index, (label, count, note) in enumerate(steps):
        width = max(usable * count / top, 2)
        y = 4 + index * row
        chart.shapes.append(
            {
                "x": round(left + (usable - width) / 2, 1),
                "y": y,
                "width": round(width, 1),
                "height": row - 8,
                "series": 0,
                "tooltip": f"{label}: {count}",
            }
        )
        chart.labels.append({"x": left - 8, "y": y + row / 2, "text": label, "anchor": "end"})
        chart.labels.append({"x": left + usable / 2, "y": y + row / 2, "text": f"{count} {note}".strip()})
    return chart


# The phone funnel's width in viewBox units: about a 390 px screen's card, so its 13-unit
# text stays near 13 px (the 720-wide chart shrank its labels to about 5 px).
NARROW_WIDTH = 340


def funnel_chart_narrow(*, title: str, description: str, steps: Sequence[tuple[str, int, str]]) -> Chart:
    """The funnel for phones: each step's name above its bar, the bars across the full width."""
    row = 58
    height = max(len(steps), 1) * row + 4
    chart = Chart(kind="funnel", title=title, description=description, height=height, width=NARROW_WIDTH)
    usable = NARROW_WIDTH - 8
    top = max((count for _label, count, _note in steps), default=0) or 1
    for index, (label, count, note) in enumerate(steps):
        width = max(usable * count / top, 2)
        y = 4 + index * row
        chart.labels.append({"x": 4, "y": y + 9, "text": label, "anchor": "start"})
        bar_y = y + 20
        chart.shapes.append(
            {
                "x": round(4 + (usable - width) / 2, 1),
                "y": bar_y,
                "width": round(width, 1),
                "height": row - 26,
                "series": 0,
                "tooltip": f"{label}: {count}",
            }
        )
        chart.labels.append({"x": 4 + usable / 2, "y": bar_y + (row - 26) / 2, "text": f"{count} {note}".strip()})
    return chart


def line_chart(
    *, title: str, description: str, labels: Sequence[str], values: Sequence[float | None], suffix: str = "%"
) -> Chart:
    """One line over the labels; gaps (None) are skipped, e.g. months without closed deals."""
    height = 240
    chart = Chart(kind="line", title=title, description=description, height=height)
    inset = 28  # keeps the first and last point's labels inside the picture
    plot_width = WIDTH - PLOT_LEFT - PLOT_RIGHT - 2 * inset
    plot_height = height - PLOT_TOP - PLOT_BOTTOM
    maximum = 100.0 if suffix == "%" else _nice_max(max((v or 0 for v in values), default=0))
    chart.ticks = _y_ticks(PLOT_TOP, plot_height, maximum, suffix=suffix)
    step_x = plot_width / max(len(labels) - 1, 1)
    points = []
    for index, value in enumerate(values):
        x = round(PLOT_LEFT + inset + index * step_x, 1) if len(labels) > 1 else PLOT_LEFT + inset + plot_width / 2
        if value is not None:
            y = round(PLOT_TOP + plot_height - plot_height * value / maximum, 1)
            points.append(f"{x},{y}")
            chart.shapes.append({"x": x, "y": y, "series": 0, "tooltip": f"{labels[index]}: {_short(value)}{suffix}"})
    chart.points = " ".join(points)
    step = _label_step(len(labels))
    chart.labels = [
        {
            "x": round(PLOT_LEFT + inset + i * step_x, 1) if len(labels) > 1 else PLOT_LEFT + inset + plot_width / 2,
            "y": height - PLOT_BOTTOM + 16,
            "text": label,
        }
        for i, label in enumerate(labels)
        if i % step == 0
    ]
    return chart


# The report builder's charts: any number of series, eight colours (the rest reuse them).
SERIES_COLOURS = 8


def stacked_bar_chart(
    *,
    title: str,
    description: str,
    labels: Sequence[str],
    series: Sequence[tuple[str, Sequence[Number | None]]],
    height: int = 280,
) -> Chart:
    """One bar per label, each series a segment stacked on the previous ones."""
    chart = Chart(kind="bars", title=title, description=description, height=height)
    totals = [sum(float(data[i] or 0) for _name, data in series) for i in range(len(labels))]
    maximum = _nice_max(max(totals, default=0))
    plot_width = WIDTH - PLOT_LEFT - PLOT_RIGHT
    plot_height = height - PLOT_TOP - PLOT_BOTTOM
    group = plot_width / max(len(labels), 1)
    chart.ticks = _y_ticks(PLOT_TOP, plot_height, maximum)
    base = [0.0] * len(labels)
    for s_index, (name, data) in enumerate(series):
        colour = s_index % SERIES_COLOURS
        chart.legend.append({"name": name, "series": colour})
        for l_index, value in enumerate(data):
            number = max(float(value or 0), 0.0)
            if not number:
                continue
            bar_height = plot_height * number / maximum
            base[l_index] += bar_height
            chart.shapes.append(
                {
                    "x": round(PLOT_LEFT + l_index * group + group * 0.15, 1),
                    "y": round(PLOT_TOP + plot_height - base[l_index], 1),
                    "width": round(max(group * 0.7, 1), 1),
                    "height": round(bar_height, 1),
                    "series": colour,
                    "tooltip": f"{labels[l_index]} · {name}: {_short(value or 0)}",
                }
            )
    chart.labels = _axis_labels(labels, group, height)
    return chart


def _axis_labels(labels: Sequence[str], group: float, height: int) -> list[dict]:
    step = _label_step(len(labels))
    room = max(int(group * step / AXIS_CHAR_WIDTH), 4)
    return [
        {
            "x": round(PLOT_LEFT + i * group + group / 2, 1),
            "y": height - PLOT_BOTTOM + 16,
            "text": label,
            "lines": _axis_lines(str(label), room),
        }
        for i, label in enumerate(labels)
        if i % step == 0
    ]


def multi_line_chart(
    *,
    title: str,
    description: str,
    labels: Sequence[str],
    series: Sequence[tuple[str, Sequence[Number | None]]],
    suffix: str = "",
) -> Chart:
    """One line per series over the labels; a missing value breaks nothing, it is skipped."""
    height = 260
    chart = Chart(kind="lines", title=title, description=description, height=height)
    inset = 28
    plot_width = WIDTH - PLOT_LEFT - PLOT_RIGHT - 2 * inset
    plot_height = height - PLOT_TOP - PLOT_BOTTOM
    values = [float(v) for _n, data in series for v in data if v is not None]
    maximum = _nice_max(max(values, default=0))
    chart.ticks = _y_ticks(PLOT_TOP, plot_height, maximum, suffix=suffix)
    step_x = plot_width / max(len(labels) - 1, 1)

    def x_of(index: int) -> float:
        return round(PLOT_LEFT + inset + index * step_x, 1) if len(labels) > 1 else PLOT_LEFT + inset + plot_width / 2

    for s_index, (name, data) in enumerate(series):
        colour = s_index % SERIES_COLOURS
        points = []
        for index, value in enumerate(data):
            if value is None:
                continue
            y = round(PLOT_TOP + plot_height - plot_height * float(value) / maximum, 1)
            points.append(f"{x_of(index)},{y}")
            chart.shapes.append(
                {"x": x_of(index), "y": y, "series": colour, "tooltip": f"{labels[index]} · {name}: {_short(value)}"}
            )
        chart.legend.append({"name": name, "series": colour, "points": " ".join(points)})
    step = _label_step(len(labels))
    chart.labels = [
        {"x": x_of(i), "y": height - PLOT_BOTTOM + 16, "text": label} for i, label in enumerate(labels) if i % step == 0
    ]
    return chart


def pie_chart(*, title: str, description: str, slices: Sequence[tuple[str, Number | None]]) -> Chart:
    """Slices of a whole, largest first as given; negative and empty values are left out."""
    import math

    height = 280
    chart = Chart(kind="pie", title=title, description=description, height=height)
    parts = [(label, float(value)) for label, value in slices if value is not None and float(value) > 0]
    whole = sum(value for _label, value in parts) or 1.0
    cx, cy, radius = 150.0, height / 2, height / 2 - 16
    angle = -math.pi / 2
    for index, (label, value) in enumerate(parts):
        colour = index % SERIES_COLOURS
        share = value / whole
        sweep = share * 2 * math.pi
        end = angle + sweep
        x1, y1 = cx + radius * math.cos(angle), cy + radius * math.sin(angle)
        x2, y2 = cx + radius * math.cos(end), cy + radius * math.sin(end)
        large = 1 if sweep > math.pi else 0
        if share >= 0.9999:
            path = (
                f"M {cx - radius:.1f} {cy:.1f} a {radius:.1f} {radius:.1f} 0 1 0 {2 * radius:.1f} 0 "
                f"a {radius:.1f} {radius:.1f} 0 1 0 {-2 * radius:.1f} 0"
            )
        else:
            path = (
                f"M {cx:.1f} {cy:.1f} L {x1:.1f} {y1:.1f} A {radius:.1f} {radius:.1f} 0 {large} 1 {x2:.1f} {y2:.1f} Z"
            )
        percent = _decimal(f"{share * 100:.1f}")
        chart.shapes.append({"path": path, "series": colour, "tooltip": f"{label}: {_short(value)} ({percent}%)"})
        if index < 12:
            chart.legend.append({"name": label, "series": colour, "y": 28 + index * 20, "text": f"{percent}%"})
        angle = end
    return chart


def whale_chart(*, title: str, description: str, points: Sequence[tuple[float, float]]) -> Chart:
    """The whale curve: x = share of customers ranked by profit (0–100 %), y = cumulative profit
    as % of the total (rises above 100 % while profitable customers add up, then falls back to
    100 % as the unprofitable ones give part of it away). A dashed line marks 100 %."""
    height = 280
    chart = Chart(kind="whale", title=title, description=description, height=height)
    plot_width = WIDTH - PLOT_LEFT - PLOT_RIGHT
    plot_height = height - PLOT_TOP - PLOT_BOTTOM
    ys = [y for _x, y in points] + [0.0, 100.0]
    top, bottom = _nice_max(max(ys)), min(min(ys), 0.0)
    if bottom < 0:
        bottom = -_nice_max(-bottom)
    span = top - bottom

    def y_of(value: float) -> float:
        return round(PLOT_TOP + plot_height * (top - value) / span, 1)

    chart.ticks = [{"y": y_of(bottom + span * i / 4), "label": _short(bottom + span * i / 4) + "%"} for i in range(5)]
    chart.points = " ".join(f"{round(PLOT_LEFT + plot_width * x / 100, 1)},{y_of(y)}" for x, y in [(0.0, 0.0), *points])
    chart.shapes = [{"x1": PLOT_LEFT, "x2": WIDTH - PLOT_RIGHT, "y": y_of(100.0), "label": "100%"}]
    if points:
        peak_x, peak_y = max(points, key=lambda point: point[1])
        chart.legend = [
            {
                "x": round(PLOT_LEFT + plot_width * peak_x / 100, 1),
                "y": y_of(peak_y),
                "label_y": round(y_of(peak_y) - 10, 1),
                "label": f"{_short(peak_y)}%",
            }
        ]
    chart.labels = [
        {"x": round(PLOT_LEFT + plot_width * share / 100, 1), "y": height - PLOT_BOTTOM + 16, "text": f"{share}%"}
        for share in (0, 20, 40, 60, 80, 100)
    ]
    return chart
