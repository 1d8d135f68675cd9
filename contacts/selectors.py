"""Reads for companies and contacts: access helpers, lists, search and history."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time
from typing import TYPE_CHECKING, Any

from django.contrib.postgres.expressions import ArraySubquery
from django.core.exceptions import PermissionDenied
from django.db.models import Count, F, IntegerField, OuterRef, Q, QuerySet, Subquery, Value
from django.db.models.functions import Coalesce, Lower
from django.http import Http404
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django_countries import countries

from contacts import lookups  # noqa: F401  (registers __trgm_icontains)
from contacts.keyset import SortOption
from contacts.models import Company, Contact, LifecycleStage, Tag
from contacts.normalize import format_phone, looks_like_phone, normalize_phone, phone_digits
from crm.models import User

if TYPE_CHECKING:
    from django.db.models import Model

# Each sort is backed by an index on (keys…, id); see the model's Meta.indexes.
COMPANY_SORTS: dict[str, SortOption] = {
    "name": SortOption(gettext_lazy("Name"), (Lower("name"),)),
    "-name": SortOption(gettext_lazy("Name"), (Lower("name"),), descending=True),
    "domain": SortOption(gettext_lazy("Domain"), (F("domain"),)),
    "-domain": SortOption(gettext_lazy("Domain"), (F("domain"),), descending=True),
    "country": SortOption(gettext_lazy("Country"), (F("country"),)),
    "-country": SortOption(gettext_lazy("Country"), (F("country"),), descending=True),
    "stage": SortOption(gettext_lazy("Stage"), (F("lifecycle_stage"),)),
    "-stage": SortOption(gettext_lazy("Stage"), (F("lifecycle_stage"),), descending=True),
    "created": SortOption(gettext_lazy("Created"), (F("created_at"),)),
    "-created": SortOption(gettext_lazy("Created"), (F("created_at"),), descending=True),
}
CONTACT_SORTS: dict[str, SortOption] = {
    "name": SortOption(gettext_lazy("Name"), (Lower("last_name"), Lower("first_name"))),
    "-name": SortOption(gettext_lazy("Name"), (Lower("last_name"), Lower("first_name")), descending=True),
    "email": SortOption(gettext_lazy("Email"), (Lower("email"),)),
    "-email": SortOption(gettext_lazy("Email"), (Lower("email"),), descending=True),
    "country": SortOption(gettext_lazy("Country"), (F("country"),)),
    "-country": SortOption(gettext_lazy("Country"), (F("country"),), descending=True),
    "stage": SortOption(gettext_lazy("Stage"), (F("lifecycle_stage"),)),
    "-stage": SortOption(gettext_lazy("Stage"), (F("lifecycle_stage"),), descending=True),
    "created": SortOption(gettext_lazy("Created"), (F("created_at"),)),
    "-created": SortOption(gettext_lazy("Created"), (F("created_at"),), descending=True),
}


# --- Access -------------------------------------------------------------------------------


def _with_tag_names(qs: QuerySet) -> QuerySet:
    """Adds ``tag_names`` (sorted) to each row, read in the same query (``record_tags``)."""
    tags = Tag.objects.filter(**{qs.model._meta.get_field("tags").related_query_name(): OuterRef("pk")})
    return qs.annotate(tag_names=ArraySubquery(tags.order_by("name").values("name")))


def record_tags(record: Company | Contact) -> list[Tag]:
    """The record's tags for display: from ``tag_names`` when the record was loaded with them."""
    names = getattr(record, "tag_names", None)
    if names is None:
        return list(record.tags.all())
    return [Tag(name=name) for name in names]


def company_for_user(user: User, pk: int, *, write: bool = False, with_tags: bool = False) -> Company:
    """The company if ``user`` may see it (else 404); with ``write``, 403 if read-only to them.
    ``with_tags`` loads the tag names in the same query (see ``record_tags``)."""
    qs = Company.objects.visible_to(user).select_related("owner")
    company = (_with_tag_names(qs) if with_tags else qs).filter(pk=pk).first()
    if company is None:
        raise Http404
    if write and not user.can_edit_owner(company.owner_id):
        raise PermissionDenied
    return company


def contact_for_user(user: User, pk: int, *, write: bool = False, with_tags: bool = False) -> Contact:
    """The contact if ``user`` may see it (else 404); with ``write``, 403 if read-only to them.
    ``with_tags`` loads the tag names in the same query (see ``record_tags``)."""
    qs = Contact.objects.visible_to(user).select_related("owner", "company")
    contact = (_with_tag_names(qs) if with_tags else qs).filter(pk=pk).first()
    if contact is None:
        raise Http404
    if write and not user.can_edit_owner(contact.owner_id):
        raise PermissionDenied
    return contact


# --- Search -------------------------------------------------------------------------------


def _phone_q(query: str, *fields: str) -> Q:
    """Matches a phone typed in any format: its E.164 form, or the same trailing digits."""
    condition = Q()
    result = normalize_phone(query)
    if result.valid and result.e164:
        for name in fields:
            condition |= Q(**{name: result.e164})
    digits = phone_digits(query).lstrip("0")
    if len(digits) >= 5:
        # Catches national formats ("8 916 …" vs "+7 916 …", same last ten digits) and a
        # part of a number ("916 123"); the trigram index on the column answers both.
        for name in fields:
            condition |= Q(**{f"{name}__contains": digits[-10:]})
    # Numbers kept as typed (invalid) are only findable by the text as they were typed.
    for name in fields:
        condition |= Q(**{f"{name}__trgm_icontains": query.strip()})
    return condition


def company_search_q(query: str) -> Q:
    query = query.strip()
    if not query:
        return Q()
    if looks_like_phone(query):
        return _phone_q(query, "phone")
    condition = (
        Q(name__trgm_icontains=query) | Q(domain__trgm_icontains=query.lower()) | Q(email__trgm_icontains=query.lower())
    )
    return condition


def contact_search_q(query: str) -> Q:
    """Every word must match a name or an email ("anna petrova", "petrova@"), or a phone."""
    query = query.strip()
    if not query:
        return Q()
    if looks_like_phone(query):
        return _phone_q(query, "phone", "mobile")
    condition = Q()
    for word in query.split()[:5]:
        condition &= (
            Q(first_name__trgm_icontains=word)
            | Q(last_name__trgm_icontains=word)
            | Q(email__trgm_icontains=word.lower())
        )
    return condition


# --- Lists --------------------------------------------------------------------------------


@dataclass
class ListFilters:
    """Validated filters of a list page (built from its filter form's cleaned data)."""

    q: str = ""
    owner: User | None = None
    team_id: int | None = None
    tag: str = ""
    stage: str = ""
    country: str = ""
    source: str = ""
    created_from: date | None = None
    created_to: date | None = None
    archived: bool = False
    company: Company | None = None
    segment: str = ""  # companies only: the RFM segment the reports app writes onto Company
    extra: dict[str, Any] = field(default_factory=dict)


def _apply_common_filters(qs: QuerySet, filters: ListFilters) -> QuerySet:
    qs = qs.archived() if filters.archived else qs.active()
    if filters.owner is not None:
        qs = qs.filter(owner=filters.owner)
    if filters.team_id is not None:
        qs = qs.filter(owner__in=User.objects.filter(teams__id=filters.team_id).values("id"))
    if filters.tag:
        qs = qs.filter(tags__name__iexact=filters.tag)
    if filters.stage:
        qs = qs.filter(lifecycle_stage=filters.stage)
    if filters.country:
        qs = qs.filter(country=filters.country)
    if filters.source:
        qs = qs.filter(source=filters.source)
    tz = timezone.get_current_timezone()
    if filters.created_from:
        qs = qs.filter(created_at__gte=datetime.combine(filters.created_from, time.min, tzinfo=tz))
    if filters.created_to:
        qs = qs.filter(created_at__lte=datetime.combine(filters.created_to, time.max, tzinfo=tz))
    return qs


def company_list(user: User, filters: ListFilters) -> QuerySet[Company]:
    """Visible companies matching ``filters``, with what a list row shows."""
    active_contacts = (
        Contact.objects.filter(company=OuterRef("pk"), archived_at__isnull=True)
        .order_by()
        .values("company")
        .annotate(n=Count("id"))
        .values("n")
    )
    qs = Company.objects.visible_to(user)
    qs = _apply_common_filters(qs, filters)
    if filters.segment:
        qs = qs.filter(value_segment=filters.segment)
    if filters.q:
        qs = qs.filter(company_search_q(filters.q))
    return (
        qs.select_related("owner")
        .prefetch_related("tags")
        .annotate(contact_count=Coalesce(Subquery(active_contacts, output_field=IntegerField()), 0))
    )


def contact_list(user: User, filters: ListFilters) -> QuerySet[Contact]:
    """Visible contacts matching ``filters``, with what a list row shows."""
    qs = Contact.objects.visible_to(user)
    qs = _apply_common_filters(qs, filters)
    if filters.company is not None:
        qs = qs.filter(company=filters.company)
    if filters.q:
        qs = qs.filter(contact_search_q(filters.q))
    return qs.select_related("owner", "company").prefetch_related("tags")


def company_contacts(company: Company, *, limit: int = 50) -> list[Contact]:
    """The company's active contacts for its 360 page (visible because the company is)."""
    return list(company.contacts.active().select_related("owner").order_by(Lower("last_name"), "id")[:limit])


def tag_suggestions(prefix: str, *, limit: int = 10) -> list[str]:
    prefix = prefix.strip()
    qs = Tag.objects.all()
    if prefix:
        qs = qs.filter(name__istartswith=prefix)
    return list(qs.order_by(Lower("name")).values_list("name", flat=True)[:limit])


def company_options(user: User, query: str, *, limit: int = 20) -> list[Company]:
    """Companies for the contact form's company picker: visible, active, matching ``query``."""
    qs = Company.objects.visible_to(user).active()
    if query.strip():
        qs = qs.filter(company_search_q(query))
    return list(qs.order_by(Lower("name"), "id")[:limit])


def lifecycle_counts(user: User) -> dict[str, dict[str, int]]:
    """The user's own active companies and contacts per lifecycle stage, for the home panel."""
    counts: dict[str, dict[str, int]] = {"companies": {}, "contacts": {}}
    companies, contacts = (
        model.objects.filter(owner=user, archived_at__isnull=True)
        .order_by()
        .values("lifecycle_stage")
        .annotate(n=Count("*"), kind=Value(key))  # count(*) lets the (owner, stage) index answer alone
        .values_list("kind", "lifecycle_stage", "n")
        for key, model in (("companies", Company), ("contacts", Contact))
    )
    for kind, stage, n in companies.union(contacts, all=True):  # one query for both
        counts[kind][stage] = n
    return {key: {stage: found.get(stage, 0) for stage in LifecycleStage.values} for key, found in counts.items()}


# --- History ------------------------------------------------------------------------------


@dataclass(frozen=True)
class FieldChange:
    label: str
    old: str
    new: str


@dataclass(frozen=True)
class HistoryEntry:
    when: datetime
    who: str
    created: bool
    changes: list[FieldChange]


_HIDDEN_FIELDS = {"updated_at", "completeness", "created_at", "external_id"}


def history_entries(obj: Company | Contact, *, user: User | None = None, limit: int = 25) -> list[HistoryEntry]:
    """Readable history of ``obj``, newest first: who changed which field from what to what.

    A constant number of queries: the records (plus one to compare the oldest with), their
    tag snapshots, and the names behind foreign keys in one query per related model.
    """
    model = type(obj)
    history_model = model.history.model
    tags_accessor = next(
        rel.get_accessor_name()
        for rel in history_model._meta.related_objects
        if rel.related_model._meta.object_name == f"{history_model._meta.object_name}_tags"
    )
    records = list(
        obj.history.select_related("history_user")
        .prefetch_related(tags_accessor)
        .order_by("-history_date", "-pk")[: limit + 1]
    )
    tag_ids = {row.tag_id for record in records for row in getattr(record, tags_accessor).all()}
    tag_names = dict(Tag.objects.filter(pk__in=tag_ids).values_list("pk", "name")) if tag_ids else {}
    fields = [f for f in model._meta.concrete_fields if f.editable and f.name not in _HIDDEN_FIELDS and f.name != "id"]
    diffs: list[tuple[Any, Any | None, list[tuple[Any, Any, Any]]]] = []
    related_ids: dict[type[Model], set[int]] = {}
    for index, record in enumerate(records[:limit]):
        previous = records[index + 1] if index + 1 < len(records) else None
        changes = []
        if previous is not None:
            for f in fields:
                # The raw column values: descriptors (e.g. countries) would wrap them.
                old, new = previous.__dict__.get(f.attname), record.__dict__.get(f.attname)
                if old != new:
                    changes.append((f, old, new))
                    if f.is_relation:
                        related_ids.setdefault(f.related_model, set()).update(v for v in (old, new) if v)
            old_tags = sorted(tag_names.get(r.tag_id, "?") for r in getattr(previous, tags_accessor).all())
            new_tags = sorted(tag_names.get(r.tag_id, "?") for r in getattr(record, tags_accessor).all())
            if old_tags != new_tags:
                changes.append((model._meta.get_field("tags"), ", ".join(old_tags), ", ".join(new_tags)))
        elif record.history_type != "+":
            continue  # the oldest shown record is not the creation: nothing to compare it with
        diffs.append((record, previous, changes))
    names = {}
    for related, ids in related_ids.items():
        qs = related._default_manager.filter(pk__in=ids)
        if user is not None and related is Company:
            qs = qs.visible_to(user)  # a former company now in another team stays unnamed
        names[related] = {o.pk: str(o) for o in qs}
    entries = []
    for record, previous, changes in diffs:
        if previous is not None and not changes:
            continue
        entries.append(
            HistoryEntry(
                when=record.history_date,
                who=str(record.history_user) if record.history_user else _("system"),
                created=previous is None,
                changes=[
                    FieldChange(str(f.verbose_name), _display(f, old, names), _display(f, new, names))
                    for f, old, new in changes
                ],
            )
        )
    return entries


def _display(f: Any, value: Any, names: dict[type, dict[int, str]]) -> str:
    if value in (None, ""):
        return "—"
    if f.many_to_many:
        return str(value)
    if f.is_relation:
        return names.get(f.related_model, {}).get(value, _("(not visible)"))
    if f.name in ("phone", "mobile"):
        return format_phone(str(value))
    if f.name == "country":
        return str(countries.name(value)) or str(value)
    if f.choices:
        return str(dict(f.flatchoices).get(value, value))
    if isinstance(value, bool):
        return _("yes") if value else _("no")
    if isinstance(value, datetime):
        return timezone.localtime(value).strftime("%Y-%m-%d %H:%M")
    return str(value)
