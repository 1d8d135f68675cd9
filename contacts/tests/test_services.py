import pytest
from django.core.exceptions import ValidationError

from contacts import services
from contacts.models import Company, Contact, Tag
from contacts.selectors import history_entries
from contacts.signals import customer_event
from contacts.tests.factories import CompanyFactory, ContactFactory


@pytest.fixture
def events():
    received = []

    def receiver(sender, **kwargs):
        received.append(kwargs)

    customer_event.connect(receiver)
    yield received
    customer_event.disconnect(receiver)


def test_company_create_normalises_input_and_scores_completeness(owner):
    company = services.company_create(
        actor=owner,
        owner=owner,
        name="  Acme GmbH ",
        domain="https://www.Acme.de/impressum",
        phone="030 12345678",
        email="Info@ACME.de",
        country="DE",
    )
    company.refresh_from_db()
    assert company.name == "Acme GmbH"
    assert company.domain == "acme.de"
    assert company.phone == "+493012345678"
    assert company.email == "info@acme.de"
    assert company.phone_is_invalid is False
    # owner 10 + domain 25 + email 15 + country 10 + phone 20
    assert company.completeness == 80


def test_an_invalid_phone_is_refused_unless_kept_as_typed(owner):
    with pytest.raises(ValidationError) as exc:
        services.company_create(actor=owner, owner=owner, name="Acme", phone="12345", country="RU")
    assert "phone" in exc.value.message_dict
    assert not Company.objects.exists()

    company = services.company_create(
        actor=owner, owner=owner, name="Acme", phone="12345", country="RU", keep_invalid_phone=True
    )
    company.refresh_from_db()
    assert company.phone == "12345"
    assert company.phone_is_invalid is True
    assert company.completeness == 10 + 10 - 10  # owner + country, minus the invalid phone


def test_a_contact_phone_without_country_code_uses_the_company_country(owner):
    company = CompanyFactory(owner=owner, country="RU")
    contact = services.contact_create(
        actor=owner, owner=owner, last_name="Petrova", company=company, phone="8 (916) 123-45-67"
    )
    assert contact.phone == "+79161234567"


def test_contact_completeness_follows_the_documented_formula(owner):
    company = CompanyFactory(owner=owner)
    full = services.contact_create(
        actor=owner,
        owner=owner,
        first_name="Anna",
        last_name="Petrova",
        email="anna@example.com",
        phone="+1 415 555 2671",
        company=company,
        title="CEO",
    )
    bare = services.contact_create(actor=owner, owner=owner, last_name="Petrov")
    assert full.completeness == 100
    assert bare.completeness == 10


def test_one_edit_with_tags_leaves_one_history_record_with_the_actor(owner, teammate):
    company = services.company_create(actor=owner, owner=owner, name="Acme", tag_names=["VIP"])
    services.company_update(actor=teammate, company=company, name="Acme Corp", tag_names=["vip", "Partner"])
    assert company.history.count() == 2
    latest = company.history.first()
    assert latest.history_user == teammate
    entries = history_entries(company)
    assert entries[0].who == str(teammate)
    changes = {change.label: (change.old, change.new) for change in entries[0].changes}
    assert changes["name"] == ("Acme", "Acme Corp")
    assert changes["tags"] == ("VIP", "Partner, VIP")
    assert entries[1].created is True


def test_tags_are_matched_case_insensitively_and_created_once(owner):
    Tag.objects.create(name="VIP")
    tags = services.tags_get_or_create(names=["vip", " Trade  show ", "trade show", ""])
    assert [t.name for t in tags] == ["VIP", "Trade show"]
    assert Tag.objects.count() == 2


def test_archive_and_restore_set_archived_at_and_announce_it(owner, admin_user, events):
    contact = ContactFactory(owner=owner)
    services.contact_archive(actor=owner, contact=contact)
    contact.refresh_from_db()
    assert contact.archived_at is not None
    services.contact_restore(actor=admin_user, contact=contact)
    contact.refresh_from_db()
    assert contact.archived_at is None
    assert [e["kind"] for e in events] == ["archived", "restored"]
    assert events[0]["contact"] == contact


def test_reassign_changes_the_owner_of_each_record_and_records_it(owner, teammate, events):
    contacts = [ContactFactory(owner=owner) for _ in range(3)]
    count = services.contacts_reassign(
        actor=owner, contacts=Contact.objects.filter(pk__in=[c.pk for c in contacts]), owner=teammate
    )
    assert count == 3
    for contact in contacts:
        contact.refresh_from_db()
        assert contact.owner == teammate
        latest = contact.history.first()
        assert latest.history_user == owner
        assert latest.owner_id == teammate.pk
    assert [e["kind"] for e in events] == ["owner_changed"] * 3
    entry = history_entries(contacts[0])[0]
    assert [(c.label, c.new) for c in entry.changes] == [("owner", str(teammate))]


def test_a_bad_email_saves_nothing(owner):
    with pytest.raises(ValidationError):
        services.contact_create(actor=owner, owner=owner, last_name="X", email="not-an-email")
    assert not Contact.objects.exists()


def test_history_does_not_name_a_company_the_reader_may_not_see(owner, outsider, company):
    hidden = CompanyFactory(owner=outsider, name="Southern Secret")
    contact = services.contact_create(actor=owner, owner=owner, last_name="Mover", company=hidden)
    services.contact_update(actor=owner, contact=contact, company=company)
    change = history_entries(contact, user=owner)[0].changes[0]
    assert (change.label, change.old, change.new) == ("company", "(not visible)", "Acme Corp")
    assert history_entries(contact, user=outsider)[0].changes[0].old == "Southern Secret"
