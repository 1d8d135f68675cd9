"""A company or contact merge moves the loser's cases; undo moves back exactly those."""

import pytest

from contacts import services as contact_services
from contacts.merge import merge_undo, records_merge
from service import services

pytestmark = pytest.mark.django_db


def test_a_company_merge_moves_its_cases_and_undo_restores_them(owner, north):
    kept = contact_services.company_create(actor=owner, owner=owner, name="Acme")
    dupe = contact_services.company_create(actor=owner, owner=owner, name="ACME Inc")
    case = services.case_create(actor=owner, subject="Broken", team=north, company=dupe)
    record = records_merge(actor=owner, survivor=kept, loser=dupe, choices={})
    case.refresh_from_db()
    assert case.company == kept and record.moved["service"] == {"cases": [case.pk]}
    later = services.case_create(actor=owner, subject="After the merge", team=north, company=kept)
    merge_undo(actor=owner, record=record)
    case.refresh_from_db()
    later.refresh_from_db()
    assert case.company == dupe and later.company == kept


def test_a_contact_merge_moves_its_cases_and_undo_restores_them(owner, north):
    kept = contact_services.contact_create(actor=owner, owner=owner, last_name="Petrova", email="a@x.example")
    dupe = contact_services.contact_create(actor=owner, owner=owner, last_name="Petrova", email="b@x.example")
    case = services.case_create(actor=owner, subject="Broken", team=north, contact=dupe)
    record = records_merge(actor=owner, survivor=kept, loser=dupe, choices={})
    case.refresh_from_db()
    assert case.contact == kept
    merge_undo(actor=owner, record=record)
    case.refresh_from_db()
    assert case.contact == dupe
