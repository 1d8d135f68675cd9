"""GET /api/v1/companies/{id}/profitability/: the figures of the hand-computed example in
reports/tests/test_profitability.py, with record access (an outsider gets 404)."""

from integrations.tests.conftest import token_client
from reports.tests.test_profitability import (  # noqa: F401 - the example's fixtures
    acquisition_source,
    cost_source,
    profit_built,
    profit_data,
)


def test_the_api_gives_the_figures_of_a_company_it_may_see(profit_built, owner, teammate, outsider):  # noqa: F811
    c = profit_built["companies"]["C"]
    url = f"/api/v1/companies/{c.pk}/profitability/"
    body = token_client(owner).get(url).json()
    assert body["company"] == c.pk and body["computed_at"]
    twelve, all_time = body["periods"]
    assert (twelve["period"], twelve["currency"], twelve["gross_margin"], twelve["service_cost"]) == (
        "12m",
        "USD",
        "8000.00",
        "866.67",
    )
    assert (twelve["acquisition_cost"], twelve["profit"], twelve["group"]) == (
        "9000.00",
        "-1866.67",
        "unprofitable_large",
    )
    assert all_time["period"] == "all"
    assert token_client(teammate).get(url).status_code == 200  # a teammate reads the record
    assert token_client(outsider).get(url).status_code == 404
