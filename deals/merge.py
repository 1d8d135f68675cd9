"""What a company or contact merge does to deals (registered in ``DealsConfig.ready``).

Each ``move`` runs inside the merge's transaction and returns the ids it moved; ``restore``
moves back exactly those (see ``contacts.merge``).
"""

from __future__ import annotations

from contacts.models import Company, Contact
from deals.models import Deal


def company_move(*, loser: Company, survivor: Company) -> dict[str, list[int]]:
    ids = list(Deal.objects.filter(company=loser).order_by("pk").values_list("pk", flat=True))
    Deal.objects.filter(pk__in=ids).update(company=survivor)
    return {"deals": ids}


def company_restore(*, loser: Company, survivor: Company, moved: dict[str, list[int]]) -> None:
    Deal.objects.filter(pk__in=moved.get("deals", []), company=survivor).update(company=loser)


def contact_move(*, loser: Contact, survivor: Contact) -> dict[str, list[int]]:
    """Re-link the loser's deals to the survivor; a deal already linked to both just loses
    the loser's link (remembered, so undo links it again)."""
    links = Deal.contacts.through.objects
    loser_deals = set(links.filter(contact=loser).values_list("deal_id", flat=True))
    both = loser_deals & set(links.filter(contact=survivor).values_list("deal_id", flat=True))
    moved = sorted(loser_deals - both)
    links.filter(contact=loser, deal_id__in=moved).update(contact=survivor)
    links.filter(contact=loser, deal_id__in=both).delete()
    return {"deals": moved, "deals_linked_to_both": sorted(both)}


def contact_restore(*, loser: Contact, survivor: Contact, moved: dict[str, list[int]]) -> None:
    through = Deal.contacts.through
    through.objects.filter(contact=survivor, deal_id__in=moved.get("deals", [])).update(contact=loser)
    existing = set(
        Deal.objects.filter(pk__in=moved.get("deals_linked_to_both", [])).order_by("pk").values_list("pk", flat=True)
    )
    through.objects.bulk_create([through(deal_id=pk, contact=loser) for pk in sorted(existing)], ignore_conflicts=True)
