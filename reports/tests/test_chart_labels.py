"""Chart axis labels are for the reader: their decimal separator is the reader's language's
(the coordinates stay plain numbers; tests/test_translations.py checks those)."""

import pytest
from django.utils import translation

from reports.charts import _short, bar_chart


@pytest.mark.parametrize(
    ("language", "expected"),
    [
        ("en", ["0", "2.5", "5", "7.5", "10"]),
        ("ru", ["0", "2,5", "5", "7,5", "10"]),
        ("zh-hans", ["0", "2.5", "5", "7.5", "10"]),
    ],
)
def test_axis_ticks_use_the_readers_decimal_separator(language, expected):
    with translation.override(language):
        chart = bar_chart(title="t", description="d", labels=["a"], series=[("s", [10])])
        assert [tick["label"] for tick in chart.ticks] == expected
        assert all("," not in str(tick["y"]) for tick in chart.ticks)


def test_thousands_and_millions_are_shortened_in_the_readers_format():
    with translation.override("ru"):
        assert _short(1_200_000) == "1,2M"
        assert _short(35_000) == "35k"
    with translation.override("en"):
        assert _short(1_500) == "1.5k"


def test_the_phone_funnel_is_drawn_narrow_so_its_labels_keep_their_size():
    from reports.charts import NARROW_WIDTH, funnel_chart_narrow

    chart = funnel_chart_narrow(title="t", description="d", steps=[("Lead", 10, "(100%)"), ("Won", 2, "(20%)")])
    assert chart.view_box == f"0 0 {NARROW_WIDTH} {chart.height}"
    assert NARROW_WIDTH <= 360  # a 390 px screen's card: 13-unit text stays about 13 px
    names = [label for label in chart.labels if label.get("anchor") == "start"]
    assert [n["text"] for n in names] == ["Lead", "Won"]
    bars = chart.shapes
    assert all(name["y"] < bar["y"] for name, bar in zip(names, bars, strict=True))  # the name above its bar
    assert bars[0]["width"] == NARROW_WIDTH - 8
