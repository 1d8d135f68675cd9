"""The managers' home panel: this month's weighted forecast and the recent win rate."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import HttpRequest

from reports import selectors
from reports.scope import ReportScope, report_owner_ids


def home_panel_context(request: HttpRequest) -> dict[str, Any] | None:
    user = request.user
    if not (user.is_manager or user.is_admin):
        return None
    # Only the figures: no team, owner or pipeline lists to load for the filters.
    scope = ReportScope(user=user, allowed_owner_ids=report_owner_ids(user), owners=[], teams=[], pipelines=[])
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
