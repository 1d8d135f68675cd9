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
    both = services.campaign_start(campaign=campaign(owner, channel="event"), actor=owner)  # both join
    dupe = contact_services.contact_create(actor=owner, owner=owner, last_name="Petrova", email="b@x.example")
    ContactAttribution.objects.filter(contact=kept).delete()
    only_dupe = services.campaign_start(campaign=campaign(owner, channel="event", seg=segment(owner)), actor=owner)
    record = records_merge(actor=owner, survivor=kept, loser=dupe, choices={})
    moved = CampaignMember.objects.get(campaign=only_dupe, contact=kept)
    assert CampaignMember.objects.filter(campaign=both, contact=kept).count() == 1
    assert ContactAttribution.objects.get(contact=kept).campaign == only_dupe
    merge_undo(actor=owner, record=record)
    moved.refresh_from_db()
    assert moved.contact == dupe and not ContactAttribution.objects.filter(contact=kept).exists()
