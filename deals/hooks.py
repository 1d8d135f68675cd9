"""Extension points for apps above ``deals`` in the import graph.

``activities`` knows each deal's next activity, but ``deals`` may not import it. It registers
a card decorator instead: a function that receives the page of board cards (rows of
``deals.selectors.CARD_COLUMNS``: ``card.pk`` is the deal's id) and sets ``card.next_activity``
on each (an activity: its ``pk``, ``subject`` and ``due_at`` are read, or ``None``) — with one
query for the whole page, never one per card.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from crm.rows import ListRow

CardDecorator = Callable[[Sequence["ListRow"]], None]

_card_decorators: dict[str, CardDecorator] = {}


def register_card_decorator(*, key: str, decorate: CardDecorator) -> None:
    _card_decorators[key] = decorate


def decorate_cards(cards: Sequence[ListRow]) -> None:
    for card in cards:
        card.next_activity = None
    if cards:
        for decorate in _card_decorators.values():
            decorate(cards)
