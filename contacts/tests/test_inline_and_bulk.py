"""Inline editing (crm.inline) and bulk actions (crm.bulk_actions) on companies and contacts."""

import pytest
from django.urls import reverse

from contacts.models import Company, Contact
from contacts.tests.factories import CompanyFactory, ContactFactory
from crm.bulk_actions import bulk_job_continue
from crm.models import BulkJob, BulkJobState, Outbox

pytestmark = pytest.mark.django_db


def _inline(company, field="phone"):
    return reverse("contacts:company-inline", args=[company.pk, field])


# --- Inline editing ---------------------------------------------------------------------------


def test_the_owner_opens_the_editor_with_the_saved_value(owner_client, owner):
    company = CompanyFactory(owner=owner, phone="+493012345678", country="DE")
    response = owner_client.get(_inline(company), {"version": company.version})
    assert response.status_code == 200
    assert 'value="+493012345678"' in response.content.decode()
    assert "data-inline-editor" in response.content.decode()


def test_an_inline_save_changes_only_that_field_and_writes_history(owner_client, owner):
    company = CompanyFactory(owner=owner, country="DE", name="Kiel Werft", industry="Ships")
    version = company.version
    response = owner_client.post(_inline(company), {"phone": "030 1234567", "version": version})
    assert response.status_code == 200
    company.refresh_from_db()
    assert company.phone == "+49301234567"  # normalised as the full form does
    assert company.name == "Kiel Werft" and company.industry == "Ships"
    assert company.version == version + 1
    assert company.history.first().history_user == owner
    body = response.content.decode()
    assert f'id="inline-company-{company.pk}-version" value="{company.version}" hx-swap-oob="true"' in body


def test_an_inline_save_shows_the_full_forms_error_in_place(owner_client, owner):
    company = CompanyFactory(owner=owner, email="a@example.com")
    response = owner_client.post(_inline(company, "email"), {"email": "not-an-address", "version": company.version})
    assert response.status_code == 200
    assert "Enter a valid email address." in response.content.decode()
    assert 'aria-invalid="true"' in response.content.decode()
    company.refresh_from_db()
    assert company.email == "a@example.com"


def test_an_inline_save_on_an_old_version_shows_the_conflict_and_saves_nothing(owner_client, owner):
    company = CompanyFactory(owner=owner, country="DE")
    stale = company.version
    owner_client.post(_inline(company), {"phone": "030 1111111", "version": stale})
    response = owner_client.post(_inline(company), {"phone": "030 2222222", "version": stale})
    body = response.content.decode()
    assert "after you opened the page" in body
    assert "+49 30 1111111" in body  # what the record says now
    company.refresh_from_db()
    assert company.phone == "+49301111111"
    # Saving again on the version the conflict showed is the deliberate "keep mine".
    owner_client.post(_inline(company), {"phone": "030 2222222", "version": company.version})
    company.refresh_from_db()
    assert company.phone == "+49302222222"


def test_an_inline_identity_change_asks_about_a_possible_duplicate(owner_client, owner):
    CompanyFactory(owner=owner, name="Twin One", email="same@twin.example")
    company = CompanyFactory(owner=owner, name="Other Name", email="")
    response = owner_client.post(_inline(company, "email"), {"email": "same@twin.example", "version": company.version})
    assert "This looks like a record you already have" in response.content.decode()
    company.refresh_from_db()
    assert company.email == ""
    owner_client.post(
        _inline(company, "email"), {"email": "same@twin.example", "version": company.version, "save_anyway": "1"}
    )
    company.refresh_from_db()
    assert company.email == "same@twin.example"


def test_inline_tags_and_lifecycle_stage_of_a_contact(owner_client, owner):
    contact = ContactFactory(owner=owner)
    url = reverse("contacts:contact-inline", args=[contact.pk, "tags"])
    owner_client.post(url, {"tags": "vip, berlin", "version": contact.version})
    contact.refresh_from_db()
    assert sorted(t.name for t in contact.tags.all()) == ["berlin", "vip"]
    url = reverse("contacts:contact-inline", args=[contact.pk, "lifecycle_stage"])
    owner_client.post(url, {"lifecycle_stage": "customer", "version": contact.version})
    contact.refresh_from_db()
    assert contact.lifecycle_stage == "customer"


def test_inline_editing_checks_access_like_the_full_form(teammate_client, outsider_client, owner):
    company = CompanyFactory(owner=owner, phone="")
    assert teammate_client.get(_inline(company)).status_code == 403  # reads, may not change
    assert teammate_client.post(_inline(company), {"phone": "030 1234567"}).status_code == 403
    assert outsider_client.get(_inline(company)).status_code == 404
    assert outsider_client.post(_inline(company), {"phone": "030 1234567"}).status_code == 404
    assert teammate_client.get(_inline(company), {"cancel": "1"}).status_code == 200  # the field as shown
    assert outsider_client.get(_inline(company), {"cancel": "1"}).status_code == 404
    company.refresh_from_db()
    assert company.phone == ""


def test_an_unknown_inline_field_is_404(owner_client, owner):
    company = CompanyFactory(owner=owner)
    assert owner_client.get(_inline(company, "name")).status_code == 404


def test_the_company_page_with_inline_fields_keeps_its_query_count(owner_client, owner, django_assert_max_num_queries):
    company = CompanyFactory(owner=owner)
    owner_client.get(company.get_absolute_url())  # warms the per-process content type cache (files card)
    with django_assert_max_num_queries(9):
        response = owner_client.get(company.get_absolute_url())
    assert f'id="inline-company-{company.pk}-phone"' in response.content.decode()


# --- Inline editing on the list rows --------------------------------------------------------------


def test_the_lists_rows_carry_inline_editors_for_what_the_user_may_change(
    owner_client, teammate_client, owner, teammate
):
    mine = CompanyFactory(owner=owner, name="Mine GmbH")
    theirs = CompanyFactory(owner=teammate, name="Theirs GmbH")
    body = owner_client.get(reverse("contacts:company-list")).content.decode()
    for name in ("owner", "lifecycle_stage", "phone", "tags"):
        assert f'id="inline-company-{mine.pk}-{name}"' in body
        assert f'id="inline-company-{theirs.pk}-{name}"' not in body  # a teammate's row: read only
    assert f'id="inline-company-{mine.pk}-version" value="{mine.version}"' in body
    assert "Edit Lifecycle stage" in body
    # The row boxes belong to the bulk form from outside it: an editor posts only its own field.
    assert f'name="ids" form="bulk-form" value="{mine.pk}"' in body
    assert body.index("</form>", body.index('id="bulk-form"')) < body.index(f'id="inline-company-{mine.pk}-phone"')
    assert "Export (CSV)" in body
    # An outsider's list has no row of theirs at all; a teammate's shows it without pencils.
    body = teammate_client.get(reverse("contacts:company-list")).content.decode()
    assert f'id="inline-company-{mine.pk}-phone"' not in body and "Mine GmbH" in body


def test_a_contact_rows_phone_cell_edits_the_number_it_shows(owner_client, owner):
    mobile_only = ContactFactory(owner=owner, phone="", mobile="+4915112345678")
    both = ContactFactory(owner=owner, phone="+493012345678", mobile="+4915187654321")
    body = owner_client.get(reverse("contacts:contact-list")).content.decode()
    assert f'id="inline-contact-{mobile_only.pk}-mobile"' in body
    assert f'id="inline-contact-{both.pk}-phone"' in body
    assert f'id="inline-contact-{both.pk}-email"' in body


def test_a_list_rows_stage_saved_in_place_with_its_version_and_history(owner_client, owner):
    company = CompanyFactory(owner=owner, lifecycle_stage="lead")
    page = owner_client.get(reverse("contacts:company-list")).content.decode()
    version = company.version
    assert f'id="inline-company-{company.pk}-version" value="{version}"' in page
    url = reverse("contacts:company-inline", args=[company.pk, "lifecycle_stage"])
    editor = owner_client.get(url, {"version": version}).content.decode()
    assert 'name="lifecycle_stage"' in editor and "data-inline-editor" in editor
    response = owner_client.post(url, {"lifecycle_stage": "customer", "version": version})
    assert "Customer" in response.content.decode()
    company.refresh_from_db()
    assert (company.lifecycle_stage, company.version) == ("customer", version + 1)
    assert company.history.first().history_user == owner
    # The same row's owner edited from the page loaded before: a conflict, nothing saved.
    url = reverse("contacts:company-inline", args=[company.pk, "owner"])
    response = owner_client.post(url, {"owner": owner.pk, "version": version})
    assert "after you opened the page" in response.content.decode()


# --- Bulk actions -----------------------------------------------------------------------------


def _bulk(kind="company"):
    return reverse("bulk-apply", args=[kind])


def test_bulk_assign_of_ticked_rows_writes_one_history_entry_each(owner_client, owner, teammate):
    companies = [CompanyFactory(owner=owner) for _ in range(3)]
    before = [c.history.count() for c in companies]
    owner_client.post(_bulk(), {"action": "assign", "owner": teammate.pk, "ids": [c.pk for c in companies[:2]]})
    for company in companies:
        company.refresh_from_db()
    assert [c.owner for c in companies] == [teammate, teammate, owner]
    assert [c.history.count() for c in companies] == [before[0] + 1, before[1] + 1, before[2]]
    job = BulkJob.objects.get()
    assert (job.state, job.changed, job.skipped) == (BulkJobState.DONE, 2, 0)


def test_all_matching_asks_first_with_the_count(owner_client, owner, teammate):
    for n in range(3):
        CompanyFactory(owner=owner, name=f"Matchme {n}")
    CompanyFactory(owner=owner, name="Elsewhere")
    data = {"action": "add_tag", "tag": "q4", "scope": "all", "query": "q=Matchme"}
    response = owner_client.post(_bulk(), data)
    assert response.status_code == 200
    assert "on all 3 companies matching" in response.content.decode()
    assert not BulkJob.objects.exists()
    owner_client.post(_bulk(), {**data, "confirmed": "1"})
    tagged = Company.objects.filter(tags__name="q4").values_list("name", flat=True)
    assert sorted(tagged) == ["Matchme 0", "Matchme 1", "Matchme 2"]


def test_the_bulk_bar_names_the_matching_count_in_the_users_language(owner_client, owner):
    for n in range(3):
        CompanyFactory(owner=owner, name=f"Acme {n}")
    body = owner_client.get(reverse("contacts:company-list")).content.decode()
    assert 'data-selected="%(count)s selected"' in body  # bulk.js writes the ticked count in
    assert "Apply to all 3 matching" in body
    owner.language = "ru"
    owner.save(update_fields=["language"])
    body = owner_client.get(reverse("contacts:company-list")).content.decode()
    assert 'data-selected="Выбрано: %(count)s"' in body
    assert "Применить ко всем подходящим (3)" in body


def test_bulk_skips_and_counts_records_the_user_may_not_change(teammate_client, owner, teammate):
    mine = CompanyFactory(owner=teammate)
    theirs = CompanyFactory(owner=owner)  # visible to a teammate, not editable
    teammate_client.post(_bulk(), {"action": "lifecycle", "lifecycle_stage": "customer", "ids": [mine.pk, theirs.pk]})
    mine.refresh_from_db()
    theirs.refresh_from_db()
    assert mine.lifecycle_stage == "customer"
    assert theirs.lifecycle_stage != "customer"
    job = BulkJob.objects.get()
    assert (job.changed, job.skipped) == (1, 1)


def test_an_outsider_cannot_touch_records_they_cannot_see(outsider_client, owner, outsider):
    company = CompanyFactory(owner=owner)
    outsider_client.post(_bulk(), {"action": "assign", "owner": outsider.pk, "ids": [company.pk]})
    company.refresh_from_db()
    assert company.owner == owner
    assert not BulkJob.objects.exists()  # nothing visible was ticked
    assert outsider_client.post(reverse("bulk-apply", args=["nothing"]), {}).status_code == 404


def test_undo_puts_back_the_previous_values(owner_client, owner, teammate):
    companies = [CompanyFactory(owner=owner) for _ in range(2)]
    owner_client.post(_bulk(), {"action": "assign", "owner": teammate.pk, "ids": [c.pk for c in companies]})
    job = BulkJob.objects.get()
    response = owner_client.post(reverse("bulk-undo", args=[job.pk]), {"next": "/companies/"})
    assert response.status_code == 302
    for company in companies:
        company.refresh_from_db()
        assert company.owner == owner
        assert company.history.count() == 3  # created, reassigned, reassigned back
    job.refresh_from_db()
    assert job.state == BulkJobState.UNDONE


def test_only_the_last_bulk_action_and_only_ones_own_can_be_undone(owner_client, teammate_client, owner, teammate):
    company = CompanyFactory(owner=owner)
    owner_client.post(_bulk(), {"action": "add_tag", "tag": "one", "ids": [company.pk]})
    owner_client.post(_bulk(), {"action": "add_tag", "tag": "two", "ids": [company.pk]})
    first, last = BulkJob.objects.order_by("id")
    assert teammate_client.post(reverse("bulk-undo", args=[last.pk])).status_code == 404
    owner_client.post(reverse("bulk-undo", args=[first.pk]))
    assert sorted(company.tags.values_list("name", flat=True)) == ["one", "two"]
    owner_client.post(reverse("bulk-undo", args=[last.pk]))
    assert list(company.tags.values_list("name", flat=True)) == ["one"]


def test_a_large_bulk_action_runs_as_a_job_through_the_outbox(owner_client, owner, teammate, settings):
    settings.BULK_SYNC_MAX = 2
    contacts = [ContactFactory(owner=owner) for _ in range(3)]
    owner_client.post(_bulk("contact"), {"action": "assign", "owner": teammate.pk, "ids": [c.pk for c in contacts]})
    job = BulkJob.objects.get()
    assert job.state == BulkJobState.PENDING
    assert Outbox.objects.filter(task="crm.tasks.run_bulk_job", args=[job.pk]).exists()
    page = owner_client.get(reverse("contacts:contact-list"))
    assert "is waiting for a worker" in page.content.decode()
    bulk_job_continue(job_id=job.pk)  # what the worker runs
    assert set(Contact.objects.filter(pk__in=[c.pk for c in contacts]).values_list("owner", flat=True)) == {teammate.pk}
    job.refresh_from_db()
    assert (job.state, job.processed, job.changed) == (BulkJobState.DONE, 3, 3)
    status = owner_client.get(reverse("bulk-status", args=[job.pk]))
    assert "3 contacts changed" in status.content.decode()


def test_export_of_ticked_rows_has_only_those(owner_client, owner):
    picked = CompanyFactory(owner=owner, name="Picked GmbH")
    CompanyFactory(owner=owner, name="Left Out GmbH")
    response = owner_client.post(_bulk(), {"action": "export", "ids": [picked.pk], "scope": "selected"})
    body = b"".join(response.streaming_content).decode()
    assert "Picked GmbH" in body and "Left Out GmbH" not in body


def test_the_list_with_its_bulk_bar_keeps_its_query_count(owner_client, owner, teammate, django_assert_max_num_queries):
    for _ in range(3):
        CompanyFactory(owner=owner)
    owner_client.post(_bulk(), {"action": "assign", "owner": teammate.pk, "ids": [Company.objects.first().pk]})
    with django_assert_max_num_queries(6):  # the list's 5 and the last bulk action's banner
        response = owner_client.get(reverse("contacts:company-list"))
    assert "Apply to all 3 matching" in response.content.decode()
    assert "Undo" in response.content.decode()
