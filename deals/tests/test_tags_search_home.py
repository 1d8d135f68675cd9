from decimal import Decimal

from django.apps import apps as django_apps
from django.template import Context, Template
from django.test import RequestFactory
from django.urls import reverse
from django.utils import timezone

from crm.search import search_all
from deals.models import DealStatus, LostReason, Pipeline
from deals.tests.factories import CompanyFactory, ContactFactory, DealFactory


def _render(source: str, user, **context) -> str:
    request = RequestFactory().get("/")
    request.user = user
    return Template("{% load deal_tags %}" + source).render(Context({"request": request, **context}))


def test_company_deals_lists_only_what_the_viewer_may_see(owner, outsider, pipeline, django_assert_max_num_queries):
    company = CompanyFactory(owner=owner, name="Shared Co")
    for i in range(12):
        DealFactory(owner=owner, pipeline=pipeline, company=company, title=f"Visible {i}")
    DealFactory(owner=outsider, pipeline=pipeline, company=company, title="Other team's deal")
    owner.visible_owner_ids  # noqa: B018 - warm the cached access ids so the count is the tag's own
    with django_assert_max_num_queries(3):
        html = _render("{% company_deals company %}", owner, company=company)
    assert "Visible 11" in html
    assert "Other team&#x27;s deal" not in html and "Other team's deal" not in html
    assert f"{reverse('deals:create')}?company={company.pk}" in html
    assert "All deals" in html  # more than ten: link to the filtered list


def test_the_panels_summary_sums_the_open_deals_each_viewer_sees_beyond_the_first_ten(
    owner, teammate, outsider, admin_user, pipeline, django_assert_max_num_queries
):
    """With more deals than the panel lists, the summary is summed by a query of its own:
    only open deals, only those the viewer may see, for a company and for a contact."""
    company = CompanyFactory(owner=owner)
    contact = ContactFactory(owner=owner, company=company)
    won = pipeline.stages.get(is_won=True)
    for i in range(11):
        deal = DealFactory(owner=owner, pipeline=pipeline, company=company, amount=Decimal("100"), title=f"Open {i}")
        deal.contacts.add(contact)
    closed = DealFactory(
        owner=owner, pipeline=pipeline, company=company, stage=won, status=DealStatus.WON,
        closed_at=timezone.now(), amount=Decimal("7000"),
    )  # fmt: skip
    closed.contacts.add(contact)
    hidden = DealFactory(owner=outsider, pipeline=pipeline, company=company, amount=Decimal("5000"))
    hidden.contacts.add(contact)
    for tag, name, value in (("company_deals", "company", company), ("contact_deals", "contact", contact)):
        for viewer, expected in ((owner, "11 open, 1,100 USD"), (teammate, "11 open, 1,100 USD"),
                                 (admin_user, "12 open, 6,100 USD")):  # fmt: skip
            viewer.visible_owner_ids  # noqa: B018 - warm the cached access ids so the count is the tag's own
            with django_assert_max_num_queries(2):
                html = _render(f"{{% {tag} {name} %}}", viewer, base_currency="USD", **{name: value})
            assert expected in html, (tag, viewer.username)
        # The outsider sees none of the owner's deals, and no sum of them.
        html = _render(f"{{% {tag} {name} %}}", outsider, base_currency="USD", **{name: value})
        assert "Open 1" not in html and "1 open, 5,000 USD" in html


def test_contact_deals_offers_a_new_deal_for_the_contact(owner, pipeline):
    contact = ContactFactory(owner=owner)
    deal = DealFactory(owner=owner, pipeline=pipeline, title="With Ada")
    deal.contacts.add(contact)
    html = _render("{% contact_deals contact %}", owner, contact=contact)
    assert "With Ada" in html
    assert f"?contact={contact.pk}" in html


def test_the_list_filters_by_company_for_the_all_deals_link(owner_client, owner, pipeline):
    company = CompanyFactory(owner=owner)
    DealFactory(owner=owner, pipeline=pipeline, company=company, title="Mine")
    DealFactory(owner=owner, pipeline=pipeline, title="Elsewhere")
    response = owner_client.get(reverse("deals:list"), {"company": company.pk})
    assert [d.title for d in response.context["page"]] == ["Mine"]


def test_search_finds_visible_deals_by_title(owner, outsider, pipeline):
    DealFactory(owner=owner, pipeline=pipeline, title="Robot rollout")
    DealFactory(owner=outsider, pipeline=pipeline, title="Robot secret")
    sections = {s.title: s for s in search_all(user=owner, query="robot")}
    assert [h.title for h in sections["Deals"].hits] == ["Robot rollout"]


def test_home_shows_your_open_deals_weighted_in_the_base_currency(owner_client, owner, pipeline):
    DealFactory(owner=owner, pipeline=pipeline, amount=Decimal("1000"), expected_close_date=timezone.localdate())
    body = owner_client.get(reverse("home")).content.decode()
    assert "Your open deals" in body
    assert "1 deal expected to close this month (1,000 USD)" in body


def test_the_default_pipeline_migration_creates_sales_once(db):
    from importlib import import_module

    migration = import_module("deals.migrations.0003_default_pipeline")
    Pipeline.objects.all().delete()
    migration.create_default_pipeline(django_apps, None)
    migration.create_default_pipeline(django_apps, None)
    sales = Pipeline.objects.get()
    assert sales.is_default
    assert list(sales.stages.values_list("name", "probability", "is_won", "is_lost")) == [
        ("Lead", 10, False, False),
        ("Qualified", 25, False, False),
        ("Proposal", 50, False, False),
        ("Negotiation", 75, False, False),
        ("Won", 100, True, False),
        ("Lost", 0, False, True),
    ]
    assert LostReason.objects.filter(name="Chose a competitor").exists()
