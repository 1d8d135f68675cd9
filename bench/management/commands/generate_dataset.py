"""``manage.py generate_dataset``: fill the database with the benchmark's generated dataset.

The command lives in ``reports`` only because that app is the top of the import graph (it may
read every other app's models); the generator itself is ``bench/dataset.py``.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import time

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection

from bench import dataset


class Command(BaseCommand):
    help = (
        "Generate a large, realistic, reproducible dataset with PostgreSQL COPY (users in teams, companies, "
        "contacts, deals with two years of stage history, line items, exchange rates, activities, reminders, "
        "timeline events, service cases, campaigns with their members)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--scale", choices=sorted(dataset.PRESETS), default="small", help="size preset")
        parser.add_argument("--companies", type=int, help="override the preset's number of companies")
        parser.add_argument("--contacts", type=int, help="override the preset's number of contacts")
        parser.add_argument("--deals", type=int, help="override the preset's number of deals")
        parser.add_argument("--activities", type=int, help="override the preset's number of activities")
        parser.add_argument("--cases", type=int, help="override the preset's number of service cases")
        parser.add_argument("--campaigns", type=int, help="override the preset's number of campaigns")
        parser.add_argument(
            "--campaign-members", type=int, help="override the preset's number of campaign members (in total)"
        )
        parser.add_argument(
            "--only",
            choices=[step.name for step in dataset.STEPS if step.name in dataset.STANDALONE_STEPS],
            help="(re)generate only this step's tables on a loaded dataset (e.g. cases at another scale)",
        )
        parser.add_argument("--seed", type=int, default=42, help="same seed and --as-of date give the same rows")
        parser.add_argument(
            "--as-of",
            type=dt.date.fromisoformat,
            help="the generated 'today' (YYYY-MM-DD); histories run up to it. Default: today (UTC)",
        )
        parser.add_argument(
            "--password",
            default=dataset.DEFAULT_PASSWORD,
            help=f"password of the generated users (default {dataset.DEFAULT_PASSWORD})",
        )
        parser.add_argument("--reset", action="store_true", help="empty the generated tables first")

    def handle(self, *args, **options) -> None:
        if not settings.DEBUG:
            raise CommandError(
                "generate_dataset empties tables and creates users with a published password; "
                "it only runs with DEBUG on, against a database made for it (the Makefile uses crm_bench)."
            )
        sizes = dataset.sizes_for(
            options["scale"],
            companies=options["companies"],
            contacts=options["contacts"],
            deals=options["deals"],
            activities=options["activities"],
            cases=options["cases"],
            campaigns=options["campaigns"],
            campaign_members=options["campaign_members"],
        )
        if min(dataclasses.astuple(sizes)) < 0:
            raise CommandError("Sizes cannot be negative.")
        try:
            generator = dataset.Generator(
                sizes=sizes,
                seed=options["seed"],
                as_of=options["as_of"],
                password=options["password"],
                log=self.stdout.write,
            )
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        name = connection.settings_dict["NAME"]
        if options["only"]:
            if "bench" not in name and not name.startswith("test_"):
                raise CommandError(f"--only replaces tables of {name}; it only runs on a benchmark or test database.")
            started = time.perf_counter()
            generator.run_only(options["only"])
            self.stdout.write(self.style.SUCCESS(f"Done in {time.perf_counter() - started:.1f} s."))
            return
        if options["reset"]:
            # --reset empties the users table too: only in a database made for benchmarks or tests.
            if "bench" not in name and not name.startswith("test_"):
                raise CommandError(
                    f"--reset would empty users, companies, contacts and deals of {name}; it only runs on a "
                    "database whose name contains 'bench' (DATABASE_URL=postgres://…/crm_bench) or a test database."
                )
            dataset.truncate()
        elif not dataset.database_is_empty():
            raise CommandError(f"Database {name} already has data; pass --reset to empty the generated tables first.")
        self.stdout.write(
            f"Generating into {name}: {sizes.companies:,} companies, "
            f"{sizes.contacts:,} contacts, {sizes.deals:,} deals, {sizes.activities:,} activities "
            f"(seed {options['seed']}, as of {generator.as_of})"
        )
        started = time.perf_counter()
        generator.run()
        self.stdout.write(
            self.style.SUCCESS(
                f"Done in {time.perf_counter() - started:.1f} s. Sign in as {dataset.REP_USERNAME}, "
                f"{dataset.MANAGER_USERNAME} or {dataset.ADMIN_USERNAME} with the password {options['password']}."
            )
        )
