"""What merging companies and contacts does to deals (deals.merge, registered in DealsConfig)."""

from contacts import services as contact_services
from contacts.merge import merge_undo, records_merge
from deals.models import Deal
from deals.tests.factories import DealFactory


def test_a_company_merge_moves_the_losers_deals_and_undo_moves_exactly_them_back(owner, pipeline):
    kept = contact_services.company_create(actor=owner, owner=owner, name="Acme", domain="acme.example")
    dupe = contact_services.company_create(actor=owner, owner=owner, name="ACME Inc", domain="acme.example")
    old_deal = DealFactory(owner=owner, pipeline=pipeline, company=dupe)
    own_deal = DealFactory(owner=owner, pipeline=pipeline, company=kept)

    record = records_merge(actor=owner, survivor=kept, loser=dupe, choices={})
    assert set(Deal.objects.filter(company=kept)) == {old_deal, own_deal}
    assert record.moved["deals"] == {"deals": [old_deal.pk]}
    later_deal = DealFactory(owner=owner, pipeline=pipeline, company=kept)

    merge_undo(actor=owner, record=record)
    assert set(Deal.objects.filter(company=dupe)) == {old_deal}
    assert set(Deal.objects.filter(company=kept)) == {own_deal, later_deal}


def test_a_contact_merge_relinks_deals_and_undo_restores_both_links(owner, pipeline):
    kept = contact_services.contact_create(actor=owner, owner=owner, first_name="Anna", last_name="Petrova")
    dupe = contact_services.contact_create(actor=owner, owner=owner, first_name="Anna", last_name="Petrovaa")
    only_dupe = DealFactory(owner=owner, pipeline=pipeline)
    only_dupe.contacts.set([dupe])
    both = DealFactory(owner=owner, pipeline=pipeline)
    both.contacts.set([kept, dupe])

    record = records_merge(actor=owner, survivor=kept, loser=dupe, choices={})
    assert list(only_dupe.contacts.all()) == [kept]
    assert list(both.contacts.all()) == [kept]
    assert not dupe.deals.exists()

    merge_undo(actor=owner, record=record)
    assert list(only_dupe.contacts.all()) == [dupe]
    assert set(both.contacts.all()) == {kept, dupe}
