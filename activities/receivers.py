"""Turns ``contacts.signals.customer_event`` (sent by contacts, deals and integrations) into
timeline entries."""

from __future__ import annotations

from typing import Any

from django.dispatch import receiver

from activities.services import timeline_record, timeline_record_many
from contacts.signals import customer_event, customer_events


@receiver(customer_event, dispatch_uid="activities.record_customer_event")
def record_customer_event(sender: Any, *, kind: str, title: str, **kwargs: Any) -> None:
    timeline_record(
        kind=kind,
        title=title,
        occurred_at=kwargs.get("occurred_at"),
        actor=kwargs.get("actor"),
        company=kwargs.get("company"),
        contact=kwargs.get("contact"),
        deal=kwargs.get("deal"),
        body=kwargs.get("body") or "",
        data=kwargs.get("data") or {},
        source=kwargs.get("source") or "crm",
    )


@receiver(customer_events, dispatch_uid="activities.record_customer_events")
def record_customer_events(sender: Any, *, events: list[dict[str, Any]], **kwargs: Any) -> None:
    timeline_record_many(events=events)
