import pytest
from django.urls import reverse

from contacts.duplicates import company_duplicates, contact_duplicates
from contacts.models import Company, Contact
from contacts.tests.factories import CompanyFactory, ContactFactory


def test_a_company_with_the_same_domain_phone_or_email_is_a_possible_duplicate(owner):
    existing = CompanyFactory(
        owner=owner, name="Acme", domain="acme.example", phone="+14155552671", email="hi@acme.example"
    )
    found = company_duplicates(
        owner, name="Totally Different", domain="acme.example", phone="+14155552671", email="hi@acme.example"
    )
    assert [d.record for d in found] == [existing]
    assert found[0].reasons == ["same domain acme.example", "same phone", "same email hi@acme.example"]


def test_a_company_with_a_similar_name_is_a_possible_duplicate(owner):
    existing = CompanyFactory(owner=owner, name="Northwind Traders", domain="")
    CompanyFactory(owner=owner, name="Contoso", domain="")
    found = company_duplicates(owner, name="NORTHWIND  Trader")
    assert [(d.record, d.reasons) for d in found] == [(existing, ["similar name"])]


def test_an_unrelated_company_is_not_a_duplicate(owner):
    CompanyFactory(owner=owner, name="Northwind Traders", domain="northwind.example")
    assert company_duplicates(owner, name="Contoso", domain="contoso.example") == []


def test_duplicates_the_user_may_not_see_are_never_hinted_at(owner, outsider):
    CompanyFactory(owner=outsider, name="Acme", domain="acme.example")
    assert company_duplicates(owner, name="Acme", domain="acme.example") == []


def test_the_record_being_edited_is_not_its_own_duplicate(owner, company):
    assert company_duplicates(owner, name=company.name, domain=company.domain, exclude_pk=company.pk) == []


def test_a_contact_with_the_same_email_or_phone_is_a_possible_duplicate(owner):
    by_email = ContactFactory(owner=owner, first_name="Anna", last_name="Petrova", email="anna@example.com", phone="")
    by_phone = ContactFactory(owner=owner, first_name="Boris", last_name="Ivanov", email="", mobile="+79161234567")
    found = contact_duplicates(
        owner, first_name="A.", last_name="Someone", emails=["anna@example.com"], phones=["+79161234567"]
    )
    reasons = {d.record: d.reasons for d in found}
    assert set(reasons) == {by_email, by_phone}
    assert reasons[by_email][0].startswith("same email +")
    assert reasons[by_phone][0].startswith("same phone +")


def test_a_similar_name_at_the_same_company_is_a_possible_duplicate(owner, company):
    twin = ContactFactory(owner=owner, company=company, first_name="Anna", last_name="Petrova", email="")
    ContactFactory(owner=owner, first_name="Anna", last_name="Petrova", email="")  # another company
    ContactFactory(owner=owner, company=company, first_name="Boris", last_name="Ivanov", email="")
    found = contact_duplicates(owner, first_name="Anna", last_name="Petrovaa", emails=[], phones=[], company=company)
    assert found[0].record == twin  # the namesake at another company, if warned about, comes after
    assert any(r.startswith("same company +") for r in found[0].reasons)
    last_name = ("similar last name +", "last name: nickname or spelling variant +")
    assert any(r.startswith(last_name) for r in found[0].reasons)


def test_creating_a_possible_duplicate_asks_first_and_saves_nothing(owner_client, owner, company):
    data = {"name": "ACME Corporation", "domain": "https://acme.example", "lifecycle_stage": "lead", "owner": owner.pk}
    response = owner_client.post(reverse("contacts:company-create"), data)
    assert response.status_code == 200
    body = response.content.decode()
    assert "This may already be in the CRM" in body
    assert company.get_absolute_url() in body
    assert "same domain acme.example" in body
    assert Company.objects.count() == 1
    response = owner_client.post(reverse("contacts:company-create"), {**data, "save_anyway": "1"})
    assert response.status_code == 302
    assert Company.objects.count() == 2


def test_creating_a_contact_with_a_known_email_asks_first(owner_client, owner, contact):
    contact.email = "anna@example.com"
    contact.save()
    data = {"last_name": "Other", "email": "ANNA@example.com", "lifecycle_stage": "lead", "owner": owner.pk}
    response = owner_client.post(reverse("contacts:contact-create"), data)
    assert "same email +" in response.content.decode()
    assert Contact.objects.count() == 1
    owner_client.post(reverse("contacts:contact-create"), {**data, "save_anyway": "1"})
    assert Contact.objects.count() == 2


def test_quick_add_of_a_duplicate_asks_on_the_full_form(owner_client, owner, contact):
    response = owner_client.post(
        reverse("contacts:contact-create"),
        {"quick": "1", "last_name": "Petrov", "phone": "+7 916 123 45 67", "owner": owner.pk},
    )
    body = response.content.decode()
    assert "same phone" in body
    assert 'name="quick" value="1"' in body
    assert Contact.objects.count() == 1


def test_an_edit_that_leaves_identity_alone_does_not_ask(owner_client, owner, contact):
    ContactFactory(owner=owner, first_name="Anna", last_name="Petrova", phone="+79161234567")
    response = owner_client.post(
        reverse("contacts:contact-edit", args=[contact.pk]),
        {
            "first_name": "Anna",
            "last_name": "Petrova",
            "phone": "+79161234567",
            "email": contact.email,
            "company": contact.company_id,
            "country": "RU",
            "title": "CEO",
            "lifecycle_stage": "lead",
            "owner": owner.pk,
        },
    )
    assert response.status_code == 302
    contact.refresh_from_db()
    assert contact.title == "CEO"


@pytest.mark.parametrize("who", ["teammate", "manager"])
def test_teammates_and_managers_are_warned_about_the_teams_records(client_for, request, company, who):
    user = request.getfixturevalue("teammate" if who == "teammate" else "manager")
    data = {"name": "Acme", "domain": "acme.example", "lifecycle_stage": "lead", "owner": user.pk}
    body = client_for(who).post(reverse("contacts:company-create"), data).content.decode()
    assert "same domain acme.example" in body


def test_outsiders_are_not_warned_about_records_they_may_not_see(outsider_client, outsider, company):
    data = {"name": "Acme Corp", "domain": "acme.example", "lifecycle_stage": "lead", "owner": outsider.pk}
    response = outsider_client.post(reverse("contacts:company-create"), data)
    assert response.status_code == 302


def test_a_shared_email_is_found_even_when_a_common_name_matches_many(owner):
    for n in range(60):
        ContactFactory(owner=owner, first_name="Anna", last_name="Petrova", email=f"anna{n}@example.com", phone="")
    twin = ContactFactory(owner=owner, first_name="A.", last_name="Petrova", email="anna.p@corp.example", phone="")
    found = contact_duplicates(owner, first_name="Anna", last_name="Petrova", emails=["anna.p@corp.example"], phones=[])
    assert found[0].record == twin
    assert found[0].reasons[0].startswith("same email +")


def test_an_edit_that_makes_a_duplicate_offers_to_merge_into_the_ones_the_user_may_change(
    owner_client, owner, teammate
):
    mine = CompanyFactory(owner=owner, name="Borealis Freight", domain="borealis.example")
    theirs = CompanyFactory(owner=teammate, name="Borealis Freight Nordic", domain="borealis-nordic.example")
    edited = CompanyFactory(owner=owner, name="Something else", domain="other.example")
    data = {"name": "Borealis Freight", "domain": "borealis.example", "lifecycle_stage": "lead", "owner": owner.pk}
    response = owner_client.post(reverse("contacts:company-edit", args=[edited.pk]), data)

    assert response.status_code == 200
    links = response.context["merge_links"]
    assert links == {mine.pk: reverse("contacts:company-merge", args=[mine.pk, edited.pk])}
    assert theirs.pk not in links  # a teammate's record: readable, not changeable
    assert reverse("contacts:company-merge", args=[mine.pk, edited.pk]) in response.content.decode()
    edited.refresh_from_db()
    assert edited.name == "Something else"


def _plans_of_key_lookups(run) -> list[str]:
    """EXPLAIN of every statement with the per-key LATERAL lookups that ``run()`` sends, in
    the same transaction and with the same settings as the statement itself."""
    from django.db import connection

    plans = []

    def explain(execute, sql, params, many, context):
        if "CROSS JOIN LATERAL" in sql:
            with context["connection"].connection.cursor() as raw:
                # "SET LOCAL …;\n<query>" (the form's check) or the query alone (the import's).
                *settings, query = sql.split(";\n", 1) if sql.startswith("SET LOCAL") else [sql]
                for setting in settings:
                    raw.execute(setting)
                raw.execute("EXPLAIN " + query, params)
                plans.append("\n".join(row[0] for row in raw.fetchall()))
        return execute(sql, params, many, context)

    with connection.execute_wrapper(explain):
        run()
    return plans


def test_the_key_lookups_use_the_index_however_few_share_a_key(owner):
    """The planner cannot estimate a key it learns at run time and, with a LIMIT, picks a
    sequential scan: for a key nobody has, that read every contact (4 s for the form's
    warning at 1,000,000 contacts). Both the form's check and an import look keys up in the
    GIN index only."""
    from django.db import connection

    from contacts.duplicates import contact_duplicates, contact_import_matches
    from contacts.models import Contact
    from contacts.tests.factories import ContactFactory

    # Enough contacts that reading them all costs more than the index: the plans are then
    # chosen as at a million.
    template = ContactFactory(owner=owner, first_name="Anna", last_name="Person", email="p@example.com")
    assert template.dedupe_keys
    copies = {"last_name": "'Person' || n", "email": "'p' || n || '@example.com'", "dedupe_keys": "'{}'"}
    columns = [f.column for f in Contact._meta.concrete_fields if not f.generated and not f.primary_key]
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO contacts_contact ({', '.join(columns)}) "
            f"SELECT {', '.join(copies.get(c, c) for c in columns)} "
            "FROM contacts_contact, generate_series(1, 20000) AS n WHERE id = %s",
            [template.pk],
        )
        cursor.execute("ANALYZE contacts_contact")

    def form_check():
        contact_duplicates(owner, first_name="Zebulon", last_name="Quaxfort", emails=["zq@nowhere.example"], phones=[])

    def import_check():
        contact_import_matches(owner, rows=[{"last_name": "Quaxfort", "email": "zq@nowhere.example"}])

    for run in (form_check, import_check):
        plans = _plans_of_key_lookups(run)
        assert plans, run.__name__
        for plan in plans:
            assert "Seq Scan on contacts_contact" not in plan, plan
            assert "contact_dedupe_keys" in plan, plan
    # The setting does not outlive the lookup inside a longer transaction (a request's).
    from django.db import transaction

    with transaction.atomic(), connection.cursor() as cursor:
        form_check()
        cursor.execute("SHOW enable_seqscan")
        assert cursor.fetchone()[0] == "on"
