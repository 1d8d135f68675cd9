"""The managers' home panel: this month's weighted forecast and the recent win rate."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import HttpRequest, QueryDict

from reports import selectors
from reports.scope import report_scope_for_user


def home_panel_context(request: HttpRequest) -> dict[str, Any] | None:
    user = request.user
    if not (user.is_manager or user.is_admin):
        return None
    scope = report_scope_for_user(user, QueryDict())
    status = selectors.rollup_status()
    figures = selectors.home_figures(scope, status.generation_id)
    won, lost = figures["won"], figures["lost"]
    return {
        "weighted": figures["weighted"] or 0,
        "open_deals": figures["open_deals"],
        "win_rate": selectors.percent(won, won + lost),
        "status": status,
        "base_currency": settings.BASE_CURRENCY,
    }
