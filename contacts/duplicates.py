"""Finding duplicate companies and contacts: the form's live warning, the import preview, the
on-save update and the nightly refresh.

Contacts: blocking keys stored on the row (``Contact.dedupe_keys``, from
``contacts.linkage.block_keys``) and the Fellegi–Sunter matcher of ``contacts.linkage``,
whose parameters the refresh re-estimates (``MatchParameters``). Companies: the SQL keys of
``dedupe_company_keys`` (migration ``add_duplicate_detection``) and the rule-based scorer of
``contacts.matching``. Every path of a kind judges a pair the same way.

The live check is one indexed query over the records the user may see (a duplicate the user
may not see is never hinted at). The refresh is set-based: one statement computes every
active record's keys into a temporary table, one joins records sharing a key into candidate
pairs (skipping identifiers shared by more than ``BLOCK_CAP`` records, which say nothing, and
pairing only neighbours in big blocks of names and birth dates: ``WEAK_BLOCK``), and the
pairs are then streamed from a server-side cursor and scored in batches — no per-record
query, no O(n²) pass. It runs in one transaction, so readers see the old or the new
candidates, never half.
"""

from __future__ import annotations

import logging
import time
from array import array
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime
from typing import Any

from django.contrib.postgres.fields import ArrayField
from django.contrib.postgres.search import TrigramSimilarity
from django.core.cache import cache
from django.db import DatabaseError, connection, transaction
from django.db.models import F, Func, IntegerField, Q, TextField, Value
from django.db.models.functions import Lower
from django.utils import timezone
from psycopg2.extras import Json, execute_values

from contacts import linkage
from contacts.linkage import MATCH_PROBABILITY, WARN_PROBABILITY, Parameters, Person
from contacts.matching import DUPLICATE_SCORE, WARN_SCORE, company_values, score_companies
from contacts.models import (
    COMPANY_KEYS,
    CandidateStatus,
    Company,
    Contact,
    DuplicateCandidate,
    MatchParameters,
    MergeRecord,
    NameFrequency,
    RecordKind,
    company_match_keys,
)
from crm.models import User

logger = logging.getLogger(__name__)

# pg_trgm similarity from which two company names count as "similar" (0 = nothing shared, 1 = equal).
NAME_SIMILARITY = 0.5
# A blocking key shared by more records than this (a switchboard number, "info@…", a very
# common name) is skipped: it would add thousands of pairs and almost no true duplicate.
BLOCK_CAP = 100
# Contacts: keys of identifiers (e-mail, e-mail name, phone, postcode with house number or an
# initial, street in a city, company with a name) pair all the records sharing them, up to
# BLOCK_CAP. Keys of names and birth dates (n:, q:, r:, f:, b:, m:) are shared by more records
# the bigger the table — all pairs of a block of 100 cost 50 comparisons per record — so their
# blocks pair every record only up to WEAK_BLOCK members; a bigger block (of any size) is
# sorted twice, by birth date and then name, and by name and then postcode, and each record is
# paired with its WINDOW next neighbours in each order (sorted neighbourhood within the block).
# Records without a birth date have no place in the first order (sorted last, their
# neighbours there would be any records of the block) and are paired in the second only. The
# pairs per record then stay about the same whatever the table's size, and a common name
# still pairs the records that share a birth date or a postcode.
STRONG_KEYS = "eplzyca"
WEAK_BLOCK = 30
# Two neighbours in each order, not one: at 1,000,000 contacts blocking recall 0.978 → 0.980
# for 10.7 → 13.2 pairs per record (bench/dedupe_blocking.py).
WINDOW = 2
BATCH = 5000
# Normalised records kept between batches (about 1.5 kB each): the nightly refresh keeps
# every record it normalised while updating the keys, up to this many (about 2 GB; past it,
# records are normalised again as pairs need them, which costs more time than memory).
CACHE_RECORDS = 1_500_000
LAST_REFRESH_CACHE_KEY = "duplicates-last-refresh"


@dataclass(frozen=True)
class Duplicate:
    record: Company | Contact
    reasons: list[str]
    score: int = 0


def _input_keys(function: str, *values: str) -> Func:
    args = [Value(v or "", output_field=TextField()) for v in values]
    return Func(*args, function=function, output_field=ArrayField(TextField()))


def _shared(keys: Func) -> Func:
    """How many blocking keys a row shares with ``keys`` (identifiers count twice), so the
    few rows the live check scores are the likeliest ones even when a common name matches many."""
    return Func(F("match_keys"), keys, function="dedupe_shared", output_field=IntegerField())


def company_duplicates(
    user: User,
    *,
    name: str,
    domain: str = "",
    phone: str = "",
    email: str = "",
    street: str = "",
    city: str = "",
    postal_code: str = "",
    country: str = "",
    exclude_pk: int | None = None,
    limit: int = 5,
) -> list[Duplicate]:
    """Visible active companies that share a blocking key with the one being saved (or have
    a trigram-similar name), scored; those worth a warning, best first."""
    keys = _input_keys("dedupe_company_keys", name, domain, email, phone)
    condition = Q(match_keys__overlap=keys)
    if name.strip():
        # ``%`` (trigram_similar) can use the GIN index; similar names need no shared key.
        condition |= Q(name__trigram_similar=name)
    qs = (
        Company.objects.visible_to(user)
        .active()
        .alias(match_keys=company_match_keys())
        .annotate(similarity=TrigramSimilarity(Lower("name"), name.lower()), shared=_shared(keys))
        .filter(condition)
        .select_related("owner")
        .order_by("-shared", "-similarity", "id")
    )
    if exclude_pk is not None:
        qs = qs.exclude(pk=exclude_pk)
    typed = company_values(
        {
            "name": name,
            "domain": domain,
            "email": email,
            "phone": phone,
            "street": street,
            "city": city,
            "postal_code": postal_code,
            "country": country,
        }
    )
    found = []
    for company in qs[:50]:
        match = score_companies(typed, company_values(company))
        if match.strong or match.score >= WARN_SCORE["company"]:
            found.append(Duplicate(company, match.labels, match.score))
    found.sort(key=lambda d: -d.score)
    return found[:limit]


# --- Contacts: the Fellegi–Sunter matcher (contacts.linkage) ---------------------------------

# What the matcher reads from a contact row (contacts.linkage.person).
CONTACT_VALUES = (
    "id",
    "first_name",
    "last_name",
    "email",
    "secondary_email",
    "phone",
    "mobile",
    "company_id",
    "street",
    "city",
    "postcode",
    "birth_date",
)
# The live check and the on-save update score at most this many records sharing a key with
# the one being saved, those sharing the most keys first.
LIVE_CANDIDATES = 50
SAVE_CANDIDATES = 200
# Random pairs compared to measure u (the chance two different people agree on a field by
# luck), drawn among this many randomly chosen records.
U_PAIRS = 40_000
U_RECORDS = 5_000
# Pairs users merged or dismissed that a re-estimation reads (the newest ones).
LABELLED_PAIRS = 20_000
# Below these the refresh keeps the current (at first the built-in) m/u instead of estimating.
MIN_ESTIMATE_RECORDS = 1000
MIN_ESTIMATE_PAIRS = 200
_PARAMETERS_TTL = 300.0
_parameters_cache: tuple[float, Parameters] | None = None


def current_parameters() -> Parameters:
    """The newest estimated parameters (kept in the process for a few minutes), or the
    built-in defaults before the first refresh."""
    global _parameters_cache
    if _parameters_cache is not None and time.monotonic() - _parameters_cache[0] < _PARAMETERS_TTL:
        return _parameters_cache[1]
    row = MatchParameters.objects.order_by("-estimated_at", "-id").values_list("parameters", flat=True).first()
    params = Parameters.from_json(row) if row else linkage.DEFAULT_PARAMETERS
    _parameters_cache = (time.monotonic(), params)
    return params


def _forget_parameters() -> None:
    global _parameters_cache
    _parameters_cache = None


def full_name_counts(keys: Iterable[str]) -> dict[str, int]:
    """How many active contacts carried each full-name key at the last refresh (names carried
    by one record are not stored: a key left out is carried by one or none)."""
    wanted = sorted({k for k in keys if k})
    if not wanted:
        return {}
    return dict(NameFrequency.objects.filter(key__in=wanted).values_list("key", "records"))


# The contacts sharing a blocking key with the given keys, as the refresh pairs them: each key
# is looked up once in the GIN index of the stored keys, a key held by more than BLOCK_CAP
# active contacts is left out (it says nothing), and the rest are ranked by the keys they
# share, an identifier (e-mail, phone, e-mail name, birth date, postcode with house number,
# street in a city) counting five times. Run it with ``_index_lookups_only`` (below).
_CANDIDATES_SQL = f"""
WITH k AS (
  SELECT DISTINCT key FROM unnest(%s::text[]) AS input(key)
), hits AS MATERIALIZED (
  SELECT k.key, h.id FROM k CROSS JOIN LATERAL (
    SELECT c.id FROM {Contact._meta.db_table} c
    WHERE c.archived_at IS NULL AND c.dedupe_keys && ARRAY[k.key]
    LIMIT %s
  ) h
), usable AS (
  SELECT key FROM hits GROUP BY key HAVING count(*) <= %s
), ranked AS (
  SELECT hits.id, count(*) + 4 * count(*) FILTER (WHERE hits.key ~ '^[eplbza]:') AS shared
  FROM hits JOIN usable ON usable.key = hits.key
  GROUP BY hits.id
)
SELECT {", ".join(f"c.{name}" for name in CONTACT_VALUES)},
       (SELECT f.records FROM {NameFrequency._meta.db_table} f
        WHERE f.key = (SELECT x FROM unnest(c.dedupe_keys) AS x WHERE x LIKE 'f:%%' LIMIT 1)) AS namesakes,
       (SELECT f.records FROM {NameFrequency._meta.db_table} f WHERE f.key = %s) AS own_namesakes
FROM ranked JOIN {Contact._meta.db_table} c ON c.id = ranked.id
WHERE c.id <> %s {{owner_filter}}
ORDER BY ranked.shared DESC, c.updated_at DESC, c.id
LIMIT %s
"""


# The key lookups of a LATERAL join with a LIMIT take the GIN index only when told to: the
# planner cannot estimate ``dedupe_keys && ARRAY[k.key]`` for a key it learns at run time, so it
# assumes 1 % of the contacts share it and expects the LIMIT after a short sequential scan.
# For a key nobody has (a new person's e-mail) that scan reads every contact: 0.7 s per key at
# 1,000,000 contacts, 4 s for the form's warning and a second per imported row; the index
# answers a key in well under a millisecond.
_INDEX_LOOKUPS_ONLY = "SET LOCAL enable_seqscan = off"


def _candidates(
    keys: Sequence[str], *, full_name: str, limit: int, exclude_pk: int | None = None, user: User | None = None
) -> tuple[list[tuple[int, Person]], dict[str, int]]:
    """Up to ``limit`` active contacts (visible to ``user`` when given) sharing a usable key
    with ``keys``, likeliest first, normalised; and how many records carried each full name
    among theirs and ``full_name`` at the last refresh (``NameFrequency``) — one statement."""
    owner_filter, owner_params = "", []
    if user is not None and not user.is_admin:
        owner_filter, owner_params = "AND c.owner_id = ANY(%s)", [sorted(user.visible_owner_ids)]
    sql = _CANDIDATES_SQL.format(owner_filter=owner_filter)
    with connection.cursor() as cursor:
        # One round trip: outside a transaction, a string of statements is one transaction,
        # so the SET LOCAL ends with the query.
        params = [list(keys), BLOCK_CAP + 1, BLOCK_CAP, full_name, exclude_pk or 0, *owner_params, limit]
        cursor.execute(f"{_INDEX_LOOKUPS_ONLY};\n{sql}", params)
        names = [column[0] for column in cursor.description]
        rows = [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
        if connection.in_atomic_block:
            cursor.execute("RESET enable_seqscan")  # inside one, it would last to its end
    people = []
    full_names: dict[str, int] = {}
    for row in rows:
        namesakes, own = row.pop("namesakes"), row.pop("own_namesakes")
        one = linkage.person(row)
        people.append((row["id"], one))
        if namesakes:
            full_names[linkage.full_name_key(one)] = namesakes
        if own and full_name:
            full_names[full_name] = own
    return people, full_names


def contact_duplicates(
    user: User,
    *,
    first_name: str = "",
    last_name: str,
    emails: list[str],
    phones: list[str],
    company: Company | None = None,
    street: str = "",
    city: str = "",
    postcode: str = "",
    birth_date: date | None = None,
    exclude_pk: int | None = None,
    limit: int = 5,
    **_ignored: object,
) -> list[Duplicate]:
    """Visible active contacts sharing a blocking key with the one being saved, scored by the
    matcher; those at least ``WARN_PROBABILITY`` likely (or sharing an e-mail or phone), best first."""
    emails = [e for e in emails if e][:2] + ["", ""]
    phones = [p for p in phones if p][:2] + ["", ""]
    typed = linkage.person(
        {
            "first_name": first_name,
            "last_name": last_name,
            "email": emails[0],
            "secondary_email": emails[1],
            "phone": phones[0],
            "mobile": phones[1],
            "company_id": company.pk if company is not None else None,
            "street": street,
            "city": city,
            "postcode": postcode,
            "birth_date": birth_date,
        }
    )
    keys = linkage.block_keys(typed)
    if not keys:
        return []
    params = current_parameters()
    typed_key = linkage.full_name_key(typed)
    others, full_names = _candidates(keys, full_name=typed_key, limit=LIVE_CANDIDATES, exclude_pk=exclude_pk, user=user)
    if typed_key:
        # The record being typed is not stored yet: it adds one carrier to its full name.
        full_names[typed_key] = full_names.get(typed_key, 0) + 1
    scored = []
    for pk, other in others:
        match = linkage.score(typed, other, params, full_names=full_names)
        if match.strong or match.probability >= WARN_PROBABILITY:
            scored.append((pk, match))
    if not scored:
        return []
    records = Contact.objects.select_related("owner", "company").in_bulk([pk for pk, _match in scored])
    found = [Duplicate(records[pk], match.labels, match.score) for pk, match in scored if pk in records]
    found.sort(key=lambda d: -d.score)
    return found[:limit]


# --- Rows of an import -------------------------------------------------------------------

# Candidates fetched per imported row (the likeliest by shared blocking keys) and rows per query.
IMPORT_CANDIDATES = 10
IMPORT_BATCH = 1000
# A candidate must share two name keys (a phonetic name key and a fragment, say) or one
# identifier (e-mail, phone, e-mail name, birth date, postcode with house number, street in
# a city count five times): one shared three-letter fragment of a name says too little to be
# worth scoring for every row of a big file.
IMPORT_MIN_SHARED = 2

# Each distinct blocking key of the batch is looked up once in the GIN index of the stored
# keys; a key shared by more than BLOCK_CAP active contacts is left out, as in the refresh,
# and only then are the contacts the user may not see dropped (filtering first would visit
# every row of a common key). The pairs come back with the number of keys they share.
_IMPORT_MATCH_SQL = f"""
WITH t AS MATERIALIZED (
  SELECT idx, key FROM unnest(%s::int[], %s::text[]) AS input(idx, key)
), k AS (
  SELECT DISTINCT key FROM t
), hits AS MATERIALIZED (
  SELECT k.key, h.id, h.owner_id FROM k CROSS JOIN LATERAL (
    SELECT c.id, c.owner_id FROM {Contact._meta.db_table} c
    WHERE c.archived_at IS NULL AND c.dedupe_keys && ARRAY[k.key]
    LIMIT %s
  ) h
), usable AS (
  SELECT key, count(*) AS n FROM hits GROUP BY key HAVING count(*) <= %s
)
SELECT t.idx, hits.id, count(*) + 4 * count(*) FILTER (WHERE hits.key ~ '^[eplbza]:') AS shared
FROM t
JOIN usable ON usable.key = t.key
JOIN hits ON hits.key = t.key
{{owner_filter}}
GROUP BY t.idx, hits.id
HAVING count(*) + 4 * count(*) FILTER (WHERE hits.key ~ '^[eplbza]:') >= %s
"""
# How many active contacts carry each full name of the batch (namesakes weigh names down).
_FULL_NAME_COUNT_SQL = f"""
SELECT k.key, (SELECT count(*) FROM {Contact._meta.db_table} c
               WHERE c.archived_at IS NULL AND c.dedupe_keys && ARRAY[k.key])
FROM unnest(%s::text[]) AS k(key)
"""


# Imports of at least this many new rows first flush the match-key index's pending list.
FLUSH_PENDING_FROM = 200


def _flush_pending_keys() -> None:
    """Move the GIN index's pending entries into the index proper.

    New rows wait in a "pending list" (up to 4 MB) that every index search reads in full
    until (auto)vacuum merges it; after a big import, each key lookup of the next import
    read 18,000 pending entries — 23 s instead of 1 s per 1,000 rows. Merging them once
    costs about a second. Skipped when the database user may not (not the index's owner).
    """
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("SELECT gin_clean_pending_list('contact_dedupe_keys'::regclass)")
    except DatabaseError:
        logger.warning("duplicates: could not flush the pending list of contact_dedupe_keys", exc_info=True)


@dataclass(frozen=True)
class RowMatch:
    """The existing contact an imported row most likely is. ``confident``: the pair is as
    likely as the Duplicates page lists (the import skips such a row unless told otherwise)."""

    record: Contact
    score: int
    reasons: list[str]
    confident: bool


def contact_import_matches(user: User, *, rows: Sequence[Mapping[str, Any]]) -> dict[int, RowMatch]:
    """For each row of an import (a dict of contact field values: names, emails, phones,
    ``company_id``, address, birth date), the visible active contact it most likely
    duplicates, by row index; rows with no likely duplicate are left out.

    The import reads duplicates through this one function only. Blocking uses the stored keys
    of the form's warning and the nightly refresh (one indexed lookup per distinct key of
    ``IMPORT_BATCH`` rows, keys shared by more than ``BLOCK_CAP`` contacts skipped); the
    ``IMPORT_CANDIDATES`` sharing the most keys are scored by the matcher
    (``contacts.linkage``); a row is reported when the form would warn about it, and is
    confident when the Duplicates page would list the pair.
    """
    typed = [linkage.person(row) for row in rows]
    candidates: dict[int, list[int]] = {}
    full_names: dict[str, int] = {}
    owner_filter, owner_params = "", []
    if not user.is_admin:
        owner_filter, owner_params = "WHERE hits.owner_id = ANY(%s)", [sorted(user.visible_owner_ids)]
    sql = _IMPORT_MATCH_SQL.format(owner_filter=owner_filter)
    if len(rows) >= FLUSH_PENDING_FROM:
        _flush_pending_keys()
    with transaction.atomic(), connection.cursor() as cursor:
        # Planner estimates over array functions make it JIT-compile the query, which costs
        # more than the query itself.
        cursor.execute(f"SET LOCAL jit = off; {_INDEX_LOOKUPS_ONLY}")
        for start in range(0, len(rows), IMPORT_BATCH):
            indexes: list[int] = []
            keys: list[str] = []
            for index in range(start, min(start + IMPORT_BATCH, len(rows))):
                for key in linkage.block_keys(typed[index]):
                    indexes.append(index)
                    keys.append(key)
            if not keys:
                continue
            cursor.execute(sql, [indexes, keys, BLOCK_CAP + 1, BLOCK_CAP, *owner_params, IMPORT_MIN_SHARED])
            shared: dict[int, list[tuple[int, int]]] = {}
            for index, pk, count in cursor.fetchall():
                shared.setdefault(index, []).append((-count, pk))
            for index, pairs in shared.items():
                candidates[index] = [pk for _count, pk in sorted(pairs)[:IMPORT_CANDIDATES]]
            names = sorted({k for i, k in zip(indexes, keys, strict=True) if k.startswith("f:") and i in shared})
            if names:
                cursor.execute(_FULL_NAME_COUNT_SQL, [names])
                full_names.update(cursor.fetchall())
        cursor.execute("RESET jit; RESET enable_seqscan")  # this block may be inside a longer transaction
    if not candidates:
        return {}
    # Scored from plain values; only the records that win are loaded as instances.
    ids = sorted({pk for pks in candidates.values() for pk in pks})
    existing: dict[int, Person] = {}
    for start in range(0, len(ids), 5000):
        chunk = ids[start : start + 5000]
        for row in Contact.objects.filter(pk__in=chunk).order_by().values(*CONTACT_VALUES):
            existing[row["id"]] = linkage.person(row)
    params = current_parameters()
    # The candidates' own full names, as often as the last refresh counted them.
    their_names = full_name_counts(linkage.full_name_key(one) for one in existing.values())
    best: dict[int, tuple[float, linkage.Match, int]] = {}
    for index, pks in candidates.items():
        row = typed[index]
        row_key = linkage.full_name_key(row)
        namesakes = full_names.get(row_key, 0) + 1
        for pk in pks:
            other_key = linkage.full_name_key(existing[pk])
            names = {other_key: their_names.get(other_key, 1), row_key: namesakes}
            match = linkage.score(row, existing[pk], params, full_names=names)
            if (match.strong or match.probability >= WARN_PROBABILITY) and (
                index not in best or match.probability > best[index][0]
            ):
                best[index] = (match.probability, match, pk)
    records: dict[int, Contact] = {}
    winners = sorted({pk for _p, _match, pk in best.values()})
    qs = Contact.objects.select_related("company", "owner").order_by()
    for start in range(0, len(winners), 5000):
        records.update(qs.in_bulk(winners[start : start + 5000]))
    return {
        index: RowMatch(records[pk], match.score, match.labels, probability >= MATCH_PROBABILITY)
        for index, (probability, match, pk) in best.items()
    }


# --- The nightly refresh ------------------------------------------------------------------


@dataclass(frozen=True)
class RefreshReport:
    kind: str
    records: int
    pairs: int
    candidates: int
    seconds: float
    # Seconds per stage (contacts: keys, blocking, comparing, estimating, storing).
    stages: tuple[tuple[str, float], ...] = ()

    def __str__(self) -> str:
        stages = ", ".join(f"{name} {seconds:.1f} s" for name, seconds in self.stages)
        return (
            f"duplicates refresh: {self.kind}: {self.records} records, {self.pairs} pairs scored, "
            f"{self.candidates} candidates in {self.seconds:.2f} s" + (f" ({stages})" if stages else "")
        )


_REFRESH = {
    RecordKind.COMPANY: {
        "model": Company,
        "function": "dedupe_company_keys",
        "columns": COMPANY_KEYS,
        "values": ("id", "name", "domain", "email", "phone", "street", "city", "postal_code", "country"),
        "to_values": company_values,
        "score": score_companies,
        "fk": "company",
    },
}


def duplicates_refresh(*, kinds: tuple[str, ...] = (RecordKind.COMPANY, RecordKind.CONTACT)) -> list[RefreshReport]:
    """Recompute the duplicate candidates of ``kinds``; dismissed pairs stay dismissed."""
    reports = [_refresh_contacts() if kind == RecordKind.CONTACT else _refresh_kind(RecordKind(kind)) for kind in kinds]
    for report in reports:
        logger.info("%s", report)
    cache.set(LAST_REFRESH_CACHE_KEY, timezone.now().isoformat(), None)
    return reports


def _create_pair_table(kind: RecordKind) -> int:
    """Fill the temporary table ``dedupe_pairs (a, b)`` with every pair of active records
    sharing a blocking key, in two set-based statements; returns the active record count.
    Call inside a transaction (the tables are dropped at commit)."""
    spec = _REFRESH[kind]
    table = spec["model"]._meta.db_table
    columns = ", ".join(f'"{c}"' for c in spec["columns"])
    with connection.cursor() as cursor:
        # Dropped at commit; dropped here too for a caller already inside a transaction.
        cursor.execute("DROP TABLE IF EXISTS pg_temp.dedupe_pairs, pg_temp.dedupe_keys")
        cursor.execute(
            f"CREATE TEMP TABLE dedupe_keys ON COMMIT DROP AS "
            f"SELECT id, unnest({spec['function']}({columns})) AS key FROM {table} WHERE archived_at IS NULL"
        )
        cursor.execute(
            # name_block: how many records share the pair's most common shared name key
            # (n:, q:, r:) — how common the name is, which scoring turns into evidence.
            "CREATE TEMP TABLE dedupe_pairs ON COMMIT DROP AS "
            "SELECT k1.id AS a, k2.id AS b, min(blocks.n) FILTER (WHERE blocks.key ~ '^[nqr]:') AS name_block "
            "FROM (SELECT key, count(*) AS n FROM dedupe_keys GROUP BY key HAVING count(*) BETWEEN 2 AND %s) "
            "AS blocks "
            "JOIN dedupe_keys k1 ON k1.key = blocks.key "
            "JOIN dedupe_keys k2 ON k2.key = blocks.key AND k1.id < k2.id "
            "GROUP BY k1.id, k2.id",
            [BLOCK_CAP],
        )
        cursor.execute(f"SELECT count(*) FROM {table} WHERE archived_at IS NULL")
        return cursor.fetchone()[0]


def blocking_pairs(kind: str) -> set[tuple[int, int]]:
    """Every pair blocking proposes, unscored (for measuring blocking recall in ``bench/``)."""
    with transaction.atomic():
        if kind == RecordKind.CONTACT:
            _contact_keys_update()
            _create_contact_pair_table()
        else:
            _create_pair_table(RecordKind(kind))
        with connection.cursor() as cursor:
            cursor.execute("SELECT a, b FROM dedupe_pairs")
            return set(cursor.fetchall())


@transaction.atomic
def _refresh_kind(kind: RecordKind) -> RefreshReport:
    spec = _REFRESH[kind]
    model = spec["model"]
    fk = spec["fk"]
    started = time.monotonic()
    now = timezone.now()
    records = _create_pair_table(kind)
    pairs = candidates = 0
    rows: dict[int, dict] = {}
    with connection.chunked_cursor() as pair_cursor:
        pair_cursor.execute("SELECT a, b, name_block FROM dedupe_pairs ORDER BY a, b")
        while batch := pair_cursor.fetchmany(BATCH):
            pairs += len(batch)
            ids = {i for a, b, _n in batch for i in (a, b)}
            # A record is in many pairs: keep its normalised values for the next batches.
            if len(rows) > CACHE_RECORDS:
                rows.clear()
            missing = ids.difference(rows)
            if missing:
                rows.update(
                    (row["id"], spec["to_values"](row))
                    for row in model.objects.filter(pk__in=missing).order_by().values(*spec["values"])
                )
            found = []
            for a, b, _name_block in batch:
                match = spec["score"](rows[a], rows[b])
                if match.score >= DUPLICATE_SCORE:
                    found.append((kind.value, a, b, match.score, Json(match.reasons), CandidateStatus.OPEN.value, now))
            if found:
                candidates += len(found)
                with connection.cursor() as cursor:
                    execute_values(
                        cursor.cursor,
                        f"INSERT INTO {DuplicateCandidate._meta.db_table} "
                        f"(kind, {fk}_a_id, {fk}_b_id, score, reasons, status, computed_at) VALUES %s "
                        f"ON CONFLICT ({fk}_a_id, {fk}_b_id) DO UPDATE SET score = EXCLUDED.score, "
                        f"reasons = EXCLUDED.reasons, computed_at = EXCLUDED.computed_at",
                        found,
                        page_size=1000,
                    )
    # Open pairs this run did not find again (a record changed, merged or archived) go.
    DuplicateCandidate.objects.filter(kind=kind, status=CandidateStatus.OPEN, computed_at__lt=now).delete()
    return RefreshReport(kind.value, records, pairs, candidates, time.monotonic() - started)


# --- The contact refresh ------------------------------------------------------------------------


def _contact_keys_update(people: _People | None = None) -> tuple[int, dict[str, dict[str, float]], float | None]:
    """Bring every active contact's stored blocking keys up to date (rows written by bulk
    paths or before a change of the key rules); returns the active record count, the
    common names' and cities' frequencies and u of an exact birth date counted from the birth
    dates (``linkage.birth_date_u``). ``people`` keeps the normalised records (up to
    ``CACHE_RECORDS``) for the comparisons, which then read no row again."""
    table = Contact._meta.db_table
    stale: list[tuple[int, list[str]]] = []
    records = 0
    first_names: Counter = Counter()
    last_names: Counter = Counter()
    cities: Counter = Counter()
    birth_dates: Counter = Counter()

    def flush() -> None:
        with connection.cursor() as cursor:
            execute_values(
                cursor.cursor,
                f"UPDATE {table} AS c SET dedupe_keys = v.keys FROM (VALUES %s) AS v(id, keys) WHERE c.id = v.id",
                stale,
                template="(%s, %s::text[])",
                page_size=1000,
            )
        stale.clear()

    rows = Contact.objects.filter(archived_at__isnull=True).order_by().values(*CONTACT_VALUES, "dedupe_keys")
    for row in rows.iterator(chunk_size=BATCH):
        records += 1
        one = linkage.person(row)
        if people is not None and len(people.rows) < CACHE_RECORDS:
            people.rows[row["id"]] = one
        first_names[one.first] += 1
        last_names[one.last] += 1
        cities[one.city] += 1
        if one.birth_date:
            birth_dates[one.birth_date] += 1
        keys = linkage.block_keys(one)
        if keys != row["dedupe_keys"]:
            stale.append((row["id"], keys))
            if len(stale) >= BATCH:
                flush()
    if stale:
        flush()
    tf = linkage.term_frequencies(first_names, last_names, records, cities)
    return records, tf, linkage.birth_date_u(birth_dates)


# The rows of the big blocks of weak keys, each with its record's birth date, name (the
# full-name key f:…, both names romanised and sorted) and postcode, how many in the block
# share the birth date or the name, and its place in the block's two orders (birth date,
# name; name, postcode — ``_sort_orders`` in Python; a record without a birth date has no
# place in the first: NULL sorts last, so the dated records are numbered first). Each pair of
# windows shares one sort.
_BIG_BLOCKS_SQL = """
CREATE TEMP TABLE dedupe_big ON COMMIT DROP AS
SELECT key, id, birth_date, name,
       count(*) OVER (PARTITION BY key, birth_date) AS n_birth,
       CASE WHEN birth_date IS NOT NULL
            THEN row_number() OVER (PARTITION BY key ORDER BY birth_date, name COLLATE "C", id) END AS by_birth,
       count(*) OVER (PARTITION BY key, name) AS n_name,
       row_number() OVER (PARTITION BY key ORDER BY name COLLATE "C", postcode COLLATE "C", id) AS by_name
FROM (
  SELECT k.key, k.id, c.birth_date, f.name,
         nullif(regexp_replace(lower(c.postcode), '[^0-9a-z]', '', 'g'), '') AS postcode
  FROM dedupe_blocks b
  JOIN dedupe_keys k ON k.key = b.key
  JOIN {table} c ON c.id = k.id
  LEFT JOIN LATERAL (SELECT x FROM unnest(c.dedupe_keys) AS x WHERE x LIKE 'f:%%' LIMIT 1) AS f(name) ON true
  WHERE b.n > %(weak)s AND left(b.key, 1) <> ALL(%(strong)s)
) AS rows
"""
# Every pair of a block small enough (a strong key up to BLOCK_CAP records, a weak one up to
# WEAK_BLOCK); in a bigger weak block, every pair with the same birth date or the same name
# (up to WEAK_BLOCK of them) and the WINDOW next neighbours in each order.
_PAIRS_SQL = """
CREATE TEMP TABLE dedupe_pairs ON COMMIT DROP AS
SELECT DISTINCT least(x.a, x.b) AS a, greatest(x.a, x.b) AS b FROM (
  SELECT k1.id AS a, k2.id AS b FROM dedupe_blocks b
  JOIN dedupe_keys k1 ON k1.key = b.key
  JOIN dedupe_keys k2 ON k2.key = b.key AND k1.id < k2.id
  WHERE CASE WHEN left(b.key, 1) = ANY(%(strong)s) THEN b.n <= %(cap)s ELSE b.n <= %(weak)s END
  UNION ALL
  SELECT k1.id, k2.id FROM dedupe_big k1
  JOIN dedupe_big k2 ON k2.key = k1.key AND k2.birth_date = k1.birth_date AND k1.id < k2.id
  WHERE k1.n_birth <= %(weak)s
  UNION ALL
  SELECT k1.id, k2.id FROM dedupe_big k1
  JOIN dedupe_big k2 ON k2.key = k1.key AND k2.name = k1.name AND k1.id < k2.id
  WHERE k1.n_name <= %(weak)s
  UNION ALL
  SELECT k1.id, k2.id FROM dedupe_big k1 CROSS JOIN generate_series(1, %(window)s) AS step(d)
  JOIN dedupe_big k2 ON k2.key = k1.key AND k2.by_birth = k1.by_birth + step.d
  UNION ALL
  SELECT k1.id, k2.id FROM dedupe_big k1 CROSS JOIN generate_series(1, %(window)s) AS step(d)
  JOIN dedupe_big k2 ON k2.key = k1.key AND k2.by_name = k1.by_name + step.d
) AS x
"""


def _create_contact_pair_table() -> None:
    """The temporary table ``dedupe_pairs (a, b)`` of the active contacts to compare: the
    records sharing a stored blocking key, as ``WEAK_BLOCK`` and ``WINDOW`` describe. Call
    inside a transaction."""
    table = Contact._meta.db_table
    params = {"cap": BLOCK_CAP, "weak": WEAK_BLOCK, "window": WINDOW, "strong": list(STRONG_KEYS)}
    with connection.cursor() as cursor:
        cursor.execute(
            "DROP TABLE IF EXISTS pg_temp.dedupe_pairs, pg_temp.dedupe_keys, pg_temp.dedupe_blocks, pg_temp.dedupe_big"
        )
        cursor.execute(
            f"CREATE TEMP TABLE dedupe_keys ON COMMIT DROP AS "
            f"SELECT id, unnest(dedupe_keys) AS key FROM {table} WHERE archived_at IS NULL"
        )
        cursor.execute(
            "CREATE TEMP TABLE dedupe_blocks ON COMMIT DROP AS "
            "SELECT key, count(*) AS n FROM dedupe_keys GROUP BY key HAVING count(*) >= 2"
        )
        cursor.execute(_BIG_BLOCKS_SQL.format(table=table), params)
        cursor.execute("ANALYZE dedupe_keys, dedupe_blocks, dedupe_big")
        cursor.execute(_PAIRS_SQL, params)


def _sort_orders(people: Sequence[Person], keys: Sequence[Sequence[str]]) -> list[tuple[Any, Any]]:
    """Each record's place in the two orders of a big weak block, as ``_BLOCKED_KEYS_SQL``
    sorts: (birth date, name) and (name, postcode), missing values last."""
    far = date.max.isoformat()
    orders = []
    for index, (one, record_keys) in enumerate(zip(people, keys, strict=True)):
        name = next((k for k in record_keys if k.startswith("f:")), None)
        name_sort = (name is None, name or "")
        orders.append(
            (
                (one.birth_date.isoformat() if one.birth_date else far, name_sort, index),
                (name_sort, (not one.postcode, one.postcode), index),
            )
        )
    return orders


def blocked_pairs_of(people: Sequence[Person], keys: Sequence[Sequence[str]]) -> dict[str, set[tuple[int, int]]]:
    """The pairs of records (by index, in id order) that ``_create_contact_pair_table``
    proposes for ``people`` with these blocking keys, by key kind (the prefix before ``:``) —
    the same rule in Python, for measuring blocking without a database
    (``bench/dedupe_blocking.py``)."""
    blocks: dict[str, list[int]] = {}
    for index, record_keys in enumerate(keys):
        for key in record_keys:
            blocks.setdefault(key, []).append(index)
    orders = _sort_orders(people, keys)
    far = date.max.isoformat()
    pairs: dict[str, set[tuple[int, int]]] = {}
    for key, members in blocks.items():
        kind = key.split(":", 1)[0]
        strong = kind in STRONG_KEYS
        if len(members) < 2 or (strong and len(members) > BLOCK_CAP):
            continue
        found = pairs.setdefault(kind, set())
        if len(members) <= (BLOCK_CAP if strong else WEAK_BLOCK):
            found.update((a, b) for n, a in enumerate(members) for b in members[n + 1 :])
            continue
        for order in (0, 1):
            ranked = sorted(members, key=lambda index: orders[index][order])
            if order == 0:
                ranked = [index for index in ranked if people[index].birth_date]
            for n, a in enumerate(ranked):
                found.update((min(a, b), max(a, b)) for b in ranked[n + 1 : n + 1 + WINDOW])
            # Records with the same birth date (same name) in the block: all their pairs.
            same: dict[Any, list[int]] = {}
            for index in members:
                value = orders[index][order][0]
                if value not in (far, (True, "")):
                    same.setdefault(value, []).append(index)
            for group in same.values():
                if 2 <= len(group) <= WEAK_BLOCK:
                    found.update((a, b) for n, a in enumerate(group) for b in group[n + 1 :])
    return pairs


class _People:
    """Normalised contacts by id, loaded in batches and kept for the next pairs."""

    def __init__(self) -> None:
        self.rows: dict[int, Person] = {}

    def load(self, ids: set[int], *, archived: bool = False) -> None:
        missing = ids.difference(self.rows)
        if not missing:
            return
        if len(self.rows) > CACHE_RECORDS:
            self.rows.clear()
            missing = ids
        qs = Contact.objects.filter(pk__in=missing).order_by()
        if not archived:
            qs = qs.filter(archived_at__isnull=True)
        self.rows.update((row["id"], linkage.person(row)) for row in qs.values(*CONTACT_VALUES))

    def __getitem__(self, pk: int) -> Person:
        return self.rows[pk]


def _u_sample(records: int) -> dict[str, list[float]]:
    """u measured on random pairs of active contacts."""
    with connection.cursor() as cursor:
        # A fixed seed: the same table gives the same sample, so a refresh (and the benchmark)
        # is reproducible.
        cursor.execute("SELECT setseed(0.42)")
        cursor.execute(
            f"SELECT id FROM {Contact._meta.db_table} WHERE archived_at IS NULL ORDER BY random(), id LIMIT %s",
            [U_RECORDS],
        )
        ids = [row[0] for row in cursor.fetchall()]
    people = _People()
    people.load(set(ids))
    rng = linkage.random.Random(records)
    pairs = linkage.random_pairs(U_PAIRS, len(ids), rng)
    return linkage.estimate_u(linkage.compare(people[ids[i]], people[ids[j]]) for i, j in pairs)


def _labelled_patterns() -> dict[tuple, tuple[int, int]]:
    """Comparison vectors of pairs users decided on: merged (a match) or dismissed (not)."""
    merged = list(
        MergeRecord.objects.filter(kind=RecordKind.CONTACT, undone_at__isnull=True)
        .order_by("-merged_at")
        .values_list("survivor_contact_id", "loser_contact_id")[:LABELLED_PAIRS]
    )
    dismissed = list(
        DuplicateCandidate.objects.filter(kind=RecordKind.CONTACT, status=CandidateStatus.DISMISSED)
        .order_by("-dismissed_at")
        .values_list("contact_a_id", "contact_b_id")[:LABELLED_PAIRS]
    )
    people = _People()
    people.load({i for pair in merged + dismissed for i in pair}, archived=True)
    counts: dict[tuple, list[int]] = {}
    for label, pairs in ((0, merged), (1, dismissed)):
        for a, b in pairs:
            if a in people.rows and b in people.rows:
                counts.setdefault(linkage.compare(people[a], people[b]), [0, 0])[label] += 1
    return {gamma: (yes, no) for gamma, (yes, no) in counts.items()}


def _upsert_contact_candidates(found: list[tuple], now: datetime) -> None:
    with connection.cursor() as cursor:
        execute_values(
            cursor.cursor,
            f"INSERT INTO {DuplicateCandidate._meta.db_table} "
            f"(kind, contact_a_id, contact_b_id, score, reasons, status, computed_at) VALUES %s "
            f"ON CONFLICT (contact_a_id, contact_b_id) DO UPDATE SET score = EXCLUDED.score, "
            f"reasons = EXCLUDED.reasons, computed_at = EXCLUDED.computed_at",
            [(RecordKind.CONTACT.value, a, b, score, Json(reasons), CandidateStatus.OPEN.value, now)
             for a, b, score, reasons in found],
            page_size=1000,
        )  # fmt: skip


@transaction.atomic
def _refresh_contacts(*, store_from: float = MATCH_PROBABILITY, estimate: bool = True) -> RefreshReport:
    """Keys, blocking, comparison of every blocked pair, re-estimation of m/u (EM, with the
    users' merges and dismissals as labels), then the pairs at least ``store_from`` likely
    stored as candidates. Dismissed pairs keep their status."""
    started = time.monotonic()
    now = timezone.now()
    stages: list[tuple[str, float]] = []

    def stage(name: str) -> None:
        stages.append((name, time.monotonic() - started - sum(seconds for _name, seconds in stages)))

    people = _People()
    records, tf, birth_u = _contact_keys_update(people)
    stage("keys")
    _create_contact_pair_table()
    frequencies = NameFrequency._meta.db_table
    with connection.cursor() as cursor:
        # The full names two or more contacts carry, for this refresh and the live checks
        # until the next one (readers see the old table until this transaction commits).
        cursor.execute(f"DELETE FROM {frequencies}")
        cursor.execute(
            f"INSERT INTO {frequencies} (key, records) "
            f"SELECT key, count(*) FROM dedupe_keys WHERE key LIKE 'f:%%' GROUP BY key HAVING count(*) > 1"
        )
        cursor.execute(f"SELECT key, records FROM {frequencies}")
        compare_tf = {**tf, "full_name": dict(cursor.fetchall())}
    stage("blocking")
    patterns: dict[tuple, int] = {}
    pair_a, pair_b, pair_pattern = array("q"), array("q"), array("l")
    with connection.chunked_cursor() as pair_cursor:
        pair_cursor.execute("SELECT a, b FROM dedupe_pairs ORDER BY a, b")
        while batch := pair_cursor.fetchmany(BATCH):
            people.load({i for pair in batch for i in pair})
            for a, b in batch:
                gamma = linkage.compare(people[a], people[b], compare_tf)
                index = patterns.setdefault(gamma, len(patterns))
                pair_a.append(a)
                pair_b.append(b)
                pair_pattern.append(index)
    stage("comparing")
    counts = Counter(pair_pattern)
    by_index = {index: gamma for gamma, index in patterns.items()}
    params = current_parameters()
    # A small table says too little to estimate from: the built-in parameters serve (with
    # this table's name frequencies) until it has grown.
    if estimate and records >= MIN_ESTIMATE_RECORDS and len(pair_a) >= MIN_ESTIMATE_PAIRS:
        fitted = linkage.estimate(
            {by_index[i]: n for i, n in counts.items()},
            linkage.with_birth_date_u(_u_sample(records), birth_u),
            labelled=_labelled_patterns(),
            tf=tf,
            records=records,
        )
        params = fitted.params
        MatchParameters.objects.create(
            estimated_at=now,
            parameters=params.as_json(),
            pairs=fitted.pairs,
            labelled_matches=fitted.labelled_matches,
            labelled_non_matches=fitted.labelled_non_matches,
            iterations=fitted.iterations,
            converged=fitted.converged,
        )
        _forget_parameters()
    else:
        params = replace(params, tf=tf)
    stage("estimating")
    explained = {index: linkage.explain(gamma, params) for index, gamma in by_index.items()}
    found = []
    candidates = 0
    for a, b, index in zip(pair_a, pair_b, pair_pattern, strict=True):
        match = explained[index]
        if match.probability >= store_from:
            found.append((a, b, match.score, match.reasons))
            if len(found) >= BATCH:
                _upsert_contact_candidates(found, now)
                candidates += len(found)
                found = []
    if found:
        _upsert_contact_candidates(found, now)
        candidates += len(found)
    DuplicateCandidate.objects.filter(
        kind=RecordKind.CONTACT, status=CandidateStatus.OPEN, computed_at__lt=now
    ).delete()
    stage("storing")
    return RefreshReport(
        RecordKind.CONTACT.value, records, len(pair_a), candidates, time.monotonic() - started, tuple(stages)
    )


@transaction.atomic
def contact_candidates_refresh(*, contact_id: int) -> int:
    """After a contact is saved: recompute its candidate pairs with the current parameters
    (dismissed pairs stay dismissed); returns the number of open pairs it is in."""
    contact = Contact.objects.filter(pk=contact_id).first()
    if contact is None:
        return 0
    now = timezone.now()
    found = []
    if contact.archived_at is None and contact.dedupe_keys:
        me = linkage.person(contact)
        params = current_parameters()
        others, full_names = _candidates(
            contact.dedupe_keys, full_name=linkage.full_name_key(me), limit=SAVE_CANDIDATES, exclude_pk=contact.pk
        )
        for pk, other in others:
            match = linkage.score(me, other, params, full_names=full_names)
            if match.probability >= MATCH_PROBABILITY:
                a, b = sorted((contact.pk, pk))
                found.append((a, b, match.score, match.reasons))
    if found:
        _upsert_contact_candidates(found, now)
    DuplicateCandidate.objects.filter(
        Q(contact_a=contact) | Q(contact_b=contact), status=CandidateStatus.OPEN, computed_at__lt=now
    ).delete()
    return len(found)


def duplicate_dismiss(*, actor: User, candidate: DuplicateCandidate) -> DuplicateCandidate:
    """ "Not a duplicate": the pair stays dismissed through every later refresh."""
    candidate.status = CandidateStatus.DISMISSED
    candidate.dismissed_by = actor
    candidate.dismissed_at = timezone.now()
    candidate.save(update_fields=["status", "dismissed_by", "dismissed_at"])
    return candidate
