"""The global search box: apps register providers, the search page asks each of them.

``crm`` sits at the bottom of the import graph, so it cannot import the apps whose records
it searches; each app registers a provider in its ``AppConfig.ready`` instead.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from crm.models import User


@dataclass(frozen=True)
class SearchHit:
    title: str
    url: str
    subtitle: str = ""


@dataclass(frozen=True)
class SearchSection:
    title: str
    hits: list[SearchHit]
    more_url: str = ""
    has_more: bool = False


@dataclass(frozen=True)
class SearchProvider:
    key: str
    order: int
    search: Callable[[User, str, int], SearchSection]


_providers: dict[str, SearchProvider] = {}


def register_search_provider(*, key: str, order: int, search: Callable[[User, str, int], SearchSection]) -> None:
    _providers[key] = SearchProvider(key=key, order=order, search=search)


def search_all(*, user: User, query: str, limit: int = 10) -> list[SearchSection]:
    """Every registered provider's results for ``query``, visible to ``user`` only."""
    return [provider.search(user, query, limit) for provider in sorted(_providers.values(), key=lambda p: p.order)]
