"""The import of people data: address, birth date and second phone/email columns recognised in
English and Russian, birth dates parsed with row and reason, country names and aliases, the
command's column mapping, and the preview's duplicate matching with skip / update / create."""

import json
from datetime import date

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse

from contacts import import_services, tasks
from contacts.imports import MappingError, clean_row, guess_mapping, override_mapping
from contacts.models import Company, Contact, ImportJob, ImportRowError, ImportState
from contacts.normalize import DateTextError, country_code, parse_date_text
from contacts.tests.factories import CompanyFactory, ContactFactory


def make_job(user, text, **options):
    job = import_services.import_upload(actor=user, kind="contacts", file_name="people.csv", data=text.encode())
    job.options = {**job.options, **options}
    job.state = ImportState.ANALYSING
    job.save()
    return job


def analyse(job):
    tasks.import_analyse(job.pk)
    job.refresh_from_db()
    assert job.state == ImportState.PREVIEW, job.error
    return job


def confirm_and_run(job, **choices):
    import_services.import_confirm(job=job, **choices)
    tasks.import_run(job.pk)
    job.refresh_from_db()
    assert job.state == ImportState.DONE, job.error
    return job


# --- Headers --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "field"),
    [
        ("Street", "street"), ("Address", "street"), ("Address line 1", "street"), ("Address line 2", "street2"),
        ("City", "city"), ("Town", "city"), ("State", "region"), ("Region", "region"), ("Province", "region"),
        ("Zip", "postcode"), ("ZIP code", "postcode"), ("Postcode", "postcode"), ("Postal code", "postcode"),
        ("Birth date", "birth_date"), ("Date of birth", "birth_date"), ("DOB", "birth_date"),
        ("Birthday", "birth_date"), ("Mobile", "mobile"), ("Phone 2", "mobile"), ("Email 2", "secondary_email"),
        ("Улица", "street"), ("Адрес", "street"), ("Город", "city"), ("Регион", "region"), ("Область", "region"),
        ("Индекс", "postcode"), ("Почтовый индекс", "postcode"), ("Дата рождения", "birth_date"),
        ("Мобильный", "mobile"), ("Телефон 2", "mobile"), ("E-mail 2", "secondary_email"),
    ],
)  # fmt: skip
def test_people_data_headers_are_recognised_in_english_and_russian(header, field):
    assert guess_mapping([header], "contacts") == {"0": field}


def test_a_whole_russian_header_row_maps_each_column_once():
    headers = ["Фамилия", "Имя", "Телефон", "Телефон 2", "E-mail", "E-mail 2", "Адрес", "Город", "Область",
               "Индекс", "Страна", "Дата рождения"]  # fmt: skip
    assert list(guess_mapping(headers, "contacts").values()) == [
        "last_name", "first_name", "phone", "mobile", "email", "secondary_email", "street", "city", "region",
        "postcode", "country", "birth_date",
    ]  # fmt: skip


# --- Birth dates ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    ["1980-12-31", "31.12.1980", "31/12/1980", "12/31/1980", "1980/12/31", "1980-12-31T00:00:00", "1980年12月31日"],
)
def test_birth_dates_are_read_in_common_formats(text):
    assert parse_date_text(text) == date(1980, 12, 31)


@pytest.mark.parametrize(
    ("text", "reason"),
    [("03/04/1980", "could be 1980-04-03 or 1980-03-04"), ("30.02.1980", "not a date that exists"),
     ("80-12-31", "is not a date"), ("soon", "is not a date")],
)  # fmt: skip
def test_unreadable_birth_dates_say_why(text, reason):
    with pytest.raises(DateTextError, match=reason):
        parse_date_text(text)


def test_bad_birth_dates_reject_their_rows_with_line_and_reason(owner):
    text = (
        "First name,Last name,Date of birth\n"
        "Anna,Petrova,08.03.1985\n"  # line 2: fine
        "Ivan,Ivanov,03/04/1980\n"  # 3: ambiguous
        "Oleg,Smirnov,2999-01-01\n"  # 4: future
        "Olga,Sidorova,1850-01-01\n"  # 5: before 1900
        "Petr,Petrov,31.02.1980\n"  # 6: no such day
        "Mark,Twain,12/31/1980\n"  # 7: month first, unambiguous
    )
    job = analyse(make_job(owner, text))
    reasons = dict(ImportRowError.objects.filter(job=job).values_list("line", "reason"))
    assert sorted(reasons) == [3, 4, 5, 6]
    assert "could be 1980-04-03 or 1980-03-04" in reasons[3]
    assert "is in the future" in reasons[4]
    assert "before 1900" in reasons[5]
    assert "not a date that exists" in reasons[6]
    assert job.preview["created"] == 2


# --- Countries ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "code"),
    [
        ("United States", "US"), ("Russian Federation", "RU"), ("Turkey", "TR"), ("Czech Republic", "CZ"),
        ("USA", "US"), ("U.S.", "US"), ("UK", "GB"), ("Great Britain", "GB"), ("Russia", "RU"), ("Czechia", "CZ"),
        ("Türkiye", "TR"), ("South Korea", "KR"), ("PRC", "CN"),
        ("Россия", "RU"), ("РФ", "RU"), ("Российская Федерация", "RU"), ("Турция", "TR"), ("Чехия", "CZ"),
        ("Соединённые Штаты Америки", "US"), ("Германия", "DE"),
        ("中国", "CN"), ("美国", "US"), ("俄罗斯", "RU"), ("土耳其", "TR"), ("捷克", "CZ"), ("韩国", "KR"),
        ("朝鲜", "KP"), ("德国", "DE"),
        ("de", "DE"), ("DEU", "DE"),
    ],
)  # fmt: skip
def test_country_names_aliases_and_codes_in_english_russian_and_chinese(name, code):
    assert country_code(name) == code


def test_an_unknown_country_is_still_refused():
    assert country_code("Narnia") is None


def test_the_four_refused_country_names_now_import(owner):
    text = (
        "Last name,Phone,Country\n"
        "Smith,+1 415 555 2671,United States\n"
        "Petrov,+7 916 123-45-67,Russian Federation\n"
        "Yilmaz,+90 212 555 1234,Turkey\n"
        "Novak,+420 601 123 456,Czech Republic\n"
    )
    job = analyse(make_job(owner, text, match_key="phone"))
    assert (job.preview["created"], job.preview["rejected"]) == (4, 0)
    confirm_and_run(job)
    assert sorted(Contact.objects.values_list("country", flat=True)) == ["CZ", "RU", "TR", "US"]


# --- Address and the rest of a row ----------------------------------------------------------


def test_address_birth_date_and_second_contacts_are_imported_normalised(owner):
    text = (
        "Фамилия;Имя;Телефон 2;E-mail 2;Адрес;Город;Область;Индекс;Страна;Дата рождения\n"
        "Петрова;Анна;8 916 123-45-67;Anna@Home.RU;ул. Тверская, 1;Москва;Московская;  125009 ;Россия;08.03.1985\n"
    )
    confirm_and_run(analyse(make_job(owner, text)))
    anna = Contact.objects.get()
    assert (anna.street, anna.city, anna.region, anna.postcode) == ("ул. Тверская, 1", "Москва", "Московская", "125009")
    assert (anna.birth_date, anna.country.code) == (date(1985, 3, 8), "RU")
    assert (anna.mobile, anna.secondary_email) == ("+79161234567", "anna@home.ru")
    assert anna.history.get().city == "Москва"  # the history row carries the new columns


def test_a_too_long_postcode_is_a_reason(owner):
    row = {"last_name": "X", "postcode": "1" * 30}
    with pytest.raises(Exception, match="Postcode is longer than 20 characters"):
        clean_row("contacts", 2, row, keep_invalid_phones=False, company_countries={})


# --- The command's mapping ------------------------------------------------------------------


def test_override_mapping_takes_a_field_away_from_the_guess():
    headers = ["Name", "Zip", "Notes", "Mobile"]
    guessed = guess_mapping(headers, "contacts")
    mapping = override_mapping(headers, guessed, {"notes": "Postcode", "Zip": "", "Mobile": "phone"}, "contacts")
    assert mapping == {"0": "full_name", "1": "", "2": "postcode", "3": "phone"}
    with pytest.raises(MappingError, match="no column “Fax”"):
        override_mapping(headers, guessed, {"Fax": "phone"}, "contacts")
    with pytest.raises(MappingError, match="“shoe size” is not a field"):
        override_mapping(headers, guessed, {"Zip": "shoe size"}, "contacts")


@pytest.fixture
def people_file(tmp_path):
    path = tmp_path / "people.csv"
    path.write_text("Surname,Given,Kod,DR\nPetrova,Anna,101000,08.03.1985\n", encoding="utf-8")
    return path


def test_the_command_maps_columns_with_map_options(owner, people_file, capsys):
    call_command(
        "import_contacts", str(people_file), "--owner", owner.username,
        "--map", "Given=first_name", "--map", "Kod=postcode", "--map", "DR=birth_date", "--show-mapping",
    )  # fmt: skip
    anna = Contact.objects.get()
    assert (anna.first_name, anna.last_name, anna.postcode, anna.birth_date) == (
        "Anna", "Petrova", "101000", date(1985, 3, 8),
    )  # fmt: skip
    assert "Kod → postcode" in capsys.readouterr().out


def test_the_command_reads_a_mapping_file_and_map_wins(owner, people_file, tmp_path):
    mapping = tmp_path / "mapping.json"
    mapping.write_text(json.dumps({"Given": "first_name", "Kod": "postcode", "DR": "city"}), encoding="utf-8")
    call_command(
        "import_contacts", str(people_file), "--owner", owner.username, "--mapping", str(mapping),
        "--map", "DR=birth_date",
    )  # fmt: skip
    anna = Contact.objects.get()
    assert (anna.first_name, anna.postcode, anna.city, anna.birth_date) == ("Anna", "101000", "", date(1985, 3, 8))


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--map", "Fax=phone"], "no column “Fax”"),
        (["--map", "Kod=shoe"], "“shoe” is not a field"),
        (["--map", "nonsense"], 'write it as "HEADER=FIELD"'),
        (["--map", "Surname="], "Choose the column with the last name"),
    ],
)
def test_the_command_refuses_a_bad_mapping_clearly(owner, people_file, args, message):
    with pytest.raises(CommandError, match=message):
        call_command("import_contacts", str(people_file), "--owner", owner.username, *args)
    assert not Contact.objects.exists()


def test_the_command_refuses_a_broken_mapping_file(owner, people_file, tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text("[1, 2]", encoding="utf-8")
    with pytest.raises(CommandError, match="must hold one object"):
        call_command("import_contacts", str(people_file), "--owner", owner.username, "--mapping", str(bad))


# --- Duplicates in the preview --------------------------------------------------------------

NO_IDS = "First name,Last name,Company,City\nAnna,Petrova,Acme,Berlin\nBoris,Orlov,Acme,Berlin\n"


@pytest.fixture
def acme(owner):
    return CompanyFactory(owner=owner, name="Acme", domain="acme.example")


@pytest.fixture
def anna(owner, acme):
    return ContactFactory(owner=owner, first_name="Anna", last_name="Petrova", company=acme, email="", city="")


def test_re_importing_a_file_without_ids_offers_the_matches_and_skips_them_by_default(owner):
    confirm_and_run(analyse(make_job(owner, NO_IDS)))
    assert Contact.objects.count() == 2
    job = analyse(make_job(owner, NO_IDS))
    assert (job.preview["created"], job.preview["skipped"], job.preview["duplicates"]) == (0, 2, 2)
    rows = job.preview["duplicate_rows"]
    assert [(r["line"], r["action"], r["confident"], r["editable"]) for r in rows] == [
        (2, "skip", True, True),
        (3, "skip", True, True),
    ]
    assert rows[0]["record"] == "Anna Petrova" and "Acme" in rows[0]["row_facts"] and rows[0]["reasons"]
    job = confirm_and_run(job)
    assert (job.created_count, job.skipped_count) == (0, 2)
    assert Contact.objects.count() == 2


def test_the_chosen_update_fills_the_existing_contact_and_create_makes_a_new_one(owner, anna):
    text = NO_IDS + "Anna,Petrova,Acme,Hamburg\n"
    job = analyse(make_job(owner, text))
    assert [r["line"] for r in job.preview["duplicate_rows"]] == [2, 4]
    job = confirm_and_run(job, duplicate_choices={2: "update", 4: "create"})
    assert (job.created_count, job.updated_count, job.skipped_count) == (2, 1, 0)
    anna.refresh_from_db()
    assert anna.city == "Berlin"  # filled from line 2
    assert Contact.objects.filter(last_name="Petrova").count() == 2
    assert Contact.objects.filter(last_name="Orlov").count() == 1


def test_two_rows_updating_the_same_contact_reject_the_second(owner, anna):
    job = analyse(make_job(owner, NO_IDS + "Anna,Petrova,Acme,Hamburg\n"))
    job = confirm_and_run(job, duplicate_choices={2: "update", 4: "update"})
    assert job.updated_count == 1
    assert ImportRowError.objects.get(job=job).reason == "Matches the same existing record as line 2."


def test_the_default_for_unlisted_matches_applies(owner, anna):
    job = analyse(make_job(owner, NO_IDS))
    job = confirm_and_run(job, duplicate_default="create")
    assert job.created_count == 2
    assert Contact.objects.filter(last_name="Petrova").count() == 2


def test_a_teammates_contact_is_offered_skip_or_create_but_never_updated(owner, teammate, acme):
    theirs = ContactFactory(owner=teammate, first_name="Anna", last_name="Petrova", company=acme, city="")
    job = analyse(make_job(owner, NO_IDS))
    row = job.preview["duplicate_rows"][0]
    assert (row["record_id"], row["editable"], row["action"]) == (theirs.pk, False, "skip")
    job = confirm_and_run(job, duplicate_choices={2: "update"})
    theirs.refresh_from_db()
    assert theirs.city == ""  # "update" is not allowed on a record the importer may only read
    assert not Contact.objects.filter(owner=owner, last_name="Petrova").exists()


def test_an_outsiders_contact_is_never_matched_nor_revealed(owner, outsider):
    hidden_company = CompanyFactory(owner=outsider, name="Acme")
    ContactFactory(owner=outsider, first_name="Anna", last_name="Petrova", company=hidden_company)
    job = analyse(make_job(owner, NO_IDS))
    assert job.preview["duplicates"] == 0
    assert job.preview["created"] == 2


def test_the_preview_page_lists_the_matches_and_the_confirm_form_records_the_choices(
    owner_client, outsider_client, owner, anna
):
    job = analyse(make_job(owner, NO_IDS))
    body = owner_client.get(job.get_absolute_url()).content.decode()
    assert 'id="duplicate-line-2"' in body
    assert 'name="duplicate_2" id="duplicate_2_skip" value="skip" checked' in body
    assert reverse("contacts:contact-detail", args=[anna.pk]) in body
    url = reverse("contacts:import-confirm", args=[job.pk])
    assert outsider_client.post(url, {"duplicate_2": "create"}).status_code == 404
    response = owner_client.post(url, {"duplicate_2": "update", "duplicate_99": "create", "duplicate_3": "bogus"})
    assert response.status_code == 302
    job = ImportJob.objects.get(pk=job.pk)
    assert job.options["duplicate_choices"] == {"2": {"action": "update", "record": anna.pk}}
    tasks.import_run(job.pk)
    anna.refresh_from_db()
    assert anna.city == "Berlin"


def test_duplicate_matching_costs_a_constant_number_of_queries(owner, acme, django_assert_max_num_queries):
    for i in range(30):
        ContactFactory(owner=owner, first_name=f"Name{i}", last_name=f"Person{i}", company=acme)
    text = "First name,Last name,Company\n" + "".join(f"Name{i},Person{i},Acme\n" for i in range(30))
    job = make_job(owner, text)
    with django_assert_max_num_queries(25):
        tasks.import_analyse(job.pk)
    job.refresh_from_db()
    assert job.preview["duplicates"] == 30


def test_companies_import_is_unchanged_by_duplicate_matching(owner):
    job = import_services.import_upload(
        actor=owner, kind="companies", file_name="c.csv", data=b"Name,Country\nAcme,Czech Republic\n"
    )
    job.state = ImportState.ANALYSING
    job.save()
    job = analyse(job)
    assert (job.preview["created"], job.preview.get("duplicates")) == (1, 0)
    confirm_and_run(job)
    assert Company.objects.get().country.code == "CZ"


def test_imported_contacts_of_an_existing_company_take_its_address_when_they_have_none(owner):
    CompanyFactory(owner=owner, name="Acme", street="Main St 1", city="Boston", postal_code="02110", country="US")
    text = "Last name,Company,City\nPetrova,Acme,\nOrlov,Acme,Chicago\n"
    confirm_and_run(analyse(make_job(owner, text)))
    petrova, orlov = Contact.objects.get(last_name="Petrova"), Contact.objects.get(last_name="Orlov")
    assert (petrova.street, petrova.city, petrova.postcode, petrova.country.code) == (
        "Main St 1", "Boston", "02110", "US",
    )  # fmt: skip
    assert (orlov.street, orlov.city, orlov.country.code) == ("", "Chicago", "US")  # its own address, whole


def test_matching_in_several_batches_keeps_each_rows_own_match(owner, acme, anna, monkeypatch):
    from contacts import duplicates

    monkeypatch.setattr(duplicates, "IMPORT_BATCH", 2)
    rows = [{"first_name": f"Nobody{i}", "last_name": f"Nowhere{i}"} for i in range(3)]
    rows.append({"first_name": "Anna", "last_name": "Petrova", "company_id": acme.pk, "company_name": "Acme"})
    found = duplicates.contact_import_matches(owner, rows=rows)
    assert list(found) == [3]
    assert (found[3].record, found[3].confident) == (anna, True)


def test_a_big_file_flushes_the_key_index_first_and_still_matches(owner, acme, anna, django_assert_max_num_queries):
    from contacts import duplicates

    rows = [{"first_name": f"Nobody{i}", "last_name": f"Nowhere{i}"} for i in range(duplicates.FLUSH_PENDING_FROM)]
    rows.append({"first_name": "Anna", "last_name": "Petrova", "company_id": acme.pk, "company_name": "Acme"})
    # A fixed 13 whatever the rows: the scope; the flush and the candidate search, each in a
    # savepoint; the namesake counts; the candidates' rows, the match parameters, the name
    # frequencies and the matched contacts.
    with django_assert_max_num_queries(13):
        found = duplicates.contact_import_matches(owner, rows=rows)
    assert list(found) == [len(rows) - 1]
