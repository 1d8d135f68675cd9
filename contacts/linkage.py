"""Are two contacts the same person? A Fellegi–Sunter matcher with parameters learnt from the data.

The model, as in Fellegi & Sunter (1969) and the tools built on it (Splink, ``recordlinkage``):

* **Blocking** (``block_keys``): a record gets a handful of keys — phonetic last name with the
  first initial (and the same with first/last swapped), name prefixes and suffixes, e-mail,
  personal e-mail name, phone suffix, postcode with house number or with either name's
  initial, the street in its city, birth date with either name's initial, the full name with
  the day and month of birth, the employer with either name's sound. Only pairs sharing a key
  are compared. The keys are stored on the row (``Contact.dedupe_keys``, GIN-indexed), so the
  form's live check is one indexed query and the nightly refresh one self-join.
* **Comparisons** (``compare``): each field pair falls into a *level* — exact, a nickname or
  transliteration variant (Sasha = Alexander = Александр, 张伟 = Zhang Wei via pinyin),
  Jaro–Winkler ≥ 0.92, ≥ 0.85, different; Damerau–Levenshtein for postcodes, street numbers
  and birth dates. A missing value is no evidence either way.
* **Weights**: each level has m = P(level | same person) and u = P(level | different people);
  agreeing on it adds log2(m/u) to the match weight, a disagreement (m < u) subtracts. u is
  measured on random pairs, m and the prior share of matches λ are estimated by EM over the
  blocked pairs (``estimate``), with the pairs users merged or dismissed as known labels.
* **Probability**: weight w = log2(λ/(1-λ)) + Σ log2(m/u); P = 2^w / (1 + 2^w).
  ``MATCH_PROBABILITY`` is the one decision threshold.

This module is pure Python (no ORM): ``contacts.duplicates`` feeds it rows and stores results.
"""

from __future__ import annotations

import math
import random
import re
import unicodedata
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache
from typing import Any

import jellyfish
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from pypinyin import lazy_pinyin
from rapidfuzz.distance import DamerauLevenshtein, JaroWinkler

# A pair at least this likely to be one person is listed on the Duplicates page: chosen on
# the precision-recall curves of bench/dedupe_results.md (the highest recall that keeps
# precision >= 0.97 in every culture at 1,000, 10,000 and 100,000 people; the probabilities
# are conservative there, a pair at 0.3 is one person 98 times in 100). The create form
# warns from WARN_PROBABILITY: a warning costs a glance, a listed pair a review.
MATCH_PROBABILITY = 0.3
WARN_PROBABILITY = 0.2

# --- Normalisation ---------------------------------------------------------------------------

# Russian → Latin as in passports (ICAO Doc 9303, used since 2013), so "Юлия" → "iuliia".
# Other systems (GOST, BGN "Yuliya", English "Julia") differ in a few letters, which the
# spelling skeleton below absorbs.
_CYRILLIC = {
    "а": "a", "б": "b", "в": "v", "г": "g", "д": "d", "е": "e", "ё": "e", "ж": "zh", "з": "z", "и": "i",
    "й": "i", "к": "k", "л": "l", "м": "m", "н": "n", "о": "o", "п": "p", "р": "r", "с": "s", "т": "t",
    "у": "u", "ф": "f", "х": "kh", "ц": "ts", "ч": "ch", "ш": "sh", "щ": "shch", "ъ": "ie", "ы": "y", "ь": "",
    "э": "e", "ю": "iu", "я": "ia", "і": "i", "ї": "i", "є": "e", "ґ": "g",
}  # fmt: skip
_TRANSLIT = str.maketrans(_CYRILLIC)
_CJK = re.compile(r"[\u3400-\u9fff]")
_NON_LETTER = re.compile(r"[^a-z]+")
_DIGITS = re.compile(r"\d+")
# Spelling variants that transliteration systems and phonetic misspellings produce; applied
# in order to both sides, so "Aleksandr"/"Alexandr", "Yuliya"/"Iuliia", "Tatyana"/"Tatiana"
# get one skeleton.
_SKELETON = (
    ("shch", "sh"), ("sch", "sh"), ("x", "ks"), ("kh", "h"), ("ph", "f"), ("ck", "k"), ("q", "k"), ("w", "v"),
    ("iy", "i"), ("yi", "i"), ("ij", "i"), ("ii", "i"), ("ie", "e"), ("ye", "e"), ("yo", "e"), ("yu", "u"),
    ("iu", "u"), ("ju", "u"), ("ya", "a"), ("ia", "a"), ("ja", "a"), ("j", "i"), ("y", "i"), ("c", "k"),
    ("z", "s"), ("th", "t"),
)  # fmt: skip
_DOUBLE = re.compile(r"(.)\1+")

# The syllables of Mandarin in pinyin without tones (from pypinyin's dictionary): a Latin name
# made only of them is a real Chinese name, not a typo of another one ("Liu" is not "Li").
_PINYIN_TEXT = (
    "a ai an ang ao ba bai ban bang bao bei ben beng bi bian biang biao bie bin bing bo bong bu ca cai "
    "can cang cao ce cei cen ceng cha chai chan chang chao che chen cheng chi chong chou chu chua chuai "
    "chuan chuang chui chun chuo ci cong cou cu cuan cui cun cuo da dai dan dang dao de dei den deng di "
    "dia dian diao die din ding diu dong dou du duan dui dun duo e ei en eng er fa fan fang fei fen feng "
    "fiao fo fou fu ga gai gan gang gao ge gei gen geng gong gou gu gua guai guan guang gui gun guo ha "
    "hai han hang hao he hei hen heng hong hou hu hua huai huan huang hui hun huo ji jia jian jiang jiao "
    "jie jin jing jiong jiu ju juan jue jun ka kai kan kang kao ke kei ken keng kong kou ku kua kuai kuan "
    "kuang kui kun kuo la lai lan lang lao le lei len leng li lia lian liang liao lie lin ling liu lo "
    "long lou lu luan lun luo lv lve ma mai man mang mao me mei men meng mi mian miao mie min ming miu mo "
    "mou mu na nai nan nang nao ne nei nen neng ni nia nian niang niao nie nin ning niu nong nou nu nuan "
    "nun nuo nv nve o ou pa pai pan pang pao pei pen peng pi pian piao pie pin ping po pou pu qi qia qian "
    "qiang qiao qie qin qing qiong qiu qu quan que qun ran rang rao re ren reng ri rong rou ru rua ruan "
    "rui run ruo sa sai san sang sao se sen seng sha shai shan shang shao she shei shen sheng shi shou "
    "shu shua shuai shuan shuang shui shun shuo si song sou su suan sui sun suo ta tai tan tang tao te "
    "tei teng ti tian tiao tie ting tong tou tu tuan tui tun tuo wa wai wan wang wei wen weng wo wong wu "
    "xi xia xian xiang xiao xie xin xing xiong xiu xu xuan xue xun ya yan yang yao ye yi yin ying yo yong "
    "you yu yuan yue yun za zai zan zang zao ze zei zen zeng zha zhai zhan zhang zhao zhe zhei zhen zheng "
    "zhi zhong zhou zhu zhua zhuai zhuan zhuang zhui zhun zhuo zi zong zou zu zuan zui zun zuo"
)
_PINYIN_SYLLABLES = frozenset(_PINYIN_TEXT.split())

# Nicknames, diminutives and other-language forms of a first name; any member of a group is
# "the same first name" (Sasha is Alexander or Alexandra: both groups hold it).
_NICKNAME_GROUPS = (
    "william bill billy will willy liam", "robert bob bobby rob robbie bert", "richard rick ricky dick rich",
    "margaret maggie meg peggy marge greta", "elizabeth liz lizzy beth betty eliza lisa elisabeth",
    "katherine catherine kate katie kathy cathy kat kathryn", "james jim jimmy jamie", "john johnny jack jon",
    "michael mike mikey mick", "thomas tom tommy", "joseph joe joey", "charles charlie chuck",
    "edward ed eddie ted teddy", "daniel dan danny", "matthew matt", "christopher chris kit", "anthony tony",
    "andrew andy drew", "benjamin ben benny", "samuel sam sammy", "jennifer jen jenny",
    "patricia pat patty tricia", "susan sue susie suzanne", "deborah debbie deb debra",
    "rebecca becky becca", "victoria vicky tori", "stephen steven steve", "nicholas nick nicky",
    "jonathan jon jonny", "timothy tim timmy", "gregory greg", "kenneth ken kenny", "ronald ron ronnie",
    "donald don donnie", "lawrence larry", "frederick fred freddie", "henry harry hank", "joshua josh",
    "jessica jess jessie", "jacqueline jackie", "alexander alex sasha aleksandr alexandr sanya shura sashka",
    "alexandra alex sasha aleksandra sanya shura", "dmitrii dmitry dima mitia", "mikhail michael misha",
    "ivan john vania vanya", "nikolai nicholas kolia kolya", "sergei sergey serezha seriozha",
    "vladimir volodia volodya vova", "ekaterina katherine katia katya", "mariia maria mary masha",
    "anastasiia anastasia nastia nastya", "elena helen lena", "olga olia olya", "tatiana tania tanya",
    "natalia natalya natasha", "evgenii evgeny zhenia zhenya", "evgeniia evgenia zhenia zhenya",
    "anna anne ania anya", "pavel paul pasha", "konstantin kostia kostya", "aleksei alexei alexey lesha alesha",
    "andrei andrey andrew andriusha", "iurii yuri yury iura yura", "mikhail misha", "petr peter petia petya",
    "liudmila ludmila lyudmila liuda luda", "svetlana sveta", "irina ira", "galina galia galya",
    "vasilii vasily vasia vasya", "viktor victor vitia vitya", "boris borya boria", "grigorii gregory grisha",
    "iuliia yulia julia iulia iulya yulya", "kseniia ksenia xenia ksiusha", "daria darya dasha",
    "valentina valia valya", "aleksandr alexander",
)  # fmt: skip
_ROLE_LOCALS = frozenset(
    ("info", "sales", "office", "admin", "contact", "hello", "support", "mail", "team", "hr", "billing", "post")
)


@lru_cache(maxsize=200_000)  # names repeat: a refresh romanises each distinct one once
def romanise(text: str) -> str:
    """``"Jürgen O'Neil"`` → ``"jurgen o neil"``, ``"Александр"`` → ``"aleksandr"``,
    ``"张伟"`` → ``"zhang wei"``: Latin letters and single spaces only."""
    text = (text or "").lower()
    if _CJK.search(text):
        text = " ".join(lazy_pinyin(text))
    text = unicodedata.normalize("NFKD", text.translate(_TRANSLIT))
    text = "".join(ch for ch in text if not unicodedata.combining(ch))
    return " ".join(_NON_LETTER.sub(" ", text).split())


@lru_cache(maxsize=200_000)
def is_pinyin(word: str) -> bool:
    """Whether ``word`` (romanised, no spaces) is a sequence of pinyin syllables ("xiuying")."""
    if not word:
        return False
    ends = {0}
    for end in range(1, len(word) + 1):
        if any(start in ends and word[start:end] in _PINYIN_SYLLABLES for start in range(max(0, end - 6), end)):
            ends.add(end)
    return len(word) in ends


@lru_cache(maxsize=200_000)
def skeleton(word: str) -> str:
    """A spelling skeleton: equal for transliteration and phonetic variants of one name."""
    for old, new in _SKELETON:
        word = word.replace(old, new)
    return _DOUBLE.sub(r"\1", word)


_NICKNAMES: dict[str, frozenset[int]] = {}
for _index, _group in enumerate(_NICKNAME_GROUPS):
    for _name in _group.split():
        _key = skeleton(_name)
        _NICKNAMES[_key] = _NICKNAMES.get(_key, frozenset()) | {_index}


@lru_cache(maxsize=200_000)
def nickname_groups(first: str) -> frozenset[int]:
    return _NICKNAMES.get(skeleton(first), frozenset())


def canonical_initial(first: str) -> str:
    """The initial of the name's formal form (Bill → w, Sasha → a), for blocking."""
    groups = nickname_groups(first)
    if groups:
        return _NICKNAME_GROUPS[min(groups)][0]
    return first[:1]


def email_norm(email: str) -> str:
    """Lower case, without a ``+tag``; Gmail ignores dots in the local part, so do we."""
    email = (email or "").strip().lower()
    if "@" not in email:
        return ""
    local, domain = email.rsplit("@", 1)
    local = local.split("+", 1)[0]
    if domain in ("gmail.com", "googlemail.com"):
        local, domain = local.replace(".", ""), "gmail.com"
    return f"{local}@{domain}"


def email_local(normalised: str) -> str:
    """The personal part of a normalised address, empty for short and role mailboxes."""
    local = normalised.split("@", 1)[0]
    return "" if len(local) < 5 or local in _ROLE_LOCALS else local


def phone_key(phone: str) -> str:
    """The last nine digits: equal for ``+7 916 …`` and ``8 916 …``."""
    digits = re.sub(r"\D", "", phone or "")
    return digits[-9:] if len(digits) >= 7 else ""


def postcode_norm(text: str) -> str:
    return re.sub(r"[^0-9a-z]", "", (text or "").lower())


@dataclass(slots=True)
class Person:
    """What the matcher reads from a contact, normalised once."""

    first: str = ""  # romanised, spaces removed ("xiuying")
    last: str = ""
    first_skel: str = ""
    last_skel: str = ""
    first_nick: frozenset[int] = frozenset()
    emails: frozenset[str] = frozenset()
    email_locals: frozenset[str] = frozenset()
    phones: frozenset[str] = frozenset()
    birth_date: date | None = None
    postcode: str = ""
    street_words: str = ""
    street_number: str = ""
    street: str = ""
    city: str = ""
    company_id: int | None = None
    cjk: bool = False  # a name written in Chinese characters: compared by pinyin, exactly
    first_han: str = ""  # the names as written (characters), for two names in characters
    last_han: str = ""


def _get(obj: Any) -> Any:
    if isinstance(obj, Mapping):
        return lambda name: obj.get(name)
    return lambda name: getattr(obj, name, None)


def person(obj: Any) -> Person:
    """A ``Person`` from a ``Contact`` or a ``values()`` / form dict."""
    get = _get(obj)
    first = romanise(get("first_name") or "").replace(" ", "")
    last = romanise(get("last_name") or "").replace(" ", "")
    cjk = bool(_CJK.search((get("first_name") or "") + (get("last_name") or "")))
    emails = frozenset(e for e in (email_norm(get("email") or ""), email_norm(get("secondary_email") or "")) if e)
    street = romanise(get("street") or "") + " " + " ".join(_DIGITS.findall(get("street") or ""))
    birth = get("birth_date")
    if isinstance(birth, str):
        try:
            birth = date.fromisoformat(birth)
        except ValueError:
            birth = None
    company_id = get("company_id")
    if company_id is None and isinstance(obj, Mapping) and obj.get("company") is not None:
        company_id = obj["company"].pk
    return Person(
        first=first,
        last=last,
        # Pinyin syllables are distinct names (liu ≠ lu): no spelling skeleton for them.
        first_skel=first if cjk else skeleton(first),
        last_skel=last if cjk else skeleton(last),
        first_nick=nickname_groups(first),
        emails=emails,
        email_locals=frozenset(x for x in (email_local(e) for e in emails) if x),
        phones=frozenset(k for k in (phone_key(get("phone") or ""), phone_key(get("mobile") or "")) if k),
        birth_date=birth if isinstance(birth, date) else None,
        postcode=postcode_norm(get("postcode") or ""),
        street_words=" ".join(w for w in romanise(get("street") or "").split() if len(w) > 1),
        street_number=" ".join(_DIGITS.findall(get("street") or "")),
        street=" ".join(street.split()),
        city=romanise(get("city") or "").replace(" ", ""),
        company_id=company_id,
        cjk=cjk,
        first_han="".join((get("first_name") or "").split()) if cjk else first,
        last_han="".join((get("last_name") or "").split()) if cjk else last,
    )


# --- Blocking ----------------------------------------------------------------------------------


def _phonetic(word: str) -> str:
    return jellyfish.metaphone(word)[:6] if word else ""


def full_name_key(p: Person) -> str:
    """Both names, in either order (swapped names get the same key)."""
    return _full_name_key(p.first, p.last)


@lru_cache(maxsize=200_000)
def _full_name_key(first: str, last: str) -> str:
    if not first or not last or len(first) == 1:
        return ""
    return "f:" + "|".join(sorted((first, last)))


# Letters of the street (and house number) kept in an address key: enough to tell the streets
# of one city apart, short enough for the key index.
STREET_KEY_LENGTH = 40


def block_keys(p: Person) -> list[str]:
    """The blocking keys of one record; two records are compared when they share one."""
    keys = []
    first, last = p.first, p.last
    if last and first:
        keys.append(f"n:{_phonetic(last)}:{canonical_initial(first)}")
        keys.append(f"n:{_phonetic(first)}:{canonical_initial(last)}")  # first and last swapped
        if len(first) >= 3 and len(last) >= 3:
            keys.append(f"q:{last[:3]}{first[:3]}")
            keys.append(f"q:{first[:3]}{last[:3]}")
        if len(first) >= 4 and len(last) >= 4:
            keys.append(f"r:{last[-3:]}{first[-3:]}")
    full = full_name_key(p)
    if full:
        keys.append(full)
    initials = sorted({canonical_initial(x) for x in (first, last) if x})
    keys += [f"e:{e}" for e in sorted(p.emails)]
    keys += [f"l:{x}" for x in sorted(p.email_locals)]
    keys += [f"p:{x}" for x in sorted(p.phones)]
    if p.postcode:
        if p.street_number:
            keys.append(f"z:{p.postcode}:{p.street_number.split()[0]}")
        elif p.street:
            # Addresses without a house number (Chinese ones in letters, "韩路V座"): the street.
            keys.append(f"z:{p.postcode}:{p.street.replace(' ', '')[:12]}")
        # The postcode with the initial of either name: a swapped name, a missing first name
        # or a new surname still shares one of them.
        keys += [f"y:{p.postcode}:{x}" for x in initials]
    if p.street and p.city:
        # The street (with the house number) in its city: a slip in the postcode breaks both
        # keys above, and then the address itself still meets.
        keys.append(f"a:{p.city}:{p.street.replace(' ', '')[:STREET_KEY_LENGTH]}")
    if p.birth_date:
        # The birth date with the initial of either name (a million people share a birthday
        # with forty others; a birthday and an initial with three).
        keys += [f"b:{p.birth_date.isoformat()}:{x}" for x in initials]
        if full:
            # The full name with the day and month: a slip in the year still meets.
            keys.append(f"m:{full[2:]}:{p.birth_date.month:02d}{p.birth_date.day:02d}")
    if p.company_id:
        # The employer with either name: a colleague record with a new surname, a missing
        # first name or the names swapped still shares one.
        keys += [f"c:{p.company_id}:{x}" for x in sorted({_phonetic(x) for x in (first, last) if x})]
    return list(dict.fromkeys(keys))


# --- Comparisons -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Comparison:
    name: str
    levels: tuple[str, ...]  # level 0 is "different", the last one the closest agreement


COMPARISONS: tuple[Comparison, ...] = (
    Comparison("first_name", ("different", "initial", "jw85", "jw92", "variant", "exact")),
    Comparison("last_name", ("different", "jw85", "jw92", "variant", "exact")),
    Comparison("birth_date", ("different", "same_year", "typo", "exact")),
    Comparison("email", ("different", "similar", "same_name", "exact")),
    Comparison("phone", ("different", "exact")),
    # Street, postcode and city move together (a household shares all three), so they are
    # one comparison: counted three times they would outvote a different first name.
    Comparison("address", ("different", "same_city", "near", "exact")),
    Comparison("company", ("different", "exact")),
)
# After the comparisons: whether first and last name matched the other way round, then the
# frequency of the agreeing first and last name (None unless exact and common, see ``tf``).
SWAPPED = len(COMPARISONS)
FIRST_TF, LAST_TF, FULL_TF, NEAR_TF, CITY_TF = SWAPPED + 1, SWAPPED + 2, SWAPPED + 3, SWAPPED + 4, SWAPPED + 5


def _jw(a: str, b: str) -> float:
    return JaroWinkler.similarity(a, b)


def _typo(a: str, b: str) -> bool:
    """Two typos apart (one in names under five letters): "Kikle"/"Kyle", "Minica"/"Monica" —
    Jaro–Winkler undervalues short names with an early slip. Counted as "somewhat similar"."""
    return DamerauLevenshtein.distance(a, b, score_cutoff=2) <= (2 if min(len(a), len(b)) >= 5 else 1)


def _pinyin_apart(a: str, b: str, a_cjk: bool, b_cjk: bool) -> bool:
    """One name in characters, the other in Latin letters that are themselves pinyin: two
    different names (李 "li" and "Liu"), not a typo — a typo rarely makes valid pinyin."""
    return (a_cjk and not b_cjk and is_pinyin(b)) or (b_cjk and not a_cjk and is_pinyin(a))


def _first_level(
    a: str, b: str, a_skel: str, b_skel: str, a_nick: frozenset, b_nick: frozenset, cjk: bool = False
) -> int | None:
    if not a or not b:
        return None
    if a == b:
        return 5
    if a_skel == b_skel or a_nick & b_nick:
        return 4
    if cjk:
        return 0  # one pinyin letter apart is another character, another name
    if len(a) == 1 or len(b) == 1:
        return 1 if a[0] == b[0] else 0
    sim = _jw(a, b)
    return 3 if sim >= 0.92 else 2 if sim >= 0.85 or _typo(a, b) else 0


def _last_level(a: str, b: str, a_skel: str, b_skel: str, cjk: bool = False) -> int | None:
    if not a or not b:
        return None
    if a == b:
        return 4
    if a_skel == b_skel:
        return 3
    if cjk:
        return 0
    sim = _jw(a, b)
    return 2 if sim >= 0.92 else 1 if sim >= 0.85 or _typo(a, b) else 0


def _names(a: Person, b: Person) -> tuple[int | None, int | None, bool]:
    # Both in Chinese characters: a different character is another name. Pinyin typed by hand
    # on one side may carry a typo like any Latin name.
    cjk = a.cjk and b.cjk
    if cjk:
        return _hanzi_names(a, b)
    mixed = a.cjk != b.cjk
    first = _first_level(
        a.first, b.first, a.first_skel, b.first_skel, a.first_nick, b.first_nick,
        cjk or (mixed and _pinyin_apart(a.first, b.first, a.cjk, b.cjk)),
    )  # fmt: skip
    last = _last_level(
        a.last, b.last, a.last_skel, b.last_skel, cjk or (mixed and _pinyin_apart(a.last, b.last, a.cjk, b.cjk))
    )
    if a.first and b.first and a.last and b.last and (first or 0) + (last or 0) < 7:
        # Token sort: the same two names the other way round (common with Chinese names).
        s_first = _first_level(
            a.first, b.last, a.first_skel, b.last_skel, a.first_nick, nickname_groups(b.last),
            cjk or (mixed and _pinyin_apart(a.first, b.last, a.cjk, b.cjk)),
        )  # fmt: skip
        s_last = _last_level(
            a.last, b.first, a.last_skel, b.first_skel, cjk or (mixed and _pinyin_apart(a.last, b.first, a.cjk, b.cjk))
        )
        if (s_first or 0) + (s_last or 0) > (first or 0) + (last or 0) + 1:
            return s_first, s_last, True
    elif one_name := _one_name(a, b):
        # The single name against the other record's name in the other field.
        one, other = one_name
        if one.last:
            x, x_skel, y, y_skel = one.last, one.last_skel, other.first, other.first_skel
        else:
            x, x_skel, y, y_skel = one.first, one.first_skel, other.last, other.last_skel
        s_last = _last_level(x, y, x_skel, y_skel, cjk or (mixed and _pinyin_apart(x, y, one.cjk, other.cjk)))
        if (s_last or 0) >= 2 and (s_last or 0) > (first or 0) + (last or 0) + 1:
            return None, s_last, True
    return first, last, False


def _one_name(a: Person, b: Person) -> tuple[Person, Person] | None:
    """(the record with a single name, the one with both) — or None. The single name may be
    in the other field of the other record: a Chinese name in Latin letters is typed in either
    order ("Liu Yang" in the first and last name fields, "刘" alone as the last name)."""
    one_a, one_b = bool(a.first) != bool(a.last), bool(b.first) != bool(b.last)
    if one_a and b.first and b.last:
        return a, b
    if one_b and a.first and a.last:
        return b, a
    return None


def _single_name(a: Person, b: Person) -> str:
    """The name of whichever record has only one."""
    one = a if not (a.first and a.last) else b
    return one.first or one.last


def _hanzi_names(a: Person, b: Person) -> tuple[int | None, int | None, bool]:
    """Both names in characters: the same characters are the same name; other characters
    read alike (伟 and 维, both "wei") a spelling variant — an input method's slip, or another
    name; other sounds another name (one pinyin letter apart is another character)."""

    def level(x: str, y: str, x_han: str, y_han: str, exact: int) -> int | None:
        if not x or not y:
            return None
        return exact if x_han == y_han else exact - 1 if x == y else 0

    first = level(a.first, b.first, a.first_han, b.first_han, 5)
    last = level(a.last, b.last, a.last_han, b.last_han, 4)
    if a.first and b.first and a.last and b.last and (first or 0) + (last or 0) < 7:
        s_first = level(a.first, b.last, a.first_han, b.last_han, 5)
        s_last = level(a.last, b.first, a.last_han, b.first_han, 4)
        if (s_first or 0) + (s_last or 0) > (first or 0) + (last or 0) + 1:
            return s_first, s_last, True
    elif one_name := _one_name(a, b):
        one, other = one_name
        if one.last:
            s_last = level(one.last, other.first, one.last_han, other.first_han, 4)
        else:
            s_last = level(one.first, other.last, one.first_han, other.last_han, 4)
        if (s_last or 0) > (first or 0) + (last or 0) + 1:
            return None, s_last, True
    return first, last, False


@lru_cache(maxsize=40_000)  # about 100 years of days
def _digits(day: date) -> str:
    return f"{day.year:04d}{day.month:02d}{day.day:02d}"


def _birth_level(a: date | None, b: date | None) -> int | None:
    if a is None or b is None:
        return None
    if a == b:
        return 3
    if (a.day, a.month) == (b.month, b.day) and a.year == b.year:
        return 2  # day and month swapped
    if DamerauLevenshtein.distance(_digits(a), _digits(b), score_cutoff=1) <= 1:
        return 2
    return 1 if a.year == b.year else 0


# A number this short after a name-made e-mail name (wang82, anna.petrova7) is one of a few
# dozen each provider hands out: namesakes on two providers share it by chance.
SHORT_NUMBER = 2


def _from_names(local: str, p: Person) -> bool:
    """True when an e-mail's personal part is only the person's names (anna.petrova, apetrova),
    perhaps with a short number (wang82): agreeing on it repeats the names' evidence —
    namesakes get the same name on another domain."""
    letters = _NON_LETTER.sub("", local)
    if len("".join(_DIGITS.findall(local))) > SHORT_NUMBER or not p.last:
        return False
    f, last = p.first, p.last
    options = {f + last, last + f, f[:1] + last, last + f[:1], last, f}
    return letters in options


def _email_level(a: Person, b: Person) -> int | None:
    if not a.emails or not b.emails:
        return None
    if a.emails & b.emails:
        return 3
    shared = a.email_locals & b.email_locals
    if shared:
        return None if all(_from_names(x, a) or _from_names(x, b) for x in shared) else 2
    for x in a.email_locals:
        for y in b.email_locals:
            # A typo, not another number (anna.smith1@ and anna.smith2@ are two mailboxes).
            if _DIGITS.findall(x) == _DIGITS.findall(y) and DamerauLevenshtein.distance(x, y) <= 1:
                if _from_names(x, a) or _from_names(y, b):
                    return None
                return 1
    for x in a.emails:
        for y in b.emails:
            # One slip apart otherwise — a digit dropped or transposed (wang82@, wang2@,
            # wang28@) or a letter in a short name (gchen@, ghen@): a typo or another mailbox,
            # no evidence either way. Another digit in its place is another number.
            x_local, y_local = x.split("@", 1)[0], y.split("@", 1)[0]
            if DamerauLevenshtein.distance(x_local, y_local, score_cutoff=1) <= 1 and not _other_digit(
                x_local, y_local
            ):
                return None
    return 0


_ASCII_DIGITS = frozenset("0123456789")


def _other_digit(a: str, b: str) -> bool:
    """Whether ``b`` is ``a`` with one digit replaced by another (anna.smith1, anna.smith2)."""
    if len(a) != len(b):
        return False
    changed = [(x, y) for x, y in zip(a, b, strict=True) if x != y]
    # ASCII digits only: "²".isdigit() is true, and a superscript is a typing slip, not a number.
    return len(changed) == 1 and changed[0][0] in _ASCII_DIGITS and changed[0][1] in _ASCII_DIGITS


def _street_level(a: Person, b: Person) -> int | None:
    if not a.street or not b.street:
        return None
    if a.street == b.street:
        return 3
    words = _jw(a.street_words, b.street_words) if a.street_words and b.street_words else 0.0
    # The same street with a house number one typo apart. Without numbers (Chinese addresses
    # name the building by a letter, "韩路V座") another building is another address: the
    # street alone is shared by thousands of people.
    numbered = a.street_number and b.street_number
    if words >= 0.92 and numbered and DamerauLevenshtein.distance(a.street_number, b.street_number) <= 1:
        return 2
    return 1 if words >= 0.85 else 0


def _address_level(a: Person, b: Person) -> int | None:
    street = _street_level(a, b)
    postcode = None
    if a.postcode and b.postcode:
        typo = DamerauLevenshtein.distance(a.postcode, b.postcode) <= 1
        postcode = 2 if a.postcode == b.postcode else 1 if typo else 0
    city = None
    if a.city and b.city:
        city = 2 if a.city == b.city else 1 if _jw(a.city, b.city) >= 0.88 else 0
    if street is None and postcode is None and city is None:
        return None
    if street == 3 and postcode != 0:
        return 3
    if street == 2 or (street != 0 and postcode in (1, 2)):
        return 2
    if city:
        return 1
    return 0


def compare(a: Person, b: Person, tf: Mapping[str, Mapping[str, float]] | None = None) -> tuple[int | None, ...]:
    """The agreement level of each of ``COMPARISONS`` (None: a value is missing), then the
    swapped-names flag (1 or 0), the frequencies of agreeing common names and of a shared
    common city (or None)."""
    first, last, swapped = _names(a, b)
    first_tf = last_tf = full_tf = near_tf = None
    records = tf.get("records", {}).get("count") if tf else None
    if tf and first == 5 and last == 4:
        # Namesakes: how many records carry this very full name (the pair included). Were
        # ``b`` someone else, it would be one of the carriers other than ``a``: the name's
        # share among the others is (count − 1) / records (count, as Splink takes it, counts
        # ``a`` itself, which a small table feels: a name on 3 records is 1.5 times as common
        # as one on 2).
        count = tf.get("full_name", {}).get(full_name_key(a))
        if count and count > 1 and records:
            # A small table cannot tell a name's frequency (two records of one person would
            # be "a name carried by everyone"): it is measured against at least TF_MIN_RECORDS.
            full_tf = (count - 1) / max(records, TF_MIN_RECORDS)
    elif tf and records and (first or 0) >= 2 and (last or 0) >= 1:
        # Both names similar, not both equal: "Zhang Wie" is as close to every other "Zhang
        # Wei" as to this one, so the commoner of the two full names sets how much it says —
        # the share of the *other* records carrying it (a unique name: nothing to discount).
        names = tf.get("full_name", {})
        count = max(names.get(full_name_key(a), 1), names.get(full_name_key(b), 1)) - 1
        if count > 0:
            near_tf = count / max(records, TF_MIN_RECORDS)
    if tf:
        # Swapped, a's first name is b's last name: its frequency as a last name counts.
        first_table, last_table = ("last_name", "first_name") if swapped else ("first_name", "last_name")
        if first == 5:
            first_tf = tf.get(first_table, {}).get(a.first)
        if last == 4 and swapped and first is None:
            # A single name matching the other record's name in the other field: weighed by
            # its frequency as a surname (most such single names are).
            last_tf = tf.get("last_name", {}).get(_single_name(a, b))
        elif last == 4:
            last_tf = tf.get(last_table, {}).get(a.last)
    address = _address_level(a, b)
    # Only the city agrees: a big city says less than a village (as names, by its share).
    city_tf = tf.get("city", {}).get(a.city) if tf and address == 1 and a.city == b.city else None
    company = None
    if a.company_id and b.company_id:
        company = 1 if a.company_id == b.company_id else 0
    phone = None
    if a.phones and b.phones:
        phone = 1 if a.phones & b.phones else 0
    return (
        first,
        last,
        _birth_level(a.birth_date, b.birth_date),
        _email_level(a, b),
        phone,
        address,
        company,
        1 if swapped else 0,
        first_tf,
        last_tf,
        full_tf,
        near_tf,
        city_tf,
    )


# --- Parameters and weights ---------------------------------------------------------------------


@dataclass
class Parameters:
    """m and u per comparison level and the prior share of matches among blocked pairs."""

    prior: float
    m: dict[str, list[float]]
    u: dict[str, list[float]]
    # Term frequencies: the share of records carrying each common first / last name. Agreeing
    # on "Wang" says less than agreeing on "Oyelaran": the exact level's u becomes the name's
    # own frequency when that is higher (as Splink's term-frequency adjustment).
    tf: dict[str, dict[str, float]] = field(default_factory=dict)
    # u of the fields a family shares (address, phone, company) among different people with
    # the same surname: relatives agree on them far more often than random pairs, so for a
    # pair sharing a surname these fields are weighed against relatives (the chain rule:
    # P(address, surname | different) = P(surname | different) · P(address | surname, different)).
    u_kin: dict[str, list[float]] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        return {"prior": self.prior, "m": self.m, "u": self.u, "tf": self.tf, "u_kin": self.u_kin}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Parameters:
        return cls(
            prior=float(data["prior"]),
            m=dict(data["m"]),
            u=dict(data["u"]),
            tf=dict(data.get("tf") or {}),
            u_kin=dict(data.get("u_kin") or {}),
        )

    def level_weight(self, index: int, level: int, frequency: float | None = None, kin: bool = False) -> float:
        name = COMPARISONS[index].name
        table = self.u_kin.get(name) if kin else None
        u = (table or self.u[name])[level]
        if frequency is not None:
            u = max(u, frequency)
        return math.log2(self.m[name][level] / u)

    def field_weights(self, gamma: Sequence[Any]) -> list[tuple[int, float]]:
        """(comparison index, weight) of each comparison with a value."""
        kin = _kin(gamma)
        weights = [
            (i, self.level_weight(i, gamma[i], _frequency(gamma, i), kin))
            for i in range(len(COMPARISONS))
            if gamma[i] is not None
        ]
        if _household(gamma):
            # A household shares its phone, address and often employer: for a pair that could
            # be relatives these agreements are one piece of evidence ("same household"), not
            # three independent ones. Counted three times they grew with the table (each
            # field's u among same-surname pairs falls as strangers with the surname multiply)
            # and outvoted a different first name. The strongest one counts, shared out.
            family = [(n, w) for n, (i, w) in enumerate(weights) if i in _FAMILY and w > 0]
            total = sum(w for _n, w in family)
            if len(family) > 1 and total > 0:
                strongest = max(w for _n, w in family)
                for n, w in family:
                    weights[n] = (weights[n][0], w * strongest / total)
        full = gamma[FULL_TF] if len(gamma) > FULL_TF else None
        if full:
            # Both names exact: together they say no more than the share of records carrying
            # this full name allows (two "Wang Wei"s are often two people). The reduction is
            # split between the two names.
            first, last = weights[0][1], weights[1][1]
            m_both = self.m["first_name"][gamma[0]] * self.m["last_name"][gamma[1]]
            cap = math.log2(m_both / full)
            if first + last > cap:
                cut = (first + last - cap) / 2
                weights[0], weights[1] = (0, first - cut), (1, last - cut)
        near = gamma[NEAR_TF] if len(gamma) > NEAR_TF else None
        if near:
            # Similar names (a typo, a variant): as Splink's term-frequency adjustment, the
            # weight moves by log2(u of an exact full name on average / this name's share),
            # only ever down — a common name's neighbours are many.
            average = self.u["first_name"][-1] * self.u["last_name"][-1]
            cut = min(0.0, math.log2(average / near)) / 2
            if cut:
                weights[0], weights[1] = (0, weights[0][1] + cut), (1, weights[1][1] + cut)
        return weights

    def weight(self, gamma: Sequence[Any]) -> float:
        return math.log2(self.prior / (1 - self.prior)) + sum(w for _i, w in self.field_weights(gamma))


def _same_surname(gamma: Sequence[Any]) -> bool:
    # Exact, a spelling variant or a typo (Jaro-Winkler ≥ 0.92) — or, names swapped, one
    # record's first name agreeing with the other's surname ("Tan Ling" and 建 谭).
    return (gamma[1] or 0) >= 2 or _swapped_surname(gamma)


def _swapped_surname(gamma: Sequence[Any]) -> bool:
    """Names compared the other way round and only ``a``'s first name agreeing (with ``b``'s
    surname): which of the two is a surname is unknown, so it may be the family's."""
    return len(gamma) > SWAPPED and bool(gamma[SWAPPED]) and (gamma[0] or 0) >= 4 and (gamma[1] or 0) < 2


_FAMILY = frozenset(i for i, c in enumerate(COMPARISONS) if c.name in ("phone", "address", "company"))


def _kin(gamma: Sequence[Any]) -> bool:
    """Could the pair be relatives or colleagues: the same surname and another first name
    (different or only similar)? Relatives have other first names, so once both names agree
    the family fields are weighed against random people again — the namesakes that remain
    share a phone, an address or an employer no more often than anyone.

    A first name missing on one side is no evidence of another person: the family fields are
    then weighed against everyone sharing the surname, nearly all strangers (``u``), not
    against relatives — measured on the generated people, such pairs sharing an address or
    a phone and nothing else were 92–97 % one person, while ``u_kin`` put them at 25 %."""
    if _swapped_surname(gamma):
        return gamma[1] is not None  # the other name, known and different
    return _same_surname(gamma) and gamma[0] is not None and gamma[0] < 4


def _household(gamma: Sequence[Any]) -> bool:
    """Could the pair be one household: the same surname and not the same first name
    (different, similar or missing)? Then phone, address and employer are one piece of
    evidence, not three."""
    return _swapped_surname(gamma) or (_same_surname(gamma) and (gamma[0] is None or gamma[0] < 4))


_ADDRESS = next(i for i, c in enumerate(COMPARISONS) if c.name == "address")


def _frequency(gamma: Sequence[Any], index: int) -> float | None:
    if len(gamma) <= LAST_TF:
        return None
    if index == _ADDRESS:
        return gamma[CITY_TF] if len(gamma) > CITY_TF else None
    return gamma[FIRST_TF] if index == 0 else gamma[LAST_TF] if index == 1 else None


def probability(weight: float) -> float:
    """The match weight (log2 of the odds) as a probability."""
    if weight > 60:
        return 1.0
    if weight < -60:
        return 0.0
    odds = 2.0**weight
    return odds / (1 + odds)


@dataclass
class Match:
    weight: float
    probability: float
    reasons: list[dict[str, Any]] = field(default_factory=list)

    @property
    def score(self) -> int:
        """The probability in per cent, as stored on a candidate pair."""
        return max(0, min(100, round(self.probability * 100)))

    @property
    def labels(self) -> list[str]:
        return [reason_label(r) for r in self.reasons]

    @property
    def strong(self) -> bool:
        """Shares an e-mail address or a phone: always worth a warning on the form."""
        return any(r["field"] in ("email", "phone") and r["level"] == "exact" for r in self.reasons)


def explain(gamma: Sequence[int | None], params: Parameters) -> Match:
    """The match weight, probability and per-field reasons of a comparison vector; reasons
    are ``{"field", "level", "weight"}`` dicts, strongest evidence first."""
    reasons = []
    for i, weight in params.field_weights(gamma):
        comparison = COMPARISONS[i]
        reasons.append({"field": comparison.name, "level": comparison.levels[gamma[i]], "weight": round(weight, 1)})
    reasons.sort(key=lambda r: -abs(r["weight"]))
    if gamma[SWAPPED]:
        reasons.append({"field": "name", "level": "swapped", "weight": 0.0})
    weight = params.weight(gamma)
    return Match(weight, probability(weight), reasons)


def score(
    a: Person,
    b: Person,
    params: Parameters,
    *,
    full_name_count: int | None = None,
    full_names: Mapping[str, int] | None = None,
) -> Match:
    """Score one pair; ``full_names``: how many records carry each full name (``full_name_key``;
    a name left out is carried by one), or ``full_name_count``: by how many ``a``'s is."""
    tf: dict[str, Any] = dict(params.tf)
    if full_names is not None:
        tf["full_name"] = full_names
    elif full_name_count:
        tf["full_name"] = {full_name_key(a): full_name_count}
    return explain(compare(a, b, tf), params)


# A name carried by at least this share of the records (and by 3 records) gets its own u.
TF_MIN_SHARE = 0.001
TF_MIN_RECORDS = 1000


def term_frequencies(
    first_names: Counter, last_names: Counter, records: int, cities: Counter | None = None
) -> dict[str, dict[str, float]]:
    """The shares of the common first and last names (and cities) among ``records``."""
    if records < TF_MIN_RECORDS:
        return {"records": {"count": records}}
    tables = {
        name: {v: round(n / records, 5) for v, n in counts.items() if v and n >= 3 and n / records >= TF_MIN_SHARE}
        for name, counts in (("first_name", first_names), ("last_name", last_names), ("city", cities or Counter()))
    }
    return {**tables, "records": {"count": records}}


def birth_date_u(birth_dates: Counter) -> float | None:
    """u of an exact birth date, counted rather than sampled: the chance that two different
    records with a birth date share it, Σ n_d (n_d − 1) / (N (N − 1)). 40,000 random pairs
    hold one or two such coincidences — too few to weigh the strongest evidence there is."""
    total = sum(birth_dates.values())
    if total < TF_MIN_RECORDS:
        return None
    same = sum(n * (n - 1) for n in birth_dates.values())
    return max(same, 1) / (total * (total - 1))


def with_birth_date_u(u: dict[str, list[float]], exact: float | None) -> dict[str, list[float]]:
    """``u`` with the exact birth date level set to ``exact`` (the others keep their shares
    of what is left)."""
    if exact is None:
        return u
    levels = list(u["birth_date"])
    rest = sum(levels[:-1])
    levels = [x * (1 - exact) / rest for x in levels[:-1]] + [exact]
    return {**u, "birth_date": levels}


# Lazy: the module is imported once, the labels are read in each user's language.
_FIELD_LABELS = {
    "first_name": gettext_lazy("first name"),
    "last_name": gettext_lazy("last name"),
    "birth_date": gettext_lazy("birth date"),
    "email": gettext_lazy("email"),
    "phone": gettext_lazy("phone"),
    "address": gettext_lazy("address"),
    "company": gettext_lazy("company"),
}


def reason_label(reason: Mapping[str, Any]) -> str:
    """``"same birth date +6.1"``, ``"street differs −2.3"``."""
    name, level = reason.get("field", ""), reason.get("level", "")
    if name == "name" and level == "swapped":
        return _("first and last name swapped")
    what = _FIELD_LABELS.get(name, name)
    templates = {
        "exact": _("same %(field)s"),
        "variant": _("%(field)s: nickname or spelling variant"),
        "jw92": _("similar %(field)s"),
        "jw85": _("somewhat similar %(field)s"),
        "initial": _("%(field)s: matching initial"),
        "typo": _("%(field)s differs by a typo"),
        "same_year": _("%(field)s: same year only"),
        "same_name": _("same %(field)s name, other domain"),
        "similar": _("similar %(field)s"),
        "near": _("nearly the same %(field)s"),
        "same_city": _("%(field)s: same city only"),
        "different": _("%(field)s differs"),
    }
    text = templates.get(level, "%(field)s") % {"field": what}
    weight = float(reason.get("weight", 0.0))
    return f"{text} {'+' if weight >= 0 else '−'}{abs(weight):.1f}"


# --- Estimation ------------------------------------------------------------------------------


def _smoothed(counts: Sequence[float], total: float) -> list[float]:
    """Shares with half a pair added to each level, so no level is ever impossible (log 0)."""
    return [(c + 0.5) / (total + 0.5 * len(counts)) for c in counts]


def estimate_u(gammas: Iterable[Sequence[int | None]]) -> dict[str, list[float]]:
    """u from comparison vectors of random pairs (nearly all different people)."""
    counts = {c.name: [0.0] * len(c.levels) for c in COMPARISONS}
    for gamma in gammas:
        for i, c in enumerate(COMPARISONS):
            if gamma[i] is not None:
                counts[c.name][gamma[i]] += 1
    return {name: _smoothed(values, sum(values)) for name, values in counts.items()}


def _initial_m() -> dict[str, list[float]]:
    """EM's starting point: a match mostly agrees exactly, rarely differs."""
    m = {}
    for c in COMPARISONS:
        raw = [2.0**i for i in range(len(c.levels))]
        m[c.name] = [x / sum(raw) for x in raw]
    return m


@dataclass
class Estimate:
    params: Parameters
    iterations: int
    converged: bool
    pairs: int
    labelled_matches: int
    labelled_non_matches: int


_FIRST, _LAST, _BIRTH, _EMAIL = 0, 1, 2, 3
_NAMES = frozenset((_FIRST, _LAST))
_IDENTIFIERS = frozenset((_BIRTH, _EMAIL))
# A session needs this many pairs to say anything; labelled matches this many to replace EM.
MIN_SESSION_PAIRS = 20
LABELLED_ENOUGH = 200

Gamma = tuple[int | None, ...]


def _names_agree(g: Gamma) -> bool:
    return (g[_FIRST] or 0) >= 4 and (g[_LAST] or 0) >= 3


def _identifier_agrees(g: Gamma) -> bool:
    # Not the phone: relatives share a home phone, and this session learns what names do.
    return g[_BIRTH] == 3 or g[_EMAIL] == 3


def _em(
    items: list[tuple[Gamma, float]],
    known: list[tuple[Gamma, float, float]],
    u: dict[str, list[float]],
    used: frozenset[int],
    *,
    prior: float,
    max_iterations: int,
    tolerance: float,
    m: dict[str, list[float]] | None = None,
    fit_m: bool = True,
) -> tuple[dict[str, list[float]], float, int, bool]:
    """EM over comparison vectors reading only the ``used`` comparisons: (m, prior,
    iterations, converged). With ``fit_m`` false only the prior moves."""
    m = dict(m or _initial_m())
    names = [(i, c.name, len(c.levels)) for i, c in enumerate(COMPARISONS) if i in used]
    iteration = 0
    for iteration in range(1, max_iterations + 1):
        base = math.log2(prior / (1 - prior))
        weights = {name: [math.log2(x / y) for x, y in zip(m[name], u[name], strict=True)] for _i, name, _n in names}
        m_counts = {name: [0.0] * n for _i, name, n in names}
        matches = total = 0.0
        for gamma, count in items:
            w = base
            for i, name, _n in names:
                if gamma[i] is not None:
                    w += weights[name][gamma[i]]
            p = probability(w) * count
            matches += p
            total += count
            for i, name, _n in names:
                if gamma[i] is not None:
                    m_counts[name][gamma[i]] += p
        for gamma, yes, no in known:
            matches += yes
            total += yes + no
            for i, name, _n in names:
                if gamma[i] is not None:
                    m_counts[name][gamma[i]] += yes
        new_prior = min(max(matches / total, 1e-6), 1 - 1e-6) if total else prior
        change = abs(new_prior - prior)
        prior = new_prior
        if fit_m:
            new_m = {name: _smoothed(values, sum(values)) for name, values in m_counts.items()}
            change += max(abs(x - y) for name in new_m for x, y in zip(new_m[name], m[name], strict=True))
            m.update(new_m)
        if change < tolerance:
            return m, prior, iteration, True
    return m, prior, iteration, False


def estimate(
    patterns: Mapping[Gamma, int],
    u: dict[str, list[float]],
    *,
    labelled: Mapping[Gamma, tuple[int, int]] | None = None,
    prior: float = 0.1,
    max_iterations: int = 200,
    tolerance: float = 1e-6,
    fallback: Parameters | None = None,
    tf: dict[str, dict[str, float]] | None = None,
    records: int | None = None,
) -> Estimate:
    """m and the prior by EM over the blocked pairs' comparison vectors (``patterns``: vector →
    number of pairs), u held fixed (measured on random pairs).

    Blocked pairs mostly share a name, so one EM over all of them would learn "same name"
    rather than "same person". As Splink does with its training sessions, each session reads
    only pairs already agreeing on something and leaves those fields out of its model:
    pairs agreeing on first and last name give m of every other field; pairs agreeing on an
    identifier (birth date, e-mail or phone) give m of the names. The prior then comes from
    EM over all pairs with m fixed.

    ``records``: how many records the blocked pairs were drawn from; the returned prior is
    then the chance that two random records match.

    ``labelled``: vector → (pairs users merged, pairs users dismissed). Their class is known,
    so they enter every M step as they are; with ``LABELLED_ENOUGH`` merged pairs, m is
    simply counted on them.
    """
    labelled = labelled or {}
    fallback = fallback or DEFAULT_PARAMETERS
    width = len(COMPARISONS)
    u_kin = estimate_u_kin(patterns)
    # The sessions read the comparison levels only: vectors differing in their name
    # frequencies alone are one item (a few thousand items instead of one per pattern).
    levels: Counter = Counter()
    for g, n in patterns.items():
        levels[g[:width]] += n
    items = [(g, float(n)) for g, n in levels.items()]
    known = [(g[:width], float(yes), float(no)) for g, (yes, no) in labelled.items()]
    every = frozenset(range(width))
    m = {name: list(values) for name, values in fallback.m.items()}
    iterations = 0
    converged = True
    labelled_matches = sum(yes for yes, _no in labelled.values())
    if labelled_matches >= LABELLED_ENOUGH:
        counts = {c.name: [0.0] * len(c.levels) for c in COMPARISONS}
        for gamma, yes, _no in known:
            for i, c in enumerate(COMPARISONS):
                if gamma[i] is not None:
                    counts[c.name][gamma[i]] += yes
        m = {name: _smoothed(values, sum(values)) for name, values in counts.items()}
    else:
        sessions = ((_names_agree, every - _NAMES), (_identifier_agrees, every - _IDENTIFIERS))
        learnt: list[dict[str, list[float]]] = []
        for keep, used in sessions:
            chosen = [(g, n) for g, n in items if keep(g)]
            if sum(n for _g, n in chosen) < MIN_SESSION_PAIRS:
                learnt.append({})
                continue
            # Pairs agreeing on names share a surname: their family fields are weighed by u_kin.
            session_u = u
            fitted, _prior, n_iter, ok = _em(
                chosen, [k for k in known if keep(k[0])], session_u, used,
                prior=0.5, max_iterations=max_iterations, tolerance=tolerance,
            )  # fmt: skip
            iterations += n_iter
            converged = converged and ok
            learnt.append({COMPARISONS[i].name: fitted[COMPARISONS[i].name] for i in used})
        by_names, by_identifiers = learnt
        m.update(by_identifiers)
        m.update(by_names)  # everything but the names, which only by_identifiers learnt
    params = Parameters(prior, m, u, tf or {}, u_kin)
    # The prior share of matches among blocked pairs, by EM with m and u fixed.
    full = [(tuple(g), float(n)) for g, n in patterns.items()]
    # Only the prior moves: each pattern's field weights are summed once.
    fields = [(sum(w for _i, w in params.field_weights(g)), n) for g, n in full]
    n_iter = 0
    ok = False
    for n_iter in range(1, max_iterations + 1):  # noqa: B007 (reported)
        base = math.log2(params.prior / (1 - params.prior))
        matches = sum(probability(base + w) * n for w, n in fields) + sum(yes for _g, yes, _no in known)
        total = sum(n for _g, n in full) + sum(yes + no for _g, yes, no in known)
        new_prior = min(max(matches / total, 1e-6), 1 - 1e-6) if total else params.prior
        change, params.prior = abs(new_prior - params.prior), new_prior
        if change < tolerance:
            ok = True
            break
    if records:
        # u was measured on random pairs, so the prior must be the chance that two *random*
        # records match (as in Splink), not the share among blocked pairs: the expected
        # matches over all pairs. Mixing the two would overstate every probability by the
        # ratio of all pairs to blocked pairs (about 800 times at 20,000 records).
        blocked = sum(n for _g, n in full)
        every = records * (records - 1) / 2
        params.prior = min(max(params.prior * blocked / every, 1e-12), 0.5)
    return Estimate(
        params,
        iterations + n_iter,
        converged and ok,
        sum(patterns.values()),
        labelled_matches,
        sum(no for _yes, no in labelled.values()),
    )


# Fields a family shares, and how many same-surname pairs with different first names (nearly
# all relatives or namesakes) it takes to measure their u among relatives.
KIN_FIELDS = ("phone", "address", "company")
MIN_KIN_PAIRS = 30


def estimate_u_kin(patterns: Mapping[Gamma, int]) -> dict[str, list[float]]:
    """u of the family fields among different people sharing a surname, measured on blocked
    pairs with the same surname and a different first name."""
    index = {c.name: i for i, c in enumerate(COMPARISONS)}
    counts = {name: [0.0] * len(COMPARISONS[index[name]].levels) for name in KIN_FIELDS}
    for gamma, n in patterns.items():
        if _same_surname(gamma) and gamma[_FIRST] == 0:
            for name in KIN_FIELDS:
                level = gamma[index[name]]
                if level is not None:
                    counts[name][level] += n
    return {name: _smoothed(c, sum(c)) for name, c in counts.items() if sum(c) >= MIN_KIN_PAIRS}


def random_pairs(count: int, records: int, rng: random.Random) -> list[tuple[int, int]]:
    """``count`` random pairs of distinct indexes below ``records`` (for u)."""
    if records < 2:
        return []
    pairs = []
    for _n in range(count):
        i = rng.randrange(records)
        j = rng.randrange(records - 1)
        pairs.append((i, j + 1 if j >= i else j))
    return pairs


def count_patterns(gammas: Iterable[tuple[int | None, ...]]) -> Counter:
    return Counter(gammas)


# Used until a refresh has enough data to estimate parameters (MIN_ESTIMATE_RECORDS): what
# the refresh estimated on bench/dedupe_quality.py's 1,000 generated people (2,082 records),
# rounded, with the identifiers' u (e-mail, phone) set to a real address book's 1 in 10,000.
DEFAULT_PARAMETERS = Parameters(
    prior=0.0008,
    m={
        "first_name": [0.029, 0.065, 0.065, 0.123, 0.052, 0.666],
        "last_name": [0.101, 0.066, 0.158, 0.025, 0.65],
        "birth_date": [0.021, 0.001, 0.183, 0.795],
        "email": [0.022, 0.044, 0.034, 0.9],
        "phone": [0.0013, 0.9987],
        "address": [0.23, 0.01, 0.195, 0.565],
        "company": [0.0017, 0.9983],
    },
    u={
        "first_name": [0.9932, 0.0016, 0.0008, 0.0005, 0.00025, 0.0037],
        "last_name": [0.9924, 0.00056, 0.00056, 0.00009, 0.0064],
        "birth_date": [0.9853, 0.0128, 0.0012, 0.0008],
        "email": [0.9998, 0.00003, 0.00003, 0.0001],
        "phone": [0.9999, 0.0001],
        "address": [0.9966, 0.0014, 0.0016, 0.00044],
        "company": [0.9915, 0.0085],
    },
    u_kin={
        "phone": [0.87, 0.13],
        "address": [0.90, 0.016, 0.019, 0.064],
        "company": [0.66, 0.34],
    },
)
