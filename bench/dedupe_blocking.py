"""How blocking scales: pairs per record and blocking recall on generated people, per key kind.

Generates the people of ``bench.dedupe_quality`` (same seed, same corruption model), computes
each record's blocking keys with ``contacts.linkage.block_keys`` and pairs the records as the
nightly refresh does (``contacts.duplicates.blocked_pairs_of``, the same rule in Python), without
a database. Prints, per size: records, blocked pairs, pairs per record, blocking recall, and for
each key kind (the prefix before ``:``) the pairs it proposes, the true pairs it finds and the
true pairs no other kind finds; then the blocking recall of each culture, and with ``--missed N``
the first N true pairs of ``--culture`` that no key brings together.

    .venv/bin/python -m bench.dedupe_blocking --originals 10000 100000
    .venv/bin/python -m bench.dedupe_blocking --originals 100000 --culture zh --missed 30

A development aid: nothing in the product imports it.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections import Counter
from itertools import combinations


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--originals", type=int, nargs="+", default=[10000])
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--culture", default="zh", choices=["en", "ru", "zh"], help="whose missed pairs --missed shows")
    parser.add_argument("--missed", type=int, default=0, help="show this many true pairs blocking misses")
    args = parser.parse_args(argv)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "crm.settings")
    import django

    django.setup()
    from bench.dedupe_quality import generate
    from contacts import duplicates, linkage

    for originals in args.originals:
        started = time.monotonic()
        people, _companies = generate(originals=originals, seed=args.seed)
        generated = time.monotonic() - started
        records = []
        for person in people:
            record = {
                "first_name": person.first_name,
                "last_name": person.last_name or "-",
                "email": person.email,
                "phone": person.phone,
                "street": person.street,
                "city": person.city,
                "postcode": person.postcode,
                "birth_date": person.birth_date,
                "company_id": None if person.company is None else person.company + 1,
            }
            records.append(linkage.person(record))
        keys = [linkage.block_keys(one) for one in records]
        by_entity: dict[int, list[int]] = {}
        for i, person in enumerate(people):
            by_entity.setdefault(person.entity, []).append(i)
        truth = {pair for ids in by_entity.values() for pair in combinations(sorted(ids), 2)}
        pairs_by_kind = duplicates.blocked_pairs_of(records, keys)
        every: set[tuple[int, int]] = set().union(*pairs_by_kind.values())
        found = every & truth
        finders: Counter = Counter()
        for pairs in pairs_by_kind.values():
            for pair in pairs & truth:
                finders[pair] += 1
        print(
            f"\n{originals:,} originals, {len(people):,} records (generated in {generated:.0f} s): "
            f"{len(every):,} pairs, {len(every) / len(people):.1f} per record, blocking recall "
            f"{len(found) / len(truth):.4f} ({len(truth) - len(found):,} of {len(truth):,} true pairs missed)"
        )
        print("| kind | pairs | per record | true pairs found | found by this kind only |")
        print("|---|---:|---:|---:|---:|")
        for kind, pairs in sorted(pairs_by_kind.items(), key=lambda item: -len(item[1])):
            mine = pairs & truth
            only = sum(1 for pair in mine if finders[pair] == 1)
            print(f"| {kind} | {len(pairs):,} | {len(pairs) / len(people):.2f} | {len(mine):,} | {only:,} |")
        print("\n| culture | true pairs | found | blocking recall | missed |")
        print("|---|---:|---:|---:|---:|")
        for culture in sorted({one.culture for one in people}):
            wanted = {pair for pair in truth if people[pair[0]].culture == culture}
            mine = wanted & found
            print(
                f"| {culture} | {len(wanted):,} | {len(mine):,} | {len(mine) / len(wanted):.4f} | "
                f"{len(wanted) - len(mine):,} |"
            )
        missed = sorted(pair for pair in truth - found if people[pair[0]].culture == args.culture)
        for a, b in missed[: args.missed]:
            print()
            for index in (a, b):
                one = people[index]
                print(
                    f"   {one.first_name!s:>12} | {one.last_name!s:<12} | {one.birth_date} | {one.email} | "
                    f"{one.phone} | {one.street} / {one.city} / {one.postcode} | co={one.company}"
                )
                print(f"      {' '.join(keys[index])}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
