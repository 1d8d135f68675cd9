"""CPU per request of the pages whose rows are written by template tags, measured in-process.

The list, timeline and My day rows (``contacts``' ``contact_lists``, ``deals``' ``deal_rows``,
``activities``' ``activity_rows`` and timeline, ``service``' ``case_rows``, ``campaigns``'
``campaign_rows``) are most of those pages' server time. This renders each page ``--runs``
times through ``django.test.Client`` as a signed-in user, with DEBUG off (cached template
loaders, as ``bench/run.py``'s gunicorn runs), and prints the median CPU time
(``time.process_time``, the bench's CPU column: this process only, so the database's own
work is left out) and the median wall time per page, in milliseconds.

Run it against a database with the demo data (``make demo``), in the environment the rest of
the project uses::

    DATABASE_URL=... .venv/bin/python -m bench.row_cpu [--runs 40] [--user admin] [--my-day-user alice]

It only reads (a session row is written for the sign-in).
"""

from __future__ import annotations

import argparse
import os
import secrets
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _setup() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "crm.settings")
    os.environ.setdefault("DEBUG", "0")
    os.environ.setdefault("SECRET_KEY", secrets.token_urlsafe(50))
    os.environ.setdefault("ALLOWED_HOSTS", "localhost")
    os.environ.setdefault("SECURE_COOKIES", "0")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.core.management import call_command

    call_command("collectstatic", interactive=False, verbosity=0)  # DEBUG off reads the manifest


def _pages(user) -> list[tuple[str, str]]:
    """(name, URL) of each page, about the records of ``user``'s that have the most rows."""
    from django.db.models import Count
    from django.urls import reverse

    from campaigns.models import Campaign
    from contacts.models import Company
    from deals.models import Pipeline

    company = Company.objects.annotate(n=Count("timeline")).order_by("-n", "pk").first()
    campaign = Campaign.objects.annotate(n=Count("members")).order_by("-n", "pk").first()
    pipeline = Pipeline.objects.order_by("pk").first()
    pages = [
        ("company list", reverse("contacts:company-list")),
        ("contact list", reverse("contacts:contact-list")),
        ("deal list", reverse("deals:list")),
        ("deal board", reverse("deals:board", args=[pipeline.pk]) if pipeline else ""),
        ("activity list", reverse("activities:list")),
        ("timeline (company)", reverse("activities:timeline", args=["company", company.pk]) if company else ""),
        ("company page", reverse("contacts:company-detail", args=[company.pk]) if company else ""),
        ("case list", reverse("service:list")),
        ("campaign list", reverse("campaigns:list")),
        ("campaign page", reverse("campaigns:detail", args=[campaign.pk]) if campaign else ""),
    ]
    return [(name, url) for name, url in pages if url]


def _measure(client, url: str, runs: int) -> tuple[float, float, int]:
    response = client.get(url, HTTP_HOST="localhost")  # warm: templates compiled, caches filled
    if response.status_code != 200:
        raise SystemExit(f"{url}: HTTP {response.status_code}")
    cpu, wall = [], []
    for _ in range(runs):
        c0, w0 = time.process_time(), time.perf_counter()
        response = client.get(url, HTTP_HOST="localhost")
        cpu.append(time.process_time() - c0)
        wall.append(time.perf_counter() - w0)
    return statistics.median(cpu) * 1000, statistics.median(wall) * 1000, len(response.content)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=40)
    parser.add_argument("--user", default="admin")
    parser.add_argument("--my-day-user", default="alice", help="My day of a rep, who has activities due")
    args = parser.parse_args()
    _setup()
    from django.test import Client
    from django.urls import reverse

    from crm.models import User

    user = User.objects.get(username=args.user)
    client = Client()
    client.force_login(user)
    rows = [(f"{name} ({args.user})", url) for name, url in _pages(user)]
    rep = Client()
    rep.force_login(User.objects.get(username=args.my_day_user))
    print(f"{'page':<32} {'CPU ms':>8} {'wall ms':>8} {'bytes':>8}   (median of {args.runs})")
    for name, url in rows:
        cpu, wall, size = _measure(client, url, args.runs)
        print(f"{name:<32} {cpu:8.1f} {wall:8.1f} {size:8d}")
    cpu, wall, size = _measure(rep, reverse("activities:my-day"), args.runs)
    print(f"{f'My day ({args.my_day_user})':<32} {cpu:8.1f} {wall:8.1f} {size:8d}")


if __name__ == "__main__":
    main()
