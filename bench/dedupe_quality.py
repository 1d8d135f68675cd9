"""Precision and recall of duplicate detection on generated noisy person records.

Modelled on the FEBRL record-linkage benchmark generator (Christen, "Probabilistic data
generation for deduplication and data linkage"): original person records drawn from
frequency-weighted name lists, then duplicates of a share of them, each corrupted by a few
modifications — keyboard typos (insert, delete, substitute a neighbouring key, transpose),
OCR confusions (m/rn, cl/d …), phonetic spelling variants, swapped first and last name,
nicknames and initials, Cyrillic written in Latin letters, missing values, and e-mail and
phone format variants. FEBRL's address, date-of-birth and SSN fields have no counterpart on a
CRM contact, so the records carry what a contact has: names, e-mails, phones, company.

The records are loaded into the database (owned by a ``bench-dedupe`` user, ``external_id``
starting ``dq-``), the real candidate refresh runs over the whole contact table, and every
pair within one generated person is a true duplicate. Reported: precision, recall and F1 at
``DUPLICATE_SCORE``, blocking recall (true pairs that blocking proposes at all), and the
refresh time. The generated rows are deleted afterwards unless ``--keep``.

    .venv/bin/python -m bench.dedupe_quality --originals 5000 --seed 42 --write

Run it against a scratch database (``DATABASE_URL``): it adds and removes rows.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import time
from dataclasses import dataclass, replace
from itertools import combinations
from pathlib import Path
from typing import Any

PREFIX = "dq-"
SWEEP = (45, 50, 55, 60, 65, 70)
KEYBOARD = {
    "q": "wa", "w": "qes", "e": "wrd", "r": "etf", "t": "ryg", "y": "tuh", "u": "yij", "i": "uok", "o": "ipl",
    "p": "ol", "a": "qsz", "s": "adwx", "d": "sfec", "f": "dgrv", "g": "fhtb", "h": "gjyn", "j": "hkum",
    "k": "jlim", "l": "kop", "z": "asx", "x": "zsdc", "c": "xdfv", "v": "cfgb", "b": "vghn", "n": "bhjm",
    "m": "njk",
}  # fmt: skip
OCR = [("m", "rn"), ("rn", "m"), ("cl", "d"), ("d", "cl"), ("vv", "w"), ("w", "vv"), ("h", "b"), ("e", "c"),
       ("l", "i"), ("i", "l"), ("u", "v"), ("o", "e")]  # fmt: skip
PHONETIC = [("ph", "f"), ("f", "ph"), ("y", "i"), ("i", "y"), ("ck", "k"), ("k", "ck"), ("ei", "ie"),
            ("ie", "ei"), ("sch", "sh"), ("tz", "z"), ("th", "t"), ("ou", "u"), ("mm", "m"), ("nn", "n"),
            ("ll", "l"), ("ss", "s"), ("c", "k"), ("z", "s")]  # fmt: skip
NICKNAMES = {
    "William": ["Bill", "Will", "Billy"], "Robert": ["Bob", "Rob", "Bobby"], "Richard": ["Rick", "Dick"],
    "Margaret": ["Peggy", "Maggie", "Meg"], "Elizabeth": ["Liz", "Beth", "Betty"], "James": ["Jim", "Jimmy"],
    "John": ["Jack", "Johnny"], "Michael": ["Mike", "Mikey"], "Thomas": ["Tom", "Tommy"], "Joseph": ["Joe"],
    "Charles": ["Charlie", "Chuck"], "Edward": ["Ed", "Ted"], "Daniel": ["Dan", "Danny"], "Matthew": ["Matt"],
    "Christopher": ["Chris"], "Anthony": ["Tony"], "Andrew": ["Andy", "Drew"], "Jennifer": ["Jen", "Jenny"],
    "Patricia": ["Pat", "Patty"], "Susan": ["Sue", "Susie"], "Katherine": ["Kate", "Katie", "Kathy"],
    "Deborah": ["Debbie", "Deb"], "Rebecca": ["Becky"], "Victoria": ["Vicky"], "Nicholas": ["Nick"],
    "Timothy": ["Tim"], "Benjamin": ["Ben"], "Samuel": ["Sam"], "Steven": ["Steve"], "Stephen": ["Steve"],
    "Jonathan": ["Jon"], "Gregory": ["Greg"], "Kenneth": ["Ken"], "Ronald": ["Ron"], "Donald": ["Don"],
    "Alexander": ["Alex", "Sasha"], "Александр": ["Саша"], "Дмитрий": ["Дима"], "Михаил": ["Миша"],
    "Екатерина": ["Катя"], "Мария": ["Маша"], "Анастасия": ["Настя"], "Наталья": ["Наташа"],
    "Татьяна": ["Таня"], "Сергей": ["Серёжа"], "Владимир": ["Вова"], "Иван": ["Ваня"], "Johann": ["Hans"],
}  # fmt: skip
COUNTRIES = [  # (code, faker locale, calling code, national digits, weight)
    ("US", "en_US", "1", ("212", "312", "415", "617", "206", "303"), 10, 55),
    ("GB", "en_GB", "44", ("20", "161", "7700", "7911"), 10, 10),
    ("DE", "de_DE", "49", ("30", "89", "40", "151", "171"), 11, 15),
    ("RU", "ru_RU", "7", ("495", "812", "916", "903", "926"), 10, 20),
]
PERSONAL_DOMAINS = ["gmail.com", "outlook.com", "yahoo.com", "mail.ru", "gmx.de", "icloud.com"]


@dataclass(frozen=True)
class Person:
    entity: int
    first_name: str
    last_name: str
    email: str
    secondary_email: str
    phone: str
    mobile: str
    company: int | None
    country: str


def _weighted(rng: random.Random, names: tuple[str, ...], cum: tuple[float, ...] | None) -> str:
    if cum is None:
        return rng.choice(names)
    return rng.choices(names, cum_weights=cum)[0]


def _slug(text: str) -> str:
    from contacts.matching import name_norm

    return name_norm(text).replace(" ", "")


def _phone(rng: random.Random, country: tuple) -> str:
    _code, _locale, calling, prefixes, digits, _w = country
    prefix = rng.choice(prefixes)
    return f"+{calling}{prefix}{''.join(str(rng.randint(0, 9)) for _ in range(digits - len(prefix)))}"


# --- Corruptions (each returns the changed value, or the same value when it cannot apply) ---


def _typo(rng: random.Random, word: str) -> str:
    if len(word) < 3:
        return word
    i = rng.randrange(1, len(word))  # keep the first letter more often, like FEBRL's position bias
    if rng.random() < 0.15:
        i = 0
    op = rng.choice(["insert", "delete", "substitute", "transpose"])
    ch = word[i].lower()
    # A neighbouring key; for letters off the Latin keyboard (Cyrillic) a letter of the word.
    near = KEYBOARD.get(ch) or word.lower()
    if op == "insert":
        return word[:i] + rng.choice(near) + word[i:]
    if op == "delete":
        return word[:i] + word[i + 1 :]
    if op == "substitute":
        return word[:i] + rng.choice(near) + word[i + 1 :]
    i = min(i, len(word) - 2)
    return word[:i] + word[i + 1] + word[i] + word[i + 2 :]


def _swap_pattern(rng: random.Random, word: str, patterns: list[tuple[str, str]]) -> str:
    options = [(a, b) for a, b in patterns if a in word.lower()]
    if not options:
        return _typo(rng, word)
    a, b = rng.choice(options)
    low = word.lower()
    i = low.index(a)
    replaced = low[:i] + b + low[i + len(a) :]
    return replaced.capitalize() if word[:1].isupper() else replaced


def _translit(word: str) -> str:
    from contacts.matching import _TRANSLIT

    return word.lower().translate(_TRANSLIT).capitalize()


def _email_variant(rng: random.Random, email: str, person: Person) -> str:
    if not email:
        return email
    local, domain = email.split("@")
    choice = rng.random()
    if choice < 0.25:
        return email.upper() if rng.random() < 0.5 else email.capitalize()
    if choice < 0.45 and domain == "gmail.com":
        return f"{local.replace('.', '')}+crm@{domain}"
    if choice < 0.7:
        return f"{local}@{rng.choice(PERSONAL_DOMAINS)}"  # the same person's other mailbox
    return f"{_typo(rng, local)}@{domain}"


def _phone_variant(rng: random.Random, phone: str) -> str:
    if not phone:
        return phone
    digits = phone[1:]
    choice = rng.random()
    if phone.startswith("+7") and choice < 0.4:
        return f"8 ({digits[1:4]}) {digits[4:7]}-{digits[7:9]}-{digits[9:]}"
    if phone.startswith("+1") and choice < 0.5:
        return f"({digits[1:4]}) {digits[4:7]}-{digits[7:]}"
    if choice < 0.7:
        return f"+{digits[:2]} {digits[2:5]} {digits[5:]}"
    return "0" + digits[len(digits) - 10 :] if not phone.startswith("+1") else digits


def corrupt(rng: random.Random, person: Person, *, max_modifications: int = 3) -> Person:
    """One duplicate of ``person`` with 1…``max_modifications`` modifications (each one
    changes something: a modification that cannot apply is drawn again)."""
    dup = person
    for _n in range(rng.randint(1, max_modifications)):
        before = dup
        for _attempt in range(20):
            dup = _modify(rng, before)
            if dup != before:
                break
    while dup == person:  # two modifications that undid each other (a swap, swapped back)
        dup = _modify(rng, dup)
    return dup


def _modify(rng: random.Random, dup: Person) -> Person:
    op = rng.choices(
        [
            "typo_last", "typo_first", "ocr", "phonetic", "swap", "nickname", "initial", "translit",
            "no_email", "no_phone", "no_first", "no_company", "email_variant", "phone_variant",
            "other_company",
        ],
        [16, 12, 6, 8, 4, 6, 4, 3, 10, 10, 2, 6, 10, 10, 2],
    )[0]  # fmt: skip
    if op == "typo_last":
        dup = replace(dup, last_name=_typo(rng, dup.last_name))
    elif op == "typo_first":
        dup = replace(dup, first_name=_typo(rng, dup.first_name))
    elif op == "ocr":
        field = rng.choice(["first_name", "last_name"])
        dup = replace(dup, **{field: _swap_pattern(rng, getattr(dup, field), OCR)})
    elif op == "phonetic":
        field = rng.choice(["first_name", "last_name"])
        dup = replace(dup, **{field: _swap_pattern(rng, getattr(dup, field), PHONETIC)})
    elif op == "swap" and dup.first_name and dup.last_name:
        dup = replace(dup, first_name=dup.last_name, last_name=dup.first_name)
    elif op == "nickname" and dup.first_name in NICKNAMES:
        dup = replace(dup, first_name=rng.choice(NICKNAMES[dup.first_name]))
    elif op == "initial" and dup.first_name:
        dup = replace(dup, first_name=dup.first_name[0] + ".")
    elif op == "translit" and any("а" <= ch.lower() <= "я" for ch in dup.last_name):
        dup = replace(dup, first_name=_translit(dup.first_name), last_name=_translit(dup.last_name))
    elif op == "no_email":
        dup = replace(dup, email="", secondary_email="")
    elif op == "no_phone":
        dup = replace(dup, phone="", mobile="")
    elif op == "no_first" and dup.last_name:
        dup = replace(dup, first_name="")
    elif op == "no_company":
        dup = replace(dup, company=None)
    elif op == "email_variant":
        dup = replace(dup, email=_email_variant(rng, dup.email, dup))
    elif op == "phone_variant":
        dup = replace(dup, phone=_phone_variant(rng, dup.phone))
    elif op == "other_company" and dup.company is not None:
        dup = replace(dup, company=dup.company + 1)
    return dup


def generate(
    *,
    originals: int,
    seed: int,
    duplicate_share: float = 0.5,
    max_duplicates: int = 3,
    hard_negative_share: float = 0.03,
) -> tuple[list[Person], int]:
    """Originals plus corrupted duplicates (shuffled), and the number of companies they use."""
    from bench.pools import name_pool

    rng = random.Random(seed)
    companies = max(1, originals // 8)
    people: list[Person] = []
    for entity in range(originals):
        country = rng.choices(COUNTRIES, [c[5] for c in COUNTRIES])[0]
        pool = name_pool(country[1])
        first = _weighted(rng, pool.first_names, pool.first_cum_weights)
        last = _weighted(rng, pool.last_names, pool.last_cum_weights)
        company = rng.randrange(companies) if rng.random() < 0.7 else None
        style = rng.choice(["{f}.{l}", "{f}{l}", "{i}{l}", "{f}_{l}", "{l}.{f}", "{f}.{l}{n}"])
        local = style.format(f=_slug(first), l=_slug(last), i=_slug(first)[:1], n=rng.randint(1, 99))
        domain = f"company{company}.example" if company is not None and rng.random() < 0.7 else None
        email = f"{local}@{domain or rng.choice(PERSONAL_DOMAINS)}" if rng.random() < 0.85 else ""
        people.append(
            Person(
                entity=entity,
                first_name=first,
                last_name=last,
                email=email,
                secondary_email="",
                phone=_phone(rng, country) if rng.random() < 0.75 else "",
                mobile=_phone(rng, country) if rng.random() < 0.3 else "",
                company=company,
                country=country[0],
            )
        )
    originals_list = list(people)
    for person in originals_list:
        if rng.random() < duplicate_share:
            for _n in range(rng.randint(1, max_duplicates)):
                people.append(corrupt(rng, person))
    # Hard non-duplicates a CRM really holds, which FEBRL's independent records rarely produce:
    # relatives sharing a surname and a home phone, colleagues sharing a surname and a company,
    # and namesakes (the same common name, nothing else in common).
    next_entity = originals
    for person in originals_list:
        roll = rng.random()
        if roll >= 3 * hard_negative_share:
            continue
        country = next(c for c in COUNTRIES if c[0] == person.country)
        pool = name_pool(country[1])
        first = _weighted(rng, pool.first_names, pool.first_cum_weights)
        if first == person.first_name:
            continue
        if roll < hard_negative_share:  # a relative: same surname, same phone
            other = replace(person, entity=next_entity, first_name=first, email="", mobile="", company=None)
        elif roll < 2 * hard_negative_share:  # a colleague: same surname, same company
            local = f"{_slug(first)}.{_slug(person.last_name)}"
            other = replace(
                person,
                entity=next_entity,
                first_name=first,
                email=f"{local}@company{person.company}.example" if person.company is not None else "",
                phone=_phone(rng, country),
                mobile="",
            )
        else:  # a namesake: same name, nothing else
            other = replace(
                person,
                entity=next_entity,
                email=f"{_slug(person.first_name)}{rng.randint(100, 999)}@{rng.choice(PERSONAL_DOMAINS)}",
                phone=_phone(rng, country),
                mobile="",
                company=rng.randrange(companies) if rng.random() < 0.5 else None,
            )
        people.append(other)
        next_entity += 1
    rng.shuffle(people)
    return people, companies


# --- Database --------------------------------------------------------------------------------


def load(people: list[Person], companies: int) -> dict[int, int]:
    """Insert the records as the app stores them (phones through ``normalize_phone``, e-mails
    lower-cased); returns contact id → generated person."""
    from contacts.models import Company, Contact
    from contacts.normalize import normalize_email, normalize_phone
    from crm.models import User

    owner, _created = User.objects.get_or_create(username="bench-dedupe", defaults={"first_name": "Bench"})
    company_rows = Company.objects.bulk_create(
        [
            Company(name=f"Bench Company {i}", domain=f"company{i}.example", owner=owner, external_id=f"{PREFIX}c{i}")
            for i in range(companies + 1)
        ],
        batch_size=2000,
    )
    contacts = []
    for i, person in enumerate(people):
        phone = normalize_phone(person.phone, person.country)
        mobile = normalize_phone(person.mobile, person.country)
        contact = Contact(
            first_name=person.first_name[:100],
            last_name=(person.last_name or "-")[:100],
            email=normalize_email(person.email)[:254],
            phone=phone.e164,
            mobile=mobile.e164,
            phone_is_invalid=not (phone.valid and mobile.valid),
            company=company_rows[person.company] if person.company is not None else None,
            owner=owner,
            country=person.country,
            external_id=f"{PREFIX}{person.entity}-{i}",
        )
        contact.completeness = contact.compute_completeness()
        contacts.append(contact)
    created = Contact.objects.bulk_create(contacts, batch_size=2000)
    return {contact.pk: person.entity for contact, person in zip(created, people, strict=True)}


def unload() -> None:
    """Delete the generated rows. Nothing but candidate pairs points at them, so a plain SQL
    delete does (the ORM's cascade collector takes minutes for ten thousand rows)."""
    from django.db import transaction

    from contacts.models import Company, Contact, DuplicateCandidate
    from crm.models import User

    with transaction.atomic():
        contacts = Contact.objects.filter(external_id__startswith=PREFIX)
        companies = Company.objects.filter(external_id__startswith=PREFIX)
        DuplicateCandidate.objects.filter(contact_a__in=contacts.values("pk")).delete()
        DuplicateCandidate.objects.filter(contact_b__in=contacts.values("pk")).delete()
        DuplicateCandidate.objects.filter(company_a__in=companies.values("pk")).delete()
        DuplicateCandidate.objects.filter(company_b__in=companies.values("pk")).delete()
        contacts._raw_delete(contacts.db)
        companies._raw_delete(companies.db)
        User.objects.filter(username="bench-dedupe").delete()


@dataclass(frozen=True)
class Quality:
    records: int
    true_pairs: int
    predicted: int
    true_positives: int
    blocking_recall: float
    refresh_seconds: float
    threshold: int
    # (threshold, precision, recall) for a few thresholds around the decision threshold
    sweep: tuple[tuple[int, float, float], ...] = ()

    @property
    def precision(self) -> float:
        return self.true_positives / self.predicted if self.predicted else 1.0

    @property
    def recall(self) -> float:
        return self.true_positives / self.true_pairs if self.true_pairs else 1.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0


def evaluate(entity_of: dict[int, int]) -> Quality:
    """Run the real refresh and compare its candidate pairs with the generated truth.

    The refresh stores pairs from score ``SWEEP[0]`` up for this run only, so one run also
    shows precision and recall at the thresholds around ``DUPLICATE_SCORE``."""
    from contacts import duplicates
    from contacts.duplicates import blocking_pairs, duplicates_refresh
    from contacts.matching import DUPLICATE_SCORE
    from contacts.models import CandidateStatus, DuplicateCandidate

    by_entity: dict[int, list[int]] = {}
    for pk, entity in entity_of.items():
        by_entity.setdefault(entity, []).append(pk)
    truth = {tuple(sorted(pair)) for ids in by_entity.values() for pair in combinations(ids, 2)}
    blocked = {pair for pair in blocking_pairs("contact") if pair[0] in entity_of and pair[1] in entity_of}
    stored_from, duplicates.DUPLICATE_SCORE = duplicates.DUPLICATE_SCORE, SWEEP[0]
    try:
        started = time.monotonic()
        duplicates_refresh(kinds=("contact",))
        seconds = time.monotonic() - started
    finally:
        duplicates.DUPLICATE_SCORE = stored_from
    scored = {
        (a, b): score
        for a, b, score in DuplicateCandidate.objects.filter(kind="contact", status=CandidateStatus.OPEN).values_list(
            "contact_a_id", "contact_b_id", "score"
        )
        if a in entity_of and b in entity_of
    }
    sweep = []
    for threshold in SWEEP:
        listed = {pair for pair, score in scored.items() if score >= threshold}
        hits = len(listed & truth)
        sweep.append((threshold, hits / len(listed) if listed else 1.0, hits / len(truth) if truth else 1.0))
    DuplicateCandidate.objects.filter(kind="contact", score__lt=stored_from).delete()
    predicted = {pair for pair, score in scored.items() if score >= DUPLICATE_SCORE}
    return Quality(
        records=len(entity_of),
        true_pairs=len(truth),
        predicted=len(predicted),
        true_positives=len(predicted & truth),
        blocking_recall=len(blocked & truth) / len(truth) if truth else 1.0,
        refresh_seconds=seconds,
        threshold=DUPLICATE_SCORE,
        sweep=tuple(sweep),
    )


def run(*, originals: int, seed: int, keep: bool = False) -> Quality:
    people, companies = generate(originals=originals, seed=seed)
    unload()
    entity_of = load(people, companies)
    try:
        return evaluate(entity_of)
    finally:
        if not keep:
            unload()


def report(quality: Quality, *, originals: int, seed: int) -> str:
    return "\n".join(
        [
            f"Generated {originals:,} original people and their corrupted duplicates (seed {seed}): "
            f"{quality.records:,} contact records, {quality.true_pairs:,} true duplicate pairs.",
            "",
            "| measure | value |",
            "|---|---:|",
            f"| decision threshold (score) | {quality.threshold} |",
            f"| pairs listed | {quality.predicted:,} |",
            f"| correct pairs listed | {quality.true_positives:,} |",
            f"| **precision** | **{quality.precision:.3f}** |",
            f"| **recall** | **{quality.recall:.3f}** |",
            f"| F1 | {quality.f1:.3f} |",
            f"| blocking recall (true pairs blocking proposes at all) | {quality.blocking_recall:.3f} |",
            f"| candidate refresh of the whole contact table | {quality.refresh_seconds:.1f} s |",
            "",
            "Other thresholds (the same run):",
            "",
            "| threshold | precision | recall |",
            "|---:|---:|---:|",
            *(f"| {t} | {p:.3f} | {r:.3f} |" for t, p, r in quality.sweep),
        ]
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--originals", type=int, default=5000)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--keep", action="store_true", help="leave the generated records in the database")
    parser.add_argument("--write", action="store_true", help="write bench/dedupe_results.md")
    args = parser.parse_args(argv)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "crm.settings")
    import django

    django.setup()
    quality = run(originals=args.originals, seed=args.seed, keep=args.keep)
    text = report(quality, originals=args.originals, seed=args.seed)
    print(text)
    if args.write:
        out = Path(__file__).with_name("dedupe_results.md")
        out.write_text(f"# Duplicate detection: precision and recall\n\n{text}\n\nReproduce: `{_command(args)}`\n")
    return 0


def _command(args: Any) -> str:
    return f".venv/bin/python -m bench.dedupe_quality --originals {args.originals} --seed {args.seed} --write"


if __name__ == "__main__":
    sys.exit(main())
