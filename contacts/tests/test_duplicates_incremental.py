"""A saved contact's candidates are recomputed at once; decisions feed the re-estimation."""

from datetime import date

from django.urls import reverse

from contacts import duplicates, services
from contacts.duplicates import contact_candidates_refresh, duplicates_refresh
from contacts.merge import records_merge
from contacts.models import Contact, DuplicateCandidate, MergeRecord, NameFrequency
from contacts.tasks import match_contact
from contacts.tests.factories import ContactFactory


def _twin(owner, **fields):
    values = {
        "first_name": "Margaret",
        "last_name": "Thompson",
        "email": "",
        "phone": "",
        "birth_date": date(1971, 3, 14),
        "street": "12 Baker Street",
        "postcode": "NW1 6XE",
        "city": "London",
    }
    return ContactFactory(owner=owner, **{**values, **fields})


def test_saving_a_contact_queues_its_match_once_the_transaction_commits(owner, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        contact = services.contact_create(actor=owner, owner=owner, first_name="Anna", last_name="Petrova")
    assert len(callbacks) == 1
    assert callbacks[0].func == match_contact.delay and callbacks[0].args == (contact.pk,)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        services.contact_update(actor=owner, contact=contact, title="CEO")  # not a field the matcher reads
    assert callbacks == []


def test_a_saved_contact_gets_its_candidates_without_waiting_for_the_night(owner):
    a = _twin(owner)
    b = _twin(owner, first_name="Maggie", street="13 Baker Street")  # a nickname, the house number changed
    ContactFactory(owner=owner, first_name="Boris", last_name="Ivanov")
    assert match_contact.apply(args=[b.pk]).get() == 1
    candidate = DuplicateCandidate.objects.get()
    assert (candidate.contact_a, candidate.contact_b) == (a, b)
    reasons = {r["field"]: r["level"] for r in candidate.reasons}
    # No e-mail, phone or company on either side: no evidence either way, so not listed.
    assert reasons == {"first_name": "variant", "last_name": "exact", "birth_date": "exact", "address": "near"}
    # The change that makes them two people removes the pair.
    b.first_name, b.birth_date = "Susan", date(1990, 7, 1)
    b.save()
    assert contact_candidates_refresh(contact_id=b.pk) == 0
    assert not DuplicateCandidate.objects.exists()


def test_a_dismissed_pair_stays_dismissed_after_a_save_and_after_the_refresh(owner):
    a = _twin(owner)
    b = _twin(owner)
    duplicates_refresh()
    duplicates.duplicate_dismiss(actor=owner, candidate=DuplicateCandidate.objects.get())
    b.phone = "+447700900123"
    b.save()
    contact_candidates_refresh(contact_id=b.pk)
    duplicates_refresh()
    candidate = DuplicateCandidate.objects.get()
    assert (candidate.contact_a, candidate.contact_b, candidate.status) == (a, b, "dismissed")


def test_an_archived_contact_leaves_the_duplicates_page(owner):
    a = _twin(owner)
    _twin(owner)
    duplicates_refresh()
    assert DuplicateCandidate.objects.filter(status="open").count() == 1
    services.contact_archive(actor=owner, contact=a)
    contact_candidates_refresh(contact_id=a.pk)
    assert not DuplicateCandidate.objects.filter(status="open").exists()


def test_merges_and_dismissals_are_the_labels_of_the_next_estimate(owner):
    a, b = _twin(owner), _twin(owner)
    c = _twin(owner, first_name="Susan", birth_date=date(1990, 7, 1))  # a relative at the same address
    candidate = DuplicateCandidate.objects.create(kind="contact", contact_a=a, contact_b=c, score=50)
    duplicates.duplicate_dismiss(actor=owner, candidate=candidate)
    records_merge(actor=owner, survivor=a, loser=b, choices={})
    assert MergeRecord.objects.filter(kind="contact").count() == 1
    labelled = duplicates._labelled_patterns()
    assert sum(no for _yes, no in labelled.values()) == 1  # the dismissed pair: not a match
    assert sum(yes for yes, _no in labelled.values()) == 1  # the merged pair: a match
    merged_gamma = next(g for g, (yes, _no) in labelled.items() if yes)
    assert merged_gamma[0] == 5 and merged_gamma[2] == 3  # same first name, same birth date


def test_the_create_form_warns_with_the_matchers_reasons(owner_client, owner):
    _twin(owner, email="margaret@example.com")
    data = {
        "first_name": "Maggie",
        "last_name": "Thompson",
        "email": "",
        "birth_date": "1971-03-14",
        "street": "12 Baker Street",
        "postcode": "NW1 6XE",
        "city": "London",
        "lifecycle_stage": "lead",
        "owner": owner.pk,
    }
    body = owner_client.post(reverse("contacts:contact-create"), data).content.decode()
    assert "This may already be in the CRM" in body
    assert "same birth date +" in body and "first name: nickname or spelling variant +" in body


def test_rows_written_by_copy_carry_their_keys_even_with_quotes_and_backslashes(owner):
    from crm.bulk import copy_instances

    contact = Contact(owner=owner, first_name='Jo"hn', last_name="O\\Neil", email='a"b\\c@example.com')
    contact.dedupe_keys = contact.compute_dedupe_keys()
    contact.updated_at = contact.created_at  # set by the import before it copies
    copy_instances(Contact, [contact])
    stored = Contact.objects.get(pk=contact.pk)
    assert stored.dedupe_keys == contact.dedupe_keys and 'e:a"b\\c@example.com' in stored.dedupe_keys


def test_the_refresh_counts_full_names_for_the_live_checks(owner):
    for _n in range(3):
        _twin(owner, first_name="Wei", last_name="Wang", birth_date=None, street="", postcode="", city="")
    _twin(owner)
    duplicates_refresh()
    assert dict(NameFrequency.objects.values_list("key", "records")) == {"f:wang|wei": 3}
    assert duplicates.full_name_counts(["f:wang|wei", "f:margaret|thompson", ""]) == {"f:wang|wei": 3}
    # Rebuilt, not added to: a name no longer shared leaves the table.
    Contact.objects.filter(first_name="Wei").update(first_name="Wen")
    duplicates_refresh()
    assert dict(NameFrequency.objects.values_list("key", "records")) == {"f:wang|wen": 3}


def test_the_form_check_is_a_constant_few_queries(owner, django_assert_max_num_queries):
    for n in range(30):
        _twin(owner, email=f"m{n}@example.com", birth_date=date(1950 + n, 1, 1))
    duplicates_refresh()
    duplicates.current_parameters()  # as in a running web process
    # Who the user sees, the candidates (one round trip with its planner setting), the reset
    # of that setting (only inside a transaction, as a test is), the matching records.
    with django_assert_max_num_queries(4):
        found = duplicates.contact_duplicates(
            owner,
            first_name="Margaret",
            last_name="Thompson",
            emails=["m3@example.com"],
            phones=[],
            birth_date=date(1953, 1, 1),
        )
    assert found[0].record.email == "m3@example.com" and found[0].score > 90


def test_a_key_shared_by_more_than_the_cap_is_no_evidence_to_look_at(owner, monkeypatch):
    monkeypatch.setattr(duplicates, "BLOCK_CAP", 3)
    for n in range(4):  # four people on one phone: a switchboard
        ContactFactory(owner=owner, first_name=f"Person{n}", last_name=f"Surname{n}", phone="+442079460000")
    found = duplicates.contact_duplicates(
        owner, first_name="Somebody", last_name="Else", emails=[], phones=["+442079460000"]
    )
    assert found == []
    monkeypatch.setattr(duplicates, "BLOCK_CAP", 100)
    found = duplicates.contact_duplicates(
        owner, first_name="Somebody", last_name="Else", emails=[], phones=["+442079460000"]
    )
    assert len(found) == 4  # sharing a phone is always worth a warning


def test_the_contact_check_warns_about_the_teams_contacts_and_hints_at_no_others(owner, teammate, outsider):
    mine = _twin(owner, email="margaret@example.com")
    theirs = _twin(teammate, email="margaret@example.com")
    hidden = _twin(outsider, email="margaret@example.com")
    typed = {"first_name": "Margaret", "last_name": "Thompson", "emails": ["margaret@example.com"], "phones": []}
    assert {d.record for d in duplicates.contact_duplicates(owner, **typed)} == {mine, theirs}
    assert {d.record for d in duplicates.contact_duplicates(teammate, **typed)} == {mine, theirs}
    assert {d.record for d in duplicates.contact_duplicates(outsider, **typed)} == {hidden}
    # The record being edited is not its own duplicate.
    assert {d.record for d in duplicates.contact_duplicates(owner, **typed, exclude_pk=mine.pk)} == {theirs}
