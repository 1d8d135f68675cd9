"""What ``make bench`` measures, and the budget of each measurement (issue #10, "Budgets").

Add a page here when it lands: a name, how to build its URL from the ``Subjects`` picked for
each signed-in persona, and its budget. A URL name that does not reverse yet is reported as
"not built yet" (a failure only with ``bench/run.py --require-all``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlencode

from django.urls import reverse

from bench import pools


@dataclass(frozen=True)
class Subjects:
    """The records one persona's pages are about, chosen from the dataset by ``run.py``:
    the biggest company it may see, a contact of it, the deal with the longest history, its
    newest active case and its biggest campaign."""

    company_id: int
    contact_id: int
    deal_id: int
    pipeline_id: int
    common_term: str
    rare_term: str
    case_id: int = 0
    campaign_id: int = 0


@dataclass(frozen=True)
class Budget:
    p50_ms: float
    p95_ms: float | None = None
    max_queries: int = 10


@dataclass(frozen=True)
class Page:
    name: str
    route: str  # URL name; while it does not reverse, the page is "not built yet"
    budget: Budget
    args: Callable[[Subjects], tuple] = lambda s: ()
    query: Callable[[Subjects], dict[str, str]] = lambda s: {}

    def url(self, subjects: Subjects) -> str:
        url = reverse(self.route, args=self.args(subjects))
        query = self.query(subjects)
        return f"{url}?{urlencode(query)}" if query else url


LIST = Budget(p50_ms=30, p95_ms=60)
DETAIL = Budget(p50_ms=50)
REPORT = Budget(p50_ms=50)
BUILDER = Budget(p50_ms=300)  # issue #19: a builder report over 300k deals by two dimensions

PAGES: list[Page] = [
    Page("home", "home", DETAIL),
    Page("global search, common term", "search", Budget(p50_ms=60), query=lambda s: {"q": s.common_term}),
    Page(
        "global search, common first name",
        "search",
        Budget(p50_ms=60),
        query=lambda s: {"q": pools.COMMON_FIRST_NAME.lower()},
    ),
    Page("contact list", "contacts:contact-list", LIST),
    Page(
        "contact search, common term", "contacts:contact-list", Budget(p50_ms=60), query=lambda s: {"q": s.common_term}
    ),
    Page("contact search, rare term", "contacts:contact-list", Budget(p50_ms=30), query=lambda s: {"q": s.rare_term}),
    # Russian and Chinese customers (bench.pools): a surname typed without ё finds Королёв too;
    # one Chinese character goes through the CJK gram index, not the trigram ones.
    Page(
        "contact search, Cyrillic term",
        "contacts:contact-list",
        Budget(p50_ms=60),
        query=lambda s: {"q": pools.CYRILLIC_TERM},
    ),
    Page(
        "contact search, Chinese term",
        "contacts:contact-list",
        Budget(p50_ms=60),
        query=lambda s: {"q": pools.CJK_TERM},
    ),
    Page("global search, Chinese term", "search", Budget(p50_ms=60), query=lambda s: {"q": pools.CJK_COMPANY_TERM}),
    Page("company list", "contacts:company-list", LIST),
    Page("company 360", "contacts:company-detail", DETAIL, args=lambda s: (s.company_id,)),
    Page("contact 360", "contacts:contact-detail", DETAIL, args=lambda s: (s.contact_id,)),
    Page("deal list", "deals:list", LIST),
    Page("kanban", "deals:board", Budget(p50_ms=50), args=lambda s: (s.pipeline_id,)),
    Page("deal page", "deals:detail", Budget(p50_ms=40), args=lambda s: (s.deal_id,)),
    Page("deal timeline", "activities:timeline", Budget(p50_ms=40), args=lambda s: ("deal", s.deal_id)),
    Page("company timeline", "activities:timeline", DETAIL, args=lambda s: ("company", s.company_id)),
    Page("my day", "activities:my-day", DETAIL),
    Page("activity list", "activities:list", LIST),
    Page("report: funnel", "reports:funnel", REPORT),
    Page("report: forecast", "reports:forecast", REPORT),
    Page("report: forecast accuracy", "reports:accuracy", REPORT),
    Page("report: win/loss", "reports:winloss", REPORT),
    Page("report: velocity", "reports:velocity", REPORT),
    Page("report: activity", "reports:activity", REPORT),
    Page("report: customer value", "reports:customer-value", REPORT),
    Page("report: top customers", "reports:top-customers", REPORT),
    Page("report: retention cohorts", "reports:cohorts", REPORT),
    Page("report: dormant customers", "reports:dormant", REPORT),
    Page("report: cross-sell", "reports:cross-sell", REPORT),
    Page("case list", "service:list", LIST),
    Page("case page", "service:detail", Budget(p50_ms=40), args=lambda s: (s.case_id,)),
    Page("report: service", "reports:service", REPORT),
    Page("campaign list", "campaigns:list", LIST),
    Page("campaign page", "campaigns:detail", DETAIL, args=lambda s: (s.campaign_id,)),
    Page("report: profitability", "reports:profitability", REPORT),
    # The report builder over every deal's rollup row: won revenue by source and quarter (the
    # issue's example, answered from the closed-deal cells) and count by owner and status.
    Page(
        "report builder: won by source × quarter",
        "reports:builder",
        Budget(p50_ms=300),
        query=lambda s: {
            "dataset": "deals",
            "dim1": "source",
            "dim2": "quarter",
            "measure": "sum_amount_base",
            "status": "won",
            "date": "closed",
        },
    ),
    Page(
        "report builder: deals by owner × status",
        "reports:builder",
        Budget(p50_ms=300),
        query=lambda s: {"dataset": "deals", "dim1": "owner", "dim2": "status", "measure": "count"},
    ),
    # Stage and a choice custom field are on the rollup row too (no join of every deal); the
    # custom field is "Deal type" of the ``custom_fields`` dataset step.
    Page(
        "report builder: deals by stage × month",
        "reports:builder",
        BUILDER,
        query=lambda s: {
            "dataset": "deals",
            "dim1": "stage",
            "dim2": "month",
            "measure": "win_rate",
            "date": "created",
        },
    ),
    Page(
        "report builder: deals by a choice custom field × quarter",
        "reports:builder",
        BUILDER,
        query=lambda s: {
            "dataset": "deals",
            "dim1": "cf_deal_type",
            "dim2": "quarter",
            "measure": "sum_amount_base",
            "date": "created",
        },
    ),
    # Custom field filters (issue #19: "a list filtered by a custom field ≤ 60 ms p50"): a
    # choice (the GIN index, ``custom @> {"region": "APAC"}``) and a month of dates (the
    # field's btree expression index), on the ``custom_fields`` step's values.
    Page(
        "company list, filtered by a custom field (Region)",
        "contacts:company-list",
        Budget(p50_ms=60),
        query=lambda s: {"cf_region": "APAC"},
    ),
    Page(
        "company list, filtered by a custom date range",
        "contacts:company-list",
        Budget(p50_ms=60),
        query=lambda s: _renewal_month(),
    ),
]


def _renewal_month() -> dict[str, str]:
    # The renewal dates run two years from the dataset's day: the month starting in 30 days.
    start = dt.date.today() + dt.timedelta(days=30)
    end = start + dt.timedelta(days=30)
    return {"cf_contract_renewal_date_from": start.isoformat(), "cf_contract_renewal_date_to": end.isoformat()}


# Throughput of one page under concurrent load (wrk, loopback only, bounded in time).
THROUGHPUT_PAGE = "contact list"
THROUGHPUT_MIN_RPS = 100.0

# Management commands timed once per run, before the pages are measured (report pages read
# the rollups these build), when they exist: (label, argv after manage.py).
COMMANDS: list[tuple[str, list[str]]] = [
    ("rollup rebuild", ["rebuild_rollups"]),
    ("customer value recompute", ["recompute_customer_value"]),
]


@dataclass(frozen=True)
class ImportBench:
    """Import throughput: ``rows`` generated contacts in a CSV, imported by ``command``."""

    command: str
    rows: int
    argv: Callable[[str, str], list[str]]  # (CSV path, owner username) → argv after manage.py
    min_rows_per_second: float = 2000  # issue #4, measured including the command's start-up


IMPORT = ImportBench("import_contacts", 100_000, lambda path, owner: ["import_contacts", path, "--owner", owner])


# The REST API (issue #16): the contact list through a token, per persona, with the pages'
# list budget; and inbound business events posted in batches.
API_PAGES: list[Page] = [Page("API contact list", "api:contacts", LIST, query=lambda s: {"limit": "50"})]


@dataclass(frozen=True)
class EventIngestBench:
    batches: int = 10
    batch_size: int = 500
    unmatched_every: int = 10  # every tenth names an unknown domain and waits on the Unmatched page
    min_events_per_second: float = 1000  # issue #16, measured by the client, HTTP included


EVENT_INGEST = EventIngestBench()
