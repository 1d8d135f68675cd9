"""Inbound business events: ingest (idempotent, in batches), customer matching, linking.

Each event names its customer by one of ``id`` (a company id), ``domain`` (a company's),
``email`` (a contact's) or ``external_ref`` (a company's or contact's external id), matched
among the records the sending token's user may see. Rows go in with one
``INSERT … ON CONFLICT (source, external_id) DO NOTHING RETURNING``: an event sent again (or
by two requests at once) is one row and answers with the same id. Matched events go on the
customer's timeline; unmatched ones wait on the Unmatched events page.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _
from psycopg2.extras import execute_values

from activities.services import timeline_record_many
from contacts.models import Company, Contact
from crm.models import User
from integrations.models import BusinessEvent, EventType
from integrations.receivers import business_events_received

MAX_BATCH = 1000
TIMELINE_KIND = "business_event"


@dataclass
class EventResult:
    index: int
    status: str  # created | duplicate | invalid
    id: int | None = None
    matched: bool = False
    errors: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"index": self.index, "status": self.status}
        if self.status == "invalid":
            out["errors"] = self.errors
        else:
            out["id"] = self.id
            out["matched"] = self.matched
        return out


def _match(user: User, refs: list[dict[str, str]]) -> list[tuple[Company | None, Contact | None]]:
    """The company/contact each reference names, in at most four queries for the batch."""
    companies = Company.objects.visible_to(user).filter(archived_at__isnull=True)
    contacts = Contact.objects.visible_to(user).filter(archived_at__isnull=True).select_related("company")
    ids = {int(r["id"]) for r in refs if r.get("id")}
    domains = {r["domain"].lower() for r in refs if r.get("domain")}
    emails = {r["email"].lower() for r in refs if r.get("email")}
    external = {r["external_ref"] for r in refs if r.get("external_ref")}
    by_id = {c.pk: c for c in companies.filter(pk__in=ids)} if ids else {}
    by_domain: dict[str, Company] = {}
    by_ext_company: dict[str, Company] = {}
    if domains or external:
        for company in companies.filter(Q(domain__in=domains) | Q(external_id__in=external)).order_by("id"):
            if company.domain in domains:
                by_domain.setdefault(company.domain, company)
            if company.external_id in external:
                by_ext_company.setdefault(company.external_id, company)
    by_email: dict[str, Contact] = {}
    by_ext_contact: dict[str, Contact] = {}
    if emails or external:
        for contact in contacts.filter(Q(email__in=emails) | Q(external_id__in=external)).order_by("id"):
            if contact.email in emails:
                by_email.setdefault(contact.email, contact)
            if contact.external_id in external:
                by_ext_contact.setdefault(contact.external_id, contact)
    matches: list[tuple[Company | None, Contact | None]] = []
    for ref in refs:
        contact = None
        company = by_id.get(int(ref["id"])) if ref.get("id") else None
        if company is None and ref.get("domain"):
            company = by_domain.get(ref["domain"].lower())
        if company is None and ref.get("email"):
            contact = by_email.get(ref["email"].lower())
        if company is None and contact is None and ref.get("external_ref"):
            company = by_ext_company.get(ref["external_ref"])
            contact = None if company is not None else by_ext_contact.get(ref["external_ref"])
        if contact is not None:
            company = contact.company
        matches.append((company, contact))
    return matches


def _timeline_entries(events: Iterable[BusinessEvent]) -> list[dict[str, Any]]:
    return [
        {
            "kind": TIMELINE_KIND,
            "source": event.source,
            "title": event.title,
            "body": f"{event.type.name}: {event.amount} {event.currency}"
            if event.amount is not None
            else event.type.name,
            "occurred_at": event.occurred_at,
            "company": event.company,
            "contact": event.contact,
            "data": {
                "business_event_id": event.pk,
                "type": event.type.key,
                "amount": str(event.amount) if event.amount is not None else None,
                "currency": event.currency,
            },
        }
        for event in events
        if event.is_matched
    ]


_INSERT_SQL = f"""
INSERT INTO {BusinessEvent._meta.db_table}
  (source, external_id, type_id, occurred_at, title, amount, currency, data, customer_ref,
   company_id, contact_id, received_by_id, received_at, linked_at)
VALUES %s
ON CONFLICT (source, external_id) DO NOTHING
RETURNING id, source, external_id
"""  # noqa: S608  (table name from model metadata; values are parameters)


@transaction.atomic
def events_ingest(*, user: User, items: list[dict[str, Any]], invalid: dict[int, dict]) -> list[EventResult]:
    """Store the validated ``items`` (``invalid``: index → errors of the others); one result
    per item, in order. Nothing of an invalid item is written; valid ones are all written."""
    types = {t.key: t for t in EventType.objects.all()}
    valid = [(i, item) for i, item in enumerate(items) if i not in invalid]
    matches = _match(user, [item["customer"] for _, item in valid])
    now = timezone.now()
    rows = []
    for (_i, item), (company, contact) in zip(valid, matches, strict=True):
        rows.append(
            (
                item["source"],
                item["external_id"],
                types[item["type"]].pk,
                item["occurred_at"],
                item["title"],
                item.get("amount"),
                item.get("currency", ""),
                json.dumps(item.get("data") or {}),
                json.dumps(item["customer"]),
                company.pk if company else None,
                contact.pk if contact else None,
                user.pk,
                now,
                now if (company or contact) else None,
            )
        )
    created: dict[tuple[str, str], int] = {}
    if rows:
        with connection.cursor() as cursor:
            returned = execute_values(cursor.cursor, _INSERT_SQL, rows, page_size=len(rows), fetch=True)
        created = {(source, external_id): pk for pk, source, external_id in returned}
    keys = {(item["source"], item["external_id"]) for _, item in valid}
    existing_keys = keys - set(created)
    existing: dict[tuple[str, str], BusinessEvent] = {}
    if existing_keys:
        condition = Q()
        for source, external_id in existing_keys:
            condition |= Q(source=source, external_id=external_id)
        existing = {(e.source, e.external_id): e for e in BusinessEvent.objects.filter(condition)}
    new_events = list(
        BusinessEvent.objects.filter(pk__in=created.values()).select_related("type", "company", "contact")
    )
    timeline_record_many(events=_timeline_entries(new_events))
    business_events_received(sorted(new_events, key=lambda e: e.pk))
    results: list[EventResult] = []
    first_seen: set[tuple[str, str]] = set()
    new_by_id = {e.pk: e for e in new_events}
    for index in range(len(items)):
        if index in invalid:
            results.append(EventResult(index=index, status="invalid", errors=invalid[index]))
            continue
        item = items[index]
        key = (item["source"], item["external_id"])
        if key in created and key not in first_seen:
            first_seen.add(key)
            event = new_by_id[created[key]]
            results.append(EventResult(index=index, status="created", id=event.pk, matched=event.is_matched))
        else:
            pk = created.get(key) or existing[key].pk
            matched = new_by_id[pk].is_matched if pk in new_by_id else existing[key].is_matched
            results.append(EventResult(index=index, status="duplicate", id=pk, matched=matched))
    return results


@transaction.atomic
def event_link(*, event: BusinessEvent, actor: User, company: Company | None, contact: Contact | None) -> BusinessEvent:
    """Give an unmatched event its customer; it then joins the customer's timeline."""
    event = BusinessEvent.objects.select_for_update().select_related("type").get(pk=event.pk)
    if event.is_matched:
        return event
    if contact is not None and company is None:
        company = contact.company
    if company is None and contact is None:
        raise ValueError(_("Choose a company or a contact."))
    event.company, event.contact, event.linked_at = company, contact, timezone.now()
    event.save(update_fields=["company", "contact", "linked_at"])
    timeline_record_many(events=_timeline_entries([event]))
    return event
