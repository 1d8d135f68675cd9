"""Change reasons of django-simple-history records, kept within their column.

``history_change_reason`` is a ``varchar(100)``; reasons built from user data ("Merged <name>
into <name>", "Line item added: <product>", "Moved from <stage> to <stage>") can be longer
with valid names. They are cut to fit with an ellipsis rather than the column widened: the
reason is a one-line label in the history list, the historical row itself keeps every full
value, and no history table (the largest tables) needs a migration.
"""

from __future__ import annotations

from typing import Any

from django.dispatch import receiver
from simple_history.signals import pre_create_historical_record

CHANGE_REASON_MAX_LENGTH = 100


def fit_change_reason(reason: str | None) -> str | None:
    """``reason`` cut to the column's length, ending with "…" when cut."""
    if reason is None or len(reason) <= CHANGE_REASON_MAX_LENGTH:
        return reason
    return reason[: CHANGE_REASON_MAX_LENGTH - 1].rstrip() + "…"


@receiver(pre_create_historical_record, dispatch_uid="crm_fit_change_reason")
def _fit_change_reason(sender: Any, history_instance: Any, **kwargs: Any) -> None:
    """Every historical record saved one by one passes here (bulk writers call ``fit_change_reason``)."""
    history_instance.history_change_reason = fit_change_reason(history_instance.history_change_reason)
