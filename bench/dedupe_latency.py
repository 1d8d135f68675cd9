"""How long the contact form's duplicate check and the on-save update take.

Reads the records a ``bench.dedupe_quality --keep`` run left in the database, takes random
ones, changes them as a user would type a duplicate (a typo in the last name, another
e-mail), and times ``contacts.duplicates.contact_duplicates`` (the create form's warning) and
``contact_candidates_refresh`` (the update after a save) as the records' owner, with the
parameters of the last refresh already loaded (as in a running web process).

    .venv/bin/python -m bench.dedupe_quality --originals 10000 --keep
    .venv/bin/python -m bench.dedupe_latency --samples 300

A development aid: nothing in the product imports it.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import time


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--samples", type=int, default=300)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "crm.settings")
    import django

    django.setup()
    from django.db import connection, reset_queries
    from django.test.utils import CaptureQueriesContext

    from contacts import duplicates
    from contacts.models import Contact
    from crm.models import User

    user = User.objects.get(username="bench-dedupe")
    ids = list(Contact.objects.filter(external_id__startswith="dq-").values_list("id", flat=True))
    rng = random.Random(args.seed)
    sample = Contact.objects.select_related("company").in_bulk(rng.sample(ids, min(args.samples, len(ids))))
    duplicates.current_parameters()
    warn, save, queries = [], [], []
    for contact in sample.values():
        last = contact.last_name
        if len(last) > 3:
            i = rng.randrange(1, len(last) - 1)
            last = last[:i] + last[i + 1] + last[i] + last[i + 2 :]
        reset_queries()
        with CaptureQueriesContext(connection) as captured:
            started = time.perf_counter()
            duplicates.contact_duplicates(
                user,
                first_name=contact.first_name,
                last_name=last,
                emails=[f"x{contact.email}" if contact.email else "", ""],
                phones=[contact.phone, ""],
                company=contact.company,
                street=contact.street,
                city=contact.city,
                postcode=contact.postcode,
                birth_date=contact.birth_date,
            )
            warn.append((time.perf_counter() - started) * 1000)
        queries.append(len(captured.captured_queries))
        started = time.perf_counter()
        duplicates.contact_candidates_refresh(contact_id=contact.pk)
        save.append((time.perf_counter() - started) * 1000)
    for name, values in (("form warning", warn), ("on-save update", save)):
        print(
            f"{name}: n={len(values)} p50 {statistics.median(values):.1f} ms, "
            f"p95 {_percentile(values, 0.95):.1f} ms, max {max(values):.1f} ms"
        )
    print(f"form warning queries: max {max(queries)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
