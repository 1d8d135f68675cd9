"""What to offer, and why, in the reader's language with the customers counted in its plural."""

from decimal import Decimal

import pytest
from django.utils import translation

from reports.models import CrossSellSuggestion


def _reason(customers: int, peer_group: str = "Manufacturing") -> str:
    suggestion = CrossSellSuggestion(
        peer_group=peer_group, confidence=Decimal("0.8"), lift=Decimal("1.4"), customers=customers
    )
    return suggestion.reason


@pytest.mark.parametrize(
    ("language", "customers", "expected"),
    [
        ("en", 1, "(1 customer, lift 1.4×)"),
        ("en", 31, "(31 customers, lift 1.4×)"),
        ("ru", 1, "(1 клиент, лифт 1.4×)"),
        ("ru", 3, "(3 клиента, лифт 1.4×)"),
        ("ru", 31, "(31 клиент, лифт 1.4×)"),
        ("ru", 11, "(11 клиентов, лифт 1.4×)"),
        ("zh-hans", 31, "（31 位客户，提升度 1.4×）"),
    ],
)
def test_the_reason_counts_customers_in_the_readers_plural(language, customers, expected):
    with translation.override(language):
        assert expected in _reason(customers)


def test_no_english_is_left_in_a_chinese_reason():
    with translation.override("zh-hans"):
        assert "customer" not in _reason(31) and "customer" not in _reason(31, peer_group="*")


def test_long_axis_labels_break_into_two_lines_between_words():
    from reports.charts import bar_chart

    labels = [
        "Чемпионы",
        "Лояльные",
        "Потенциально лояльные",
        "Новые",
        "Под угрозой",
        "Нельзя потерять",
        "Спящие",
        "潜在忠诚客户",
    ]
    chart = bar_chart(title="t", description="d", labels=labels, series=[("n", [1] * len(labels))])
    lines = {label["text"]: label["lines"] for label in chart.labels}
    assert lines["Потенциально лояльные"] == ["Потенциально", "лояльные"]
    assert lines["Нельзя потерять"] == ["Нельзя", "потерять"]
    assert lines["Чемпионы"] == ["Чемпионы"] and lines["潜在忠诚客户"] == ["潜在忠诚客户"]
