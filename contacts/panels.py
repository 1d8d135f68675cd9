"""The "Your customers" panel on the home page (registered in ``apps.py``)."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from contacts.models import LifecycleStage
from contacts.selectors import lifecycle_counts


def customers_panel(request: HttpRequest) -> dict[str, Any]:
    counts = lifecycle_counts(request.user)
    rows = [
        {
            "stage": stage,
            "label": label,
            "companies": counts["companies"][stage],
            "contacts": counts["contacts"][stage],
        }
        for stage, label in LifecycleStage.choices
    ]
    return {
        "rows": rows,
        "total_companies": sum(counts["companies"].values()),
        "total_contacts": sum(counts["contacts"].values()),
        "owner_id": request.user.pk,
    }
