import pytest
from django.urls import reverse

from contacts import services
from contacts.models import Company
from contacts.tests.factories import CompanyFactory, ContactFactory, TagFactory


@pytest.mark.parametrize(
    ("who", "status"), [("owner", 200), ("teammate", 200), ("outsider", 404), ("manager", 200), ("admin", 200)]
)
def test_company_page_access(client_for, company, contact, who, status):
    response = client_for(who).get(company.get_absolute_url())
    assert response.status_code == status
    if status == 200:
        body = response.content.decode()
        assert "Acme Corp" in body
        assert "Anna Petrova" in body


def test_one_compiled_page_query_answers_each_viewer_with_their_own_access(client_for, company, contact, outsider):
    """The 360 pages' record query is compiled once per shape (crm.compiled) and serves every
    viewer of that shape: who may see the record still decides per request, also when a
    viewer of the same shape as the owner sees another team's records."""
    other = CompanyFactory(owner=outsider, name="Elsewhere Ltd")
    for who, url, status in [
        ("owner", company.get_absolute_url(), 200),
        ("outsider", company.get_absolute_url(), 404),
        ("outsider", other.get_absolute_url(), 200),
        ("owner", other.get_absolute_url(), 404),
        ("owner", contact.get_absolute_url(), 200),
        ("outsider", contact.get_absolute_url(), 404),
    ]:
        assert client_for(who).get(url).status_code == status, (who, url)


def test_company_page_shows_edit_only_to_those_who_may_edit(owner_client, teammate_client, company):
    edit_url = reverse("contacts:company-edit", args=[company.pk])
    assert edit_url in owner_client.get(company.get_absolute_url()).content.decode()
    body = teammate_client.get(company.get_absolute_url()).content.decode()
    assert edit_url not in body
    assert "Read only" in body


@pytest.mark.parametrize(
    ("who", "status"), [("owner", 200), ("teammate", 403), ("outsider", 404), ("manager", 200), ("admin", 200)]
)
def test_company_edit_access(client_for, company, who, status):
    assert client_for(who).get(reverse("contacts:company-edit", args=[company.pk])).status_code == status


def _company_post(**overrides):
    data = {
        "name": "Acme Corp",
        "domain": "acme.example",
        "lifecycle_stage": "customer",
        "source": "",
        "phone": "(415) 555-2671",
        "email": "",
        "country": "US",
        "tags": "",
    }
    data.update(overrides)
    return data


def test_owner_edits_a_company_and_the_change_is_in_its_history(owner_client, owner, company):
    response = owner_client.post(
        reverse("contacts:company-edit", args=[company.pk]),
        _company_post(owner=owner.pk, name="Acme Corporation", domain="https://www.acme.example/", tags="vip, smb"),
    )
    assert response.status_code == 302
    company.refresh_from_db()
    assert company.name == "Acme Corporation"
    assert company.lifecycle_stage == "customer"
    assert sorted(company.tags.values_list("name", flat=True)) == ["smb", "vip"]
    body = owner_client.get(company.get_absolute_url()).content.decode()
    assert "Acme Corporation" in body and "Olga Owner" in body


def test_teammate_cannot_post_an_edit(teammate_client, owner, company):
    response = teammate_client.post(
        reverse("contacts:company-edit", args=[company.pk]), _company_post(owner=owner.pk, name="Hijacked")
    )
    assert response.status_code == 403
    company.refresh_from_db()
    assert company.name == "Acme Corp"


def test_create_with_bad_input_shows_field_errors_and_saves_nothing(owner_client, owner):
    response = owner_client.post(
        reverse("contacts:company-create"),
        _company_post(owner=owner.pk, name="", domain="not a domain", email="nope", phone="12345", country="RU"),
    )
    assert response.status_code == 200
    body = response.content.decode()
    assert "This field is required" in body
    assert "Enter a website or domain such as example.com." in body
    assert "Enter a valid email address" in body
    assert "is not a valid phone number" in body
    assert "Keep the phone as typed" in body
    assert not Company.objects.exists()


def test_an_invalid_phone_is_saved_as_typed_when_the_user_says_so(owner_client, owner):
    response = owner_client.post(
        reverse("contacts:company-create"),
        _company_post(owner=owner.pk, phone="ext. 204, ask for Oleg", keep_phone_as_typed="on"),
    )
    assert response.status_code == 302
    company = Company.objects.get()
    assert company.phone == "ext. 204, ask for Oleg"
    assert company.phone_is_invalid is True
    assert "unverified" in owner_client.get(company.get_absolute_url()).content.decode()


def test_the_owner_choice_offers_only_people_the_user_may_see(owner_client, teammate, outsider):
    body = owner_client.get(reverse("contacts:company-create")).content.decode()
    assert "Olga Owner" in body
    assert "Tom Teammate" in body
    assert "Oscar Outsider" not in body


def test_an_owner_outside_the_users_view_is_refused(owner_client, outsider):
    response = owner_client.post(reverse("contacts:company-create"), _company_post(owner=outsider.pk))
    assert response.status_code == 200
    assert not Company.objects.exists()


def test_quick_add_creates_a_company_from_the_list(owner_client, owner):
    response = owner_client.post(
        reverse("contacts:company-create"),
        {"quick": "1", "name": "Quick Ltd", "domain": "quick.example", "owner": owner.pk},
    )
    assert response.status_code == 302
    company = Company.objects.get()
    assert (company.name, company.domain, company.lifecycle_stage) == ("Quick Ltd", "quick.example", "lead")


def test_quick_add_with_errors_shows_them_on_the_form_page(owner_client, owner):
    response = owner_client.post(reverse("contacts:company-create"), {"quick": "1", "name": "", "owner": owner.pk})
    assert response.status_code == 200
    assert "This field is required" in response.content.decode()
    assert not Company.objects.exists()


@pytest.mark.parametrize(("who", "status"), [("owner", 302), ("teammate", 403), ("outsider", 404), ("manager", 302)])
def test_archive_access(client_for, company, who, status):
    response = client_for(who).post(reverse("contacts:company-archive", args=[company.pk]))
    assert response.status_code == status
    company.refresh_from_db()
    assert (company.archived_at is not None) is (status == 302)


def test_archive_needs_post(owner_client, company):
    assert owner_client.get(reverse("contacts:company-archive", args=[company.pk])).status_code == 405


@pytest.mark.parametrize(
    ("who", "status"), [("owner", 403), ("teammate", 403), ("outsider", 404), ("manager", 403), ("admin", 302)]
)
def test_only_admins_restore(client_for, company, who, status):
    company.archived_at = company.created_at
    company.save()
    response = client_for(who).post(reverse("contacts:company-restore", args=[company.pk]))
    assert response.status_code == status
    company.refresh_from_db()
    assert (company.archived_at is None) is (status == 302)


def test_archived_companies_leave_the_list_and_appear_under_the_archived_filter(owner_client, owner, company):
    other = CompanyFactory(owner=owner, name="Still Here")
    company.archived_at = company.created_at
    company.save()
    body = owner_client.get(reverse("contacts:company-list")).content.decode()
    assert "Still Here" in body and "Acme Corp" not in body
    body = owner_client.get(reverse("contacts:company-list"), {"archived": "1"}).content.decode()
    assert "Acme Corp" in body and other.name not in body


@pytest.mark.parametrize(("who", "sees"), [("owner", True), ("teammate", True), ("outsider", False), ("manager", True)])
def test_the_list_shows_what_the_user_may_see(client_for, company, who, sees):
    body = client_for(who).get(reverse("contacts:company-list")).content.decode()
    assert ("Acme Corp" in body) is sees


def test_the_list_searches_name_domain_and_phone_in_any_format(owner_client, owner, company):
    CompanyFactory(owner=owner, name="Other Inc", domain="other.example", phone="+12125550100")
    url = reverse("contacts:company-list")
    for query in ["acme", "ACME.example", "(415) 555-2671", "+1 415 555 2671", "5552671"]:
        body = owner_client.get(url, {"q": query}).content.decode()
        assert "Acme Corp" in body, query
        assert "Other Inc" not in body, query


def test_the_list_filters_by_owner_team_tag_stage_country_source_and_created(owner_client, owner, teammate, north):
    tag = TagFactory(name="vip")
    match = CompanyFactory(owner=teammate, name="Match", lifecycle_stage="customer", country="DE", source="event")
    match.tags.add(tag)
    CompanyFactory(owner=teammate, name="Wrong stage", lifecycle_stage="lead", country="DE", source="event").tags.add(
        tag
    )
    CompanyFactory(owner=owner, name="Wrong owner", lifecycle_stage="customer", country="DE", source="event").tags.add(
        tag
    )
    day = match.created_at.date().isoformat()
    params = {
        "owner": teammate.pk,
        "team": north.pk,
        "tag": "VIP",
        "stage": "customer",
        "country": "DE",
        "source": "event",
        "created_from": day,
        "created_to": day,
    }
    body = owner_client.get(reverse("contacts:company-list"), params).content.decode()
    assert "Match" in body
    assert "Wrong stage" not in body and "Wrong owner" not in body


def test_unknown_sort_and_filter_values_are_ignored(owner_client, owner, company):
    response = owner_client.get(
        reverse("contacts:company-list"),
        {"sort": "owner__password", "stage": "nonsense", "owner": "abc", "created_from": "yesterday", "after": "!!"},
    )
    assert response.status_code == 200
    assert "Acme Corp" in response.content.decode()


def test_a_filter_for_someone_the_user_may_not_see_is_ignored(owner_client, outsider, company):
    CompanyFactory(owner=outsider, name="Southern Secret")
    body = owner_client.get(reverse("contacts:company-list"), {"owner": outsider.pk}).content.decode()
    assert "Southern Secret" not in body


def test_the_list_pages_forward_and_back_with_a_cursor(owner_client, owner):
    Company.objects.bulk_create([Company(owner=owner, name=f"Firm {i:03d}") for i in range(120)])
    url = reverse("contacts:company-list")
    first = owner_client.get(url, {"sort": "name"})
    page = first.context["page"]
    assert [c.name for c in page.rows][:2] == ["Firm 000", "Firm 001"]
    assert page.has_next and not page.has_previous
    second = owner_client.get(url, {"sort": "name", "after": page.next_cursor}).context["page"]
    assert second.rows[0].name == "Firm 050"
    third = owner_client.get(url, {"sort": "name", "after": second.next_cursor}).context["page"]
    assert [c.name for c in third.rows][-1] == "Firm 119"
    assert not third.has_next
    back = owner_client.get(url, {"sort": "name", "before": third.previous_cursor}).context["page"]
    assert back.rows[0].name == "Firm 050"
    assert first.context["count"] == 120


@pytest.mark.parametrize("sort", ["name", "-name", "domain", "-domain", "country", "stage", "created", "-created"])
def test_every_offered_sort_pages_through_all_rows_once(owner_client, owner, sort):
    Company.objects.bulk_create(
        [
            Company(
                owner=owner, name=f"Firm {i % 7} {i}", domain=f"d{i % 5}.example", country=["US", "DE", "RU"][i % 3]
            )
            for i in range(60)
        ]
    )
    url = reverse("contacts:company-list")
    seen = []
    params = {"sort": sort}
    while True:
        page = owner_client.get(url, params).context["page"]
        seen += [c.pk for c in page.rows]
        if not page.has_next:
            break
        params["after"] = page.next_cursor
    assert sorted(seen) == sorted(Company.objects.values_list("pk", flat=True))
    assert len(seen) == len(set(seen))


def test_the_count_stops_at_a_thousand(owner_client, owner):
    Company.objects.bulk_create([Company(owner=owner, name=f"Bulk {i}") for i in range(1001)])
    response = owner_client.get(reverse("contacts:company-list"))
    assert response.context["count_more"] is True
    assert "1,000+" in response.content.decode()


def test_the_list_makes_a_constant_number_of_queries(owner_client, owner, django_assert_max_num_queries):
    tags = [TagFactory(name=f"t{i}") for i in range(3)]
    for _ in range(50):
        company = CompanyFactory(owner=owner)
        company.tags.add(*tags)
        ContactFactory(owner=owner, company=company)
    with django_assert_max_num_queries(5):  # user, owner and team choices, the page, its capped count
        response = owner_client.get(reverse("contacts:company-list"))
    assert len(response.context["page"].rows) == 50
    assert response.content.count(b"?tag=t1") == 50  # the tags come with the rows, not in a query of their own
    # Every row's inline editors (owner, stage, phone, tags) cost no query either.
    assert response.content.count(b'class="inline-field" id="inline-company-') == 50 * 4
    assert response.content.count(b'name="version" id="inline-company-') == 50


def test_the_company_page_makes_a_constant_number_of_queries(
    owner_client, owner, company, django_assert_max_num_queries
):
    for _ in range(50):
        ContactFactory(owner=owner, company=company)
    for i in range(10):
        services.company_update(actor=owner, company=company, name=f"Acme {i}", tag_names=[f"t{i}"])
    # With the customer value card (1) and the service cases panel (1); the people come with the
    # company; +1 while the timeline's cache of business event types and sources is cold
    # (integrations.events.TIMELINE_CACHE_KEY); +1 for its files (contacts.attachments).
    with django_assert_max_num_queries(10):
        response = owner_client.get(company.get_absolute_url())
    assert response.status_code == 200


def test_bulk_reassign_moves_ticked_records_to_a_visible_user(owner_client, owner, teammate):
    companies = [CompanyFactory(owner=owner) for _ in range(3)]
    response = owner_client.post(
        reverse("contacts:company-reassign"),
        {"ids": [c.pk for c in companies[:2]], "owner": teammate.pk, "next": "/companies/?sort=name"},
    )
    assert response.status_code == 302
    assert response["Location"] == "/companies/?sort=name"
    owners = [Company.objects.get(pk=c.pk).owner for c in companies]
    assert owners == [teammate, teammate, owner]
    assert Company.objects.get(pk=companies[0].pk).history.first().history_user == owner


def test_bulk_reassign_refuses_records_the_user_may_not_edit(teammate_client, owner, teammate):
    company = CompanyFactory(owner=owner)
    teammate_client.post(reverse("contacts:company-reassign"), {"ids": [company.pk], "owner": teammate.pk})
    company.refresh_from_db()
    assert company.owner == owner


def test_bulk_reassign_refuses_a_target_the_user_may_not_see(owner_client, owner, outsider):
    company = CompanyFactory(owner=owner)
    owner_client.post(reverse("contacts:company-reassign"), {"ids": [company.pk], "owner": outsider.pk})
    company.refresh_from_db()
    assert company.owner == owner


def test_manager_reassigns_team_records(manager_client, owner, teammate):
    company = CompanyFactory(owner=owner)
    manager_client.post(reverse("contacts:company-reassign"), {"ids": [company.pk], "owner": teammate.pk})
    company.refresh_from_db()
    assert company.owner == teammate


def test_reassign_ignores_an_offsite_next(owner_client, owner, teammate):
    company = CompanyFactory(owner=owner)
    response = owner_client.post(
        reverse("contacts:company-reassign"),
        {"ids": [company.pk], "owner": teammate.pk, "next": "https://evil.example/"},
    )
    assert response["Location"] == reverse("contacts:company-list")


def test_company_picker_offers_only_visible_active_companies(owner_client, owner, outsider):
    CompanyFactory(owner=owner, name="Northwind")
    CompanyFactory(owner=outsider, name="Northern Secret")
    body = owner_client.get(reverse("contacts:company-options"), {"company_q": "north"}).content.decode()
    assert "Northwind" in body
    assert "Northern Secret" not in body


def test_tag_suggestions_complete_the_last_tag(owner_client, owner):
    company = CompanyFactory(owner=owner)
    company.tags.add(TagFactory(name="Partner"), TagFactory(name="Paris"), TagFactory(name="vip"))
    body = owner_client.get(reverse("contacts:tag-suggest"), {"tags": "vip, par"}).content.decode()
    assert '<option value="vip, Paris">' in body
    assert '<option value="vip, Partner">' in body
    assert "vip, vip" not in body


@pytest.mark.parametrize("kind", ["company", "contact"])
def test_tag_suggestions_offer_only_tags_on_records_the_user_may_see(
    kind, owner, teammate, outsider, owner_client, teammate_client, outsider_client, django_assert_max_num_queries
):
    record = CompanyFactory(owner=owner) if kind == "company" else ContactFactory(owner=owner)
    record.tags.add(TagFactory(name="north-secret"))
    outsiders = CompanyFactory(owner=outsider)
    outsiders.tags.add(TagFactory(name="south-secret"))
    TagFactory(name="nobodys-tag")

    def suggested(client):
        with django_assert_max_num_queries(4):
            return client.get(reverse("contacts:tag-suggest"), {"tag": ""}).content.decode()

    assert "north-secret" in suggested(owner_client)
    assert "north-secret" in suggested(teammate_client)
    assert "south-secret" not in suggested(owner_client)
    assert "north-secret" not in suggested(outsider_client)
    assert "south-secret" in suggested(outsider_client)
    assert "nobodys-tag" not in suggested(owner_client) + suggested(outsider_client)


def test_an_outsider_cannot_reassign_records_they_cannot_see(outsider_client, owner, outsider):
    company = CompanyFactory(owner=owner)
    outsider_client.post(reverse("contacts:company-reassign"), {"ids": [company.pk], "owner": outsider.pk})
    company.refresh_from_db()
    assert company.owner == owner


def test_admin_reassigns_anyones_records(admin_client, owner, outsider):
    company = CompanyFactory(owner=owner)
    admin_client.post(reverse("contacts:company-reassign"), {"ids": [company.pk], "owner": outsider.pk})
    company.refresh_from_db()
    assert company.owner == outsider


@pytest.mark.parametrize("url_name", ["contacts:company-list", "contacts:contact-list"])
def test_the_lists_filter_by_a_visible_owner_team_and_company_and_drop_others(
    url_name, owner_client, admin_client, owner, teammate, outsider, north, south
):
    """The owner, team and company a filter names are checked against what the viewer may see
    (the querysets are built only when a value was submitted): a visible one filters, another
    team's is dropped."""
    for person, name in ((owner, "Nordwind"), (teammate, "Nordlicht"), (outsider, "Southern Secret")):
        ContactFactory(owner=person, company=CompanyFactory(owner=person, name=name), last_name=f"Staff of {name}")
    url = reverse(url_name)

    def shown(client, params):
        body = client.get(url, params).content.decode()
        return {name for name in ("Nordwind", "Nordlicht", "Southern Secret") if name in body}

    assert shown(owner_client, {}) == {"Nordwind", "Nordlicht"}
    assert shown(owner_client, {"owner": teammate.pk}) == {"Nordlicht"}
    assert shown(owner_client, {"owner": outsider.pk}) == {"Nordwind", "Nordlicht"}  # not theirs to name
    assert shown(owner_client, {"team": south.pk}) == {"Nordwind", "Nordlicht"}
    assert shown(admin_client, {"team": north.pk}) == {"Nordwind", "Nordlicht"}
    assert shown(admin_client, {"team": south.pk}) == {"Southern Secret"}
    if url_name == "contacts:contact-list":
        nordlicht = Company.objects.get(name="Nordlicht")
        southern = Company.objects.get(name="Southern Secret")
        assert shown(owner_client, {"company": nordlicht.pk}) == {"Nordlicht"}
        assert shown(owner_client, {"company": southern.pk}) == {"Nordwind", "Nordlicht"}
