"""Which contacts a saved segment matches.

Customer-value facts (dormant customers, cross-sell candidates) live in ``reports``, which
is above ``campaigns`` in the import order. Rather than reading its tables, campaigns owns a
registration hook: ``reports`` registers named company filters in its ``AppConfig.ready``
(``register_company_filter``) and a segment stores the keys it uses. A filter is a callable
returning a queryset of company ids, applied as a subquery, so the count stays one query.
Without ``reports`` installed the filters are simply not offered.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.db.models import Q, QuerySet

from contacts.models import Company, Contact
from crm.models import User


@dataclass(frozen=True)
class CompanyFilter:
    key: str
    label: Any  # a lazy translation
    company_ids: Callable[[], QuerySet]


_COMPANY_FILTERS: dict[str, CompanyFilter] = {}


def register_company_filter(key: str, label: Any, company_ids: Callable[[], QuerySet]) -> None:
    """Offer a filter "contacts of companies in ``company_ids()``" to segments.

    ``company_ids()`` returns a ``values("company_id")`` (or ``values("pk")``) queryset;
    registering the same key again replaces it."""
    _COMPANY_FILTERS[key] = CompanyFilter(key=key, label=label, company_ids=company_ids)


def company_filters() -> list[CompanyFilter]:
    return list(_COMPANY_FILTERS.values())


def segment_contacts(
    user: User,
    *,
    lifecycle_stages: list[str] | None = None,
    value_segments: list[str] | None = None,
    tag_ids: list[int] | None = None,
    country: str = "",
    record_owner_id: int | None = None,
    record_team_id: int | None = None,
    filter_keys: list[str] | None = None,
) -> QuerySet[Contact]:
    """Active contacts ``user`` may see that match every given criterion.

    Tags and country match the contact or its company; value segment, dormancy and
    cross-sell are company facts."""
    qs = Contact.objects.visible_to(user).active()
    if lifecycle_stages:
        qs = qs.filter(lifecycle_stage__in=lifecycle_stages)
    if value_segments:
        qs = qs.filter(company__value_segment__in=value_segments)
    if tag_ids:
        tagged_companies = Company.objects.filter(tags__in=tag_ids).values("pk")
        tagged_contacts = Contact.objects.filter(tags__in=tag_ids).values("pk")
        qs = qs.filter(Q(pk__in=tagged_contacts) | Q(company_id__in=tagged_companies))
    if country:
        qs = qs.filter(Q(country=country) | Q(country="", company__country=country))
    if record_owner_id:
        qs = qs.filter(owner_id=record_owner_id)
    if record_team_id:
        qs = qs.filter(owner__teams=record_team_id)
    for key in filter_keys or []:
        registered = _COMPANY_FILTERS.get(key)
        if registered is not None:
            qs = qs.filter(company_id__in=registered.company_ids())
    return qs


def segment_queryset(segment: Any, user: User) -> QuerySet[Contact]:
    """The contacts a saved ``Segment`` matches for ``user`` (tags read in one query)."""
    return segment_contacts(
        user,
        lifecycle_stages=segment.lifecycle_stages,
        value_segments=segment.value_segments,
        tag_ids=[tag.pk for tag in segment.tags.all()],
        country=str(segment.country or ""),
        record_owner_id=segment.record_owner_id,
        record_team_id=segment.record_team_id,
        filter_keys=segment.company_filters,
    )
