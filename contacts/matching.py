"""How alike two companies or two contacts are: normalisation, scoring and reasons.

Used by the form's live "possible duplicate" warning and by the nightly candidate refresh,
so both judge a pair the same way. Candidate *finding* (blocking) happens in SQL with the
functions of migration ``add_duplicate_detection`` (``dedupe_contact_keys`` …); this module
only scores the pairs blocking produced.

The score is a sum of evidence, clamped to 0–100 — a simplified Fellegi–Sunter model with
hand-set weights (tuned on ``bench/dedupe_quality.py``): agreeing names, e-mails, phones,
companies and addresses add points, identifiers that are present on both sides but differ
take points away. ``DUPLICATE_SCORE`` is the decision threshold of the Duplicates page.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import jellyfish
from django.utils.translation import gettext as _

# A pair scoring at least this is listed on the Duplicates page (precision/recall in README).
# A name alone earns at most 50, so some identifier or a rare name must agree as well.
DUPLICATE_SCORE = 55
# The create/edit form warns from these scores (or on any shared e-mail, phone or domain):
# a warning costs a glance, a listed pair costs a review. A similar company name alone is
# worth a warning; a similar person's name alone is not (there are many Anna Petrovas).
WARN_SCORE = {"company": 35, "contact": 55}

_CYRILLIC = {
    "а": "a", "б": "b", "в": "v", "г": "g", "д": "d", "е": "e", "ё": "e", "ж": "zh", "з": "z", "и": "i",
    "й": "i", "к": "k", "л": "l", "м": "m", "н": "n", "о": "o", "п": "p", "р": "r", "с": "s", "т": "t",
    "у": "u", "ф": "f", "х": "kh", "ц": "ts", "ч": "ch", "ш": "sh", "щ": "shch", "ъ": "", "ы": "y", "ь": "",
    "э": "e", "ю": "yu", "я": "ya",
}  # fmt: skip
_TRANSLIT = str.maketrans(_CYRILLIC)
_NON_ALPHA = re.compile(r"[^\w]+|[\d_]+")
_DIGITS = re.compile(r"\d+")
# Words that say what kind of company it is, not which one ("Acme Inc" = "ACME, LLC").
_LEGAL_FORMS_TEXT = (
    "llc inc incorporated ltd limited gmbh ag kg se ooo oao zao pao ao ip co corp corporation company plc sa "
    "sas srl spa bv nv oy ab as group the and"
)
LEGAL_FORMS = frozenset(_LEGAL_FORMS_TEXT.split())
# Mailboxes shared by a team: equal local parts say nothing about the person.
_ROLE_LOCALS_TEXT = "info sales office admin contact hello support mail team hr billing post"
ROLE_LOCALS = frozenset(_ROLE_LOCALS_TEXT.split())

# Nicknames and diminutives → one canonical name (English, German, Russian transliterated).
_NICKNAME_GROUPS = [
    "william bill billy will willy liam",
    "robert bob bobby rob robbie bert",
    "richard rick ricky dick rich",
    "margaret maggie meg peggy marge greta",
    "elizabeth liz lizzy beth betty eliza lisa elisabeth",
    "katherine catherine kate katie kathy cathy kat kathryn",
    "james jim jimmy jamie",
    "john johnny jack jon",
    "michael mike mikey mick",
    "thomas tom tommy",
    "joseph joe joey",
    "charles charlie chuck",
    "edward ed eddie ted teddy",
    "daniel dan danny",
    "matthew matt",
    "christopher chris kit",
    "anthony tony",
    "andrew andy drew",
    "alexander alex sasha aleksandr alexandr sanya shura",
    "alexandra alex sasha aleksandra",
    "benjamin ben benny",
    "samuel sam sammy",
    "jennifer jen jenny",
    "patricia pat patty tricia",
    "susan sue susie suzanne",
    "deborah debbie deb debra",
    "rebecca becky becca",
    "victoria vicky tori",
    "stephen steven steve",
    "nicholas nick nicky",
    "jonathan jon jonny",
    "timothy tim timmy",
    "gregory greg",
    "kenneth ken kenny",
    "ronald ron ronnie",
    "donald don donnie",
    "lawrence larry",
    "frederick fred freddie",
    "henry harry hank",
    "johann hans johannes",
    "wolfgang wolf",
    "dmitry dmitrii dmitriy dima",
    "mikhail misha",
    "ivan vanya",
    "nikolai nikolay kolya",
    "sergei sergey serezha",
    "vladimir volodya vova",
    "yekaterina ekaterina katya",
    "mariya maria masha",
    "anastasiya anastasia nastya",
    "yelena elena lena",
    "olga olya",
    "tatyana tatiana tanya",
    "natalya natalia natasha",
    "yevgeny evgeny evgenii zhenya",
    "anna anya",
    "pavel pasha",
    "konstantin kostya",
]
NICKNAMES: dict[str, str] = {}
for _group in _NICKNAME_GROUPS:
    _names = _group.split()
    for _name in _names:
        NICKNAMES.setdefault(_name, _names[0])


def name_norm(text: str) -> str:
    """``"Jürgen O'Neil-Петров"`` → ``"jurgen o neil petrov"``: lower case, Cyrillic
    transliterated, accents stripped, anything but letters a single space."""
    text = (text or "").lower().translate(_TRANSLIT)
    text = unicodedata.normalize("NFKD", text)
    text = "".join(ch for ch in text if not unicodedata.combining(ch))
    return " ".join(_NON_ALPHA.sub(" ", text).split())


def company_name_norm(text: str) -> str:
    return " ".join(word for word in name_norm(text).split() if word not in LEGAL_FORMS)


def email_norm(email: str) -> str:
    """Lower case, without a ``+tag``; Gmail ignores dots in the local part, so do we."""
    email = (email or "").strip().lower()
    if "@" not in email:
        return email
    local, domain = email.rsplit("@", 1)
    local = local.split("+", 1)[0]
    if domain in ("gmail.com", "googlemail.com"):
        local, domain = local.replace(".", ""), "gmail.com"
    return f"{local}@{domain}"


def email_local(email: str) -> str:
    """The personal part of an address (``anna.petrova``), empty for role mailboxes."""
    local = email_norm(email).split("@", 1)[0]
    return "" if len(local) < 5 or local in ROLE_LOCALS else local


def phone_key(phone: str) -> str:
    """The last nine digits: equal for ``+7 916 …`` and ``8 916 …``, and for numbers kept as typed."""
    digits = re.sub(r"\D", "", phone or "")
    return digits[-9:] if len(digits) >= 7 else ""


def first_canonical(first: str) -> str:
    token = name_norm(first).split(" ", 1)[0]
    return NICKNAMES.get(token, token)


_NAME_PATTERNS = ("{f}{l}", "{l}{f}", "{i}{l}", "{l}{i}", "{f}", "{l}")


def _from_names(local: str, person: Mapping[str, Any]) -> bool:
    """True when an e-mail's personal part is just the person's names (anna.petrova, apetrova)."""
    if _DIGITS.search(local) or not person.get("last_norm") and not person.get("first_norm"):
        return False
    letters = re.sub(r"[^a-z]", "", name_norm(local))
    first = person["first_norm"].replace(" ", "")
    last = person["last_norm"].replace(" ", "")
    if not last:
        return False
    return any(letters == p.format(f=first, l=last, i=first[:1]) for p in _NAME_PATTERNS)


def _email_typo(a: str, b: str, person_a: Mapping[str, Any], person_b: Mapping[str, Any]) -> bool:
    """Two normalised addresses on one domain whose personal parts differ by a typo — not by
    a number (anna.smith1@ and anna.smith2@ are two mailboxes), and not because they are made
    of two similar names (that is the names' evidence, already counted)."""
    local_a, _sep, domain_a = a.partition("@")
    local_b, _sep, domain_b = b.partition("@")
    if domain_a != domain_b or min(len(local_a), len(local_b)) < 5:
        return False
    bare_a, bare_b = _DIGITS.sub("", local_a), _DIGITS.sub("", local_b)
    if bare_a == bare_b or _from_names(bare_a, person_a) or _from_names(bare_b, person_b):
        return False
    return similarity(local_a, local_b) >= 0.9


def similarity(a: str, b: str) -> float:
    return jellyfish.jaro_winkler_similarity(a, b) if a and b else 0.0


@dataclass
class Match:
    """A scored pair: ``reasons`` are ``{"code": …, "value": …}`` dicts (stored as JSON)."""

    score: int
    reasons: list[dict[str, str]] = field(default_factory=list)

    @property
    def labels(self) -> list[str]:
        return [reason_label(r) for r in self.reasons]

    @property
    def strong(self) -> bool:
        """Shares an identifier (e-mail, phone, domain): always worth a warning on the form."""
        return any(r["code"] in ("same_email", "same_phone", "same_domain") for r in self.reasons)


def reason_label(reason: Mapping[str, str]) -> str:
    value = reason.get("value", "")
    labels = {
        "same_email": _("same email %(value)s"),
        "same_email_name": _("same email name %(value)s"),
        "similar_email": _("similar email"),
        "rare_name": _("rare name"),
        "same_phone": _("same phone"),
        "same_domain": _("same domain %(value)s"),
        "same_name": _("same name"),
        "similar_name": _("similar name"),
        "nickname": _("nickname (%(value)s)"),
        "swapped_names": _("first and last name swapped"),
        "initial": _("same last name, matching initial"),
        "similar_name_at_company": _("similar name at %(value)s"),
        "same_company": _("same company"),
        "same_address": _("same address"),
        "same_city": _("same city"),
    }
    label = labels.get(reason.get("code", ""), reason.get("code", ""))
    return label % {"value": value} if "%(value)s" in label else label


def _reason(code: str, value: str = "") -> dict[str, str]:
    return {"code": code, "value": value}


# --- Contacts -----------------------------------------------------------------------------


def _first_similarity(a: str, b: str) -> tuple[float | None, str]:
    """How alike two first names are (None when one is missing) and how: "exact",
    "nickname", "initial" or "similar"."""
    if not a or not b:
        return None, ""
    ta, tb = a.split(" ", 1)[0], b.split(" ", 1)[0]
    if ta == tb:
        return 1.0, "exact"
    if NICKNAMES.get(ta, ta) == NICKNAMES.get(tb, tb):
        return 0.95, "nickname"
    if len(ta) == 1 or len(tb) == 1:
        return (0.9, "initial") if ta[0] == tb[0] else (0.0, "similar")
    return similarity(ta, tb), "similar"


# Name similarity (0–1) → points; below the last band the names disagree.
_NAME_BANDS = ((0.97, 50), (0.93, 46), (0.90, 40), (0.85, 30), (0.80, 22), (0.75, 10))
# A first name this unlike the other one (and no nickname or initial) is another person.
_DIFFERENT_FIRST = 0.7
# A missing first name counts as this similar: it neither confirms nor contradicts.
_MISSING_FIRST = 0.7


def _name_score(fa: str, la: str, fb: str, lb: str, *, lenient: bool = False) -> tuple[float, str]:
    """``lenient``: the pair shares an e-mail address, so a badly garbled first name is more
    likely a typo than another person (relatives share phones far more than mailboxes)."""
    last_a, last_b = la.replace(" ", ""), lb.replace(" ", "")
    if not last_a or not last_b:
        return 0.0, "missing"
    first, how = _first_similarity(fa, fb)
    if first is not None and how == "similar" and first < _DIFFERENT_FIRST and not lenient:
        return 0.0, "different"
    value = 0.6 * similarity(last_a, last_b) + 0.4 * (_MISSING_FIRST if first is None else first)
    return value, how


def _name_evidence(fa: str, la: str, fb: str, lb: str, *, lenient: bool = False) -> tuple[int, str, str]:
    """Points for the names and the reason code; also tries first/last swapped."""
    value, how = _name_score(fa, la, fb, lb, lenient=lenient)
    code = ""
    if fa and fb:
        swapped, swapped_how = _name_score(fa, la, lb, fb, lenient=lenient)  # b's first and last swapped
        if swapped - 0.03 > value and swapped >= 0.88:
            value, how, code = swapped - 0.03, swapped_how, "swapped_names"
    if how in ("missing", "different"):
        return (-15 if how == "different" else 0), "", ""
    points = next((p for threshold, p in _NAME_BANDS if value >= threshold), -15)
    if points <= 0 or code:
        return points, code, ""
    if value >= 0.999:
        return points, "same_name", ""
    if how in ("nickname", "initial") and value >= 0.9:
        value_text = f"{fa.split(' ', 1)[0]} / {fb.split(' ', 1)[0]}" if how == "nickname" else ""
        return points, how, value_text
    return points, ("similar_name" if value >= 0.85 else ""), ""


def contact_values(obj: Any) -> dict[str, Any]:
    """What scoring reads from a contact (a model instance or a ``values()`` dict)."""
    get = obj.get if isinstance(obj, Mapping) else lambda name, default=None: getattr(obj, name, default)
    company = get("company")
    company_id, company_name = get("company_id", None), get("company_name", "") or ""
    if company is not None:
        company_id, company_name = company.pk, company.name
    emails = [e for e in (get("email", ""), get("secondary_email", "")) if e]
    phones = [p for p in (get("phone", ""), get("mobile", "")) if p]
    first, last = get("first_name", "") or "", get("last_name", "") or ""
    return {
        "first_name": first,
        "last_name": last,
        "emails": emails,
        "phones": phones,
        "company_id": company_id,
        "company_name": company_name,
        "country": str(get("country", "") or ""),
        # Normalised once per record: the refresh scores each record against many others.
        "first_norm": name_norm(first),
        "last_norm": name_norm(last),
        "emails_norm": {email_norm(e) for e in emails},
        "phone_keys": {phone_key(p) for p in phones} - {""},
    }


# A name (phonetic key, or its first/last letters) at most this many active records share —
# the person's own duplicates included — and at most this share of them is rare: agreeing on
# it is real evidence, as Fellegi-Sunter's frequency-based weights say. In a small table
# (a demo, a new install) nothing counts as rare. Only the refresh knows the frequency.
RARE_NAME_RECORDS = 4
RARE_NAME_SHARE = 0.001


def is_rare_name(records_sharing: int | None, records: int) -> bool:
    return records_sharing is not None and records_sharing <= min(RARE_NAME_RECORDS, records * RARE_NAME_SHARE)


def score_contacts(a: Mapping[str, Any], b: Mapping[str, Any], *, rare_name: bool = False) -> Match:
    """Score two ``contact_values`` dicts; see the module docstring for the weights.

    ``rare_name`` (known to the nightly refresh, not to the form, see ``is_rare_name``): a
    close, uncontradicted match on a rare name earns a bonus.
    """
    reasons = []
    score = contradictions = 0
    rare = False
    emails_a, emails_b = a["emails_norm"], b["emails_norm"]
    shared = emails_a & emails_b
    if shared:
        score += 45
        reasons.append(_reason("same_email", sorted(shared)[0]))
    elif emails_a and emails_b:
        locals_shared = ({email_local(e) for e in emails_a} & {email_local(e) for e in emails_b}) - {""}
        # anna.petrova@ on two domains says no more than the names do; a0783@ or
        # anna.p.1985@ on two domains does.
        locals_shared = {x for x in locals_shared if not _from_names(x, a) or not _from_names(x, b)}
        if locals_shared:
            score += 20
            reasons.append(_reason("same_email_name", sorted(locals_shared)[0]))
        elif any(_email_typo(x, y, a, b) for x in emails_a for y in emails_b):
            score += 15
            reasons.append(_reason("similar_email"))
        else:
            score -= 5
            contradictions += 1
    phones_a, phones_b = a["phone_keys"], b["phone_keys"]
    if phones_a & phones_b:
        score += 40
        reasons.append(_reason("same_phone"))
    elif phones_a and phones_b:
        score -= 5
        contradictions += 1
    fa, la, fb, lb = a["first_norm"], a["last_norm"], b["first_norm"], b["last_norm"]
    points, code, value = _name_evidence(fa, la, fb, lb, lenient=bool(shared))
    score += points
    if a["company_id"] and b["company_id"] and a["company_id"] != b["company_id"]:
        contradictions += 1
    if rare_name and points >= 40 and not contradictions:
        score += 20
        rare = True
    same_company = bool(a["company_id"]) and a["company_id"] == b["company_id"]
    if same_company:
        score += 15
    elif a["company_id"] and b["company_id"]:
        score -= 8
    if code in ("same_name", "similar_name") and same_company:
        reasons.append(_reason("similar_name_at_company", a["company_name"] or b["company_name"]))
    else:
        if code:
            reasons.append(_reason(code, value))
        if same_company and code:
            reasons.append(_reason("same_company", a["company_name"] or b["company_name"]))
    if rare:
        reasons.append(_reason("rare_name"))
    if a["country"] and b["country"] and a["country"] != b["country"]:
        score -= 5
    return Match(max(0, min(100, score)), reasons)


# --- Companies ----------------------------------------------------------------------------


def company_values(obj: Any) -> dict[str, Any]:
    get = obj.get if isinstance(obj, Mapping) else lambda name, default=None: getattr(obj, name, default)
    values = {
        name: str(get(name, "") or "")
        for name in ("name", "domain", "email", "phone", "street", "city", "postal_code", "country")
    }
    # Normalised once per record: the refresh scores each record against many others.
    values["name_norm"] = company_name_norm(values["name"])
    values["street_norm"] = name_norm(values["street"])
    values["city_norm"] = name_norm(values["city"])
    values["phone_key"] = phone_key(values["phone"])
    values["email_norm"] = email_norm(values["email"])
    return values


def score_companies(a: Mapping[str, Any], b: Mapping[str, Any], *, rare_name: bool = False) -> Match:
    reasons = []
    score = 0
    if a["domain"] and a["domain"] == b["domain"]:
        score += 40
        reasons.append(_reason("same_domain", a["domain"]))
    elif a["domain"] and b["domain"]:
        score -= 15
    phone_a, phone_b = a["phone_key"], b["phone_key"]
    if phone_a and phone_a == phone_b:
        score += 30
        reasons.append(_reason("same_phone"))
    elif phone_a and phone_b:
        score -= 5
    email_a, email_b = a["email_norm"], b["email_norm"]
    if email_a and email_a == email_b:
        score += 30
        reasons.append(_reason("same_email", email_a))
    name_a, name_b = a["name_norm"], b["name_norm"]
    compact_a, compact_b = name_a.replace(" ", ""), name_b.replace(" ", "")
    words_a, words_b = set(name_a.split()), set(name_b.split())
    if compact_a and compact_a == compact_b:
        score += 45
        reasons.append(_reason("same_name"))
    elif similarity(compact_a, compact_b) >= 0.92:
        score += 38
        reasons.append(_reason("similar_name"))
    elif words_a and words_b and (words_a <= words_b or words_b <= words_a):
        score += 30
        reasons.append(_reason("similar_name"))
    elif similarity(compact_a, compact_b) >= 0.85:
        score += 22
        reasons.append(_reason("similar_name"))
    else:
        score -= 15
    street_a, street_b = a["street_norm"], b["street_norm"]
    city_a, city_b = a["city_norm"], b["city_norm"]
    if street_a and street_a == street_b and city_a == city_b:
        score += 10
        reasons.append(_reason("same_address"))
    elif city_a and city_a == city_b:
        score += 5
        reasons.append(_reason("same_city"))
    elif city_a and city_b and similarity(city_a, city_b) < 0.85:
        score -= 5
    if a["country"] and b["country"] and a["country"] != b["country"]:
        score -= 10
    return Match(max(0, min(100, score)), reasons)
