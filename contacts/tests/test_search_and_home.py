from django.urls import reverse

from contacts.search import search_companies, search_contacts
from contacts.tests.factories import CompanyFactory, ContactFactory


def test_global_search_finds_companies_and_contacts_the_user_may_see(owner_client, owner, outsider, contact):
    CompanyFactory(owner=outsider, name="Acme Secret")
    body = owner_client.get(reverse("search"), {"q": "acme"}).content.decode()
    assert "Acme Corp" in body
    assert "Acme Secret" not in body
    body = owner_client.get(reverse("search"), {"q": "+7 (916) 123-45-67"}).content.decode()
    assert "Anna Petrova" in body


def test_global_search_hides_everything_from_an_outsider(outsider_client, contact):
    body = outsider_client.get(reverse("search"), {"q": "petrova"}).content.decode()
    assert "Anna Petrova" not in body


def test_a_search_section_has_at_most_ten_hits_and_links_to_the_full_list(owner):
    for i in range(12):
        CompanyFactory(owner=owner, name=f"Acme {i}")
    section = search_companies(owner, "acme", 10)
    assert len(section.hits) == 10
    assert section.has_more is True
    assert section.more_url == "/companies/?q=acme"


def test_contact_search_skips_archived_contacts(owner, contact):
    ContactFactory(owner=owner, last_name="Petrova-Old", archived_at=contact.created_at)
    ContactFactory(owner=owner, first_name="Olga", last_name="Petrova", archived_at=contact.created_at)
    section = search_contacts(owner, "petrova", 10)
    assert [hit.title for hit in section.hits] == ["Anna Petrova"]


def test_contact_search_puts_those_whose_surname_is_the_word_first(owner, teammate, outsider):
    """The word "smith" finds the Smiths before the Goldsmiths and the people at smithholdings.com, who
    sort before them by name; within each group, by name; what the user may not read, nowhere."""
    ContactFactory(owner=owner, first_name="Karen", last_name="Adams", email="karen@smithholdings.com")
    ContactFactory(owner=teammate, first_name="Zoe", last_name="Goldsmith")
    ContactFactory(owner=teammate, first_name="Bob", last_name="Smith")
    ContactFactory(owner=owner, first_name="Anna", last_name="SMITH")
    ContactFactory(owner=outsider, first_name="Aaron", last_name="Smith")
    ContactFactory(owner=outsider, first_name="Alan", last_name="Arrowsmith")
    titles = [hit.title for hit in search_contacts(owner, "smith", 10).hits]
    assert titles == ["Anna SMITH", "Bob Smith", "Karen Adams", "Zoe Goldsmith"]
    assert [hit.title for hit in search_contacts(outsider, "Smith", 10).hits] == ["Aaron Smith", "Alan Arrowsmith"]
    # Every word must still match: the surname is one of them.
    assert [hit.title for hit in search_contacts(owner, "bob smith", 10).hits] == ["Bob Smith"]
    assert [hit.title for hit in search_contacts(owner, "zoe smith", 10).hits] == ["Zoe Goldsmith"]
    # Fewer hits than surname matches: the section says there are more.
    section = search_contacts(owner, "smith", 1)
    assert [hit.title for hit in section.hits] == ["Anna SMITH"]
    assert section.has_more is True
    section = search_contacts(owner, "smith", 3)
    assert [hit.title for hit in section.hits] == ["Anna SMITH", "Bob Smith", "Karen Adams"]
    assert section.has_more is True


def test_global_search_makes_a_constant_number_of_queries(owner_client, owner, django_assert_max_num_queries):
    company = CompanyFactory(owner=owner, name="Zeta")
    for i in range(30):
        ContactFactory(owner=owner, company=company, last_name=f"Zeta{i}")
    # Six: the contacts whose surname is the word (none here), then the other matches.
    with django_assert_max_num_queries(6):
        owner_client.get(reverse("search"), {"q": "zeta"})


def test_home_panel_counts_the_users_customers_by_stage(owner_client, owner, teammate):
    CompanyFactory(owner=owner, lifecycle_stage="customer")
    CompanyFactory(owner=owner, lifecycle_stage="customer")
    CompanyFactory(owner=teammate, lifecycle_stage="customer")
    ContactFactory(owner=owner, lifecycle_stage="lead")
    response = owner_client.get(reverse("home"))
    body = response.content.decode()
    assert "Your customers" in body
    assert f'href="/companies/?owner={owner.pk}&amp;stage=customer">2</a>' in body
    assert f'href="/contacts/?owner={owner.pk}&amp;stage=lead">1</a>' in body


def test_home_panel_invites_a_new_rep_to_add_a_company(owner_client):
    assert "You own no companies or contacts yet." in owner_client.get(reverse("home")).content.decode()


def test_admin_lists_companies_and_contacts(admin_client, contact):
    for name in ["company", "contact", "tag"]:
        response = admin_client.get(reverse(f"admin:contacts_{name}_changelist"))
        assert response.status_code == 200
    response = admin_client.get(reverse("admin:contacts_contact_changelist"), {"q": "petrova"})
    assert "Petrova" in response.content.decode()
    response = admin_client.get(reverse("admin:contacts_company_history", args=[contact.company_id]))
    assert response.status_code == 200


def test_admin_edits_are_normalised_like_the_forms(admin_client, company):
    from contacts.models import Company

    response = admin_client.post(
        reverse("admin:contacts_company_change", args=[company.pk]),
        {
            "name": "Acme Corp",
            "domain": "https://www.Acme.example/x",
            "phone": "8 916 123 45 67",
            "email": "HI@ACME.EXAMPLE",
            "country": "RU",
            "owner": company.owner_id,
            "lifecycle_stage": "lead",
            "industry": "",
            "size": "",
            "street": "",
            "city": "",
            "postal_code": "",
            "region": "",
            "source": "",
            "external_id": "",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    company = Company.objects.get(pk=company.pk)
    assert (company.domain, company.phone, company.email) == ("acme.example", "+79161234567", "hi@acme.example")
    assert company.completeness == 80
