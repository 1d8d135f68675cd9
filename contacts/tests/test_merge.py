import re
from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone

from contacts import services
from contacts.merge import default_choices, merge_undo, merges_finalise, records_merge
from contacts.models import Company, Contact, DuplicateCandidate, MergeRecord, Tag
from contacts.tasks import finalise_merges


@pytest.fixture
def twins(owner):
    """Two records of one customer, created the way the app creates them (with history)."""
    kept = services.company_create(
        actor=owner,
        owner=owner,
        name="Northwind Traders",
        domain="northwind.example",
        phone="+14155552671",
        industry="Retail",
        tag_names=["vip"],
    )
    dupe = services.company_create(
        actor=owner,
        owner=owner,
        name="NORTHWIND TRADERS INC",
        domain="northwind.example",
        email="hello@northwind.example",
        city="Seattle",
        tag_names=["vip", "import"],
    )
    return kept, dupe


def test_merge_keeps_the_chosen_values_and_archives_the_loser(owner, twins):
    kept, dupe = twins
    record = records_merge(actor=owner, survivor=kept, loser=dupe, choices={"name": "survivor", "email": "loser"})
    kept.refresh_from_db()
    dupe.refresh_from_db()
    assert (kept.name, kept.email, kept.city, kept.phone) == (
        "Northwind Traders",
        "hello@northwind.example",
        "",  # a field not chosen keeps the survivor's value
        "+14155552671",
    )
    assert kept.completeness == kept.compute_completeness()
    assert dupe.archived_at is not None and dupe.merged_into == kept
    assert not Company.objects.active().filter(pk=dupe.pk).exists()
    assert not Company.objects.archived().filter(pk=dupe.pk).exists()  # not offered for "Restore"
    assert record.survivor_before == {"email": ""}
    assert record.survivor_after == {"email": "hello@northwind.example"}


def test_merge_unions_tags_and_moves_the_losers_contacts(owner, twins):
    kept, dupe = twins
    person = services.contact_create(actor=owner, owner=owner, last_name="Petrova", company=dupe)
    records_merge(actor=owner, survivor=kept, loser=dupe, choices={})
    person.refresh_from_db()
    assert person.company == kept
    assert sorted(kept.tags.values_list("name", flat=True)) == ["import", "vip"]


def test_merge_is_in_the_survivors_history_and_timeline(owner, twins):
    kept, dupe = twins
    records_merge(actor=owner, survivor=kept, loser=dupe, choices={"email": "loser"})
    latest = kept.history.order_by("-history_date").first()
    assert latest.history_user == owner
    assert latest.history_change_reason == "Merged NORTHWIND TRADERS INC into Northwind Traders"
    event = kept.timeline.get(kind="merge")
    assert event.title == "Merged NORTHWIND TRADERS INC into Northwind Traders"
    assert event.actor == owner


def test_merge_forgets_the_losers_candidate_pairs(owner, twins):
    kept, dupe = twins
    DuplicateCandidate.objects.create(kind="company", company_a=kept, company_b=dupe, score=90)
    records_merge(actor=owner, survivor=kept, loser=dupe, choices={})
    assert not DuplicateCandidate.objects.exists()


def test_an_archived_record_cannot_be_merged(owner, twins):
    kept, dupe = twins
    services.company_archive(actor=owner, company=dupe)
    with pytest.raises(ValidationError):
        records_merge(actor=owner, survivor=kept, loser=dupe, choices={})


def test_undo_restores_the_loser_its_values_and_exactly_what_moved(owner, twins):
    kept, dupe = twins
    person = services.contact_create(actor=owner, owner=owner, last_name="Petrova", company=dupe)
    record = records_merge(actor=owner, survivor=kept, loser=dupe, choices={"email": "loser", "city": "loser"})
    newcomer = services.contact_create(actor=owner, owner=owner, last_name="Ivanov", company=kept)

    merge_undo(actor=owner, record=record)

    kept.refresh_from_db()
    dupe.refresh_from_db()
    person.refresh_from_db()
    newcomer.refresh_from_db()
    assert dupe.archived_at is None and dupe.merged_into is None
    assert (dupe.name, dupe.email, dupe.city) == ("NORTHWIND TRADERS INC", "hello@northwind.example", "Seattle")
    assert (kept.email, kept.city) == ("", "")
    assert sorted(kept.tags.values_list("name", flat=True)) == ["vip"]
    assert sorted(dupe.tags.values_list("name", flat=True)) == ["import", "vip"]
    assert person.company == dupe
    assert newcomer.company == kept  # added after the merge: stays with the survivor
    record.refresh_from_db()
    assert record.undone_at is not None and record.undone_by == owner
    assert kept.timeline.filter(kind="merge_undone").exists()


def test_undo_keeps_a_value_changed_on_the_survivor_after_the_merge(owner, twins):
    kept, dupe = twins
    record = records_merge(actor=owner, survivor=kept, loser=dupe, choices={"email": "loser", "city": "loser"})
    services.company_update(actor=owner, company=kept, city="Portland")
    merge_undo(actor=owner, record=record)
    kept.refresh_from_db()
    assert kept.city == "Portland"
    assert kept.email == ""


def test_a_merge_cannot_be_undone_twice(owner, twins):
    kept, dupe = twins
    record = records_merge(actor=owner, survivor=kept, loser=dupe, choices={})
    merge_undo(actor=owner, record=record)
    with pytest.raises(ValidationError):
        merge_undo(actor=owner, record=record)


def test_after_thirty_days_the_nightly_task_finalises_the_merge(owner, twins, owner_client):
    kept, dupe = twins
    record = records_merge(actor=owner, survivor=kept, loser=dupe, choices={})
    assert merges_finalise() == 0  # still inside the window
    MergeRecord.objects.filter(pk=record.pk).update(merged_at=timezone.now() - timedelta(days=30, minutes=1))
    assert finalise_merges.apply().get() == 1
    assert finalise_merges.apply().get() == 0  # idempotent
    record.refresh_from_db()
    assert record.finalized_at is not None and not record.can_undo
    assert "Undo merge" not in owner_client.get(kept.get_absolute_url()).content.decode()
    with pytest.raises(ValidationError):
        merge_undo(actor=owner, record=record)
    dupe.refresh_from_db()
    assert dupe.merged_into == kept  # the loser stays a tombstone


def test_merging_contacts_moves_company_and_keeps_do_not_contact(owner, company):
    kept = services.contact_create(
        actor=owner, owner=owner, first_name="Anna", last_name="Petrova", email="anna@example.com"
    )
    dupe = services.contact_create(
        actor=owner, owner=owner, first_name="Anya", last_name="Petrova", company=company, do_not_call=True
    )
    defaults = default_choices(kept, dupe)
    assert defaults["do_not_call"] == "loser"  # consent: "do not call" wins by default
    assert defaults["company"] == "loser"  # a value over an empty one
    records_merge(actor=owner, survivor=kept, loser=dupe, choices=defaults)
    kept.refresh_from_db()
    assert (kept.first_name, kept.company, kept.do_not_call, kept.email) == (
        "Anna",
        company,
        True,
        "anna@example.com",
    )
    assert company.timeline.filter(kind="merge", contact=kept).exists()


# --- Views --------------------------------------------------------------------------------


def _merge_url(kept, dupe):
    return reverse("contacts:company-merge", args=[kept.pk, dupe.pk])


@pytest.mark.parametrize(("who", "status"), [("owner", 200), ("manager", 200), ("admin", 200), ("teammate", 403)])
def test_the_merge_screen_needs_edit_rights_on_both(client_for, twins, who, status):
    kept, dupe = twins
    assert client_for(who).get(_merge_url(kept, dupe)).status_code == status


def test_an_outsider_gets_404_and_nothing_is_merged(outsider_client, twins):
    kept, dupe = twins
    assert outsider_client.get(_merge_url(kept, dupe)).status_code == 404
    assert outsider_client.post(_merge_url(kept, dupe), {}).status_code == 404
    dupe.refresh_from_db()
    assert dupe.archived_at is None


def test_a_teammate_cannot_merge_by_posting(teammate_client, twins):
    kept, dupe = twins
    assert teammate_client.post(_merge_url(kept, dupe), {"name": "loser"}).status_code == 403
    assert not MergeRecord.objects.exists()


def test_a_record_the_user_may_only_read_cannot_be_merged_in(owner, teammate, owner_client):
    mine = services.company_create(actor=owner, owner=owner, name="Acme", domain="acme.example")
    theirs = services.company_create(actor=teammate, owner=teammate, name="ACME", domain="acme.example")
    assert owner_client.get(_merge_url(mine, theirs)).status_code == 403


def test_the_merge_screen_offers_only_differing_fields_with_sensible_defaults(owner_client, twins):
    kept, dupe = twins
    body = owner_client.get(_merge_url(kept, dupe)).content.decode()
    assert 'name="email"' in body and 'name="city"' in body and 'name="domain"' not in body
    # an empty value never wins over a filled one: the loser's email is preselected
    checked = re.findall(r'<input type="radio" name="(\w+)" value="(\w+)"[^>]* checked>', body)
    assert ("email", "loser") in checked and ("industry", "survivor") in checked


def test_the_kept_records_name_is_preselected_even_when_the_duplicate_is_fuller(owner):
    from contacts.merge import default_choices

    kept = services.contact_create(actor=owner, owner=owner, first_name="David", last_name="Taylor")
    typo = services.contact_create(
        actor=owner, owner=owner, first_name="David", last_name="Taylorr", email="d.taylor@example.com", title="CFO"
    )
    assert typo.completeness > kept.completeness
    choices = default_choices(kept, typo)
    assert choices["last_name"] == "survivor"
    assert choices["email"] == "loser" and choices["title"] == "loser"


def test_posting_the_merge_screen_merges_and_redirects_to_the_survivor(owner_client, owner, twins):
    kept, dupe = twins
    response = owner_client.post(_merge_url(kept, dupe), {"name": "loser", "email": "loser", "city": "survivor"})
    assert response.status_code == 302 and response["Location"] == kept.get_absolute_url()
    kept.refresh_from_db()
    assert kept.name == "NORTHWIND TRADERS INC" and kept.email == "hello@northwind.example" and kept.city == ""
    body = owner_client.get(kept.get_absolute_url()).content.decode()
    assert "Undo merge" in body
    # the loser's old address leads to the survivor
    assert owner_client.get(dupe.get_absolute_url())["Location"] == kept.get_absolute_url()


def test_the_merge_screen_makes_few_queries(owner_client, twins, django_assert_max_num_queries):
    kept, dupe = twins
    with django_assert_max_num_queries(10):
        assert owner_client.get(_merge_url(kept, dupe)).status_code == 200


@pytest.mark.parametrize(("who", "status"), [("outsider", 404), ("teammate", 403)])
def test_undo_needs_edit_rights(client_for, owner, twins, who, status):
    kept, dupe = twins
    record = records_merge(actor=owner, survivor=kept, loser=dupe, choices={})
    assert client_for(who).post(reverse("contacts:merge-undo", args=[record.pk])).status_code == status
    record.refresh_from_db()
    assert record.undone_at is None


@pytest.mark.parametrize("who", ["owner", "manager", "admin"])
def test_undo_from_the_survivors_page(client_for, owner, twins, who):
    kept, dupe = twins
    record = records_merge(actor=owner, survivor=kept, loser=dupe, choices={})
    response = client_for(who).post(reverse("contacts:merge-undo", args=[record.pk]))
    assert response.status_code == 302 and response["Location"] == kept.get_absolute_url()
    dupe.refresh_from_db()
    assert dupe.archived_at is None
    assert client_for(who).get(reverse("contacts:merge-undo", args=[record.pk])).status_code == 405


def test_contact_merge_screen_access(client_for, owner):
    kept = services.contact_create(actor=owner, owner=owner, first_name="Anna", last_name="Petrova")
    dupe = services.contact_create(actor=owner, owner=owner, first_name="Anna", last_name="Petrovaa")
    url = reverse("contacts:contact-merge", args=[kept.pk, dupe.pk])
    assert client_for("owner").get(url).status_code == 200
    assert client_for("teammate").get(url).status_code == 403
    assert client_for("outsider").get(url).status_code == 404
    assert client_for("owner").get(reverse("contacts:contact-merge", args=[kept.pk, kept.pk])).status_code == 404
    response = client_for("owner").post(url, {"last_name": "survivor"})
    assert response.status_code == 302
    assert Contact.objects.get(pk=dupe.pk).merged_into_id == kept.pk
    assert Tag.objects.count() == 0
