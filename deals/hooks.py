"""Extension points for apps above ``deals`` in the import graph.

``activities`` knows each deal's next activity, but ``deals`` may not import it. It registers
a card decorator instead: a function that receives the page of board cards and sets
``deal.next_activity`` on each (an activity: its ``pk``, ``subject`` and ``due_at`` are read,
or ``None``) — with one query for the whole page, never one per card.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from deals.models import Deal

CardDecorator = Callable[[Sequence["Deal"]], None]

_card_decorators: dict[str, CardDecorator] = {}


def register_card_decorator(*, key: str, decorate: CardDecorator) -> None:
    _card_decorators[key] = decorate


def decorate_cards(deals: Sequence[Deal]) -> None:
    for deal in deals:
        deal.next_activity = None
    if deals:
        for decorate in _card_decorators.values():
            decorate(deals)
