"""Two people editing the same company or contact: the second save never silently puts back
what the first one saved. It gets a 409 page listing what changed and chooses."""

import pytest
from django.urls import reverse

from contacts import services
from contacts.models import Company, Contact
from contacts.tests.factories import ContactFactory
from crm.tests.forms import posted_data


def test_the_second_of_two_contact_edits_sees_the_changed_field_and_nothing_is_overwritten(
    owner_client, manager_client, contact
):
    url = reverse("contacts:contact-edit", args=[contact.pk])
    mine = owner_client.get(url)
    theirs = manager_client.get(url)
    assert 'name="version"' in mine.content.decode()

    first = manager_client.post(url, posted_data(theirs, title="Head of Sales"))
    assert first.status_code == 302
    second = owner_client.post(url, posted_data(mine, lifecycle_stage="customer"))

    assert second.status_code == 409
    body = second.content.decode()
    assert "Mia Manager changed this record while you were editing it" in body
    assert "Job title" in body and "Head of Sales" in body
    assert "Save mine anyway" in body
    contact.refresh_from_db()
    assert (contact.title, contact.lifecycle_stage) == ("Head of Sales", "lead")


def test_save_mine_anyway_saves_the_second_editors_values(owner_client, manager_client, contact):
    url = reverse("contacts:contact-edit", args=[contact.pk])
    mine = owner_client.get(url)
    manager_client.post(url, posted_data(manager_client.get(url), title="Head of Sales"))
    conflict = owner_client.post(url, posted_data(mine, lifecycle_stage="customer"))
    assert conflict.status_code == 409

    again = owner_client.post(url, posted_data(conflict))

    assert again.status_code == 302
    contact.refresh_from_db()
    # The second editor chose their whole form, which still had the old (empty) title.
    assert (contact.title, contact.lifecycle_stage) == ("", "customer")
    assert contact.version == 3


def test_the_second_of_two_company_edits_conflicts(owner_client, manager_client, company):
    url = reverse("contacts:company-edit", args=[company.pk])
    mine = owner_client.get(url)
    first = manager_client.post(url, posted_data(manager_client.get(url), industry="Logistics"))
    assert first.status_code == 302

    second = owner_client.post(url, posted_data(mine, lifecycle_stage="customer"))

    assert second.status_code == 409
    body = second.content.decode()
    assert "Industry" in body and "Logistics" in body
    company.refresh_from_db()
    assert (company.industry, company.lifecycle_stage) == ("Logistics", "lead")
    again = owner_client.post(url, posted_data(second))
    assert again.status_code == 302
    company.refresh_from_db()
    assert company.lifecycle_stage == "customer"


def test_an_edit_on_the_current_version_saves_and_bumps_it(owner_client, contact):
    url = reverse("contacts:contact-edit", args=[contact.pk])
    response = owner_client.post(url, posted_data(owner_client.get(url), title="CTO"))
    assert response.status_code == 302
    contact.refresh_from_db()
    assert (contact.title, contact.version) == ("CTO", 2)


@pytest.mark.parametrize(("who", "status"), [("teammate", 403), ("outsider", 404)])
def test_a_stale_form_still_respects_who_may_change_the_record(client_for, owner_client, contact, who, status):
    url = reverse("contacts:contact-edit", args=[contact.pk])
    loaded = posted_data(owner_client.get(url), title="Changed")
    response = client_for(who).post(url, {**loaded, "version": "1"})
    assert response.status_code == status
    contact.refresh_from_db()
    assert contact.title == ""


def test_an_archive_or_a_reassign_after_the_form_was_opened_conflicts(owner_client, owner, teammate, contact):
    url = reverse("contacts:contact-edit", args=[contact.pk])
    mine = owner_client.get(url)
    services.contacts_reassign(actor=owner, contacts=Contact.objects.filter(pk=contact.pk), owner=owner)  # no-op
    contact.refresh_from_db()
    assert contact.version == 1
    other = ContactFactory(owner=owner)
    services.contacts_reassign(
        actor=owner, contacts=Contact.objects.filter(pk__in=[contact.pk, other.pk]), owner=teammate
    )

    response = owner_client.post(url, posted_data(mine, title="Mine"))

    # The owner is now the teammate: the former owner may no longer change it at all.
    assert response.status_code == 403
    company = contact.company
    company_url = reverse("contacts:company-edit", args=[company.pk])
    loaded = owner_client.get(company_url)
    services.company_archive(actor=owner, company=company)
    company.refresh_from_db()
    assert company.version == 2
    services.company_restore(actor=owner, company=company)
    conflict = owner_client.post(company_url, posted_data(loaded, name="Acme Renamed"))
    assert conflict.status_code == 409
    assert Company.objects.get(pk=company.pk).name == "Acme Corp"


def test_an_edit_without_a_version_is_not_checked(owner, contact):
    services.contact_update(actor=owner, contact=contact, title="A")
    services.contact_update(actor=owner, contact=contact, version=None, title="B")
    contact.refresh_from_db()
    assert (contact.title, contact.version) == ("B", 3)


@pytest.mark.parametrize("version", ["²", "abc", "99999999999999999999", "-1"])
def test_a_malformed_version_is_answered_as_a_conflict_never_a_500(owner_client, contact, version):
    url = reverse("contacts:contact-edit", args=[contact.pk])
    response = owner_client.post(url, posted_data(owner_client.get(url), title="CTO", version=version))
    assert response.status_code == 409
    contact.refresh_from_db()
    assert contact.title == ""


def test_a_merge_after_either_record_changed_is_stopped_and_shows_the_current_values(owner_client, manager, owner):
    kept = services.company_create(actor=owner, owner=owner, name="Northwind Traders", domain="northwind.example")
    dupe = services.company_create(actor=owner, owner=owner, name="NORTHWIND TRADERS INC", domain="northwind.example")
    url = reverse("contacts:company-merge", args=[kept.pk, dupe.pk])
    screen = owner_client.get(url)
    assert f'name="survivor_version" value="{kept.version}"' in screen.content.decode()
    # Someone renames the kept company while the owner reads the merge screen.
    services.company_update(actor=manager, company=kept, name="Northwind Traders Ltd")

    response = owner_client.post(url, {"name": "loser", "survivor_version": "1", "loser_version": "1"})

    assert response.status_code == 302 and response["Location"] == url
    kept.refresh_from_db()
    dupe.refresh_from_db()
    assert kept.name == "Northwind Traders Ltd" and dupe.archived_at is None
    page = owner_client.get(url).content.decode()
    assert "changed while you reviewed the merge" in page and "Northwind Traders Ltd" in page

    merged = owner_client.post(url, {"name": "loser", "survivor_version": "2", "loser_version": "1"})
    assert merged.status_code == 302 and merged["Location"] == kept.get_absolute_url()
    kept.refresh_from_db()
    assert kept.name == "NORTHWIND TRADERS INC" and kept.version == 3


def _admin_company_data(company, **overrides):
    data = {
        "name": company.name,
        "domain": company.domain,
        "phone": company.phone,
        "email": company.email,
        "country": str(company.country),
        "owner": company.owner_id,
        "lifecycle_stage": company.lifecycle_stage,
        "loaded_version": company.version,
    }
    data.update(overrides)
    return data


def test_an_admin_save_on_a_stale_version_is_refused_and_a_fresh_one_bumps_it(admin_client, manager, company):
    url = reverse("admin:contacts_company_change", args=[company.pk])
    stale = _admin_company_data(company, name="Admin's name")
    services.company_update(actor=manager, company=company, industry="Logistics")

    refused = admin_client.post(url, stale)

    assert refused.status_code == 200
    assert "Someone else saved this record after you opened it" in refused.content.decode()
    company.refresh_from_db()
    assert (company.name, company.industry) == ("Acme Corp", "Logistics")

    saved = admin_client.post(url, _admin_company_data(company, name="Admin's name", industry="Logistics"))
    assert saved.status_code == 302
    company.refresh_from_db()
    assert (company.name, company.version) == ("Admin's name", 3)
