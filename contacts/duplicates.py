"""Possible duplicates of a company or contact that is about to be saved.

Each finder issues one query over the records the user may see (a duplicate the user may
not see is never hinted at) and says why each candidate matched. Values are compared in
their stored form, so callers pass data already normalised by ``contacts.normalize``.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib.postgres.search import TrigramSimilarity
from django.db.models import Q, Value
from django.db.models.functions import Concat, Lower
from django.utils.translation import gettext as _

from contacts.models import Company, Contact
from crm.models import User

# pg_trgm similarity from which two names count as "similar" (0 = nothing shared, 1 = equal).
NAME_SIMILARITY = 0.5


@dataclass(frozen=True)
class Duplicate:
    record: Company | Contact
    reasons: list[str]


def company_duplicates(
    user: User,
    *,
    name: str,
    domain: str = "",
    phone: str = "",
    email: str = "",
    exclude_pk: int | None = None,
    limit: int = 5,
) -> list[Duplicate]:
    """Visible active companies with the same domain, phone or email, or a similar name."""
    condition = Q()
    if domain:
        condition |= Q(domain=domain)
    if phone.startswith("+"):
        condition |= Q(phone=phone)
    if email:
        condition |= Q(email=email)
    if name.strip():
        # ``%`` (trigram_similar) can use the GIN index; the similarity then narrows it.
        condition |= Q(name__trigram_similar=name, similarity__gte=NAME_SIMILARITY)
    if not condition:
        return []
    qs = (
        Company.objects.visible_to(user)
        .active()
        .annotate(similarity=TrigramSimilarity(Lower("name"), name.lower()))
        .filter(condition)
        .select_related("owner")
        .order_by("-similarity", "id")
    )
    if exclude_pk is not None:
        qs = qs.exclude(pk=exclude_pk)
    result = []
    for company in qs[:limit]:
        reasons = []
        if domain and company.domain == domain:
            reasons.append(_("same domain %(domain)s") % {"domain": domain})
        if phone.startswith("+") and company.phone == phone:
            reasons.append(_("same phone"))
        if email and company.email == email:
            reasons.append(_("same email %(email)s") % {"email": email})
        if company.similarity >= NAME_SIMILARITY:
            reasons.append(_("similar name"))
        if reasons:
            result.append(Duplicate(company, reasons))
    return result


def contact_duplicates(
    user: User,
    *,
    first_name: str = "",
    last_name: str,
    emails: list[str],
    phones: list[str],
    company: Company | None = None,
    exclude_pk: int | None = None,
    limit: int = 5,
) -> list[Duplicate]:
    """Visible active contacts sharing an email or a phone, or with a similar name at the
    same company."""
    emails = [e for e in emails if e]
    phones = [p for p in phones if p.startswith("+")]
    full_name = f"{first_name} {last_name}".strip().lower()
    condition = Q()
    if emails:
        condition |= Q(email__in=emails) | Q(secondary_email__in=emails)
    if phones:
        condition |= Q(phone__in=phones) | Q(mobile__in=phones)
    if company is not None and full_name:
        condition |= Q(company=company, similarity__gte=NAME_SIMILARITY)
    if not condition:
        return []
    qs = (
        Contact.objects.visible_to(user)
        .active()
        .annotate(similarity=TrigramSimilarity(Lower(Concat("first_name", Value(" "), "last_name")), full_name))
        .filter(condition)
        .select_related("owner", "company")
        .order_by("-similarity", "id")
    )
    if exclude_pk is not None:
        qs = qs.exclude(pk=exclude_pk)
    result = []
    for contact in qs[:limit]:
        reasons = []
        shared_emails = {contact.email, contact.secondary_email} & set(emails) - {""}
        if shared_emails:
            reasons.append(_("same email %(email)s") % {"email": ", ".join(sorted(shared_emails))})
        if {contact.phone, contact.mobile} & set(phones) - {""}:
            reasons.append(_("same phone"))
        if company is not None and contact.company_id == company.pk and contact.similarity >= NAME_SIMILARITY:
            reasons.append(_("similar name at %(company)s") % {"company": company.name})
        if reasons:
            result.append(Duplicate(contact, reasons))
    return result
