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

from django.core.cache import cache
from django.db import connection, transaction
from django.db.models import Q, QuerySet
from django.utils import timezone
from django.utils.html import escape
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop
from psycopg2.extras import execute_values

from activities.selectors import EventLook, TimelineKind, register_timeline_kind
from activities.services import timeline_record_many
from contacts.models import Company, Contact
from crm.models import User
from crm.services import outbox_enqueue
from integrations.models import BusinessEvent, EventType, RevenueEffect
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


# The event's own data shown on the timeline ("key data"): the first few scalar fields, short.
TIMELINE_DETAIL_FIELDS = 8
TIMELINE_DETAIL_CHARS = 200


def _key_data(data: Any) -> dict[str, str]:
    if not isinstance(data, dict):
        return {}
    out: dict[str, str] = {}
    for key, value in data.items():
        if len(out) >= TIMELINE_DETAIL_FIELDS:
            break
        if isinstance(value, str | int | float | bool) and value != "":
            out[str(key)[:60]] = str(value)[:TIMELINE_DETAIL_CHARS]
    return out


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
                "external_id": event.external_id,
                "details": _key_data(event.data),
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
    # The first item of each key is the one the INSERT stores (a repeat in the batch is skipped).
    first: dict[tuple[str, str], tuple[dict[str, Any], Company | None, Contact | None]] = {}
    for (_i, item), (company, contact) in zip(valid, matches, strict=True):
        first.setdefault((item["source"], item["external_id"]), (item, company, contact))
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
    # The stored rows are what was sent: built here rather than read back (500 rows with
    # their type, company and contact joined cost a fifth of a batch's time).
    new_events = []
    for key, pk in created.items():
        item, company, contact = first[key]
        new_events.append(
            BusinessEvent(
                pk=pk,
                source=item["source"],
                external_id=item["external_id"],
                type=types[item["type"]],
                occurred_at=item["occurred_at"],
                title=item["title"],
                amount=item.get("amount"),
                currency=item.get("currency", ""),
                data=item.get("data") or {},
                customer_ref=item["customer"],
                company=company,
                contact=contact,
                received_by=user,
                received_at=now,
                linked_at=now if (company or contact) else None,
            )
        )
    timeline_record_many(events=_timeline_entries(new_events))
    business_events_received(sorted(new_events, key=lambda e: e.pk))
    _forget_timeline_data_on_new_sources({event.source for event in new_events})
    _refresh_customer_value(new_events)
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


REFRESH_CUSTOMER_VALUE = "reports.tasks.refresh_customer_value"


def _refresh_customer_value(events: Iterable[BusinessEvent]) -> None:
    """Queue, in the caller's transaction (the outbox), a refresh of the customer value of
    every company a new revenue or refund event names: its revenue shows at once rather than
    after the nightly run."""
    effects = (RevenueEffect.REVENUE, RevenueEffect.REFUND, RevenueEffect.COST)
    companies = sorted(
        {e.company_id for e in events if e.company_id and e.amount is not None and e.type.revenue_effect in effects}
    )
    if companies:
        outbox_enqueue(task=REFRESH_CUSTOMER_VALUE, args=[companies])


def _forget_timeline_data_on_new_sources(sources: set[str]) -> None:
    if not sources:
        return
    cached = cache.get(TIMELINE_CACHE_KEY)
    if cached is not None and not sources <= {key for what, key, *_rest in cached if what == "source"}:
        timeline_data_forget()


@transaction.atomic
def event_link(
    *,
    event: BusinessEvent,
    actor: User,
    company: Company | None,
    contact: Contact | None,
    also: Iterable[int] = (),
) -> list[BusinessEvent]:
    """Give an unmatched event (and the unmatched events with ids ``also``: the caller's
    selection of those with the same customer reference) its customer; they join the
    customer's timeline and, if revenue, its customer value at the next recompute.
    Returns the events this call linked (one already linked meanwhile is left alone)."""
    if contact is not None and company is None:
        company = contact.company
    if company is None and contact is None:
        raise ValueError(_("Choose a company or a contact."))
    ids = {event.pk, *also}
    events = list(
        BusinessEvent.objects.select_for_update(of=("self",))
        .select_related("type")
        .filter(pk__in=ids, company__isnull=True, contact__isnull=True)
        .order_by("id")
    )
    now = timezone.now()
    for linked in events:
        linked.company, linked.contact, linked.linked_at = company, contact, now
    BusinessEvent.objects.bulk_update(events, ["company", "contact", "linked_at"])
    timeline_record_many(events=_timeline_entries(events))
    _refresh_customer_value(events)
    return events


def customer_ref_defaults(ref: dict[str, Any]) -> dict[str, str]:
    """A new company's fields from what a sender put in ``customer``: its domain (or the
    email's), its email, its external reference (so the sender's next events match it) and a
    name from the first of those."""
    ref = ref if isinstance(ref, dict) else {}
    email = str(ref.get("email") or "").strip().lower()
    domain = str(ref.get("domain") or "").strip().lower() or (email.rpartition("@")[2] if "@" in email else "")
    external = str(ref.get("external_ref") or "").strip()
    name = str(ref.get("name") or "").strip() or domain or email or external
    return {"name": name[:200], "domain": domain[:253], "email": email[:254], "external_id": external[:100]}


def revenue_event_rows() -> QuerySet:
    """(company, occurred_at, amount, currency, effect) of every matched revenue or refund
    event: what ``reports.value`` adds to customer value (registered in ``IntegrationsConfig``)."""
    return (
        BusinessEvent.objects.filter(
            company__isnull=False,
            amount__isnull=False,
            type__revenue_effect__in=[RevenueEffect.REVENUE, RevenueEffect.REFUND, RevenueEffect.COST],
        )
        .order_by()
        .values_list("company_id", "occurred_at", "amount", "currency", "type__revenue_effect")
    )


# --- Timeline look and filters (registered with activities in IntegrationsConfig.ready) ----

TIMELINE_SOURCES_SHOWN = 50

# The event types and the distinct sources in one query; the sources by a loose index scan
# over the (source, external_id) unique index, so a million events cost a few index probes.
_TYPES_AND_SOURCES_SQL = f"""
WITH RECURSIVE sources AS (
    (SELECT source FROM {BusinessEvent._meta.db_table} ORDER BY source LIMIT 1)
    UNION ALL
    SELECT (SELECT e.source FROM {BusinessEvent._meta.db_table} e WHERE e.source > sources.source
             ORDER BY e.source LIMIT 1)
      FROM sources WHERE sources.source IS NOT NULL
)
SELECT 'type', key, name, icon, color FROM {EventType._meta.db_table}
UNION ALL
(SELECT 'source', source, source, '', '' FROM sources WHERE source IS NOT NULL LIMIT {TIMELINE_SOURCES_SHOWN})
"""  # noqa: S608 (table names from model metadata)


@dataclass
class _TimelineData:
    types: dict[str, tuple[str, str, str]]  # key → (name, icon, colour)
    sources: list[str]


# Every timeline (company, contact and deal pages) needs the types and sources: cached in
# Redis so a page costs no query for them; a type saved or deleted, or a batch from a new
# source, drops the entry (``timeline_data_forget``); the timeout bounds anything missed.
TIMELINE_CACHE_KEY = "integrations:timeline-types-sources:v1"
TIMELINE_CACHE_SECONDS = 300


def timeline_data_forget(**kwargs: Any) -> None:
    """Drop the cached types and sources now and once the change commits (a page rendered
    in between must not keep the list without it)."""
    cache.delete(TIMELINE_CACHE_KEY)
    transaction.on_commit(lambda: cache.delete(TIMELINE_CACHE_KEY))


def _timeline_load() -> _TimelineData:
    rows = cache.get(TIMELINE_CACHE_KEY)
    if rows is None:
        with connection.cursor() as cursor:
            cursor.execute(_TYPES_AND_SOURCES_SQL)
            rows = [list(row) for row in cursor.fetchall()]
        cache.set(TIMELINE_CACHE_KEY, rows, TIMELINE_CACHE_SECONDS)
    types = {key: (name, icon, color) for what, key, name, icon, color in rows if what == "type"}
    sources = [key for what, key, *_rest in rows if what == "source"]
    return _TimelineData(types=dict(sorted(types.items(), key=lambda kv: kv[1][0].lower())), sources=sources)


def _timeline_options(data: _TimelineData) -> list[tuple[str, str, Q]]:
    options = [(f"event-type-{key}", name, Q(data__type=key)) for key, (name, _icon, _color) in data.types.items()]
    options += [
        (f"event-source-{source}", _("From %(source)s") % {"source": source}, Q(source=source))
        for source in data.sources
    ]
    return options


def _timeline_look(data: _TimelineData, events: list) -> dict[int, EventLook]:
    looks = {}
    for event in events:
        info = event.data or {}
        name, icon, color = data.types.get(info.get("type", ""), (info.get("type", ""), "bi-lightning", "#6c757d"))
        parts = []
        if info.get("amount") is not None:
            amount = f"{info['amount']} {info.get('currency') or ''}".strip()
            parts.append(f'<span class="fw-semibold business-event-amount">{escape(amount)}</span>')
        details = info.get("details") or {}
        if details or info.get("external_id"):
            rows = "".join(
                f'<dt class="col-4 text-truncate">{escape(k)}</dt><dd class="col-8 mb-0 text-break">{escape(v)}</dd>'
                for k, v in [(_("External id"), info.get("external_id", "")), *details.items()]
                if v
            )
            summary = escape(_("Details"))
            parts.append(
                f'<details class="business-event-data"><summary>{summary}</summary>'
                f'<dl class="row small mb-0">{rows}</dl></details>'
            )
        detail_html = mark_safe(f'<div class="small mt-1">{" ".join(parts)}</div>') if parts else ""  # noqa: S308 (escaped above)
        # The body ("Invoice paid: 1200.00 EUR") is what the look shows already.
        looks[event.pk] = EventLook(icon=icon, color=color, label=name, detail_html=detail_html, show_body=False)
    return looks


def timeline_look_register() -> None:
    register_timeline_kind(
        TimelineKind(
            kind=TIMELINE_KIND,
            label=gettext_noop("Business events"),
            all_label=gettext_noop("All business events"),
            load=_timeline_load,
            options=_timeline_options,
            look=_timeline_look,
        )
    )
