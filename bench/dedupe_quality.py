"""Precision and recall of the contact matcher on generated, labelled people.

**Data.** ``originals`` people, a third each English (Faker ``en_US``), Russian (``ru_RU``,
names in Cyrillic, gendered surnames) and Chinese (``zh_CN``, names in Hanzi); each has a
name, a birth date (18–90 years old), a postal address (street with house number, city,
postcode), usually an e-mail made of the name, usually a phone, sometimes a company.

**Duplicates.** Half of the originals get 1–3 duplicates, each with 1–3 modifications drawn
from this corruption model (weights in ``MODIFICATIONS``):

* keyboard typos in either name (insert, delete, substitute a neighbouring key, transpose);
* OCR confusions (m/rn, cl/d, l/i, o/e …) and phonetic respellings (ph/f, y/i, ck/k, sch/sh …);
* first and last name swapped; first name replaced by a nickname (Bill, Саша) or an initial;
* transliteration: Russian names written in Latin letters in another system than the matcher's
  (BGN/PCGN-like "Aleksandr Yuryevich", English "Alexander"), Chinese names in pinyin, in either
  name order;
* changed surname (marriage) — a new surname, everything else kept;
* moved: a new street, city and postcode; or only the house number changed;
* a typo in the postcode; a typo in the birth date (one digit) or day and month swapped;
* missing values: no e-mail, no phone, no birth date, no address, no first name, no company;
* e-mail variants (case, another mailbox with the same name, a typo) and phone formats.

An e-mail address belongs to one person: an address that two generated people would share by
chance (name-made patterns over Faker's short Chinese name lists collide thousands of times at
100,000 people) is given a number of its own (``_unique_mailboxes``, added with the term-frequency
work; before it, "same e-mail" joined strangers no real address book would).

**Hard non-duplicates** a CRM really holds: relatives (same surname and address and home
phone, another first name and birth date), namesakes (same name, nothing else in common), and
colleagues (same surname and company).

The records are loaded as contacts (owned by a ``bench-dedupe`` user, ``external_id``
``dq-…``), the real nightly refresh runs over the whole contact table (keys, blocking, EM,
scoring), and every pair within one generated person is a true duplicate. Reported: precision,
recall and F1 at ``MATCH_PROBABILITY`` per culture, a precision–recall curve (table and SVG),
blocking recall and the refresh time. The rows are deleted afterwards unless ``--keep``.

    .venv/bin/python -m bench.dedupe_quality --originals 1000 10000 --seed 42 --write

Run it against a scratch database (``DATABASE_URL``): it adds and removes rows.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import time
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from itertools import combinations
from pathlib import Path
from typing import Any

PREFIX = "dq-"
CULTURES = ("en", "ru", "zh")
LOCALES = {"en": "en_US", "ru": "ru_RU", "zh": "zh_CN"}
CURVE = (0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.85, 0.9, 0.95, 0.98, 0.99)
KEYBOARD = {
    "q": "wa", "w": "qes", "e": "wrd", "r": "etf", "t": "ryg", "y": "tuh", "u": "yij", "i": "uok", "o": "ipl",
    "p": "ol", "a": "qsz", "s": "adwx", "d": "sfec", "f": "dgrv", "g": "fhtb", "h": "gjyn", "j": "hkum",
    "k": "jlim", "l": "kop", "z": "asx", "x": "zsdc", "c": "xdfv", "v": "cfgb", "b": "vghn", "n": "bhjm",
    "m": "njk",
    # ЙЦУКЕН neighbours for Cyrillic
    "й": "цф", "ц": "йуы", "у": "цкв", "к": "уеа", "е": "кнп", "н": "егр", "г": "ншо", "ш": "гщл", "щ": "шзд",
    "з": "щхж", "ф": "йыя", "ы": "цфвч", "в": "уыас", "а": "квпм", "п": "еари", "р": "нпот", "о": "грль",
    "л": "шодб", "д": "щлжю", "ж": "здэ", "я": "фч", "ч": "яыс", "с": "чвм", "м": "сай", "и": "мпт", "т": "иро",
    "ь": "толб", "б": "ьлю", "ю": "бд", "э": "ж", "х": "зъ",
}  # fmt: skip
OCR = [("m", "rn"), ("rn", "m"), ("cl", "d"), ("d", "cl"), ("vv", "w"), ("h", "b"), ("e", "c"), ("l", "i"),
       ("i", "l"), ("u", "v"), ("o", "e"), ("ш", "щ"), ("и", "н"), ("п", "н"), ("ь", "ъ"), ("з", "э")]  # fmt: skip
PHONETIC = [("ph", "f"), ("f", "ph"), ("y", "i"), ("i", "y"), ("ck", "k"), ("k", "ck"), ("ei", "ie"),
            ("ie", "ei"), ("sch", "sh"), ("tz", "z"), ("th", "t"), ("ou", "u"), ("mm", "m"), ("nn", "n"),
            ("ll", "l"), ("ss", "s"), ("c", "k"), ("z", "s"), ("о", "а"), ("е", "и"), ("ё", "е"),
            ("тс", "ц"), ("ий", "ей")]  # fmt: skip
NICKNAMES = {
    "William": ["Bill", "Will", "Billy"], "Robert": ["Bob", "Rob", "Bobby"], "Richard": ["Rick", "Dick"],
    "Margaret": ["Peggy", "Maggie", "Meg"], "Elizabeth": ["Liz", "Beth", "Betty"], "James": ["Jim", "Jimmy"],
    "John": ["Jack", "Johnny"], "Michael": ["Mike"], "Thomas": ["Tom", "Tommy"], "Joseph": ["Joe"],
    "Charles": ["Charlie", "Chuck"], "Edward": ["Ed", "Ted"], "Daniel": ["Dan", "Danny"], "Matthew": ["Matt"],
    "Christopher": ["Chris"], "Anthony": ["Tony"], "Andrew": ["Andy", "Drew"], "Jennifer": ["Jen", "Jenny"],
    "Patricia": ["Pat", "Patty"], "Susan": ["Sue", "Susie"], "Katherine": ["Kate", "Katie", "Kathy"],
    "Deborah": ["Debbie", "Deb"], "Rebecca": ["Becky"], "Victoria": ["Vicky"], "Nicholas": ["Nick"],
    "Timothy": ["Tim"], "Benjamin": ["Ben"], "Samuel": ["Sam"], "Steven": ["Steve"], "Stephen": ["Steve"],
    "Jonathan": ["Jon"], "Gregory": ["Greg"], "Kenneth": ["Ken"], "Ronald": ["Ron"], "Donald": ["Don"],
    "Joshua": ["Josh"], "Jessica": ["Jess"], "Alexander": ["Alex"],
    "Александр": ["Саша", "Шура"], "Александра": ["Саша"], "Дмитрий": ["Дима"], "Михаил": ["Миша"],
    "Екатерина": ["Катя"], "Мария": ["Маша"], "Анастасия": ["Настя"], "Наталья": ["Наташа"],
    "Татьяна": ["Таня"], "Сергей": ["Серёжа"], "Владимир": ["Вова", "Володя"], "Иван": ["Ваня"],
    "Алексей": ["Лёша"], "Евгений": ["Женя"], "Евгения": ["Женя"], "Николай": ["Коля"], "Павел": ["Паша"],
    "Константин": ["Костя"], "Юрий": ["Юра"], "Пётр": ["Петя"], "Людмила": ["Люда"], "Светлана": ["Света"],
    "Ирина": ["Ира"], "Галина": ["Галя"], "Василий": ["Вася"], "Виктор": ["Витя"], "Григорий": ["Гриша"],
    "Юлия": ["Юля"], "Ксения": ["Ксюша"], "Дарья": ["Даша"], "Валентина": ["Валя"], "Ольга": ["Оля"],
    "Елена": ["Лена"], "Анна": ["Аня"],
}  # fmt: skip
# Russian in Latin letters as people write it (BGN/PCGN-like), unlike the matcher's ICAO table.
BGN = {
    "а": "a", "б": "b", "в": "v", "г": "g", "д": "d", "е": "e", "ё": "yo", "ж": "zh", "з": "z", "и": "i",
    "й": "y", "к": "k", "л": "l", "м": "m", "н": "n", "о": "o", "п": "p", "р": "r", "с": "s", "т": "t",
    "у": "u", "ф": "f", "х": "kh", "ц": "ts", "ч": "ch", "ш": "sh", "щ": "shch", "ъ": "", "ы": "y", "ь": "",
    "э": "e", "ю": "yu", "я": "ya",
}  # fmt: skip
PHONES = {"en": ("1", ("212", "312", "415", "617", "206", "303"), 10), "ru": ("7", ("495", "812", "916", "903"), 10),
          "zh": ("86", ("139", "138", "186", "135"), 11)}  # fmt: skip
DOMAINS = {"en": ["gmail.com", "outlook.com", "yahoo.com"], "ru": ["mail.ru", "yandex.ru", "gmail.com"],
           "zh": ["qq.com", "163.com", "126.com"]}  # fmt: skip
MODIFICATIONS = {
    "typo_last": 12, "typo_first": 10, "ocr": 5, "phonetic": 6, "swap": 4, "nickname": 6, "initial": 3,
    "translit": 5, "surname_changed": 3, "moved": 5, "street_number": 4, "postcode_typo": 3, "birth_typo": 4,
    "no_email": 8, "no_phone": 8, "no_birth": 5, "no_address": 5, "no_first": 2, "no_company": 4,
    "email_variant": 8, "phone_variant": 8,
}  # fmt: skip


@dataclass(frozen=True)
class Person:
    entity: int
    culture: str
    first_name: str
    last_name: str
    female: bool
    email: str
    phone: str
    birth_date: date | None
    street: str
    city: str
    postcode: str
    company: int | None


class Fakers:
    """One seeded Faker per culture (Faker is imported lazily: a dev dependency)."""

    def __init__(self, seed: int) -> None:
        from faker import Faker

        self.by_culture = {}
        for n, culture in enumerate(CULTURES):
            faker = Faker(LOCALES[culture])
            faker.seed_instance(seed * 10 + n)
            self.by_culture[culture] = faker

    def name(self, culture: str, female: bool) -> tuple[str, str]:
        f = self.by_culture[culture]
        if culture == "ru":
            if female:
                return f.first_name_female(), f.last_name_female()
            return f.first_name_male(), f.last_name_male()
        return (f.first_name_female() if female else f.first_name_male()), f.last_name()

    def last_name(self, culture: str, female: bool) -> str:
        return self.name(culture, female)[1]

    def first_name(self, culture: str, female: bool) -> str:
        return self.name(culture, female)[0]

    def address(self, culture: str) -> tuple[str, str, str]:
        f = self.by_culture[culture]
        return f.street_address(), f.city(), f.postcode()


def _slug(text: str) -> str:
    from contacts.linkage import romanise

    return romanise(text).replace(" ", "")


def _phone(rng: random.Random, culture: str) -> str:
    calling, prefixes, digits = PHONES[culture]
    prefix = rng.choice(prefixes)
    return f"+{calling}{prefix}{''.join(str(rng.randint(0, 9)) for _ in range(digits - len(prefix)))}"


def _email(rng: random.Random, culture: str, first: str, last: str, company: int | None) -> str:
    style = rng.choice(["{f}.{l}", "{f}{l}", "{i}{l}", "{f}_{l}", "{l}.{f}", "{f}.{l}{n}", "{l}{n}"])
    local = style.format(f=_slug(first), l=_slug(last), i=_slug(first)[:1], n=rng.randint(1, 99))
    if company is not None and rng.random() < 0.6:
        return f"{local}@company{company}.example"
    return f"{local}@{rng.choice(DOMAINS[culture])}"


# --- Corruptions (each returns the changed value, or the same value when it cannot apply) ---


def _typo(rng: random.Random, word: str) -> str:
    if len(word) < 3 or any("\u4e00" <= ch <= "\u9fff" for ch in word):
        return word  # a typo in a Hanzi name is another character: see _zh_typo
    i = rng.randrange(1, len(word))
    if rng.random() < 0.15:
        i = 0
    op = rng.choice(["insert", "delete", "substitute", "transpose"])
    ch = word[i].lower()
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


def _translit(rng: random.Random, dup: Person) -> Person:
    if dup.culture == "ru":
        table = str.maketrans(BGN)
        first, last = (x.lower().translate(table).capitalize() for x in (dup.first_name, dup.last_name))
        if rng.random() < 0.3:  # the English spelling of the given name
            first = first.replace("ks", "x").replace("iy", "y")
        return replace(dup, first_name=first, last_name=last)
    if dup.culture == "zh":
        from pypinyin import lazy_pinyin

        first = "".join(lazy_pinyin(dup.first_name)).capitalize()
        last = "".join(lazy_pinyin(dup.last_name)).capitalize()
        if rng.random() < 0.5:  # "Wei Zhang": given name first, as written in the West
            return replace(dup, first_name=first, last_name=last)
        return replace(dup, first_name=last, last_name=first)  # "Zhang Wei" typed into first/last as seen
    return dup


def _email_variant(rng: random.Random, dup: Person) -> str:
    if not dup.email:
        return dup.email
    local, domain = dup.email.split("@")
    choice = rng.random()
    if choice < 0.3:
        return dup.email.upper() if rng.random() < 0.5 else dup.email.capitalize()
    if choice < 0.6:
        return f"{local}@{rng.choice(DOMAINS[dup.culture])}"  # the same person's other mailbox
    return f"{_typo(rng, local)}@{domain}"


def _phone_variant(rng: random.Random, phone: str) -> str:
    if not phone:
        return phone
    digits = phone[1:]
    if phone.startswith("+7") and rng.random() < 0.5:
        return f"8 ({digits[1:4]}) {digits[4:7]}-{digits[7:9]}-{digits[9:]}"
    if phone.startswith("+1") and rng.random() < 0.5:
        return f"({digits[1:4]}) {digits[4:7]}-{digits[7:]}"
    return f"+{digits[:2]} {digits[2:5]} {digits[5:]}"


def _birth_typo(rng: random.Random, born: date | None) -> date | None:
    if born is None:
        return None
    if rng.random() < 0.3 and born.day <= 12 and born.day != born.month:
        return born.replace(month=born.day, day=born.month)
    text = born.strftime("%Y%m%d")
    for _attempt in range(10):
        i = rng.choice([2, 3, 5, 6, 7])
        changed = text[:i] + str(rng.randint(0, 9)) + text[i + 1 :]
        try:
            new = date(int(changed[:4]), int(changed[4:6]), int(changed[6:]))
        except ValueError:
            continue
        if new != born:
            return new
    return born + timedelta(days=1)


def corrupt(rng: random.Random, person: Person, fakers: Fakers, *, max_modifications: int = 3) -> Person:
    """One duplicate of ``person`` with 1…``max_modifications`` modifications."""
    dup = person
    for _n in range(rng.randint(1, max_modifications)):
        before = dup
        for _attempt in range(20):
            dup = _modify(rng, before, fakers)
            if dup != before:
                break
    while dup == person:
        dup = _modify(rng, dup, fakers)
    return dup


def _modify(rng: random.Random, dup: Person, fakers: Fakers) -> Person:
    op = rng.choices(list(MODIFICATIONS), list(MODIFICATIONS.values()))[0]
    if op == "typo_last":
        return replace(dup, last_name=_typo(rng, dup.last_name))
    if op == "typo_first":
        return replace(dup, first_name=_typo(rng, dup.first_name))
    if op in ("ocr", "phonetic"):
        name = rng.choice(["first_name", "last_name"])
        return replace(dup, **{name: _swap_pattern(rng, getattr(dup, name), OCR if op == "ocr" else PHONETIC)})
    if op == "swap" and dup.first_name and dup.last_name:
        return replace(dup, first_name=dup.last_name, last_name=dup.first_name)
    if op == "nickname" and dup.first_name in NICKNAMES:
        return replace(dup, first_name=rng.choice(NICKNAMES[dup.first_name]))
    if op == "initial" and dup.first_name and dup.culture != "zh":
        return replace(dup, first_name=dup.first_name[0] + ".")
    if op == "translit":
        return _translit(rng, dup)
    if op == "surname_changed" and dup.female:
        return replace(dup, last_name=fakers.last_name(dup.culture, True))
    if op == "moved":
        street, city, postcode = fakers.address(dup.culture)
        return replace(dup, street=street, city=city, postcode=postcode)
    digits = [i for i, ch in enumerate(dup.street) if ch in "0123456789"]  # ASCII: int() below
    if op == "street_number" and digits:
        i = rng.choice(digits)
        return replace(
            dup, street=dup.street[:i] + str((int(dup.street[i]) + rng.randint(1, 8)) % 10) + dup.street[i + 1 :]
        )
    if op == "postcode_typo" and dup.postcode:
        i = rng.randrange(len(dup.postcode))
        return replace(dup, postcode=dup.postcode[:i] + str(rng.randint(0, 9)) + dup.postcode[i + 1 :])
    if op == "birth_typo":
        return replace(dup, birth_date=_birth_typo(rng, dup.birth_date))
    if op == "no_email":
        return replace(dup, email="")
    if op == "no_phone":
        return replace(dup, phone="")
    if op == "no_birth":
        return replace(dup, birth_date=None)
    if op == "no_address":
        return replace(dup, street="", city="", postcode="")
    if op == "no_first" and dup.last_name:
        return replace(dup, first_name="")
    if op == "no_company":
        return replace(dup, company=None)
    if op == "email_variant":
        return replace(dup, email=_email_variant(rng, dup))
    if op == "phone_variant":
        return replace(dup, phone=_phone_variant(rng, dup.phone))
    return dup


def _colleague_email(rng: random.Random, person: Person, first: str) -> str:
    """A colleague's mailbox: never the same address as the person's (j.smith for both)."""
    email = _email(rng, person.culture, first, person.last_name, person.company)
    return email if email != person.email else email.replace("@", f"{rng.randint(2, 9)}@")


def generate(
    *, originals: int, seed: int, duplicate_share: float = 0.5, max_duplicates: int = 3, hard_share: float = 0.03
) -> tuple[list[Person], int]:
    """Originals, their corrupted duplicates and hard non-duplicates (shuffled), and the
    number of companies they use."""
    rng = random.Random(seed)
    fakers = Fakers(seed)
    companies = max(1, originals // 8)
    people: list[Person] = []
    for entity in range(originals):
        culture = CULTURES[entity % len(CULTURES)]
        female = rng.random() < 0.5
        first, last = fakers.name(culture, female)
        company = rng.randrange(companies) if rng.random() < 0.4 else None
        street, city, postcode = fakers.address(culture)
        born = date(1936, 1, 1) + timedelta(days=rng.randrange(72 * 365))
        people.append(
            Person(
                entity=entity,
                culture=culture,
                first_name=first,
                last_name=last,
                female=female,
                email=_email(rng, culture, first, last, company) if rng.random() < 0.8 else "",
                phone=_phone(rng, culture) if rng.random() < 0.75 else "",
                birth_date=born if rng.random() < 0.8 else None,
                street=street if rng.random() < 0.8 else "",
                city=city,
                postcode=postcode,
                company=company,
            )
        )
    originals_list = list(people)
    for person in originals_list:
        if rng.random() < duplicate_share:
            for _n in range(rng.randint(1, max_duplicates)):
                people.append(corrupt(rng, person, fakers))
    next_entity = originals
    for person in originals_list:
        roll = rng.random()
        if roll >= 3 * hard_share:
            continue
        female = rng.random() < 0.5
        first = fakers.first_name(person.culture, female)
        if first == person.first_name:
            continue
        born = date(1936, 1, 1) + timedelta(days=rng.randrange(72 * 365))
        if roll < hard_share:  # a relative at the same address with the home phone
            other = replace(person, entity=next_entity, first_name=first, female=female, email="", birth_date=born)
        elif roll < 2 * hard_share and person.company is not None:  # a colleague
            street, city, postcode = fakers.address(person.culture)
            other = replace(
                person, entity=next_entity, first_name=first, female=female, birth_date=born,
                email=_colleague_email(rng, person, first),
                phone=_phone(rng, person.culture), street=street, city=city, postcode=postcode,
            )  # fmt: skip
        else:  # a namesake: the same name, nothing else
            street, city, postcode = fakers.address(person.culture)
            other = replace(
                person, entity=next_entity, birth_date=born, company=None, street=street, city=city,
                postcode=postcode, phone=_phone(rng, person.culture),
                # Another person's mailbox: never the same address as the namesake's.
                email=f"{_slug(person.first_name)}{rng.randint(100, 999)}@{rng.choice(DOMAINS[person.culture])}",
            )  # fmt: skip
        people.append(other)
        next_entity += 1
    people = _unique_mailboxes(people)
    rng.shuffle(people)
    return people, companies


def _unique_mailboxes(people: list[Person]) -> list[Person]:
    """An e-mail address is one mailbox: the address a generated person got by chance from a
    name-made pattern ("zhang39@qq.com", "jsmith@gmail.com") that another person already has
    gets a number of its own, as a mail provider would insist. Without this, Faker's few
    Chinese names gave thousands of different people the same address at 100,000 people —
    "same e-mail" evidence no real address book holds."""
    owner: dict[str, int] = {}
    for person in people:
        if person.email:
            owner.setdefault(person.email.lower(), person.entity)
    result = []
    for person in people:
        email = person.email
        if email and owner[email.lower()] != person.entity:
            # A number of the person's own (not "2" for every second owner: that would make
            # "wang.2@qq.com" and "wang.2@163.com" of two strangers look like one person's).
            local, domain = email.rsplit("@", 1)
            rng = random.Random(person.entity)
            while email.lower() in owner:
                email = f"{local}{rng.randint(100, 99999)}@{domain}"
            owner[email.lower()] = person.entity
        result.append(replace(person, email=email) if email != person.email else person)
    return result


# --- Database --------------------------------------------------------------------------------


def load(people: list[Person], companies: int) -> dict[int, Person]:
    """Insert the records as the app stores them (phones through ``normalize_phone``, e-mails
    lower-cased, blocking keys computed as the import does); returns contact id → generated
    person."""
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
    country = {"en": "US", "ru": "RU", "zh": "CN"}
    contacts = []
    for i, person in enumerate(people):
        phone = normalize_phone(person.phone, country[person.culture])
        contact = Contact(
            first_name=person.first_name[:100],
            last_name=(person.last_name or "-")[:100],
            email=normalize_email(person.email)[:254],
            phone=phone.e164,
            phone_is_invalid=not phone.valid,
            company=company_rows[person.company] if person.company is not None else None,
            owner=owner,
            country=country[person.culture],
            street=person.street[:200],
            city=person.city[:100],
            postcode=person.postcode[:20],
            birth_date=person.birth_date,
            external_id=f"{PREFIX}{person.entity}-{i}",
        )
        contact.completeness = contact.compute_completeness()
        # As the import and every save store them: the nightly refresh then only checks them.
        contact.dedupe_keys = contact.compute_dedupe_keys()
        contacts.append(contact)
    created = Contact.objects.bulk_create(contacts, batch_size=2000)
    return {contact.pk: person for contact, person in zip(created, people, strict=True)}


def unload() -> None:
    """Delete the generated rows (a plain SQL delete: only candidate pairs point at them)."""
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


@dataclass
class Counts:
    true_pairs: int = 0
    predicted: int = 0
    hits: int = 0

    @property
    def precision(self) -> float:
        return self.hits / self.predicted if self.predicted else 1.0

    @property
    def recall(self) -> float:
        return self.hits / self.true_pairs if self.true_pairs else 1.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0


@dataclass
class Quality:
    records: int
    threshold: float
    blocking_recall: float
    blocked_pairs: int
    refresh_seconds: float
    overall: Counts
    by_culture: dict[str, Counts]
    curve: list[tuple[float, float, float]] = field(default_factory=list)  # threshold, precision, recall
    stages: tuple[tuple[str, float], ...] = ()  # the refresh's seconds per stage
    # culture → [(threshold, precision, recall)]
    culture_curves: dict[str, list[tuple[float, float, float]]] = field(default_factory=dict)


def evaluate(truth_of: dict[int, Person], *, threshold: float | None = None) -> Quality:
    """Run the real contact refresh and compare the pairs it scores with the generated truth."""
    from contacts import duplicates
    from contacts.linkage import MATCH_PROBABILITY
    from contacts.models import CandidateStatus, DuplicateCandidate

    threshold = MATCH_PROBABILITY if threshold is None else threshold
    by_entity: dict[int, list[int]] = {}
    for pk, person in truth_of.items():
        by_entity.setdefault(person.entity, []).append(pk)
    truth = {tuple(sorted(pair)) for ids in by_entity.values() for pair in combinations(ids, 2)}
    started = time.monotonic()
    report = duplicates._refresh_contacts(store_from=min(CURVE))
    seconds = time.monotonic() - started
    blocked = {p for p in duplicates.blocking_pairs("contact") if p[0] in truth_of and p[1] in truth_of}
    scored = {
        (a, b): score / 100
        for a, b, score in DuplicateCandidate.objects.filter(kind="contact", status=CandidateStatus.OPEN).values_list(
            "contact_a_id", "contact_b_id", "score"
        )
        if a in truth_of and b in truth_of
    }
    DuplicateCandidate.objects.filter(kind="contact", score__lt=round(threshold * 100)).delete()

    def counts(listed: set, culture: str | None = None) -> Counts:
        def keep(pair: tuple[int, int]) -> bool:
            return culture is None or truth_of[pair[0]].culture == culture

        wanted = {p for p in truth if keep(p)}
        chosen = {p for p in listed if keep(p)}
        return Counts(len(wanted), len(chosen), len(wanted & chosen))

    listed = {pair for pair, p in scored.items() if p >= threshold - 1e-9}
    curve = []
    culture_curves: dict[str, list[tuple[float, float, float]]] = {culture: [] for culture in CULTURES}
    for t in CURVE:
        chosen = {pair for pair, p in scored.items() if p >= t - 1e-9}
        c = counts(chosen)
        curve.append((t, c.precision, c.recall))
        for culture in CULTURES:
            cc = counts(chosen, culture)
            culture_curves[culture].append((t, cc.precision, cc.recall))
    return Quality(
        records=len(truth_of),
        threshold=threshold,
        blocking_recall=len(blocked & truth) / len(truth) if truth else 1.0,
        blocked_pairs=report.pairs,
        refresh_seconds=seconds,
        stages=getattr(report, "stages", ()),
        overall=counts(listed),
        by_culture={culture: counts(listed, culture) for culture in CULTURES},
        curve=curve,
        culture_curves=culture_curves,
    )


def run(*, originals: int, seed: int, keep: bool = False) -> Quality:
    people, companies = generate(originals=originals, seed=seed)
    unload()
    truth_of = load(people, companies)
    try:
        return evaluate(truth_of)
    finally:
        if not keep:
            unload()


# --- Report ----------------------------------------------------------------------------------


def report(results: dict[int, Quality], *, seed: int) -> str:
    lines = [
        "| originals | records | culture | true pairs | listed | precision | recall | F1 |",
        "|---:|---:|---|---:|---:|---:|---:|---:|",
    ]
    for originals, q in results.items():
        for culture, c in [*q.by_culture.items(), ("all", q.overall)]:
            lines.append(
                f"| {originals:,} | {q.records:,} | {culture} | {c.true_pairs:,} | {c.predicted:,} | "
                f"{c.precision:.3f} | {c.recall:.3f} | {c.f1:.3f} |"
            )
    lines += [
        "",
        "| originals | blocked pairs | blocking recall | refresh | keys / blocking / comparing / EM / storing |",
        "|---:|---:|---:|---:|---|",
        *(
            f"| {o:,} | {q.blocked_pairs:,} | {q.blocking_recall:.3f} | {q.refresh_seconds:.1f} s | "
            + " / ".join(f"{seconds:.1f}" for _name, seconds in q.stages)
            + " s |"
            for o, q in results.items()
        ),
        "",
        "Precision–recall curve (all cultures; `bench/dedupe_pr_curve.svg`):",
        "",
        "| threshold | " + " | ".join(f"P / R at {o:,}" for o in results) + " |",
        "|---:|" + "---:|" * len(results),
    ]
    for i, t in enumerate(CURVE):
        cells = " | ".join(f"{q.curve[i][1]:.3f} / {q.curve[i][2]:.3f}" for q in results.values())
        lines.append(f"| {t:.2f} | {cells} |")
    lines += [
        "",
        "The same curve per culture (precision / recall):",
        "",
        "| threshold | " + " | ".join(f"{c} at {o:,}" for o in results for c in CULTURES) + " |",
        "|---:|" + "---:|" * (len(results) * len(CULTURES)),
    ]
    for i, t in enumerate(CURVE):
        cells = " | ".join(
            f"{q.culture_curves[c][i][1]:.3f} / {q.culture_curves[c][i][2]:.3f}"
            for q in results.values()
            for c in CULTURES
        )
        lines.append(f"| {t:.2f} | {cells} |")
    return "\n".join(lines)


def curve_svg(results: dict[int, Quality]) -> str:
    """The precision–recall curve of each run as a small standalone SVG."""
    width, height, pad = 420, 320, 40
    colours = ["#0d6efd", "#d63384", "#198754", "#fd7e14"]
    lo = 0.8  # both axes from 0.8 to 1: the interesting corner

    def xy(recall: float, precision: float) -> str:
        x = pad + (max(recall, lo) - lo) / (1 - lo) * (width - 2 * pad)
        y = height - pad - (max(precision, lo) - lo) / (1 - lo) * (height - 2 * pad)
        return f"{x:.1f},{y:.1f}"

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" font-family="sans-serif" '
        f'font-size="11"><rect width="100%" height="100%" fill="white"/>',
        f'<line x1="{pad}" y1="{height - pad}" x2="{width - pad}" y2="{height - pad}" stroke="black"/>',
        f'<line x1="{pad}" y1="{pad}" x2="{pad}" y2="{height - pad}" stroke="black"/>',
        f'<text x="{width / 2}" y="{height - 8}" text-anchor="middle">recall (0.8–1.0)</text>',
        f'<text x="12" y="{height / 2}" transform="rotate(-90 12 {height / 2})" text-anchor="middle">'
        f"precision (0.8–1.0)</text>",
    ]
    for n, (originals, q) in enumerate(results.items()):
        colour = colours[n % len(colours)]
        points = " ".join(xy(r, p) for _t, p, r in q.curve)
        parts.append(f'<polyline fill="none" stroke="{colour}" stroke-width="2" points="{points}"/>')
        mark = next(((p, r) for t, p, r in q.curve if abs(t - q.threshold) < 1e-9), None)
        if mark:
            parts.append(f'<circle r="4" fill="{colour}" cx="{xy(mark[1], mark[0]).split(",")[0]}" '
                         f'cy="{xy(mark[1], mark[0]).split(",")[1]}"/>')  # fmt: skip
        parts.append(f'<text x="{pad + 10}" y="{pad + 14 * (n + 1)}" fill="{colour}">{originals:,} originals</text>')
    parts.append("</svg>")
    return "\n".join(parts) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--originals", type=int, nargs="+", default=[1000, 10000])
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--keep", action="store_true", help="leave the generated records in the database")
    parser.add_argument("--write", action="store_true", help="write bench/dedupe_results.md and the SVG curve")
    args = parser.parse_args(argv)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "crm.settings")
    import django

    django.setup()
    results = {n: run(originals=n, seed=args.seed, keep=args.keep) for n in args.originals}
    threshold = next(iter(results.values())).threshold
    text = report(results, seed=args.seed)
    print(text)
    if args.write:
        here = Path(__file__).parent
        (here / "dedupe_pr_curve.svg").write_text(curve_svg(results))
        (here / "dedupe_results.md").write_text(
            "# Duplicate detection: precision and recall\n\n"
            f"Generated people (seed {args.seed}; English, Russian and Chinese names; corruption model in "
            f"`bench/dedupe_quality.py`), the real nightly refresh, decision threshold: match probability "
            f"≥ {threshold}.\n\n{text}\n\n![precision–recall curve](dedupe_pr_curve.svg)\n\n"
            f"Reproduce: `{_command(args)}.\n"
        )
    return 0


def _command(args: Any) -> str:
    sizes = " ".join(str(n) for n in args.originals)
    module = f".venv/bin/python -m bench.dedupe_quality --originals {sizes} --seed {args.seed} --write"
    return f"make dedupe-bench SIZES='{sizes}'` (that is `{module}` on a scratch database)"


if __name__ == "__main__":
    sys.exit(main())
