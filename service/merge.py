"""What a company or contact merge does to cases (registered in ``ServiceConfig.ready``):
the loser's cases move to the survivor, and an undo moves exactly those back."""

from __future__ import annotations

from contacts.models import Company, Contact
from service.models import Case


def company_move(*, loser: Company, survivor: Company) -> dict[str, list[int]]:
    ids = list(Case.objects.filter(company=loser).order_by("pk").values_list("pk", flat=True))
    Case.objects.filter(pk__in=ids).update(company=survivor)
    return {"cases": ids}


def company_restore(*, loser: Company, survivor: Company, moved: dict[str, list[int]]) -> None:
    Case.objects.filter(pk__in=moved.get("cases", []), company=survivor).update(company=loser)


def contact_move(*, loser: Contact, survivor: Contact) -> dict[str, list[int]]:
    ids = list(Case.objects.filter(contact=loser).order_by("pk").values_list("pk", flat=True))
    Case.objects.filter(pk__in=ids).update(contact=survivor)
    return {"cases": ids}


def contact_restore(*, loser: Contact, survivor: Contact, moved: dict[str, list[int]]) -> None:
    Case.objects.filter(pk__in=moved.get("cases", []), contact=survivor).update(contact=loser)
