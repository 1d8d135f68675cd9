import datetime as dt
import re
from decimal import Decimal

import pytest
from django.urls import reverse

from deals.models import Deal, DealStatus, ExchangeRate, LineItem, Product, StageChange
from deals.tests.factories import ContactFactory, DealFactory, LostReasonFactory, ProductFactory, make_pipeline, stage

HTMX = {"HTTP_HX_REQUEST": "true"}


# --- access ----------------------------------------------------------------------------------


@pytest.mark.parametrize("who", ["owner", "teammate", "manager", "admin"])
def test_people_who_may_see_the_deal_see_it_in_the_list_and_page(request, deal, who):
    client = request.getfixturevalue(f"{who}_client")
    assert "Acme rollout" in client.get(reverse("deals:list")).content.decode()
    assert client.get(reverse("deals:detail", args=[deal.pk])).status_code == 200


def test_it_hides_other_teams_deals(outsider_client, deal):
    assert "Acme rollout" not in outsider_client.get(reverse("deals:list")).content.decode()
    assert outsider_client.get(reverse("deals:detail", args=[deal.pk])).status_code == 404
    assert outsider_client.get(reverse("deals:edit", args=[deal.pk])).status_code == 404
    assert outsider_client.post(reverse("deals:move", args=[deal.pk]), {"stage": deal.stage_id}).status_code == 404


def test_a_teammate_reads_but_cannot_change_or_move(teammate_client, deal, pipeline):
    assert teammate_client.get(reverse("deals:edit", args=[deal.pk])).status_code == 403
    response = teammate_client.post(reverse("deals:move", args=[deal.pk]), {"stage": stage(pipeline, "Proposal").pk})
    assert response.status_code == 403
    deal.refresh_from_db()
    assert deal.stage.name == "Lead"


def test_a_manager_moves_a_team_members_deal(manager_client, manager, deal, pipeline):
    response = manager_client.post(reverse("deals:move", args=[deal.pk]), {"stage": stage(pipeline, "Proposal").pk})
    assert response.status_code == 302
    deal.refresh_from_db()
    assert deal.stage.name == "Proposal"
    assert StageChange.objects.filter(deal=deal).latest("at", "id").actor == manager


def test_the_board_shows_only_visible_deals(owner_client, outsider_client, deal, pipeline):
    url = reverse("deals:board", args=[pipeline.pk])
    assert "Acme rollout" in owner_client.get(url).content.decode()
    assert "Acme rollout" not in outsider_client.get(url).content.decode()


@pytest.mark.parametrize("who", ["owner", "outsider", "manager", "admin"])
def test_the_compiled_first_pages_are_the_cards_the_built_query_finds(request, who, owner, outsider, pipeline):
    """The unfiltered board reads its columns with SQL compiled once per process
    (crm.compiled): the same cards and cursors as the query built for the viewer."""
    from crm.backends import load_request_user
    from deals import selectors

    for n in range(25):
        DealFactory(owner=owner if n % 3 else outsider, pipeline=pipeline, title=f"Deal {n}")
    user = load_request_user(request.getfixturevalue("admin_user" if who == "admin" else who).pk)
    stages = [s for s in pipeline.stages.order_by("position", "id") if not s.is_closed]
    qs = Deal.objects.visible_to(user).filter(selectors.board_where(pipeline))
    compiled = selectors.board_first_pages(qs, stages, unfiltered=(user, pipeline))
    built = selectors.board_first_pages(qs, stages)

    def ids(pages):
        return {stage: ([deal.pk for deal in cards], cursor) for stage, (cards, cursor) in pages.items()}

    assert ids(compiled) == ids(built)
    assert sum(len(cards) for cards, _cursor in compiled.values()) == qs.count() or any(
        cursor for _cards, cursor in compiled.values()
    )


def test_the_board_offers_moves_only_on_cards_the_user_may_change(teammate_client, owner_client, deal, pipeline):
    url = reverse("deals:board", args=[pipeline.pk])
    assert "move-form" not in teammate_client.get(url).content.decode()
    assert "move-form" in owner_client.get(url).content.decode()


# --- create and edit -------------------------------------------------------------------------


def test_a_deal_created_from_a_contact_page_preselects_the_contact_and_company(owner_client, owner, company, pipeline):
    contact = ContactFactory(owner=owner, company=company, last_name="Lovelace")
    response = owner_client.get(reverse("deals:create"), {"contact": contact.pk})
    form = response.context["form"]
    assert form.initial["company"] == company
    assert form.initial["contacts"] == [contact]
    response = owner_client.post(
        reverse("deals:create"),
        {
            "title": "Robots for Acme",
            "company": company.pk,
            "contacts": [contact.pk],
            "owner": owner.pk,
            "pipeline": pipeline.pk,
            "stage": stage(pipeline, "Qualified").pk,
            "amount": "1200",
            "currency": "USD",
            "source": "referral",
        },
    )
    deal = Deal.objects.get(title="Robots for Acme")
    assert response.status_code == 302
    assert list(deal.contacts.all()) == [contact]
    assert (deal.probability, deal.probability_is_manual) == (25, False)
    assert StageChange.objects.filter(deal=deal, from_stage=None).count() == 1


def test_a_rep_cannot_create_a_deal_for_another_team_or_on_a_hidden_company(owner_client, outsider, pipeline):
    from deals.tests.factories import CompanyFactory

    hidden = CompanyFactory(owner=outsider)
    response = owner_client.post(
        reverse("deals:create"),
        {
            "title": "Sneaky",
            "company": hidden.pk,
            "owner": outsider.pk,
            "pipeline": pipeline.pk,
            "stage": stage(pipeline, "Lead").pk,
            "amount": "1",
            "currency": "USD",
        },
    )
    assert response.status_code == 200
    assert set(response.context["form"].errors) == {"company", "owner"}
    assert not Deal.objects.filter(title="Sneaky").exists()


def test_the_deal_form_renders_only_the_chosen_company_and_accepts_any_visible_one(owner_client, owner, pipeline):
    from deals.tests.factories import CompanyFactory

    chosen, other = CompanyFactory(owner=owner, name="Chosen Ltd"), CompanyFactory(owner=owner, name="Other Ltd")
    blank = owner_client.get(reverse("deals:create")).content.decode()
    assert "Chosen Ltd" not in blank and "Other Ltd" not in blank
    assert "data-company-picker" in blank
    preselected = owner_client.get(reverse("deals:create"), {"company": chosen.pk}).content.decode()
    assert "Chosen Ltd" in preselected and "Other Ltd" not in preselected

    response = owner_client.post(
        reverse("deals:create"),
        {
            "title": "Picked by search",
            "company": other.pk,
            "owner": owner.pk,
            "pipeline": pipeline.pk,
            "stage": stage(pipeline, "Lead").pk,
            "amount": "10",
            "currency": "USD",
        },
    )
    assert response.status_code == 302
    assert Deal.objects.get(title="Picked by search").company == other


def _edit_data(deal, **overrides):
    data = {
        "title": deal.title,
        "company": deal.company_id or "",
        "owner": deal.owner_id,
        "pipeline": deal.pipeline_id,
        "stage": deal.stage_id,
        "amount": str(deal.amount),
        "currency": deal.currency,
        "probability": "",
        "version": deal.version,
    }
    data.update(overrides)
    return data


def test_a_typed_probability_is_kept_as_manual_and_shown_as_manual(owner_client, deal, pipeline):
    response = owner_client.post(reverse("deals:edit", args=[deal.pk]), _edit_data(deal, probability="40"))
    assert response.status_code == 302
    owner_client.post(reverse("deals:move", args=[deal.pk]), {"stage": stage(pipeline, "Negotiation").pk})
    deal.refresh_from_db()
    assert (deal.probability, deal.probability_is_manual) == (40, True)
    body = owner_client.get(reverse("deals:detail", args=[deal.pk])).content.decode()
    assert "manual" in body


def test_the_second_of_two_edits_gets_a_conflict_showing_what_changed(owner_client, manager_client, deal):
    loaded = _edit_data(deal)
    first = manager_client.post(reverse("deals:edit", args=[deal.pk]), {**loaded, "amount": "5000"})
    assert first.status_code == 302
    second = owner_client.post(reverse("deals:edit", args=[deal.pk]), {**loaded, "title": "Owner's title"})
    assert second.status_code == 409
    body = second.content.decode()
    assert "Mia Manager changed this record while you were editing it" in body
    assert "Owner&#x27;s title</a>" not in body  # the breadcrumb shows the saved title
    assert "5,000.00" in body or "5000.00" in body
    deal.refresh_from_db()
    assert (deal.title, deal.amount) == ("Acme rollout", Decimal("5000.00"))
    # Saving again after reading the conflict is a deliberate choice and goes through.
    again = owner_client.post(reverse("deals:edit", args=[deal.pk]), second.context["form"].data)
    assert again.status_code == 302
    deal.refresh_from_db()
    assert deal.title == "Owner's title"


def test_a_lost_stage_without_a_reason_shows_a_field_error(owner_client, deal, pipeline):
    response = owner_client.post(
        reverse("deals:edit", args=[deal.pk]), _edit_data(deal, stage=stage(pipeline, "Lost").pk)
    )
    assert response.status_code == 200
    assert "lost_reason" in response.context["form"].errors
    deal.refresh_from_db()
    assert deal.status == DealStatus.OPEN


# --- moves -----------------------------------------------------------------------------------


def test_an_htmx_move_returns_the_card_in_its_new_column_and_fresh_totals(owner_client, deal, pipeline):
    proposal = stage(pipeline, "Proposal")
    response = owner_client.post(
        reverse("deals:move", args=[deal.pk]), {"stage": proposal.pk, "expected_stage": deal.stage_id}, **HTMX
    )
    assert response.status_code == 200
    body = response.content.decode()
    assert f'hx-swap-oob="afterbegin:#cards-{proposal.pk}"' in body
    assert f'id="col-head-{proposal.pk}" hx-swap-oob="true"' in body
    assert f'id="col-head-{deal.stage_id}" hx-swap-oob="true"' in body
    deal.refresh_from_db()
    assert deal.stage == proposal


def test_a_move_of_a_deal_someone_already_moved_is_a_conflict(owner_client, deal, pipeline):
    lead = deal.stage
    owner_client.post(reverse("deals:move", args=[deal.pk]), {"stage": stage(pipeline, "Proposal").pk})
    response = owner_client.post(
        reverse("deals:move", args=[deal.pk]),
        {"stage": stage(pipeline, "Qualified").pk, "expected_stage": lead.pk},
        **HTMX,
    )
    assert response.status_code == 409
    assert "already moved this deal to Proposal" in response.content.decode()
    deal.refresh_from_db()
    assert deal.stage.name == "Proposal"


def test_a_drop_on_lost_asks_for_the_reason_then_moves(owner_client, deal, pipeline):
    lost = stage(pipeline, "Lost")
    response = owner_client.post(
        reverse("deals:move", args=[deal.pk]), {"stage": lost.pk, "expected_stage": deal.stage_id}, **HTMX
    )
    assert response.status_code == 200
    assert response["HX-Retarget"] == "#move-dialog-body"
    assert response["HX-Trigger-After-Swap"] == "deals:ask-lost-reason"
    deal.refresh_from_db()
    assert deal.status == DealStatus.OPEN
    reason = LostReasonFactory(name="Chose a competitor")
    board_url = pipeline.get_absolute_url()
    response = owner_client.post(
        reverse("deals:move", args=[deal.pk]),
        {"stage": lost.pk, "expected_stage": deal.stage_id, "lost_reason": reason.pk, "next": board_url},
    )
    assert response.status_code == 302
    assert response["Location"] == board_url
    deal.refresh_from_db()
    assert (deal.status, deal.lost_reason) == (DealStatus.LOST, reason)


def test_a_move_never_redirects_off_site(owner_client, deal, pipeline):
    response = owner_client.post(
        reverse("deals:move", args=[deal.pk]),
        {"stage": stage(pipeline, "Proposal").pk, "next": "https://evil.example/"},
    )
    assert response["Location"] == deal.get_absolute_url()


def test_a_stage_of_another_pipeline_is_refused_by_the_move_form(owner_client, deal):
    other = make_pipeline("Renewals", default=False)
    response = owner_client.post(reverse("deals:move", args=[deal.pk]), {"stage": stage(other, "Proposal").pk})
    assert response.status_code == 400
    deal.refresh_from_db()
    assert deal.stage.name == "Lead"


# --- line items ------------------------------------------------------------------------------


def test_line_items_are_added_edited_and_removed_from_the_deal_page(owner_client, deal):
    product = ProductFactory(name="Robot arm", price=Decimal("250"))
    owner_client.post(
        reverse("deals:line-item-add", args=[deal.pk]),
        {"product": product.pk, "quantity": "2", "discount_percent": "0"},
    )
    item = deal.line_items.get()
    assert item.unit_price == Decimal("250.00")
    owner_client.post(
        reverse("deals:line-item-edit", args=[deal.pk, item.pk]),
        {"quantity": "3", "unit_price": "200", "discount_percent": "5"},
    )
    item.refresh_from_db()
    assert (item.quantity, item.total) == (Decimal("3.00"), Decimal("570.00"))
    assert "Robot arm" in owner_client.get(reverse("deals:detail", args=[deal.pk])).content.decode()
    owner_client.post(reverse("deals:line-item-remove", args=[deal.pk, item.pk]))
    assert not deal.line_items.exists()


def test_a_teammate_cannot_touch_line_items(teammate_client, deal):
    product = ProductFactory()
    response = teammate_client.post(
        reverse("deals:line-item-add", args=[deal.pk]),
        {"product": product.pk, "quantity": "1", "discount_percent": "0"},
    )
    assert response.status_code == 403
    assert not deal.line_items.exists()


# --- money -----------------------------------------------------------------------------------


def test_list_totals_convert_each_currency_before_adding(owner_client, owner, pipeline):
    ExchangeRate.objects.create(currency="EUR", date=dt.date(2020, 1, 1), rate=Decimal("1.10"))
    DealFactory(owner=owner, pipeline=pipeline, amount=Decimal("100"), currency="USD")
    DealFactory(owner=owner, pipeline=pipeline, amount=Decimal("100"), currency="EUR")
    total = owner_client.get(reverse("deals:list")).context["total"]
    assert total.amount == Decimal("210.00")
    assert total.by_currency == {"USD": Decimal("100.00"), "EUR": Decimal("100.00")}
    assert total.weighted == Decimal("21.00")


def test_a_currency_without_a_rate_is_left_out_and_named_not_added_raw(owner_client, owner, pipeline):
    DealFactory(owner=owner, pipeline=pipeline, amount=Decimal("100"), currency="USD")
    DealFactory(owner=owner, pipeline=pipeline, amount=Decimal("900"), currency="GBP")
    response = owner_client.get(reverse("deals:list"))
    assert response.context["total"].amount == Decimal("100.00")
    assert "Totals leave out GBP" in response.content.decode()


def test_board_column_totals_are_in_the_base_currency(owner_client, owner, pipeline):
    ExchangeRate.objects.create(currency="EUR", date=dt.date(2020, 1, 1), rate=Decimal("2"))
    DealFactory(owner=owner, pipeline=pipeline, amount=Decimal("100"), currency="EUR")
    DealFactory(owner=owner, pipeline=pipeline, amount=Decimal("50"), currency="USD")
    columns = owner_client.get(reverse("deals:board", args=[pipeline.pk])).context["columns"]
    lead = columns[0]
    assert (lead.total.count, lead.total.amount, lead.total.weighted) == (2, Decimal("250.00"), Decimal("25.00"))


# --- list filters, export --------------------------------------------------------------------


def test_list_filters_and_ignores_bad_parameters(owner_client, owner, pipeline):
    DealFactory(owner=owner, pipeline=pipeline, title="Small", amount=Decimal("10"))
    DealFactory(owner=owner, pipeline=pipeline, title="Big", amount=Decimal("10000"))
    response = owner_client.get(
        reverse("deals:list"), {"amount_min": "500", "sort": "drop table", "stage": "nope", "bogus": "1"}
    )
    titles = [d.title for d in response.context["page"]]
    assert titles == ["Big"]


def test_the_list_filters_by_a_visible_owner_and_team_and_drops_others(
    owner_client, owner, teammate, outsider, pipeline
):
    """The owner, team and stage filters are checked against what the user may see: another
    team's person or team is dropped as an unknown value (the list is then unfiltered)."""
    DealFactory(owner=owner, pipeline=pipeline, title="Mine")
    DealFactory(owner=teammate, pipeline=pipeline, title="Teammate's")
    DealFactory(owner=outsider, pipeline=pipeline, title="Hidden")
    url = reverse("deals:list")

    def titles(**params):
        return sorted(row["title"] for row in owner_client.get(url, {"view": "all", **params}).context["page"])

    assert titles(owner=teammate.pk) == ["Teammate's"]
    assert titles(team=teammate.teams.get().pk) == ["Mine", "Teammate's"]
    assert titles(owner=outsider.pk) == ["Mine", "Teammate's"]
    assert titles(team=outsider.teams.get().pk) == ["Mine", "Teammate's"]
    assert titles(stage=pipeline.stages.order_by("position").first().pk) == ["Mine", "Teammate's"]


def test_export_escapes_formulas_and_respects_access(owner_client, owner, outsider, pipeline):
    DealFactory(owner=owner, pipeline=pipeline, title='=HYPERLINK("http://evil")')
    DealFactory(owner=owner, pipeline=pipeline, title="@SUM(A1)")
    DealFactory(owner=outsider, pipeline=pipeline, title="Hidden deal")
    response = owner_client.get(reverse("deals:export"))
    body = b"".join(response.streaming_content).decode()
    assert "'=HYPERLINK" in body
    assert "'@SUM(A1)" in body
    assert "Hidden deal" not in body


# --- query counts ----------------------------------------------------------------------------


@pytest.fixture
def fifty_deals(owner, teammate, pipeline):
    from deals.tests.factories import CompanyFactory

    company = CompanyFactory(owner=owner)
    open_stages = [stage(pipeline, name) for name in ("Lead", "Qualified", "Proposal", "Negotiation")]
    for i in range(50):
        DealFactory(
            owner=owner if i % 2 else teammate,
            pipeline=pipeline,
            stage=open_stages[i % 4],
            company=company if i % 3 else None,
            currency="EUR" if i % 5 == 0 else "USD",
        )
    ExchangeRate.objects.create(currency="EUR", date=dt.date(2020, 1, 1), rate=Decimal("1.1"))


def test_the_list_makes_a_constant_number_of_queries(
    owner_client, pipeline, fifty_deals, django_assert_max_num_queries
):
    with django_assert_max_num_queries(9):
        response = owner_client.get(reverse("deals:list"))
    assert len(response.context["page"]) == 50
    # Each row names its stage and pipeline (taken from the filter form's lists, not joined).
    html = response.content.decode()
    assert html.count(">Qualified</span>") == 13 and html.count(">Negotiation</span>") == 12
    assert html.count(f'<span class="small text-secondary">{pipeline.name}</span>') == 50


def test_the_list_reads_the_stages_once_for_its_filter_and_its_bulk_move(owner_client, pipeline, fifty_deals):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as queries:
        response = owner_client.get(reverse("deals:list"))
    stage_reads = [q["sql"] for q in queries.captured_queries if 'FROM "deals_stage"' in q["sql"]]
    assert len(stage_reads) == 1, stage_reads
    html = response.content.decode()
    # The bulk bar's "Move to stage" offers every stage but the lost ones, from the same read.
    move_options = [s for s in pipeline.stages.all() if f'value="{s.pk}">{pipeline.name} › {s.name}<' in html]
    assert {s.name for s in move_options} == {s.name for s in pipeline.stages.all() if not s.is_lost}


def test_the_board_makes_a_constant_number_of_queries(
    owner_client, pipeline, fifty_deals, django_assert_max_num_queries
):
    with django_assert_max_num_queries(9):
        response = owner_client.get(reverse("deals:board", args=[pipeline.pk]))
    assert sum(len(c.cards) for c in response.context["columns"]) == 50


def test_the_deal_page_makes_a_constant_number_of_queries(owner_client, deal, pipeline, django_assert_max_num_queries):
    for name in ("Qualified", "Proposal", "Negotiation", "Proposal"):
        owner_client.post(reverse("deals:move", args=[deal.pk]), {"stage": stage(pipeline, name).pk})
    people = [ContactFactory(owner=deal.owner, first_name=f"Person{i}", last_name="Buyer") for i in range(3)]
    deal.contacts.add(*people)
    for i in range(3):
        product = Product.objects.create(name=f"Widget {i}", sku=f"W-{i}", price=Decimal("10"))
        LineItem.objects.create(deal=deal, product=product, quantity=i + 1, unit_price=Decimal("12.50"))
    # Counted warm: a first view fills what a process and Redis keep for every deal page (the
    # deal content type, the stages' median days, the timeline's event types and sources), so
    # the count does not depend on which tests ran before (cold: up to 13 in a fresh process
    # with an empty Redis). The line items and contacts come with the deal; the quotes card
    # (deals.quotes) and the files (contacts.attachments) read their own.
    owner_client.get(reverse("deals:detail", args=[deal.pk]))
    with django_assert_max_num_queries(9):
        response = owner_client.get(reverse("deals:detail", args=[deal.pk]))
    html = response.content.decode()
    assert all(f"Widget {i}" in html and f"W-{i}" in html for i in range(3))
    assert all(f"Person{i} Buyer" in html for i in range(3))
    assert response.context["line_items_total"] == Decimal("75.00")  # (1 + 2 + 3) × 12.50


def test_board_columns_load_more_cards_with_a_keyset_cursor(owner_client, owner, pipeline):
    for _i in range(25):
        DealFactory(owner=owner, pipeline=pipeline)
    response = owner_client.get(reverse("deals:board", args=[pipeline.pk]))
    lead = response.context["columns"][0]
    assert len(lead.cards) == 20
    assert lead.next_cursor
    more = owner_client.get(
        reverse("deals:board-column", args=[pipeline.pk, lead.stage.pk]), {"after": lead.next_cursor}, **HTMX
    )
    assert len(more.context["cards"]) == 5
    assert not {d.pk for d in more.context["cards"]} & {d.pk for d in lead.cards}
    assert more.context["next_cursor"] == ""
    assert (
        owner_client.get(
            reverse("deals:board-column", args=[pipeline.pk, lead.stage.pk]), {"after": "garbage"}
        ).status_code
        == 200
    )


def test_choosing_a_company_offers_its_visible_contacts(owner_client, owner, outsider, company):
    ContactFactory(owner=owner, company=company, first_name="Ada", last_name="Lovelace")
    ContactFactory(owner=outsider, company=company, first_name="Hidden", last_name="Person")
    body = owner_client.get(reverse("deals:contact-options"), {"company": company.pk}, **HTMX).content.decode()
    assert "Ada Lovelace" in body
    assert "Hidden" not in body
    assert owner_client.get(reverse("deals:contact-options"), {"company": ""}).content.decode().strip() == ""
    assert owner_client.get(reverse("deals:contact-options"), {"company": "x"}).status_code == 400


def test_a_new_deal_starts_in_the_base_currency(owner_client, pipeline):
    ExchangeRate.objects.create(currency="EUR", date=dt.date(2020, 1, 1), rate=Decimal("1.1"))
    form = owner_client.get(reverse("deals:create")).context["form"]
    assert form["currency"].value() == "USD"
    assert form["stage"].value() == stage(pipeline, "Lead").pk


def test_reopening_from_the_deal_page_offers_the_stage_it_was_closed_from(owner_client, deal, pipeline):
    owner_client.post(reverse("deals:move", args=[deal.pk]), {"stage": stage(pipeline, "Negotiation").pk})
    owner_client.post(reverse("deals:move", args=[deal.pk]), {"stage": stage(pipeline, "Won").pk})
    form = owner_client.get(reverse("deals:move", args=[deal.pk])).context["form"]
    assert form.initial["stage"] == stage(pipeline, "Negotiation").pk


@pytest.mark.parametrize(
    ("who", "sees"), [("owner", True), ("teammate", True), ("manager", True), ("admin", True), ("outsider", False)]
)
def test_board_export_and_columns_follow_the_access_rules(request, deal, pipeline, who, sees):
    client = request.getfixturevalue(f"{who}_client")
    board = client.get(reverse("deals:board", args=[pipeline.pk])).content.decode()
    export = b"".join(client.get(reverse("deals:export")).streaming_content).decode()
    column = client.get(reverse("deals:board-column", args=[pipeline.pk, deal.stage_id])).content.decode()
    assert ("Acme rollout" in board, "Acme rollout" in export, "Acme rollout" in column) == (sees, sees, sees)


def test_the_board_filters_by_owner_and_team(manager_client, owner, teammate, outsider, pipeline, north):
    DealFactory(owner=owner, pipeline=pipeline, title="Olga's deal")
    DealFactory(owner=teammate, pipeline=pipeline, title="Tom's deal")
    url = reverse("deals:board", args=[pipeline.pk])
    by_owner = manager_client.get(url, {"owner": owner.pk}).context["columns"][0]
    assert [d.title for d in by_owner.cards] == ["Olga's deal"]
    assert by_owner.total.count == 1
    by_team = manager_client.get(url, {"team": north.pk}).context["columns"][0]
    assert {d.title for d in by_team.cards} == {"Olga's deal", "Tom's deal"}
    # An unknown owner is ignored rather than passed on.
    assert manager_client.get(url, {"owner": "nobody"}).status_code == 200


def test_xlsx_export_escapes_formulas_and_respects_access(owner_client, owner, outsider, pipeline):
    import io

    from openpyxl import load_workbook

    DealFactory(owner=owner, pipeline=pipeline, title="-2+3", amount=Decimal("1500.50"))
    DealFactory(owner=outsider, pipeline=pipeline, title="Hidden deal")
    response = owner_client.get(reverse("deals:export-xlsx"))
    sheet = load_workbook(io.BytesIO(b"".join(response.streaming_content))).active
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][0] == "Title"
    # A string cell: shown as typed, never run as a formula, so no apostrophe is needed.
    assert [(r[0], r[6]) for r in rows[1:]] == [("-2+3", 1500.5)]
    assert sheet["A2"].data_type == "s"


def test_a_managers_board_and_deal_page_make_a_constant_number_of_queries(
    manager_client, pipeline, fifty_deals, django_assert_max_num_queries
):
    with django_assert_max_num_queries(9):
        response = manager_client.get(reverse("deals:board", args=[pipeline.pk]))
    assert sum(len(c.cards) for c in response.context["columns"]) == 50
    deal = Deal.objects.filter(pipeline=pipeline).order_by("pk").first()
    with django_assert_max_num_queries(12):  # +1 quotes card, +1 files (as above)
        response = manager_client.get(reverse("deals:detail", args=[deal.pk]))
    assert response.status_code == 200


def test_a_required_fields_star_is_hidden_from_screen_readers(owner_client):
    html = owner_client.get(reverse("deals:create")).content.decode()
    assert '<span class="asteriskField" aria-hidden="true">*</span>' in html
    assert '<span class="asteriskField">*</span>' not in html
    assert re.search(r'<input type="text" name="title"[^>]* required', html)


def test_the_contacts_field_is_a_searchable_checkbox_list(owner_client):
    html = owner_client.get(reverse("deals:create")).content.decode()
    assert 'data-multi-picker=""' in html and 'data-filter-label="Filter contacts"' in html
    assert "js/multi-picker" in html
