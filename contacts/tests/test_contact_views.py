import pytest
from django.urls import reverse

from contacts import services
from contacts.models import Contact
from contacts.tests.factories import CompanyFactory, ContactFactory, TagFactory


@pytest.mark.parametrize(
    ("who", "status"), [("owner", 200), ("teammate", 200), ("outsider", 404), ("manager", 200), ("admin", 200)]
)
def test_contact_page_access(client_for, contact, who, status):
    response = client_for(who).get(contact.get_absolute_url())
    assert response.status_code == status
    if status == 200:
        assert "Anna Petrova" in response.content.decode()


def test_contact_page_shows_consent_flags_prominently(owner_client, contact):
    contact.do_not_call = True
    contact.do_not_email = True
    contact.save()
    body = owner_client.get(contact.get_absolute_url()).content.decode()
    assert "This person asked not to be called or emailed." in body
    assert 'href="tel:' not in body
    assert 'href="mailto:' not in body


def test_contact_list_shows_consent_flags_next_to_phone_and_email(owner_client, contact):
    contact.do_not_call = True
    contact.save()
    body = owner_client.get(reverse("contacts:contact-list")).content.decode()
    assert "Do not call" in body
    assert "+7 916 123-45-67" in body


@pytest.mark.parametrize(
    ("who", "status"), [("owner", 200), ("teammate", 403), ("outsider", 404), ("manager", 200), ("admin", 200)]
)
def test_contact_edit_access(client_for, contact, who, status):
    assert client_for(who).get(reverse("contacts:contact-edit", args=[contact.pk])).status_code == status


def _contact_post(**overrides):
    data = {
        "first_name": "Anna",
        "last_name": "Petrova",
        "title": "",
        "company": "",
        "email": "",
        "secondary_email": "",
        "phone": "",
        "mobile": "",
        "lifecycle_stage": "lead",
        "source": "",
        "country": "",
        "tags": "",
    }
    data.update(overrides)
    return data


def test_owner_creates_a_contact_at_a_company_with_a_local_number(owner_client, owner, company):
    company.country = "DE"
    company.save()
    response = owner_client.post(
        reverse("contacts:contact-create"),
        _contact_post(
            owner=owner.pk,
            company=company.pk,
            email="Anna@Example.COM",
            phone="030 12345678",
            do_not_email="on",
            tags="VIP, new",
        ),
    )
    assert response.status_code == 302
    contact = Contact.objects.get()
    assert contact.company == company
    assert contact.email == "anna@example.com"
    assert contact.phone == "+493012345678"
    assert contact.do_not_email is True
    assert sorted(contact.tags.values_list("name", flat=True)) == ["VIP", "new"]
    assert contact.history.get().history_user == owner


def test_a_contact_cannot_be_put_at_a_company_the_user_may_not_see(owner_client, owner, outsider):
    hidden = CompanyFactory(owner=outsider)
    response = owner_client.post(reverse("contacts:contact-create"), _contact_post(owner=owner.pk, company=hidden.pk))
    assert response.status_code == 200
    assert "Select a valid choice" in response.content.decode()
    assert not Contact.objects.exists()


def test_the_company_select_renders_only_the_chosen_company(owner_client, owner, contact):
    CompanyFactory(owner=owner, name="Unrelated Firm")
    body = owner_client.get(reverse("contacts:contact-edit", args=[contact.pk])).content.decode()
    assert "Acme Corp" in body
    assert "Unrelated Firm" not in body


def test_new_contact_from_a_company_page_preselects_the_company(owner_client, company):
    body = owner_client.get(reverse("contacts:contact-create"), {"company": company.pk}).content.decode()
    assert f'<option value="{company.pk}" selected>Acme Corp</option>' in body


def test_an_invalid_phone_shows_a_clear_error_and_the_keep_option(owner_client, owner):
    response = owner_client.post(
        reverse("contacts:contact-create"), _contact_post(owner=owner.pk, phone="12345", country="RU")
    )
    body = response.content.decode()
    assert "“12345” is not a valid phone number for RU" in body
    assert "Keep the phone as typed" in body
    assert not Contact.objects.exists()
    response = owner_client.post(
        reverse("contacts:contact-create"),
        _contact_post(owner=owner.pk, phone="12345", country="RU", keep_phone_as_typed="on"),
    )
    assert response.status_code == 302
    contact = Contact.objects.get()
    assert (contact.phone, contact.phone_is_invalid) == ("12345", True)


def test_fixing_the_phone_clears_the_mark(owner_client, owner):
    contact = services.contact_create(
        actor=owner, owner=owner, last_name="X", phone="12345", country="RU", keep_invalid_phone=True
    )
    owner_client.post(
        reverse("contacts:contact-edit", args=[contact.pk]),
        _contact_post(owner=owner.pk, last_name="X", phone="8 916 123 45 67", country="RU"),
    )
    contact.refresh_from_db()
    assert (contact.phone, contact.phone_is_invalid) == ("+79161234567", False)


def test_teammate_cannot_post_an_edit(teammate_client, owner, contact):
    response = teammate_client.post(
        reverse("contacts:contact-edit", args=[contact.pk]), _contact_post(owner=owner.pk, last_name="Changed")
    )
    assert response.status_code == 403
    contact.refresh_from_db()
    assert contact.last_name == "Petrova"


def test_quick_add_creates_a_contact(owner_client, owner):
    response = owner_client.post(
        reverse("contacts:contact-create"),
        {"quick": "1", "first_name": "Li", "last_name": "Wei", "phone": "+86 138 0013 8000", "owner": owner.pk},
    )
    assert response.status_code == 302
    assert Contact.objects.get().phone == "+8613800138000"


@pytest.mark.parametrize(("who", "status"), [("owner", 302), ("teammate", 403), ("outsider", 404), ("manager", 302)])
def test_archive_access(client_for, contact, who, status):
    response = client_for(who).post(reverse("contacts:contact-archive", args=[contact.pk]))
    assert response.status_code == status
    contact.refresh_from_db()
    assert (contact.archived_at is not None) is (status == 302)


@pytest.mark.parametrize(("who", "status"), [("owner", 403), ("outsider", 404), ("manager", 403), ("admin", 302)])
def test_only_admins_restore(client_for, contact, who, status):
    contact.archived_at = contact.created_at
    contact.save()
    response = client_for(who).post(reverse("contacts:contact-restore", args=[contact.pk]))
    assert response.status_code == status
    contact.refresh_from_db()
    assert (contact.archived_at is None) is (status == 302)


@pytest.mark.parametrize(("who", "sees"), [("owner", True), ("teammate", True), ("outsider", False), ("manager", True)])
def test_the_list_shows_what_the_user_may_see(client_for, contact, who, sees):
    body = client_for(who).get(reverse("contacts:contact-list")).content.decode()
    assert ("Anna Petrova" in body) is sees


@pytest.mark.parametrize(
    "query", ["8 (916) 123-45-67", "+7 916 123 45 67", "89161234567", "1234567", "petrova", "anna petr"]
)
def test_the_list_finds_a_contact_by_phone_in_another_format_or_by_name(owner_client, owner, contact, query):
    ContactFactory(owner=owner, first_name="Boris", last_name="Other", phone="+74950000000")
    body = owner_client.get(reverse("contacts:contact-list"), {"q": query}).content.decode()
    assert "Anna Petrova" in body
    assert "Boris Other" not in body


def test_a_number_kept_as_typed_is_found_by_the_text_as_typed(owner_client, owner):
    services.contact_create(
        actor=owner, owner=owner, last_name="Typed", mobile="ext 55-12-34", country="RU", keep_invalid_phone=True
    )
    body = owner_client.get(reverse("contacts:contact-list"), {"q": "55-12-34"}).content.decode()
    assert "Typed" in body


def test_the_list_filters_by_company(owner_client, owner, contact):
    ContactFactory(owner=owner, first_name="Elsewhere", last_name="Person")
    body = owner_client.get(reverse("contacts:contact-list"), {"company": contact.company_id}).content.decode()
    assert "Anna Petrova" in body
    assert "Elsewhere" not in body


def test_unknown_sort_is_ignored(owner_client, contact):
    response = owner_client.get(reverse("contacts:contact-list"), {"sort": "company__owner__password"})
    assert response.status_code == 200
    assert response.context["sort"] == "name"


def test_the_list_makes_a_constant_number_of_queries(owner_client, owner, django_assert_max_num_queries):
    tag = TagFactory(name="vip")
    for _ in range(50):
        contact = ContactFactory(owner=owner, company=CompanyFactory(owner=owner))
        contact.tags.add(tag)
    with django_assert_max_num_queries(5):  # user, owner and team choices, the page, its capped count
        response = owner_client.get(reverse("contacts:contact-list"))
    assert len(response.context["page"].rows) == 50
    assert response.content.count(b"?tag=vip") == 50  # the tags come with the rows, not in a query of their own
    # Every row's inline editors (owner, stage, phone, email, tags) cost no query either.
    assert response.content.count(b'class="inline-field" id="inline-contact-') == 50 * 5
    assert response.content.count(b'name="version" id="inline-contact-') == 50


def test_the_contact_page_makes_a_constant_number_of_queries(
    owner_client, owner, contact, django_assert_max_num_queries
):
    for i in range(20):
        services.contact_update(actor=owner, contact=contact, title=f"Title {i}", tag_names=[f"t{i}"])
    # Read once first: the process-wide caches (content types, activity types, the timeline's
    # business event types and sources) are warm or cold depending on the tests run before.
    owner_client.get(contact.get_absolute_url())
    # 6, and one for the service cases panel.
    with django_assert_max_num_queries(7):
        response = owner_client.get(contact.get_absolute_url())
    assert "Title 19" in response.content.decode()


def test_bulk_reassign_contacts(owner_client, owner, teammate):
    contacts = [ContactFactory(owner=owner) for _ in range(2)]
    owner_client.post(reverse("contacts:contact-reassign"), {"ids": [c.pk for c in contacts], "owner": teammate.pk})
    assert set(Contact.objects.values_list("owner", flat=True)) == {teammate.pk}


def test_bulk_reassign_with_nothing_ticked_says_so(owner_client, teammate):
    response = owner_client.post(reverse("contacts:contact-reassign"), {"owner": teammate.pk}, follow=True)
    assert "Tick at least one row first." in response.content.decode()
