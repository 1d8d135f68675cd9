"""A contact merge moves the loser's campaign memberships and first touch; undo moves them back."""

import pytest

from campaigns import services
from campaigns.models import CampaignMember, ContactAttribution
from campaigns.tests.factories import campaign, segment
from contacts import services as contact_services
from contacts.merge import merge_undo, records_merge

pytestmark = pytest.mark.django_db


def test_a_contact_merge_moves_memberships_except_duplicates_and_undo_restores(owner):
    kept = contact_services.contact_create(actor=owner, owner=owner, last_name="Petrova", email="a@x.example")
    dupe = contact_services.contact_create(actor=owner, owner=owner, last_name="Petrova", email="b@x.example")
    both = services.campaign_start(campaign=campaign(owner, channel="event"), actor=owner)
    only_dupe = services.campaign_start(campaign=campaign(owner, channel="event", seg=segment(owner)), actor=owner)
    CampaignMember.objects.filter(campaign=only_dupe, contact=kept).delete()
    ContactAttribution.objects.filter(contact=kept).delete()

    record = records_merge(actor=owner, survivor=kept, loser=dupe, choices={})
    moved = CampaignMember.objects.get(campaign=only_dupe)
    assert moved.contact == kept
    # Already a member of "both": the loser's membership stays with the (archived) loser.
    assert set(CampaignMember.objects.filter(campaign=both).values_list("contact", flat=True)) == {kept.pk, dupe.pk}
    assert ContactAttribution.objects.get(contact=kept).campaign == both

    merge_undo(actor=owner, record=record)
    moved.refresh_from_db()
    assert moved.contact == dupe
    assert not ContactAttribution.objects.filter(contact=kept).exists()
    assert ContactAttribution.objects.get(contact=dupe).campaign == both
