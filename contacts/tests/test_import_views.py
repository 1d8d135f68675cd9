"""The import pages end to end through the views, with the tasks run as the worker runs them."""

import csv
import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from contacts import tasks
from contacts.models import Contact, ImportJob, ImportState

MESSY = (
    "Имя;Фамилия;Почта;Телефон;Компания;Страна\n"
    "Анна;Петрова;anna@example.ru;8 916 123-45-67;Ромашка;Россия\n"
    "Иван;;ivan@example.ru;;Ромашка;Россия\n"
    "Олег;Смирнов;oleg@example;+7 916 000-00-01;;Россия\n"
)


def upload(client, text=MESSY, *, name="people.csv", encoding="cp1251", kind="contacts"):
    return client.post(
        reverse("contacts:import-new"),
        {"kind": kind, "file": SimpleUploadedFile(name, text.encode(encoding), content_type="text/csv")},
    )


def mapping_post(job, **overrides):
    data = {f"col_{i}": target for i, target in job.mapping.items()}
    data.update({"match_key": "email", "mode": "fill"})
    data.update(overrides)
    return data


@pytest.fixture
def job(owner, owner_client):
    response = upload(owner_client)
    job = ImportJob.objects.get(owner=owner)
    assert response.status_code == 302 and response["Location"] == reverse("contacts:import-mapping", args=[job.pk])
    return job


@pytest.fixture
def previewed(job, owner_client, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        owner_client.post(reverse("contacts:import-mapping", args=[job.pk]), mapping_post(job))
    assert len(callbacks) == 1
    tasks.import_analyse(job.pk)
    job.refresh_from_db()
    return job


def test_the_whole_journey_upload_map_preview_confirm_result_errors(
    owner_client, previewed, django_capture_on_commit_callbacks
):
    job = previewed
    page = owner_client.get(job.get_absolute_url()).content.decode()
    assert "Preview — nothing has been saved yet" in page
    assert "The contact has no last name." in page and "“oleg@example” is not a valid email address." in page
    assert not Contact.objects.exists()
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = owner_client.post(reverse("contacts:import-confirm", args=[job.pk]))
    assert response.status_code == 302 and len(callbacks) == 1
    job.refresh_from_db()
    assert job.state == ImportState.PENDING
    progress = owner_client.get(reverse("contacts:import-progress", args=[job.pk]))
    assert "progressbar" in progress.content.decode() and "HX-Refresh" not in progress
    tasks.import_run(job.pk)
    progress = owner_client.get(reverse("contacts:import-progress", args=[job.pk]))
    assert progress["HX-Refresh"] == "true"  # the page reloads to show the result
    page = owner_client.get(job.get_absolute_url()).content.decode()
    assert "Result" in page and 'id="count-created">1<' in page and 'id="count-rejected">2<' in page
    assert Contact.objects.get().phone == "+79161234567"

    response = owner_client.get(reverse("contacts:import-errors", args=[job.pk]))
    body = b"".join(response.streaming_content).decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(body)))
    assert rows[0] == ["Имя", "Фамилия", "Почта", "Телефон", "Компания", "Страна", "reason"]
    assert rows[1][:2] == ["Иван", ""] and rows[1][-1] == "The contact has no last name."
    assert rows[2][3] == "'+7 916 000-00-01"  # escaped for spreadsheets, undone on re-import


def test_the_fixed_error_file_imports_the_rest_without_duplicates(
    owner_client, owner, previewed, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False):
        owner_client.post(reverse("contacts:import-confirm", args=[previewed.pk]))
    tasks.import_run(previewed.pk)
    body = b"".join(owner_client.get(reverse("contacts:import-errors", args=[previewed.pk])).streaming_content)
    fixed = body.decode("utf-8-sig").replace("Иван,,", "Иван,Иванов,").replace("oleg@example,", "oleg@example.ru,")
    fixed += "Анна,Петрова,anna@example.ru,,Ромашка,Россия,\n"  # already imported: must not duplicate
    upload(owner_client, fixed, name="fixed.csv", encoding="utf-8")
    job = ImportJob.objects.filter(owner=owner).latest("id")
    assert job.mapping["6"] == ""  # the "reason" column is not imported
    with django_capture_on_commit_callbacks(execute=False):
        owner_client.post(reverse("contacts:import-mapping", args=[job.pk]), mapping_post(job))
    tasks.import_analyse(job.pk)
    with django_capture_on_commit_callbacks(execute=False):
        owner_client.post(reverse("contacts:import-confirm", args=[job.pk]))
    tasks.import_run(job.pk)
    job.refresh_from_db()
    assert (job.created_count, job.skipped_count, job.rejected_count) == (2, 1, 0)
    assert sorted(Contact.objects.values_list("email", flat=True)) == [
        "anna@example.ru", "ivan@example.ru", "oleg@example.ru",
    ]  # fmt: skip
    assert Contact.objects.get(email="oleg@example.ru").phone == "+79160000001"


def test_the_mapping_can_be_edited(owner_client, job):
    assert job.mapping == {
        "0": "first_name",
        "1": "last_name",
        "2": "email",
        "3": "phone",
        "4": "company",
        "5": "country",
    }
    page = owner_client.get(reverse("contacts:import-mapping", args=[job.pk])).content.decode()
    assert "Анна · Иван · Олег" in page  # sample values next to each column
    data = mapping_post(job, col_4="", col_3="mobile", mode="overwrite", match_key="phone")
    owner_client.post(reverse("contacts:import-mapping", args=[job.pk]), data)
    job.refresh_from_db()
    assert job.mapping["4"] == "" and job.mapping["3"] == "mobile"
    assert job.options == {"match_key": "phone", "mode": "overwrite", "keep_invalid_phones": False}
    assert job.state == ImportState.ANALYSING


def test_a_target_chosen_twice_or_no_name_column_is_a_form_error(owner_client, job):
    url = reverse("contacts:import-mapping", args=[job.pk])
    response = owner_client.post(url, mapping_post(job, col_0="email"))
    assert "“Email” is already taken by column “Имя”." in response.content.decode()
    response = owner_client.post(url, mapping_post(job, col_1=""))
    assert "Choose the column with the last name or the full name." in response.content.decode()
    job.refresh_from_db()
    assert job.state == ImportState.DRAFT


def test_a_file_over_the_size_limit_gets_a_clear_error(owner_client, settings):
    settings.IMPORT_MAX_BYTES = 50
    response = upload(owner_client, "Last name\n" + "Petrov\n" * 20, encoding="utf-8")
    assert response.status_code == 200
    assert "The file is larger than 50\xa0bytes, the largest file you can import." in response.content.decode()
    assert not ImportJob.objects.exists()


def test_an_unreadable_file_gets_a_clear_error(owner_client):
    response = upload(owner_client, "Last name\n", encoding="utf-8")
    assert "The file has a header but no rows." in response.content.decode()
    response = owner_client.post(
        reverse("contacts:import-new"), {"kind": "contacts", "file": SimpleUploadedFile("x.pdf", b"%PDF")}
    )
    assert "Upload a .csv or .xlsx file." in response.content.decode()


@pytest.mark.parametrize(
    ("who", "status"), [("owner", 200), ("teammate", 404), ("outsider", 404), ("manager", 404), ("admin", 200)]
)
def test_a_job_is_seen_by_its_owner_and_admins_only(client_for, previewed, who, status):
    client = client_for(who)
    assert client.get(previewed.get_absolute_url()).status_code == status
    assert client.get(reverse("contacts:import-progress", args=[previewed.pk])).status_code == status
    assert client.get(reverse("contacts:import-errors", args=[previewed.pk])).status_code == status


@pytest.mark.parametrize(("who", "status"), [("teammate", 404), ("outsider", 404), ("admin", 403)])
def test_only_the_owner_maps_or_confirms_an_import(client_for, previewed, who, status):
    client = client_for(who)
    assert client.get(reverse("contacts:import-mapping", args=[previewed.pk])).status_code == status
    assert client.post(reverse("contacts:import-confirm", args=[previewed.pk])).status_code == status
    previewed.refresh_from_db()
    assert previewed.state == ImportState.PREVIEW


def test_the_list_shows_only_my_imports(owner_client, teammate_client, admin_client, previewed):
    assert "people.csv" in owner_client.get(reverse("contacts:import-list")).content.decode()
    assert "people.csv" not in teammate_client.get(reverse("contacts:import-list")).content.decode()
    assert "people.csv" in admin_client.get(reverse("contacts:import-list")).content.decode()


def test_the_pages_need_a_sign_in(client, previewed):
    for url in (reverse("contacts:import-list"), reverse("contacts:import-new"), previewed.get_absolute_url()):
        assert client.get(url).status_code == 302


def test_confirming_twice_queues_one_run(owner_client, previewed, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        owner_client.post(reverse("contacts:import-confirm", args=[previewed.pk]))
        owner_client.post(reverse("contacts:import-confirm", args=[previewed.pk]))
    assert len(callbacks) == 1


def test_the_import_pages_are_linked_from_the_lists(owner_client):
    for name in ("contacts:company-list", "contacts:contact-list"):
        assert reverse("contacts:import-new") in owner_client.get(reverse(name)).content.decode()


def test_the_import_pages_issue_few_queries(owner_client, previewed, django_assert_max_num_queries):
    urls = [
        reverse("contacts:import-list"),
        reverse("contacts:import-new"),
        reverse("contacts:import-mapping", args=[previewed.pk]),
        previewed.get_absolute_url(),
        reverse("contacts:import-progress", args=[previewed.pk]),
    ]
    for url in urls:
        with django_assert_max_num_queries(10):
            assert owner_client.get(url).status_code == 200


def test_a_file_over_the_row_limit_gets_a_clear_error(owner_client, settings):
    settings.IMPORT_MAX_ROWS = 2
    response = upload(owner_client, "Last name\nA\nB\nC\n", encoding="utf-8")
    assert "The file has more than 2 rows; split it into smaller files." in response.content.decode()
    assert not ImportJob.objects.exists()


def test_the_preview_shows_each_rejected_rows_values_beside_the_reason(owner_client, previewed):
    page = owner_client.get(previewed.get_absolute_url()).content.decode()
    assert "The row in the file" in page
    assert '<span class="text-secondary">Почта:</span> oleg@example</span>' in page
    assert '<span class="text-secondary">Имя:</span> Иван</span>' in page
    assert '<span class="text-secondary">Фамилия:</span>' not in page.split("Rejected rows")[1]  # empty cells left out
