"""Turns the other apps' domain signals into webhook deliveries (``integrations.webhooks``).

Every receiver runs inside the transaction of the change it reports, so the deliveries
commit or roll back with it. Nothing is serialised when no active endpoint subscribes to
the kind (one small query). Payload ``data`` is a minimal snapshot of the record as it was
then: ids, names, owner, stage, amount, and links to its page and its API resource.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.dispatch import receiver
from django.urls import reverse

from activities.models import Activity
from activities.signals import activity_completed
from contacts.models import Company, Contact
from contacts.signals import customer_saved
from deals.models import Deal, StageChange
from deals.signals import deal_stage_changed
from integrations.models import BusinessEvent, WebhookEventKind
from integrations.webhooks import subscribed_endpoint_ids, webhooks_emit


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def _links(page: str, api_name: str, pk: int) -> dict[str, str]:
    return {"url": settings.SITE_URL + page, "api_url": settings.SITE_URL + reverse(api_name, args=[pk])}


def company_data(company: Company) -> dict[str, Any]:
    return {
        "id": company.pk,
        "name": company.name,
        "domain": company.domain,
        "email": company.email,
        "phone": company.phone,
        "country": str(company.country) if company.country else "",
        "lifecycle_stage": company.lifecycle_stage,
        "owner_id": company.owner_id,
        "external_id": company.external_id,
        "archived": company.archived_at is not None,
        "merged_into_id": company.merged_into_id,
        "version": company.version,
        **_links(company.get_absolute_url(), "api:company", company.pk),
    }


def contact_data(contact: Contact) -> dict[str, Any]:
    return {
        "id": contact.pk,
        "first_name": contact.first_name,
        "last_name": contact.last_name,
        "email": contact.email,
        "phone": contact.phone,
        "company_id": contact.company_id,
        "lifecycle_stage": contact.lifecycle_stage,
        "owner_id": contact.owner_id,
        "external_id": contact.external_id,
        "archived": contact.archived_at is not None,
        "merged_into_id": contact.merged_into_id,
        "version": contact.version,
        **_links(contact.get_absolute_url(), "api:contact", contact.pk),
    }


def _stage(stage: Any) -> dict[str, Any] | None:
    return {"id": stage.pk, "name": stage.name} if stage is not None else None


def deal_data(deal: Deal, change: StageChange | None = None) -> dict[str, Any]:
    data = {
        "id": deal.pk,
        "title": deal.title,
        "company_id": deal.company_id,
        "owner_id": deal.owner_id,
        "pipeline_id": deal.pipeline_id,
        "stage": _stage(deal.stage),
        "status": deal.status,
        "amount": str(deal.amount),
        "currency": deal.currency,
        "probability": deal.probability,
        "expected_close_date": _iso(deal.expected_close_date),
        "closed_at": _iso(deal.closed_at),
        "lost_reason": deal.lost_reason.name if deal.lost_reason_id else None,
        "version": deal.version,
        **_links(deal.get_absolute_url(), "api:deal", deal.pk),
    }
    if change is not None:
        data["from_stage"] = _stage(change.from_stage)
        data["moved_by_id"] = change.actor_id
    return data


def activity_data(activity: Activity) -> dict[str, Any]:
    return {
        "id": activity.pk,
        "type": activity.type.key,
        "subject": activity.subject,
        "owner_id": activity.owner_id,
        "company_id": activity.company_id,
        "contact_id": activity.contact_id,
        "deal_id": activity.deal_id,
        "due_at": _iso(activity.due_at),
        "done_at": _iso(activity.done_at),
        "outcome": activity.outcome,
        "duration_minutes": activity.duration_minutes,
        **_links(activity.get_absolute_url(), "api:activity", activity.pk),
    }


def business_event_data(event: BusinessEvent) -> dict[str, Any]:
    return {
        "id": event.pk,
        "source": event.source,
        "external_id": event.external_id,
        "type": event.type.key,
        "title": event.title,
        "occurred_at": _iso(event.occurred_at),
        "amount": str(event.amount) if event.amount is not None else None,
        "currency": event.currency,
        "company_id": event.company_id,
        "contact_id": event.contact_id,
        "matched": event.is_matched,
        "data": event.data,
    }


def _emit(kind: str, build: Any, **kwargs: Any) -> None:
    endpoint_ids = subscribed_endpoint_ids(kind)
    if endpoint_ids:
        webhooks_emit(kind=kind, items=[build()], endpoint_ids=endpoint_ids, **kwargs)


@receiver(customer_saved, dispatch_uid="integrations.webhooks.customer_saved")
def _customer_saved(sender: Any, *, instance: Company | Contact, created: bool, **kwargs: Any) -> None:
    if isinstance(instance, Company):
        kind = WebhookEventKind.COMPANY_CREATED if created else WebhookEventKind.COMPANY_UPDATED
        _emit(kind, lambda: company_data(instance))
    elif isinstance(instance, Contact):
        kind = WebhookEventKind.CONTACT_CREATED if created else WebhookEventKind.CONTACT_UPDATED
        _emit(kind, lambda: contact_data(instance))


@receiver(deal_stage_changed, dispatch_uid="integrations.webhooks.deal_stage_changed")
def _deal_stage_changed(sender: Any, *, deal: Deal, stage_change: StageChange, **kwargs: Any) -> None:
    """A new deal is ``deal.created``; every later move ``deal.stage_changed``, and a move that
    wins or loses it also ``deal.won`` / ``deal.lost``."""
    kinds = []
    if stage_change.from_stage_id is None:
        kinds.append(WebhookEventKind.DEAL_CREATED)
    else:
        kinds.append(WebhookEventKind.DEAL_STAGE_CHANGED)
        if stage_change.to_stage.is_won:
            kinds.append(WebhookEventKind.DEAL_WON)
        elif stage_change.to_stage.is_lost:
            kinds.append(WebhookEventKind.DEAL_LOST)
    for kind in kinds:
        _emit(kind, lambda: deal_data(deal, stage_change), occurred_at=stage_change.at)


@receiver(activity_completed, dispatch_uid="integrations.webhooks.activity_completed")
def _activity_completed(sender: Any, *, activity: Activity, **kwargs: Any) -> None:
    _emit(WebhookEventKind.ACTIVITY_COMPLETED, lambda: activity_data(activity), occurred_at=activity.done_at)


def business_events_received(events: list[BusinessEvent]) -> None:
    """``event.received`` for newly stored business events (not duplicates), one query when
    nobody subscribes. Called by ``events_ingest`` in its transaction."""
    if not events:
        return
    endpoint_ids = subscribed_endpoint_ids(WebhookEventKind.EVENT_RECEIVED)
    if endpoint_ids:
        webhooks_emit(
            kind=WebhookEventKind.EVENT_RECEIVED,
            items=[business_event_data(event) for event in events],
            endpoint_ids=endpoint_ids,
        )
