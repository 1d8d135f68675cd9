"""How alike two companies are: normalisation, scoring and reasons.

(Contacts — people — are matched by the Fellegi–Sunter model of ``contacts.linkage``.)

Used by the form's live "possible duplicate" warning and by the nightly candidate refresh,
so both judge a pair the same way. Candidate *finding* (blocking) happens in SQL with the
functions of migration ``add_duplicate_detection`` (``dedupe_company_keys`` …); this module
only scores the pairs blocking produced.

The score is a sum of evidence, clamped to 0–100 with hand-set weights: agreeing names,
domains, e-mails, phones and addresses add points, identifiers that are present on both
sides but differ take points away. ``DUPLICATE_SCORE`` is the decision threshold of the
Duplicates page for companies.
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


def phone_key(phone: str) -> str:
    """The last nine digits: equal for ``+7 916 …`` and ``8 916 …``, and for numbers kept as typed."""
    digits = re.sub(r"\D", "", phone or "")
    return digits[-9:] if len(digits) >= 7 else ""


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
