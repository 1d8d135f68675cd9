"""Which generated pairs does the contact matcher get wrong, and why?

Reads the records a ``bench.dedupe_quality --keep`` run left in the database (the generated
truth is in ``external_id``: ``dq-<entity>-<n>``), scores every true pair and every blocked
pair with the newest estimated parameters, and prints the missed true pairs and the listed
false pairs of a culture with each record's values and the per-field weights.

    .venv/bin/python -m bench.dedupe_quality --originals 1000 --keep
    .venv/bin/python -m bench.dedupe_diagnose --culture zh --limit 40

A development aid: nothing in the product imports it.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections import Counter
from itertools import combinations


def _entity(external_id: str) -> int:
    return int(external_id[3:].split("-", 1)[0])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--culture", default="zh", choices=["en", "ru", "zh", "all"])
    parser.add_argument("--limit", type=int, default=30)
    parser.add_argument("--false", action="store_true", help="show listed false pairs instead of missed ones")
    parser.add_argument(
        "--only", choices=["blocked", "unblocked"], default=None, help="show only pairs blocking found (or missed)"
    )
    parser.add_argument("--threshold", type=float, default=None, help="instead of MATCH_PROBABILITY")
    args = parser.parse_args(argv)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "crm.settings")
    import django

    django.setup()
    from contacts import duplicates, linkage
    from contacts.models import Contact

    country = {"en": "US", "ru": "RU", "zh": "CN"}
    qs = Contact.objects.filter(external_id__startswith="dq-", archived_at__isnull=True)
    if args.culture != "all":
        qs = qs.filter(country=country[args.culture])
    rows = {row["id"]: row for row in qs.values(*duplicates.CONTACT_VALUES, "external_id")}
    people = {pk: linkage.person(row) for pk, row in rows.items()}
    by_entity: dict[int, list[int]] = {}
    for pk, row in rows.items():
        by_entity.setdefault(_entity(row["external_id"]), []).append(pk)
    truth = {tuple(sorted(p)) for ids in by_entity.values() for p in combinations(ids, 2)}
    params = duplicates.current_parameters()
    blocked = {p for p in duplicates.blocking_pairs("contact") if p[0] in rows and p[1] in rows}
    full_names = Counter(linkage.full_name_key(p) for p in people.values())

    def show(a: int, b: int) -> None:
        pa, pb = people[a], people[b]
        match = linkage.score(pa, pb, params, full_names=full_names)
        print(f"p={match.probability:.3f} w={match.weight:.1f} blocked={(a, b) in blocked}")
        for pk in (a, b):
            r = rows[pk]
            print(
                f"   {r['first_name']!s:>12} | {r['last_name']!s:<12} | {r['birth_date']} | {r['email']} | "
                f"{r['phone']} | {r['street']} / {r['city']} / {r['postcode']} | co={r['company_id']}"
            )
        print("   " + "; ".join(linkage.reason_label(x) for x in match.reasons))

    shown = 0
    pairs = sorted((blocked - truth) if args.false else truth)
    reasons: Counter = Counter()
    threshold = linkage.MATCH_PROBABILITY if args.threshold is None else args.threshold
    for a, b in pairs:
        match = linkage.score(people[a], people[b], params, full_names=full_names)
        wrong = (
            match.probability >= threshold if args.false else (match.probability < threshold or (a, b) not in blocked)
        )
        if not wrong:
            continue
        if (a, b) in blocked:
            reasons["scored low"] += 1
        else:
            # A blocking miss only costs recall when the pair would have been listed.
            listed = match.probability >= threshold
            reasons["not blocked, would be listed" if listed else "not blocked, scores low too"] += 1
        if shown < args.limit and (args.only is None or ((a, b) in blocked) == (args.only == "blocked")):
            show(a, b)
            shown += 1
    print(dict(reasons), "of", len(pairs))
    return 0


if __name__ == "__main__":
    sys.exit(main())
