"""What a contact merge does to campaigns (registered in ``CampaignsConfig.ready``): the
loser's memberships move to the survivor (except in campaigns the survivor is already a
member of: one member per contact), and so does its first touch when the survivor has none.
An undo moves exactly those back."""

from __future__ import annotations

from campaigns.models import CampaignMember, ContactAttribution
from contacts.models import Contact


def contact_move(*, loser: Contact, survivor: Contact) -> dict[str, list[int]]:
    taken = CampaignMember.objects.filter(contact=survivor).values("campaign_id")
    members = list(
        CampaignMember.objects.filter(contact=loser)
        .exclude(campaign_id__in=taken)
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    CampaignMember.objects.filter(pk__in=members).update(contact=survivor)
    touches: list[int] = []
    if not ContactAttribution.objects.filter(contact=survivor).exists():
        touches = list(ContactAttribution.objects.filter(contact=loser).values_list("pk", flat=True))
        ContactAttribution.objects.filter(pk__in=touches).update(contact=survivor)
    return {"campaign_members": members, "first_touch": touches}


def contact_restore(*, loser: Contact, survivor: Contact, moved: dict[str, list[int]]) -> None:
    CampaignMember.objects.filter(pk__in=moved.get("campaign_members", []), contact=survivor).update(contact=loser)
    ContactAttribution.objects.filter(pk__in=moved.get("first_touch", []), contact=survivor).update(contact=loser)
