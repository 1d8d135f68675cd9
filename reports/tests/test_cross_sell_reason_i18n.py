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
