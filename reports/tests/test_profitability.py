"""Customer profitability against a hand-computed example (docs/customer-value.md, "Profitability").

"Today" is 2026-06-30 (``NOW``); the last 12 months are closes after 2025-06-30. Base currency
USD; EUR is 1.10 USD from 2020-01-01 and 1.20 from 2026-06-20. Hourly costs: rep 40, manager 60.
The pipeline's default margin is 40 %. All companies are ``owner``'s (a rep).

    A  won 2026-05-31, 10,000.00 USD: 100 × P1 at 100.00; P1 costs 50.00 from 2020, 60.00 from
       2026-05-01 → snapshot 60.00 → cost 6,000.00, margin 4,000.00.
       3 done calls (type default 15 min) + 1 meeting logged at 90 min by the rep: 135 min × 40 / 60 = 90.00.
       Acquisition 250.00.                          profit 4,000 − 90 − 250 = 3,660.00
    B  won 2026-05-31, 5,000.00 EUR: 10 × P2 at 500.00 EUR; P2 costs 330.00 USD → in EUR at
       2026-05-31 (1.10): 300.00 → cost 3,000.00 EUR, margin 2,000.00 EUR (40.0 %).
       In USD at the close date's rate 1.10: revenue 5,500.00, cost 3,300.00, margin 2,200.00.
       A case of 120 min assigned to the manager: 120.00; another system's cost of 100.00 EUR on
       2026-06-10 (rate 1.10): 110.00.               profit 2,200 − 230 = 1,970.00
    C  won 2026-05-31, 20,000.00 USD, no line items → estimated cost 20,000 × 60 % = 12,000.00,
       margin 8,000.00. An unassigned case of 1,200 min (rep rate): 800.00; 10 done emails
       (default 10 min): 100 min × 40 / 60 = 66.666… → 66.67. Acquisition 9,000.00.
                                                    profit 8,000 − 866.67 − 9,000 = −1,866.67
    D  won 2025-02-15 (500 days ago), 8,000.00 USD, no line items → estimated cost 4,800.00,
       margin 3,200.00 (all time only). A call logged at 30 min by the manager: 30.00.
                                  profit last 12 months −30.00; all time 3,200 − 30 = 3,170.00
    E  won 2026-05-31, 1,000.00 USD: 1 × P3 at 1,000.00, P3 costs 100.00 → margin 900.00. profit 900.00

Last 12 months, ranked by profit: A 1, B 2, E 3, D 4, C 5. By revenue: C 20,000, A 10,000,
B 5,500, E 1,000, D 0. Large = top 20 % by revenue = ⌈5 × 0.2⌉ = 1 customer (C); small = the
bottom half, revenue rank > ⌊5 × 0.5⌋ = 2 (B, E, D). C loses money → unprofitable large; B
(1,970 ÷ 5,500 = 35.8 %) and E (90 %) earn ≥ 30 % → profitable small; D earns nothing.
Totals: profit 3,660 + 1,970 + 900 − 30 − 1,866.67 = 4,633.33.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.contrib.humanize.templatetags.humanize import intcomma
from django.db.models import Value
from django.template.defaultfilters import floatformat
from django.urls import reverse
from django.utils import timezone

from activities.models import Activity, ActivityType
from activities.services import activity_types_ensure_builtin
from contacts.models import Contact
from contacts.tests.factories import CompanyFactory, ContactFactory
from crm.models import Role, RoleCost
from deals.models import DealStatus, ExchangeRate, LineItem, Product, ProductCost
from deals.services import line_item_add
from reports import selectors, value
from reports.models import CustomerProfit, CustomerValue, ProfitGroup
from reports.scope import report_scope_for_user
from reports.services import customer_value_recompute, customer_value_refresh_companies, rollups_rebuild
from reports.tests.factories import deal_with_history, sales_pipeline
from service.models import Case

NOW = dt.datetime(2026, 6, 30, 12, 0, tzinfo=dt.UTC)
SOLD = dt.datetime(2026, 5, 31, 10, 0, tzinfo=dt.UTC)
LONG_AGO = dt.datetime(2025, 2, 15, 10, 0, tzinfo=dt.UTC)
D = Decimal


def _won(stages, *, owner, company, at, amount, currency="USD"):
    return deal_with_history(
        owner=owner,
        company=company,
        amount=D(amount),
        currency=currency,
        moves=[(stages["Lead"], at - dt.timedelta(days=20)), (stages["Won"], at)],
    )


def _done(activity_type, *, owner, company, at, minutes=None, contact=None):
    return Activity.objects.create(
        type=activity_type,
        subject=activity_type.key,
        owner=owner,
        company=None if contact else company,
        contact=contact,
        done_at=at,
        time_spent_minutes=minutes,
    )


@pytest.fixture
def acquisition_source():
    calls = []

    def source(*, start, end, company_ids):
        calls.append((start, end, company_ids))
        costs = {ACQUIRED["A"]: D("250.00"), ACQUIRED["C"]: D("9000.00")}
        return {pk: cost for pk, cost in costs.items() if company_ids is None or pk in company_ids}

    value.register_acquisition_cost_source("test-campaigns", source)
    yield calls
    value.unregister_acquisition_cost_source("test-campaigns")


ACQUIRED: dict[str, int] = {}


@pytest.fixture
def cost_source():
    """Another system's costs, as a registered revenue source with effect "cost"."""

    def rows():
        return (
            Contact.objects.filter(email="ap@beta.example")
            .annotate(
                occurred=Value(dt.datetime(2026, 6, 10, 9, 0, tzinfo=dt.UTC)),
                amount=Value(D("100.00")),
                cur=Value("EUR"),
                effect=Value("cost"),
            )
            .values_list("company_id", "occurred", "amount", "cur", "effect")
        )

    value.register_revenue_source("test-costs", rows)
    yield
    value._REVENUE_SOURCES.pop("test-costs", None)


@pytest.fixture
def profit_data(owner, manager, settings, acquisition_source, cost_source):
    activity_types_ensure_builtin()
    ActivityType.objects.filter(key="call").update(default_minutes=15)
    ActivityType.objects.filter(key="email").update(default_minutes=10)
    ActivityType.objects.filter(key="meeting").update(default_minutes=60)
    types = {t.key: t for t in ActivityType.objects.all()}
    settings.RFM_WINDOW_MONTHS = 24
    RoleCost.objects.create(role=Role.REP, hourly_cost=D("40.00"))
    RoleCost.objects.create(role=Role.MANAGER, hourly_cost=D("60.00"))
    ExchangeRate.objects.create(currency="EUR", date=dt.date(2020, 1, 1), rate=D("1.10"))
    ExchangeRate.objects.create(currency="EUR", date=dt.date(2026, 6, 20), rate=D("1.20"))
    pipeline, stages = sales_pipeline()
    pipeline.default_margin_percent = D("40")
    pipeline.save()
    p1 = Product.objects.create(name="P1", sku="PR-1", price=D("100"))
    p2 = Product.objects.create(name="P2", sku="PR-2", price=D("500"), currency="EUR")
    p3 = Product.objects.create(name="P3", sku="PR-3", price=D("1000"))
    ProductCost.objects.create(product=p1, valid_from=dt.date(2020, 1, 1), cost=D("50.00"))
    ProductCost.objects.create(product=p1, valid_from=dt.date(2026, 5, 1), cost=D("60.00"))
    ProductCost.objects.create(product=p2, valid_from=dt.date(2020, 1, 1), cost=D("330.00"), currency="USD")
    ProductCost.objects.create(product=p3, valid_from=dt.date(2020, 1, 1), cost=D("100.00"))
    companies = {name: CompanyFactory(name=f"Profit {name}", owner=owner, industry="") for name in "ABCDE"}
    ACQUIRED.clear()
    ACQUIRED.update({name: company.pk for name, company in companies.items()})

    a = _won(stages, owner=owner, company=companies["A"], at=SOLD, amount="10000")
    line_item_add(deal=a, actor=owner, product=p1, quantity=D("100"), unit_price=D("100"))
    for day in (1, 2, 3):
        _done(types["call"], owner=owner, company=companies["A"], at=NOW - dt.timedelta(days=day))
    _done(types["meeting"], owner=owner, company=companies["A"], at=NOW - dt.timedelta(days=5), minutes=90)

    b = _won(stages, owner=owner, company=companies["B"], at=SOLD, amount="5000", currency="EUR")
    line_item_add(deal=b, actor=owner, product=p2, quantity=D("10"), unit_price=D("500"))
    ContactFactory(company=companies["B"], owner=owner, email="ap@beta.example")
    Case.objects.create(
        subject="B", company=companies["B"], team=_team(manager),
        assignee=manager, time_spent_minutes=120, created_at=NOW - dt.timedelta(days=3),
    )  # fmt: skip

    _won(stages, owner=owner, company=companies["C"], at=SOLD, amount="20000")
    Case.objects.create(
        subject="C", company=companies["C"], team=_team(manager), assignee=None, time_spent_minutes=1200,
        created_at=NOW - dt.timedelta(days=4),
    )  # fmt: skip
    contact_c = ContactFactory(company=companies["C"], owner=owner)
    for day in range(10):
        _done(types["email"], owner=owner, company=companies["C"], contact=contact_c, at=NOW - dt.timedelta(days=day))

    _won(stages, owner=owner, company=companies["D"], at=LONG_AGO, amount="8000")
    _done(types["call"], owner=manager, company=companies["D"], at=NOW - dt.timedelta(days=9), minutes=30)

    e = _won(stages, owner=owner, company=companies["E"], at=SOLD, amount="1000")
    line_item_add(deal=e, actor=owner, product=p3, quantity=D("1"), unit_price=D("1000"))
    return {"companies": companies, "deals": {"A": a, "B": b, "E": e}, "stages": stages, "products": [p1, p2, p3]}


def _team(manager):
    from crm.models import Team

    team, _created = Team.objects.get_or_create(name="Profit desk")
    team.managers.add(manager)
    return team


@pytest.fixture
def profit_built(profit_data):
    rollups_rebuild()
    customer_value_recompute(now=NOW)
    return profit_data


def _profit(data, name: str, period: str = "12m") -> CustomerProfit:
    return CustomerProfit.objects.get(company=data["companies"][name], period=period)


def test_line_items_keep_the_cost_of_the_day_the_deal_was_sold(profit_data):
    a_item = LineItem.objects.get(deal=profit_data["deals"]["A"])
    b_item = LineItem.objects.get(deal=profit_data["deals"]["B"])
    assert a_item.unit_cost == D("60.00")  # the cost from 2026-05-01, not the 2020 one
    assert b_item.unit_cost == D("300.00")  # 330 USD at 1.10 USD per EUR on 2026-05-31


def test_a_deal_won_later_takes_the_cost_prices_of_its_close_day(owner):
    from deals.services import deal_mark_won

    pipeline, stages = sales_pipeline()
    product = Product.objects.create(name="Later", sku="PR-L", price=D("10"))
    ProductCost.objects.create(product=product, valid_from=dt.date(2020, 1, 1), cost=D("4.00"))
    deal = deal_with_history(owner=owner, moves=[(stages["Lead"], NOW - dt.timedelta(days=400))], amount=100)
    line_item_add(deal=deal, actor=owner, product=product, quantity=D("2"), unit_price=D("10"))
    ProductCost.objects.create(product=product, valid_from=timezone.localdate(), cost=D("7.00"))
    deal_mark_won(deal=deal, actor=owner)
    item = LineItem.objects.get(deal=deal)
    assert item.unit_cost == D("7.00")
    assert item.total_cost == D("14.00")


def test_gross_margin_cost_to_serve_and_acquisition_to_the_cent(profit_built, acquisition_source):
    got = {
        name: (
            row.revenue,
            row.cost_of_sales,
            row.estimated_cost,
            row.gross_margin,
            row.service_minutes,
            row.activity_cost,
            row.case_cost,
            row.external_cost,
            row.service_cost,
            row.acquisition_cost,
            row.profit,
        )
        for name in "ABCDE"
        for row in [_profit(profit_built, name)]
    }
    assert got == {
        "A": (D("10000.00"), D("6000.00"), D("0"), D("4000.00"), 135, D("90.00"), D("0"), D("0"), D("90.00"),
              D("250.00"), D("3660.00")),
        "B": (D("5500.00"), D("3300.00"), D("0"), D("2200.00"), 120, D("0"), D("120.00"), D("110.00"),
              D("230.00"), D("0"), D("1970.00")),
        "C": (D("20000.00"), D("12000.00"), D("12000.00"), D("8000.00"), 1300, D("66.67"), D("800.00"), D("0"),
              D("866.67"), D("9000.00"), D("-1866.67")),
        "D": (D("0"), D("0"), D("0"), D("0"), 30, D("30.00"), D("0"), D("0"), D("30.00"), D("0"), D("-30.00")),
        "E": (D("1000.00"), D("100.00"), D("0"), D("900.00"), 0, D("0"), D("0"), D("0"), D("0"), D("0"),
              D("900.00")),
    }  # fmt: skip
    d_all = _profit(profit_built, "D", "all")
    assert (d_all.revenue, d_all.cost_of_sales, d_all.gross_margin, d_all.profit) == (
        D("8000.00"),
        D("4800.00"),
        D("3200.00"),
        D("3170.00"),
    )
    # The hook was asked once per period, for every customer, up to today.
    assert acquisition_source == [
        (dt.date(2025, 6, 30), dt.date(2026, 6, 30), None),
        (None, dt.date(2026, 6, 30), None),
    ]


def test_ranks_and_groups(profit_built):
    ranks = {name: (_profit(profit_built, name).profit_rank, _profit(profit_built, name).group) for name in "ABCDE"}
    assert ranks == {
        "A": (1, ""),
        "B": (2, ProfitGroup.PROFITABLE_SMALL),
        "E": (3, ProfitGroup.PROFITABLE_SMALL),
        "D": (4, ""),
        "C": (5, ProfitGroup.UNPROFITABLE_LARGE),
    }


def test_report_totals_rankings_and_whale_curve(profit_built, owner):
    scope = report_scope_for_user(owner, {})
    report = selectors.profitability_report(scope, period="12m")
    assert report.totals.profit == D("4633.33")
    assert (report.totals.customers, report.totals.unprofitable, report.totals.unprofitable_loss) == (
        5,
        2,
        D("1896.67"),
    )
    assert [row.company.name for row in report.by_profit] == [
        "Profit A",
        "Profit B",
        "Profit E",
        "Profit D",
        "Profit C",
    ]
    assert [row.company.name for row in report.by_revenue][:2] == ["Profit C", "Profit A"]
    assert [row.company.name for row in report.unprofitable_large] == ["Profit C"]
    assert [row.company.name for row in report.profitable_small] == ["Profit B", "Profit E"]
    # Cumulative: 3660, 5630, 6530 (the peak: 6530 ÷ 4633.33 = 140.9 %), 6500, 4633.33 (100 %).
    assert report.peak_percent == 140.9
    assert report.peak_customers_percent == 60.0
    assert [round(y, 1) for _x, y in report.curve] == [79.0, 121.5, 140.9, 140.3, 100.0]


def test_rfm_monetary_can_use_the_margin(profit_data, settings):
    rollups_rebuild()
    customer_value_recompute(now=NOW)
    assert CustomerValue.objects.get(company=profit_data["companies"]["C"]).monetary == D("20000.00")
    settings.RFM_MONETARY = "margin"
    customer_value_recompute(now=NOW)
    assert CustomerValue.objects.get(company=profit_data["companies"]["C"]).monetary == D("8000.00")
    assert CustomerValue.objects.get(company=profit_data["companies"]["B"]).monetary == D("2200.00")


def test_the_refresh_of_one_customer_adds_new_work_and_keeps_the_ranks(profit_built, owner, acquisition_source):
    company = profit_built["companies"]["E"]
    call = ActivityType.objects.get(key="call")
    _done(call, owner=owner, company=company, at=NOW - dt.timedelta(hours=2), minutes=300)  # 300 × 40 / 60 = 200
    customer_value_refresh_companies(company_ids=[company.pk], now=NOW)
    row = _profit(profit_built, "E")
    assert (row.service_cost, row.profit, row.profit_rank, row.group) == (
        D("200.00"),
        D("700.00"),
        3,
        ProfitGroup.PROFITABLE_SMALL,
    )
    assert acquisition_source[-1] == (None, dt.date(2026, 6, 30), [company.pk])


def test_the_deal_page_shows_margin_in_deal_and_base_currency(profit_built, owner_client, owner):
    deal = profit_built["deals"]["B"]
    response = owner_client.get(reverse("deals:detail", args=[deal.pk]))
    assert response.status_code == 200
    margin = response.context["margin"]
    assert (margin.revenue, margin.cost, margin.margin, margin.percent, margin.estimated) == (
        D("5000.00"),
        D("3000.00"),
        D("2000.00"),
        D("40.0"),
        False,
    )
    assert (margin.revenue_base, margin.cost_base, margin.margin_base) == (D("5500.00"), D("3300.00"), D("2200.00"))
    assert "Gross margin" in response.content.decode()


def test_a_deal_without_line_items_shows_an_estimated_margin(profit_built, owner_client):
    deal = profit_built["companies"]["C"].deals.get(status=DealStatus.WON)
    response = owner_client.get(reverse("deals:detail", args=[deal.pk]))
    margin = response.context["margin"]
    assert (margin.cost, margin.margin, margin.estimated) == (D("12000.00"), D("8000.00"), True)
    assert "estimated" in response.content.decode()


# The page, its exports, the company card and the API: access like the other reports.

PAGES = ["reports:profitability", "reports:profitability-csv", "reports:profitability-xlsx"]


@pytest.mark.parametrize("name", PAGES)
def test_the_owner_and_the_manager_see_the_customers_a_teammate_and_an_outsider_do_not(
    name, profit_built, owner, north, owner_client, teammate_client, outsider_client, manager_client
):
    assert owner_client.get(reverse(name)).status_code == 200
    assert manager_client.get(reverse(name), {"owner": owner.pk}).status_code == 200
    for client in (teammate_client, outsider_client):
        assert client.get(reverse(name)).status_code == 200  # their own (empty) numbers
        assert client.get(reverse(name), {"owner": owner.pk}).status_code == 404
        assert client.get(reverse(name), {"team": north.pk}).status_code == 404


def test_the_page_ranks_draws_the_whale_curve_and_suggests_actions(profit_built, owner_client, teammate_client):
    response = owner_client.get(reverse("reports:profitability"))
    html = response.content.decode()
    assert response.context["profits"].totals.profit == D("4633.33")
    assert 'role="img"' in html and 'id="whale-chart-title"' in html and 'id="whale-chart-desc"' in html
    assert "140.9" in html  # the top of the curve
    assert "Unprofitable large customers" in html and "Re-price" in html and "Grow them" in html
    assert "Profit C" in html and "-1,867" in html
    assert teammate_client.get(reverse("reports:profitability")).context["profits"].totals.customers == 0
    all_time = owner_client.get(reverse("reports:profitability"), {"period": "all"})
    assert all_time.context["profits"].totals.profit == D("7833.33")  # D's old deal counts: + 3,200
    assert owner_client.get(reverse("reports:profitability"), {"period": "5y"}).status_code == 400


def test_the_exports_list_every_customer_with_the_breakdown(profit_built, owner_client):
    body = owner_client.get(reverse("reports:profitability-csv")).getvalue().decode("utf-8-sig").replace("\r", "")
    lines = body.splitlines()
    assert lines[0].startswith("Rank by profit,Company,Owner,Revenue,Cost of sales")
    assert len(lines) == 6
    assert lines[5].startswith("5,Profit C,")
    assert ",20000.00,12000.00,12000.00,8000.00,40.0,21.7,66.67,800.00,0.00,866.67,9000.00,-1866.67,-9.3," in lines[5]
    xlsx = owner_client.get(reverse("reports:profitability-xlsx"))
    assert xlsx["Content-Type"].startswith("application/vnd.openxmlformats")
    from io import BytesIO

    from openpyxl import load_workbook

    sheet = load_workbook(BytesIO(b"".join(xlsx.streaming_content))).active
    assert [cell.value for cell in sheet[2]][:2] == [1, "Profit A"]


def test_the_profitability_page_issues_a_fixed_number_of_queries(
    profit_built, owner_client, manager_client, admin_client, django_assert_max_num_queries
):
    # The four ranked lists come from one UNION ALL of their ids and one read of those rows.
    for client in (owner_client, manager_client, admin_client):
        with django_assert_max_num_queries(10):
            assert client.get(reverse("reports:profitability")).status_code == 200


def test_the_company_card_shows_the_breakdown(profit_built, owner_client, outsider_client):
    c = profit_built["companies"]["C"]
    html = owner_client.get(c.get_absolute_url()).content.decode()
    assert "Unprofitable large customer" in html
    assert "-1,867 USD" in html and "12,000 estimated" in html and "9,000" in html
    for row in CustomerProfit.objects.filter(company=c):  # each period's cost to serve, broken down
        whole = lambda amount: intcomma(floatformat(amount, 0))  # noqa: E731
        assert (
            f"{floatformat(row.service_hours, 1)} h: activities {whole(row.activity_cost)}, "
            f"cases {whole(row.case_cost)}, other systems {whole(row.external_cost)}"
        ) in html
    assert outsider_client.get(c.get_absolute_url()).status_code == 404


def test_each_losing_customer_says_why_in_the_readers_language(profit_built, owner, owner_client):
    """The table's "Why" column (reports/profit_table.html, its texts translated once per
    table): the reason the numbers give, and ≈ beside a margin partly estimated."""
    from django.utils import translation

    # The full tables (with "Why") are the unprofitable large and the profitable small customers.
    losing = selectors.profitability_report(report_scope_for_user(owner, {}), period="12m").unprofitable_large
    assert [row.company.name for row in losing] == ["Profit C"]
    for language in ("en", "ru"):
        owner.language = language
        owner.save(update_fields=["language"])
        html = owner_client.get(reverse("reports:profitability")).content.decode()
        with translation.override(language):
            reasons = {
                "serve": translation.gettext("Serving them costs more than their margin."),
                "earn": translation.gettext("Not yet earned back what winning them cost."),
                "thin": translation.gettext("Thin margin."),
            }
            estimated = translation.gettext("Partly estimated from the pipeline default margin")
        if language == "ru":
            assert reasons["serve"] != "Serving them costs more than their margin."  # translated
        for row in losing:
            expected = "serve" if row.gross_margin < row.service_cost else "earn" if row.acquisition_cost else "thin"
            # The company's rows in every table on the page (the compact ones have no "Why").
            rows = [part.split("</tr>", 1)[0] for part in html.split(f">{row.company.name}</a>")[1:]]
            assert any(reasons[expected] in cells for cells in rows), (row.company.name, expected)
            assert not any(text in cells for cells in rows for key, text in reasons.items() if key != expected)
        assert f'title="{estimated}">≈</span>' in html  # C's deal has no line items
