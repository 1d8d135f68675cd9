"""Reading import files: encodings, delimiters, XLSX, header guessing and row validation."""

import io

import pytest
from openpyxl import Workbook

from contacts.imports import (
    ImportFileError,
    RowError,
    clean_row,
    country_code,
    detect_delimiter,
    detect_encoding,
    guess_mapping,
    read_table,
    split_full_name,
)

RUSSIAN = "Имя;Фамилия;Почта;Телефон\nИван;Петров;ivan@example.ru;+7 916 123-45-67\nОльга;Смирнова;olga@example.ru;\n"
CHINESE = "姓名,公司,电话\n王伟,北京科技有限公司,13800138000\n李娜,上海贸易公司,13912345678\n"


def rows_of(table):
    return [cells for _line, cells in table.rows]


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"Name,Email\nAnna,a@x.com\n", "utf-8"),
        ("Имя,Почта\nАнна,a@x.com\n".encode(), "utf-8"),
        ("\ufeffИмя,Почта\nАнна,a@x.com\n".encode(), "utf-8-sig"),
        (RUSSIAN.encode("cp1251"), "cp1251"),
        (CHINESE.encode("gbk"), "gb18030"),
    ],
    ids=["ascii", "utf-8", "utf-8-bom", "cp1251", "gbk"],
)
def test_it_detects_the_encoding(data, expected):
    assert detect_encoding(data) == expected


@pytest.mark.parametrize(
    "text",
    [
        "Фамилия\nПетров\n",  # one short word
        "Имя;Фамилия\nАнна;Ёлкина\n",
        "Компания\nООО Ромашка\n",
    ],
)
def test_short_cp1251_files_are_read_as_russian(text):
    table = read_table(text.encode("cp1251"), "short.csv")
    assert table.encoding == "cp1251"
    assert [table.headers, *rows_of(table)] == [line.split(";") for line in text.strip().split("\n")]


@pytest.mark.parametrize("text", ["姓名\n王伟\n", "公司,城市\n北京科技有限公司,北京\n"])
def test_short_gbk_files_are_read_as_chinese(text):
    table = read_table(text.encode("gbk"), "short.csv")
    assert table.encoding == "gb18030"
    assert table.headers == text.split("\n")[0].split(",")


def test_a_western_european_file_is_not_mistaken_for_russian():
    table = read_table("Name;Stadt\nJürgen Müller;Köln\nRenée Dupré;Besançon\n".encode("cp1252"), "de.csv")
    assert table.encoding not in ("cp1251", "gb18030")
    assert rows_of(table) == [["Jürgen Müller", "Köln"], ["Renée Dupré", "Besançon"]]


def test_a_utf8_bom_is_not_part_of_the_first_header():
    table = read_table("\ufeffEmail,Name\na@x.com,Anna\n".encode(), "f.csv")
    assert table.headers == ["Email", "Name"]


@pytest.mark.parametrize(("delimiter"), [",", ";", "\t"], ids=["comma", "semicolon", "tab"])
def test_it_detects_the_delimiter(delimiter):
    text = delimiter.join(["Name", "Email", "Phone"]) + "\n" + delimiter.join(["Anna", "a@x.com", "+1 415"]) + "\n"
    table = read_table(text.encode(), "f.csv")
    assert table.delimiter == delimiter
    assert rows_of(table) == [["Anna", "a@x.com", "+1 415"]]


def test_a_one_column_file_falls_back_to_comma():
    assert detect_delimiter("Email\na@x.com\n") == ","


def test_quoted_cells_keep_their_delimiters_and_line_numbers_count_file_lines():
    text = 'Name;Note\n"Petrov; Ivan";"line one\nline two"\n\nAnna;ok\n'
    table = read_table(text.encode(), "f.csv")
    assert list(table.rows) == [(3, ["Petrov; Ivan", "line one\nline two"]), (5, ["Anna", "ok"])]


def test_it_reads_the_first_sheet_of_an_xlsx_workbook():
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(["Фамилия", "Телефон", "Email"])
    sheet.append(["Петров", 79161234567, "ivan@example.ru"])
    sheet.append([None, None, None])
    sheet.append(["Smith", "+1 415 555 2671", None])
    buffer = io.BytesIO()
    workbook.save(buffer)
    table = read_table(buffer.getvalue(), "people.xlsx")
    assert table.headers == ["Фамилия", "Телефон", "Email"]
    assert list(table.rows) == [
        (2, ["Петров", "79161234567", "ivan@example.ru"]),
        (4, ["Smith", "+1 415 555 2671", ""]),
    ]


def test_a_broken_xlsx_is_a_clear_file_error():
    with pytest.raises(ImportFileError, match="not a readable XLSX"):
        read_table(b"PK\x03\x04 not really a zip", "x.xlsx")


def test_an_empty_file_is_a_clear_file_error():
    with pytest.raises(ImportFileError, match="empty"):
        read_table(b"  \n", "x.csv")


def test_english_contact_headers_are_recognised():
    headers = ["Name", "E-mail", "Phone number", "Company name", "Website", "Job Title", "Country", "External ID", "?"]
    assert list(guess_mapping(headers, "contacts").values()) == [
        "full_name", "email", "phone", "company", "company_domain", "title", "country", "external_id", "",
    ]  # fmt: skip


def test_russian_contact_headers_are_recognised():
    headers = ["Имя", "Фамилия", "Почта", "Телефон", "Компания", "Должность", "Сайт", "Страна", "Город"]
    assert list(guess_mapping(headers, "contacts").values()) == [
        "first_name", "last_name", "email", "phone", "company", "title", "company_domain", "country", "city",
    ]  # fmt: skip


def test_company_headers_are_recognised_and_a_target_is_taken_once():
    headers = ["Company name", "Сайт", "Город", "Страна", "Телефон", "Phone", "Отрасль"]
    assert list(guess_mapping(headers, "companies").values()) == [
        "name", "domain", "city", "country", "phone", "", "industry",
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("raw", "code"),
    [("Germany", "DE"), ("Германия", "DE"), ("de", "DE"), ("DEU", "DE"), ("Россия", "RU"), ("USA", "US"),
     ("Соединённые Штаты Америки", "US"), ("Китай", "CN"), ("United Kingdom", "GB"), ("Narnia", None)],
)  # fmt: skip
def test_country_names_and_codes_in_english_and_russian(raw, code):
    assert country_code(raw) == code


def test_full_names_are_split():
    assert split_full_name("Anna  Petrova") == ("Anna", "Petrova")
    assert split_full_name("Petrova, Anna") == ("Anna", "Petrova")
    assert split_full_name("Petrova") == ("", "Petrova")


def clean(raw, kind="contacts", keep=False):
    return clean_row(kind, 7, raw, keep_invalid_phones=keep, company_countries={"acme gmbh": "DE"})


def test_a_row_is_normalised_like_the_form_does():
    raw = {"full_name": "Anna Petrova", "email": " ANNA@Example.COM ", "phone": "8 916 123-45-67",
           "country": "Россия", "lifecycle_stage": "Клиент", "tags": "vip; hot", "do_not_call": "да"}  # fmt: skip
    row = clean(raw)
    assert row.fields == {
        "first_name": "Anna", "last_name": "Petrova", "email": "anna@example.com", "phone": "+79161234567",
        "country": "RU", "lifecycle_stage": "customer", "do_not_call": True,
    }  # fmt: skip
    assert row.tags == ["vip", "hot"]


def test_a_local_phone_uses_the_company_country():
    row = clean({"last_name": "Müller", "company": "ACME GmbH", "phone": "030 1234567"})
    assert row.fields["phone"] == "+49301234567"


def test_a_formula_escape_from_an_exported_file_is_undone():
    table = read_table(b"Last name,Phone\nPetrov,'+7 916 123 45 67\n", "errors.csv")
    assert rows_of(table) == [["Petrov", "+7 916 123 45 67"]]


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ({"first_name": "Anna"}, "no last name"),
        ({"last_name": "P", "email": "not-an-email"}, "“not-an-email” is not a valid email"),
        ({"last_name": "P", "phone": "12"}, "“12” is not a valid phone number"),
        ({"last_name": "P", "country": "Narnia"}, "Country “Narnia” is not a country"),
        ({"last_name": "P", "lifecycle_stage": "hot"}, "“hot” is not one of the CRM's values"),
        ({"last_name": "P", "company_domain": "not a site"}, "is not a website or domain"),
        ({"last_name": "P", "do_not_email": "maybe"}, "must be yes or no"),
        ({"last_name": "x" * 101}, "longer than 100 characters"),
    ],
)
def test_a_bad_contact_row_is_rejected_with_the_reason(raw, reason):
    with pytest.raises(RowError, match=reason):
        clean(raw)


def test_a_row_with_several_problems_names_them_all_at_once():
    raw = {"first_name": "Pavel", "email": "pavel@", "phone": "12", "country": "Narnia"}
    with pytest.raises(RowError) as error:
        clean(raw)
    reason = str(error.value)
    assert reason == (
        "The contact has no last name. Email “pavel@” is not a valid email address. "
        "Country “Narnia” is not a country name or code. "
        "Phone “12” is not a valid phone number for the default region."
    )


def test_an_invalid_phone_is_kept_as_typed_when_asked():
    row = clean({"last_name": "P", "phone": "12"}, keep=True)
    assert row.fields["phone"] == "12"
    assert row.phone_invalid


@pytest.mark.parametrize(
    ("raw", "reason"),
    [({"domain": "acme.com"}, "no name"), ({"name": "Acme", "size": "huge"}, "not a number of employees")],
)
def test_a_bad_company_row_is_rejected_with_the_reason(raw, reason):
    with pytest.raises(RowError, match=reason):
        clean(raw, kind="companies")


def test_a_company_row_is_normalised():
    row = clean({"name": " Acme  Corp ", "domain": "https://www.Acme.com/about", "size": "120", "country": "us"},
                kind="companies")  # fmt: skip
    assert row.fields == {"name": "Acme Corp", "domain": "acme.com", "size": "51-200", "country": "US"}
