"""Turns ``contacts.signals.customer_event`` (sent by contacts, deals and integrations) into
timeline entries, and keeps the cached activity types in step with the table."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from activities.models import ActivityType
from activities.selectors import forget_active_types
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


@receiver(post_save, sender=ActivityType, dispatch_uid="activities.type_saved")
@receiver(post_delete, sender=ActivityType, dispatch_uid="activities.type_deleted")
def forget_types_on_change(sender: Any, **kwargs: Any) -> None:
    forget_active_types()
    transaction.on_commit(forget_active_types)  # a reader may have cached the old rows meanwhile
