"""Report builder timings on the benchmark database (issue #19): a report grouping every deal
by two dimensions, measured in process — the grouped query alone (``run_report``) and the
whole builder page through Django's test client (server time, no network).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/crm_bench_builder \\
        .venv/bin/python bench/builder_bench.py [--runs 15]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "crm.settings")

import django

django.setup()

from django.conf import settings  # noqa: E402
from django.db import connection  # noqa: E402
from django.http import QueryDict  # noqa: E402
from django.test import Client  # noqa: E402

from crm.models import Role, User  # noqa: E402
from reports import builder  # noqa: E402
from reports.models import DealFact  # noqa: E402
from reports.selectors import rollup_status  # noqa: E402

SPECS = {
    "source × quarter (closed), sum of amount": (
        "dataset=deals&dim1=source&dim2=quarter&measure=sum_amount_base&date=closed&status=won"
        "&date_from=2025-01-01&date_to=2026-12-31"
    ),
    "source × quarter, facts (days cut a month)": (
        "dataset=deals&dim1=source&dim2=quarter&measure=sum_amount_base&date=closed&status=won"
        "&date_from=2025-01-15&date_to=2026-12-31"
    ),
    "owner × status, count": "dataset=deals&dim1=owner&dim2=status&measure=count&date=created",
    "stage × month (created), win rate": "dataset=deals&dim1=stage&dim2=month&measure=win_rate&date=created",
    "team × source, sum of amount": "dataset=deals&dim1=team&dim2=source&measure=sum_amount_base&date=created",
    # Every other dimension the deals dataset offers, each with a date period.
    "pipeline × week (created), count": "dataset=deals&dim1=pipeline&dim2=week&measure=count&date=created",
    "segment × year (expected close), count": "dataset=deals&dim1=segment&dim2=year&measure=count&date=expected",
    "country × quarter (created), sum of amount": (
        "dataset=deals&dim1=country&dim2=quarter&measure=sum_amount_base&date=created"
    ),
    "tag × stage, count": "dataset=deals&dim1=tag&dim2=stage&measure=count&date=created",
    "deal type (custom) × quarter, sum of amount": (
        "dataset=deals&dim1=cf_deal_type&dim2=quarter&measure=sum_amount_base&date=created"
    ),
}


def _p50(samples: list[float]) -> float:
    return statistics.median(samples) * 1000


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--match", default="", help="only the reports whose label contains this")
    parser.add_argument("--explain", default="", help="EXPLAIN ANALYZE the first report matching this, as admin")
    args = parser.parse_args()
    settings.ALLOWED_HOSTS = ["*"]
    generation = rollup_status().generation_id
    facts = DealFact.objects.filter(generation_id=generation).count()
    admin = User.objects.filter(is_superuser=True).first() or User.objects.filter(role=Role.ADMIN).first()
    manager = User.objects.filter(role=Role.MANAGER, managed_teams__isnull=False).first()
    print(f"deal facts in the current generation: {facts:,}; runs per figure: {args.runs}")
    print(f"{'report':<45} {'who':<8} {'rows':>6} {'query p50':>10} {'page p50':>9}")
    for label, query in SPECS.items():
        if args.match not in label:
            continue
        for who, user in (("admin", admin), ("manager", manager)):
            if user is None:
                continue
            params = QueryDict(query)
            spec = builder.parse_spec(params)
            runs = []
            for _ in range(args.runs):
                scope = builder.scope_for(user, params)
                started = time.perf_counter()
                result = builder.run_report(spec, scope)
                runs.append(time.perf_counter() - started)
            client = Client()
            client.force_login(user)
            pages = []
            for _ in range(args.runs):
                started = time.perf_counter()
                response = client.get(f"/reports/builder/?{query}&chart=stacked", HTTP_HOST="127.0.0.1")
                pages.append(time.perf_counter() - started)
                if response.status_code != 200:
                    raise SystemExit(f"{query}: HTTP {response.status_code}")
            note = f"  TOO BROAD: {result.too_broad}" if result.too_broad else ""
            print(f"{label:<45} {who:<8} {len(result.rows):>6} {_p50(runs):>8.0f}ms {_p50(pages):>7.0f}ms{note}")
    label = next((label for label in SPECS if args.explain and args.explain in label), "")
    label = label or "source × quarter (closed), sum of amount"
    with connection.cursor() as cursor:
        spec = builder.parse_spec(QueryDict(SPECS[label]))
        scope = builder.scope_for(admin, QueryDict())
        date = builder.DATASETS["deals"].date_map()[spec.date]
        qs = builder._filtered(builder.DATASETS["deals"], spec, scope, date)
        dims = [builder._dimension(builder.DATASETS["deals"], key, date) for key in spec.dims]
        grouped = qs.annotate(
            g0=builder._as_expression(dims[0].expression), g1=builder._as_expression(dims[1].expression)
        )
        grouped = grouped.values("g0", "g1").annotate(
            value=builder.DATASETS["deals"].measure_map()[spec.measure].aggregate()
        )
        sql, sql_params = grouped.query.sql_with_params()
        cursor.execute(f"EXPLAIN (ANALYZE, BUFFERS) {sql}", sql_params)
        print(f"\nEXPLAIN ANALYZE, {label} as admin (facts):")
        for (line,) in cursor.fetchall():
            print("  " + line)


if __name__ == "__main__":
    main()
