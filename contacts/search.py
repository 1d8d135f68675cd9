"""The companies and contacts sections of the global search (registered in ``apps.py``)."""

from __future__ import annotations

from urllib.parse import urlencode

from django.db.models import QuerySet
from django.db.models.functions import Lower
from django.urls import reverse
from django.utils.translation import gettext as _

from contacts.keyset import unindexed
from contacts.models import Company, Contact
from contacts.normalize import format_phone
from contacts.selectors import (
    company_name_key,
    company_search_q,
    contact_name_keys,
    surname_matches,
    surname_words,
    visible_contacts_matching,
)
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


def _section_rows(first: QuerySet, order: tuple) -> list[Contact]:
    """The contacts of the ids ``first`` selects (ordered and limited), with their company, in
    ``order``: joined after the limit, not to every match before it."""
    return list(
        Contact.objects.filter(pk__in=first)
        .select_related("company")
        .order_by(*order)
        .only("id", "first_name", "last_name", "email", "phone", "mobile", "company__name")
    )


def search_contacts(user: User, query: str, limit: int) -> SearchSection:
    """The first ``limit`` contacts matching ``query``: those whose surname is a word of it
    first ("smith": the Smiths, then the Goldsmiths and the people at smithholdings.co.uk,
    who sort before the Smiths by name), then the other matches by name.

    The surname matches come from the (lower surname, lower first name, id) index in its
    order, ``limit + 1`` of them: no more rows than are shown. Only when there are fewer than
    that are the other matches read, all of them, to take the first by name (an admin's
    "smith": 13,718 matches from 10,504 table pages, 16 ms; bench/FINDINGS.md §7.21)."""
    matches = visible_contacts_matching(user, query).active().alias(surname=Lower("last_name"))
    surnamed = surname_matches(user, query)
    rows: list[Contact] = []
    if surnamed is not None:
        order = (Lower("last_name"), Lower("first_name"), "id")
        rows = _section_rows(surnamed.active().order_by(*order).values("id")[: limit + 1], order)
    if len(rows) <= limit:
        # The first of the other matches by id (sorting the trigram matches, see unindexed()),
        # then those rows with their company: joining the company to every match before the
        # sort cost an admin's common-term search ~90 ms (the sort could not stop early).
        others = matches if surnamed is None else matches.exclude(surname__in=surname_words(query))
        first = others.order_by(*(unindexed(key) for key in contact_name_keys()), "id").values("id")
        rows += _section_rows(first[: limit + 1 - len(rows)], (*contact_name_keys(), "id"))
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
