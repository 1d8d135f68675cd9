"""The import service and its Celery tasks against the real database: matching, modes,
rejections, idempotency, access, history and timeline, and all-or-nothing failure."""

import pytest
from django.db import connection

from activities.models import TimelineEvent
from contacts import import_services, tasks
from contacts.models import Company, Contact, ImportJob, ImportRowError, ImportState
from contacts.tests.factories import CompanyFactory, ContactFactory


def make_job(user, text, *, kind="contacts", encoding="utf-8", name="people.csv", **options):
    job = import_services.import_upload(actor=user, kind=kind, file_name=name, data=text.encode(encoding))
    job.options = {**job.options, **options}
    job.state = ImportState.ANALYSING
    job.save()
    return job


def analyse(job):
    tasks.import_analyse(job.pk)  # the task body, run here instead of on a worker
    job.refresh_from_db()
    return job


def run(job, django_capture_on_commit_callbacks):
    job = analyse(job)
    assert job.state == ImportState.PREVIEW, job.error
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        import_services.import_confirm(job=job)
    assert len(callbacks) == 1  # the run is queued only once the confirmation commits
    tasks.import_run(job.pk)
    job.refresh_from_db()
    return job


@pytest.fixture
def importer(django_capture_on_commit_callbacks):
    def do(user, text, **kwargs):
        return run(make_job(user, text, **kwargs), django_capture_on_commit_callbacks)

    return do


MESSY = (
    "First name,Last name,E-mail,Phone,Company,Country\n"
    "Anna,Petrova,ANNA@example.com,8 916 123-45-67,Acme,Russia\n"  # line 2
    "Bob,,bob@example.com,,Acme,USA\n"  # 3: no last name
    "Carl,Smith,carl@,,,\n"  # 4: bad email
    "Dina,Lee,dina@example.com,12,,USA\n"  # 5: bad phone
    "Anna,Petrova,anna@example.com,,,\n"  # 6: same email as line 2
    "Eve,Stone,eve@example.com,+1 415 555 2671,New Co,Narnia\n"  # 7: unknown country
    "Finn,Gray,finn@example.com,(415) 555-2672,New Co,US\n"  # 8
)


def test_the_dry_run_counts_and_rejects_with_line_numbers_and_writes_nothing(owner):
    job = analyse(make_job(owner, MESSY))
    assert job.state == ImportState.PREVIEW
    assert {k: job.preview[k] for k in ("created", "updated", "skipped", "rejected", "companies_created")} == {
        "created": 2, "updated": 0, "skipped": 0, "rejected": 5, "companies_created": 2,
    }  # fmt: skip
    reasons = dict(ImportRowError.objects.filter(job=job).values_list("line", "reason"))
    assert sorted(reasons) == [3, 4, 5, 6, 7]
    assert "no last name" in reasons[3]
    assert "“carl@” is not a valid email" in reasons[4]
    assert "“12” is not a valid phone number" in reasons[5]
    assert reasons[6] == "Same email as line 2 of this file."
    assert "“Narnia”" in reasons[7]
    assert [row["line"] for row in job.preview["creates"]] == [2, 8]
    assert not Contact.objects.exists() and not Company.objects.exists()


def test_the_import_writes_normalised_records_with_history_and_one_timeline_event_each(owner, importer):
    job = importer(owner, MESSY)
    assert job.state == ImportState.DONE
    assert (job.created_count, job.rejected_count, job.companies_created) == (2, 5, 2)
    anna = Contact.objects.get(email="anna@example.com")
    assert (anna.phone, anna.country.code, anna.owner, anna.source) == ("+79161234567", "RU", owner, "import")
    assert anna.company.name == "Acme" and anna.company.owner == owner
    assert anna.completeness == anna.compute_completeness() > 0
    history = list(anna.history.all())
    assert len(history) == 1 and history[0].history_user == owner and history[0].history_type == "+"
    events = TimelineEvent.objects.filter(contact=anna)
    assert [(e.kind, e.company_id, e.data["action"]) for e in events] == [("import", anna.company_id, "created")]
    assert TimelineEvent.objects.filter(kind="import", contact=None, company__name="Acme").count() == 1
    assert ImportRowError.objects.filter(job=job).count() == 5
    assert bytes(ImportJob.objects.get(pk=job.pk).file_data) == b""  # the file is not kept once imported


def test_re_importing_the_same_file_creates_no_duplicates(owner, importer):
    importer(owner, MESSY)
    second = importer(owner, MESSY)
    assert (second.created_count, second.updated_count, second.skipped_count) == (0, 0, 2)
    assert Contact.objects.count() == 2
    assert Company.objects.count() == 2


def test_rows_that_share_a_new_company_create_it_once_and_link_existing_visible_ones(owner, outsider, importer):
    mine = CompanyFactory(owner=owner, name="Globex", domain="globex.com")
    CompanyFactory(owner=outsider, name="Initech")  # invisible to owner: never linked
    text = (
        "Last name,Company,Website\n"
        "A,globex,\n"  # by name, any case
        "B,Whatever,https://www.globex.com/about\n"  # by website
        "C,Initech,\n"
        "D,initech,\n"
    )
    importer(owner, text)
    people = {c.last_name: c for c in Contact.objects.select_related("company")}
    assert people["A"].company == mine and people["B"].company == mine
    assert people["C"].company == people["D"].company != mine
    assert people["C"].company.owner == owner
    assert Company.objects.filter(name__iexact="initech").count() == 2


EXISTING = {"first_name": "Anna", "last_name": "Petrova", "email": "anna@example.com", "phone": "+79161234567",
            "external_id": "X1", "title": ""}  # fmt: skip
KEY_CELLS = {"email": "ANNA@example.com", "phone": "+7 (916) 123 45 67", "external_id": "X1"}


@pytest.mark.parametrize("key", ["email", "phone", "external_id"])
@pytest.mark.parametrize(
    ("mode", "first_name", "title", "counts"),
    [
        ("fill", "Anna", "CEO", (0, 1, 0)),
        ("overwrite", "Annie", "CEO", (0, 1, 0)),
        ("skip", "Anna", "", (0, 0, 1)),
    ],
)
def test_each_match_mode_with_each_match_key(owner, importer, key, mode, first_name, title, counts):
    contact = ContactFactory(owner=owner, country="RU", **EXISTING)
    header = {"email": "Email", "phone": "Phone", "external_id": "External ID"}[key]
    job = importer(owner, f"Name,{header},Title\nAnnie Petrova,{KEY_CELLS[key]},CEO\n", match_key=key, mode=mode)
    assert (job.created_count, job.updated_count, job.skipped_count) == counts
    contact.refresh_from_db()
    assert (contact.first_name, contact.title) == (first_name, title)
    assert Contact.objects.count() == 1
    if counts[1]:
        assert contact.history.first().history_type == "~"
        assert TimelineEvent.objects.get(contact=contact, kind="import").data["action"] == "updated"


@pytest.mark.parametrize(("key", "cell"), [("domain", "https://acme.example/"), ("name", "ACME corp")])
def test_companies_match_by_domain_or_name(owner, importer, company, key, cell):
    header = "Website" if key == "domain" else "Company name"
    extra = ",Name" if key == "domain" else ""
    value = f"{cell},Acme Corp" if key == "domain" else cell
    job = importer(owner, f"{header}{extra},Industry\n{value},Robotics\n", kind="companies", match_key=key)
    assert (job.created_count, job.updated_count) == (0, 1)
    company.refresh_from_db()
    assert company.industry == "Robotics"


def test_a_row_without_the_chosen_key_is_matched_on_the_next_one(owner, importer):
    contact = ContactFactory(owner=owner, **EXISTING)
    job = importer(owner, "Last name,Email,Phone,Title\nPetrova,,+7 916 123 45 67,CFO\n", match_key="email")
    assert (job.created_count, job.updated_count) == (0, 1)
    contact.refresh_from_db()
    assert contact.title == "CFO"


def test_empty_cells_never_erase_in_overwrite_mode(owner, importer):
    contact = ContactFactory(owner=owner, **{**EXISTING, "title": "CEO"})
    importer(owner, "Email,Last name,Title\nanna@example.com,Petrova,\n", mode="overwrite")
    contact.refresh_from_db()
    assert contact.title == "CEO"


def test_a_match_the_importer_may_only_read_is_rejected_and_left_alone(owner, teammate, importer):
    theirs = ContactFactory(owner=teammate, **EXISTING)
    job = importer(owner, "Email,Last name,Title\nanna@example.com,Petrova,CEO\n", mode="overwrite")
    assert (job.created_count, job.updated_count, job.rejected_count) == (0, 0, 1)
    reason = ImportRowError.objects.get(job=job).reason
    assert reason == f"Matches an existing contact (#{theirs.pk}) by email that you may only read, not change."
    theirs.refresh_from_db()
    assert theirs.title == ""


def test_a_record_the_importer_cannot_see_is_not_matched_and_not_revealed(owner, outsider, importer):
    hidden = ContactFactory(owner=outsider, **EXISTING)
    job = importer(owner, "Email,Last name,Title\nanna@example.com,Petrova,CEO\n", mode="overwrite")
    assert (job.created_count, job.updated_count, job.rejected_count) == (1, 0, 0)
    hidden.refresh_from_db()
    assert hidden.title == ""
    assert Contact.objects.get(owner=owner).title == "CEO"


def test_a_manager_updates_their_team_members_records(manager, teammate, importer):
    theirs = ContactFactory(owner=teammate, **EXISTING)
    job = importer(manager, "Email,Last name,Title\nanna@example.com,Petrova,CEO\n")
    assert job.updated_count == 1
    theirs.refresh_from_db()
    assert theirs.title == "CEO" and theirs.owner == teammate


def test_the_owner_column_assigns_visible_users_only(owner, teammate, outsider, importer):
    text = "Last name,Owner\nA,teammate\nB,OUTSIDER\nC,\n"
    job = importer(owner, text)
    assert {c.last_name: c.owner for c in Contact.objects.all()} == {"A": teammate, "C": owner}
    assert "Owner “OUTSIDER” is not a user you may assign" in ImportRowError.objects.get(job=job, line=3).reason


def test_invalid_phones_are_kept_as_typed_and_marked_when_asked(owner, importer):
    importer(owner, "Last name,Phone\nPetrov,12-34\n", keep_invalid_phones=True)
    contact = Contact.objects.get()
    assert (contact.phone, contact.phone_is_invalid) == ("12-34", True)


def test_tags_are_added_and_a_re_import_with_the_same_tags_changes_nothing(owner, importer):
    text = 'Email,Last name,Tags\np@example.com,Petrov,"vip, Hot"\n'
    importer(owner, text)
    assert sorted(Contact.objects.get().tags.values_list("name", flat=True)) == ["Hot", "vip"]
    again = importer(owner, text)
    assert (again.updated_count, again.skipped_count) == (0, 1)
    more = importer(owner, text.replace("Hot", "hot, new"))
    assert more.updated_count == 1
    assert sorted(Contact.objects.get().tags.values_list("name", flat=True)) == ["Hot", "new", "vip"]


def test_a_database_error_mid_import_leaves_nothing_and_the_job_says_why(owner, importer):
    with connection.cursor() as cursor:  # rolled back with the test's transaction
        cursor.execute("ALTER TABLE contacts_contact ADD CONSTRAINT test_no_boom CHECK (last_name <> 'Boom')")
    rows = "".join(f"Person{i},p{i}@example.com,Firm {i % 3}\n" for i in range(30))
    job = importer(owner, "Last name,Email,Company\n" + rows + "Boom,boom@example.com,Firm 9\n")
    assert job.state == ImportState.FAILED
    assert "test_no_boom" in job.error and "nothing was imported" in job.error
    assert not Contact.objects.exists()
    assert not Company.objects.exists()
    assert not TimelineEvent.objects.exists()
    assert not Contact.history.exists()


def test_a_finished_job_is_not_run_twice(owner, importer):
    job = importer(owner, "Last name\nPetrov\n")
    tasks.import_run(job.pk)  # a redelivered message
    assert Contact.objects.count() == 1
    assert ImportJob.objects.get(pk=job.pk).state == ImportState.DONE


def test_an_unconfirmed_job_is_never_run(owner):
    job = make_job(owner, "Last name\nPetrov\n")
    tasks.import_run(job.pk)
    assert not Contact.objects.exists()
    assert ImportJob.objects.get(pk=job.pk).state == ImportState.ANALYSING


def test_a_file_over_the_row_limit_is_refused(owner, settings):
    settings.IMPORT_MAX_ROWS = 2
    from contacts.imports import ImportFileError

    with pytest.raises(ImportFileError, match="more than 2 rows"):
        import_services.import_upload(actor=owner, kind="contacts", file_name="f.csv", data=b"Last name\nA\nB\nC\n")


def test_an_xlsx_file_imports_like_a_csv(owner, django_capture_on_commit_callbacks):
    import io

    from openpyxl import Workbook

    workbook = Workbook()
    workbook.active.append(["Фамилия", "Имя", "Телефон", "Страна"])
    workbook.active.append(["Петров", "Иван", 79161234567, "RU"])
    buffer = io.BytesIO()
    workbook.save(buffer)
    job = import_services.import_upload(actor=owner, kind="contacts", file_name="people.xlsx", data=buffer.getvalue())
    job.state = ImportState.ANALYSING
    job.save()
    job = run(job, django_capture_on_commit_callbacks)
    assert job.created_count == 1
    assert Contact.objects.get().phone == "+79161234567"


def test_a_gbk_file_with_chinese_names_imports(owner, importer):
    text = "姓,名,Email,Phone,Country\n王,伟,wang@example.cn,138 0013 8000,中国\n"
    job = importer(owner, text, encoding="gbk")
    assert job.created_count == 1
    contact = Contact.objects.get()
    assert (contact.last_name, contact.phone, contact.country.code) == ("王", "+8613800138000", "CN")


def test_the_preview_shows_what_an_update_changes(owner, importer, company):
    contact = ContactFactory(owner=owner, **EXISTING)
    job = analyse(make_job(owner, "Email,Last name,Company,Title\nanna@example.com,Petrova,Acme Corp,CEO\n"))
    assert job.preview["updates"] == [
        {
            "line": 2,
            "record": "Anna Petrova",
            "changes": [
                {"field": "title", "before": "", "after": "CEO"},
                {"field": "company", "before": "", "after": "Acme Corp"},
            ],
        }
    ]
    contact.refresh_from_db()
    assert contact.company is None and contact.title == ""


def test_admins_can_look_at_imports_in_django_admin(admin_client, owner):
    make_job(owner, "Last name\nPetrov\n")
    assert admin_client.get("/admin/contacts/importjob/").status_code == 200


def test_a_lost_database_connection_is_retried_and_recorded(owner, monkeypatch, django_capture_on_commit_callbacks):
    from django.db import OperationalError

    calls = []

    def broken_write(*args, **kwargs):
        calls.append(1)
        raise OperationalError("server closed the connection unexpectedly")

    monkeypatch.setattr(import_services, "_write_plan", broken_write)
    job = analyse(make_job(owner, "Last name\nPetrov\n"))
    with django_capture_on_commit_callbacks(execute=False):
        import_services.import_confirm(job=job)
    tasks.import_run.apply(args=[job.pk])  # eagerly, retries included
    job.refresh_from_db()
    assert len(calls) == 3  # the first try and two retries
    assert job.state == ImportState.FAILED
    assert "server closed the connection" in job.error
    assert not Contact.objects.exists()


def test_other_errors_are_not_retried(owner, monkeypatch, django_capture_on_commit_callbacks):
    calls = []

    def broken_write(*args, **kwargs):
        calls.append(1)
        raise ValueError("a bug")

    monkeypatch.setattr(import_services, "_write_plan", broken_write)
    job = analyse(make_job(owner, "Last name\nPetrov\n"))
    with django_capture_on_commit_callbacks(execute=False):
        import_services.import_confirm(job=job)
    tasks.import_run.apply(args=[job.pk])
    job.refresh_from_db()
    assert len(calls) == 1
    assert (job.state, job.error) == (ImportState.FAILED, "The import stopped and nothing was imported: a bug")


def test_the_number_of_queries_does_not_grow_with_the_rows(manager, teammate, django_assert_max_num_queries):
    def rows(n, title):
        body = "".join(f"Person{i},p{i}@example.com,Firm {i % 4},{title},teammate,vip\n" for i in range(n))
        return "Last name,Email,Company,Title,Owner,Tags\n" + body

    for n in (5, 60):
        for title, mode in (("CEO", "fill"), ("CFO", "overwrite")):
            job = analyse(make_job(manager, rows(n, title), mode=mode))
            import_services.import_confirm(job=job)
            with django_assert_max_num_queries(30):
                import_services.import_execute(job_id=job.pk)
            job.refresh_from_db()
            assert job.state == ImportState.DONE, job.error
    assert Contact.objects.filter(title="CFO", owner=teammate).count() == 60


def test_a_companies_file_with_russian_headers_creates_normalised_companies(owner, importer):
    text = (
        "Название;Сайт;Отрасль;Сотрудников;Телефон;Город;Страна;Теги\n"
        "ООО Ромашка;https://www.romashka.ru/;Розница;120;8 (495) 123-45-67;Москва;Россия;vip\n"
        "Acme GmbH;acme.de;Maschinenbau;5;030 1234567;Berlin;Германия;\n"
    )
    job = importer(owner, text, kind="companies", encoding="cp1251", match_key="domain")
    assert (job.created_count, job.rejected_count) == (2, 0)
    romashka = Company.objects.get(domain="romashka.ru")
    assert (romashka.name, romashka.size, romashka.phone, romashka.city, romashka.country.code) == (
        "ООО Ромашка", "51-200", "+74951234567", "Москва", "RU",
    )  # fmt: skip
    assert list(romashka.tags.values_list("name", flat=True)) == ["vip"]
    assert Company.objects.get(domain="acme.de").phone == "+49301234567"
    assert TimelineEvent.objects.filter(kind="import", company=romashka, contact=None).count() == 1
