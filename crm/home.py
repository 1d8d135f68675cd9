"""Panels on the signed-in home page, contributed by the apps that own their data.

Each app registers a panel in its ``AppConfig.ready``; a panel is a template plus a function
that returns its context for the signed-in user (and must issue a constant number of queries).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from django.http import HttpRequest


@dataclass(frozen=True)
class HomePanel:
    key: str
    order: int
    template_name: str
    context: Callable[[HttpRequest], dict[str, Any] | None]


_panels: dict[str, HomePanel] = {}


def register_home_panel(
    *, key: str, order: int, template_name: str, context: Callable[[HttpRequest], dict[str, Any] | None]
) -> None:
    _panels[key] = HomePanel(key=key, order=order, template_name=template_name, context=context)


def home_panels(request: HttpRequest, *, exclude: frozenset[str] = frozenset()) -> list[tuple[str, dict[str, Any]]]:
    """(template, context) for each panel that has something to show, in order."""
    rendered = []
    for panel in sorted(_panels.values(), key=lambda p: p.order):
        if panel.key in exclude:
            continue
        context = panel.context(request)
        if context is not None:
            rendered.append((panel.template_name, context))
    return rendered
