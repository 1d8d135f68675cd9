import os
from types import SimpleNamespace

import pytest

from bench import dataset, explain, run
from bench.pages import PAGES, Budget, Page, Subjects
from contacts.models import Company
from crm.models import User
from deals.models import Deal, Pipeline

SUBJECTS = Subjects(company_id=1, contact_id=2, deal_id=3, pipeline_id=1, common_term="smith", rare_term="quixleigh")
ARGS = SimpleNamespace(warmup=2, requests=10, page_seconds=60)


class FakeSession:
    """Answers every request with the given server times and query count."""

    def __init__(self, durations: list[float], queries: int = 4, status: int = 200) -> None:
        self.durations = iter(durations)
        self.queries = queries
        self.status = status
        self.paths: list[str] = []

    def request(self, method: str, path: str) -> SimpleNamespace:
        self.paths.append(path)
        headers = {
            "Server-Timing": f"app;dur={next(self.durations)}, db;dur=1.5, cpu;dur=7.3",
            "X-Query-Count": str(self.queries),
        }
        return SimpleNamespace(status=self.status, headers=headers)


def test_percentile_is_the_nearest_rank():
    values = [float(v) for v in range(1, 21)]

    assert run.percentile(values, 0.95) == 19.0
    assert run.percentile(values, 0.5) == 10.0
    assert run.percentile([7.0], 0.95) == 7.0


def test_every_page_has_a_unique_name_and_at_most_ten_queries():
    names = [page.name for page in PAGES]

    assert len(names) == len(set(names))
    assert all(page.budget.max_queries <= 10 for page in PAGES)


def test_a_page_within_budget_passes_and_warm_up_requests_are_not_counted(db):
    page = Page("search", "search", Budget(p50_ms=30, p95_ms=60), query=lambda s: {"q": s.rare_term})
    session = FakeSession([500.0, 500.0] + [10.0] * 9 + [50.0])

    result = run.measure_page(session, page, SUBJECTS, "rep", ARGS)

    assert result.status == "ok"
    assert (result.p50_ms, result.p95_ms, result.queries) == (10.0, 50.0, 4)
    assert (result.db_p50_ms, result.cpu_p50_ms) == (1.5, 7.3)
    assert session.paths == ["/search/?q=quixleigh"] * 12


@pytest.mark.parametrize(
    ("durations", "queries", "problem"),
    [
        ([31.0] * 12, 4, "p50 31.0 ms > 30 ms"),
        ([10.0] * 10 + [61.0] * 2, 4, "p95 61.0 ms > 60 ms"),
        ([10.0] * 12, 11, "11 queries > 10"),
    ],
)
def test_a_page_over_any_budget_fails(db, durations, queries, problem):
    page = Page("home", "home", Budget(p50_ms=30, p95_ms=60))

    result = run.measure_page(FakeSession(durations, queries), page, SUBJECTS, "rep", ARGS)

    assert result.status == "over budget"
    assert result.problems == [problem]


def test_a_page_that_answers_an_error_fails(db):
    result = run.measure_page(FakeSession([5.0] * 12, status=404), PAGES[0], SUBJECTS, "admin", ARGS)

    assert result.status == "error"
    assert result.problems == ["HTTP 404"]


def test_a_slow_page_stops_after_the_time_limit_with_enough_samples(db):
    page = Page("home", "home", Budget(p50_ms=30))
    session = FakeSession([900.0] * 12)
    args = SimpleNamespace(warmup=2, requests=10, page_seconds=0)

    result = run.measure_page(session, page, SUBJECTS, "rep", args)

    assert result.samples == run.MIN_SAMPLES
    assert len(session.paths) == 2 + run.MIN_SAMPLES
    assert result.status == "over budget"


def test_a_page_whose_url_name_does_not_exist_is_not_built_yet(db):
    page = Page("future", "reports:does-not-exist", Budget(p50_ms=50))
    session = FakeSession([])

    result = run.measure_page(session, page, SUBJECTS, "rep", ARGS)

    assert result.status == "not built yet"
    assert result.problems == ["no URL named reports:does-not-exist"]
    assert session.paths == []


def test_the_markdown_table_lists_each_measurement_and_the_verdict():
    ok = run.PageResult("home", "rep", url="/", p50_ms=12.0, p95_ms=20.0, db_p50_ms=2.0, cpu_p50_ms=9.5, queries=4,
                        samples=30, budget_p50_ms=50, budget_queries=10)  # fmt: skip
    missing = run.PageResult("kanban", "—", status="not built yet", problems=["no URL named deals:board"])
    report = {
        "measured_at": "2026-11-23 15:00 UTC",
        "commit": "abc1234",
        "cpus": 2,
        "workers": 2,
        "requests": 30,
        "warmup": 5,
        "dataset": {"contacts": 1000},
        "pages": [vars(ok), vars(missing)],
        "throughput": {"status": "not built yet", "problem": "no contact list page"},
        "commands": [{"name": "rollup rebuild", "status": "ok", "seconds": 1.25}],
        "import": {"name": "contact import", "status": "ok", "rows": 5000, "seconds": 2.0, "rows_per_second": 2500.0},
        "passed": True,
        "host": {"python_ms": 31.5, "postgres_ms": 60.2},
    }

    table = run.markdown(report)

    assert "| home | rep | 12 | 20 | 2 | 9.5 | 4 | 30 | 50 / — / 10 | ok |" in table
    assert "| kanban | — |" in table and "not built yet: no URL named deals:board" in table
    assert "| rollup rebuild | 1.25 s |" in table
    assert "5,000 rows in 2.0 s = 2,500.0 rows/s" in table
    assert "All measured budgets met. Not built yet: 1 of 2 pages." in table
    assert "a Python loop 31.5 ms, a PostgreSQL query 60.2 ms" in table


def test_the_host_reference_times_both_workloads(db):
    host = run.host_reference(repeat=2)

    assert set(host) == {"python_ms", "postgres_ms"}
    assert host["python_ms"] > 0 and host["postgres_ms"] > 0


def test_subjects_are_the_heaviest_records_the_persona_may_see(generate):
    generate()
    rep = User.objects.get(username=dataset.REP_USERNAME)

    subjects = run.pick_subjects(dataset.REP_USERNAME)

    company = Company.objects.visible_to(rep).get(pk=subjects.company_id)
    biggest = max(Company.objects.visible_to(rep), key=lambda c: c.contacts.count())
    assert company.contacts.count() == biggest.contacts.count()
    assert Deal.objects.visible_to(rep).filter(pk=subjects.deal_id).exists()
    assert Pipeline.objects.get(pk=subjects.pipeline_id).is_default
    assert subjects.rare_term == "quixleigh"


def test_explain_prints_the_queries_of_a_page_and_their_plans(generate, capsys):
    generate()
    environment = dict(os.environ)

    assert explain.main(["global search, common term", "--persona", "manager", "--top", "1"]) == 0
    # The served settings are the script's (``__main__``): this process's other subprocesses
    # inherit its environment (a DEBUG=0 here broke the replica and PgBouncer drills).
    assert dict(os.environ) == environment

    out = capsys.readouterr().out
    assert "# global search, common term as manager: GET /search/?q=smith → HTTP 200" in out
    assert "Execution Time" in out
