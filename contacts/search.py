"""The companies and contacts sections of the global search (registered in ``apps.py``)."""

from __future__ import annotations

from urllib.parse import urlencode

from django.urls import reverse
from django.utils.translation import gettext as _

from contacts.keyset import unindexed
from contacts.models import Company
from contacts.normalize import format_phone
from contacts.selectors import best_contact_matches, company_name_key, company_search_q
from crm.models import User
from crm.search import SearchHit, SearchSection


def search_companies(user: User, query: str, limit: int) -> SearchSection:
    rows = list(
        Company.objects.visible_to(user)
        .active()
        .filter(company_search_q(query))
        .order_by(unindexed(company_name_key()), "id")  # sort the trigram matches; see unindexed()
        .only("id", "name", "domain", "phone", "city")[: limit + 1]
    )
    hits = [
        SearchHit(
            title=c.name,
            url=c.get_absolute_url(),
            subtitle=" · ".join(filter(None, [c.domain, format_phone(c.phone), c.city])),
        )
        for c in rows[:limit]
    ]
    return SearchSection(
        title=_("Companies"),
        hits=hits,
        more_url=f"{reverse('contacts:company-list')}?{urlencode({'q': query})}",
        has_more=len(rows) > limit,
    )


def search_contacts(user: User, query: str, limit: int) -> SearchSection:
    """The first ``limit`` contacts matching ``query``, best first (``best_contact_matches``:
    those whose surname is a word of it, then the other matches by name)."""
    rows = best_contact_matches(user, query, limit)
    hits = [
        SearchHit(
            title=c.full_name,
            url=c.get_absolute_url(),
            subtitle=" · ".join(
                filter(None, [c.company.name if c.company else "", c.email, format_phone(c.phone or c.mobile)])
            ),
        )
        for c in rows[:limit]
    ]
    return SearchSection(
        title=_("Contacts"),
        hits=hits,
        more_url=f"{reverse('contacts:contact-list')}?{urlencode({'q': query})}",
        has_more=len(rows) > limit,
    )
