"""Finding duplicate companies and contacts: the form's live warning and the nightly refresh.

Both find candidates through the same SQL blocking keys (``dedupe_company_keys`` /
``dedupe_contact_keys``, migration ``add_duplicate_detection``) and score them with
``contacts.matching``, so a pair the form warns about and a pair on the Duplicates page are
judged the same way.

The live check is one indexed query over the records the user may see (a duplicate the user
may not see is never hinted at). The refresh is set-based: one statement computes every
active record's keys into a temporary table, one joins records sharing a key into candidate
pairs (skipping keys shared by more than ``BLOCK_CAP`` records, which say nothing), and the
pairs are then streamed from a server-side cursor and scored in batches — no per-record
query, no O(n²) pass. It runs in one transaction, so readers see the old or the new
candidates, never half.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from django.contrib.postgres.fields import ArrayField
from django.contrib.postgres.search import TrigramSimilarity
from django.core.cache import cache
from django.db import DatabaseError, connection, transaction
from django.db.models import BigIntegerField, F, Func, IntegerField, Q, TextField, Value
from django.db.models.functions import Cast, Lower
from django.utils import timezone
from psycopg2.extras import Json, execute_values

from contacts.matching import (
    DUPLICATE_SCORE,
    WARN_SCORE,
    company_values,
    contact_values,
    is_rare_name,
    score_companies,
    score_contacts,
)
from contacts.models import (
    COMPANY_KEYS,
    CONTACT_KEYS,
    CandidateStatus,
    Company,
    Contact,
    DuplicateCandidate,
    RecordKind,
    company_match_keys,
    contact_match_keys,
)
from crm.models import User

logger = logging.getLogger(__name__)

# pg_trgm similarity from which two company names count as "similar" (0 = nothing shared, 1 = equal).
NAME_SIMILARITY = 0.5
# A blocking key shared by more records than this (a switchboard number, "info@…", a very
# common name) is skipped: it would add thousands of pairs and almost no true duplicate.
BLOCK_CAP = 100
BATCH = 5000
# Normalised records kept between batches (about 1.5 kB each).
CACHE_RECORDS = 200_000
LAST_REFRESH_CACHE_KEY = "duplicates-last-refresh"


@dataclass(frozen=True)
class Duplicate:
    record: Company | Contact
    reasons: list[str]
    score: int = 0


def _input_keys(function: str, *values: str, company_id: int | None = None) -> Func:
    args = [Value(v or "", output_field=TextField()) for v in values]
    if function == "dedupe_contact_keys":
        args.append(Cast(Value(company_id), BigIntegerField()))
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


def contact_duplicates(
    user: User,
    *,
    first_name: str = "",
    last_name: str,
    emails: list[str],
    phones: list[str],
    company: Company | None = None,
    country: str = "",
    exclude_pk: int | None = None,
    limit: int = 5,
) -> list[Duplicate]:
    """Visible active contacts sharing a blocking key (phonetic name, e-mail, phone…) with the
    one being saved, scored; those worth a warning, best first."""
    emails = [e for e in emails if e][:2] + ["", ""]
    phones = [p for p in phones if p][:2] + ["", ""]
    company_id = company.pk if company is not None else None
    keys = _input_keys(
        "dedupe_contact_keys", first_name, last_name, emails[0], emails[1], phones[0], phones[1], company_id=company_id
    )
    qs = (
        Contact.objects.visible_to(user)
        .active()
        .alias(match_keys=contact_match_keys())
        .filter(match_keys__overlap=keys)
        .annotate(shared=_shared(keys))
        .select_related("owner", "company")
        .order_by("-shared", "-updated_at", "id")
    )
    if exclude_pk is not None:
        qs = qs.exclude(pk=exclude_pk)
    typed = contact_values(
        {
            "first_name": first_name,
            "last_name": last_name,
            "email": emails[0],
            "secondary_email": emails[1],
            "phone": phones[0],
            "mobile": phones[1],
            "company": company,
            "country": country,
        }
    )
    found = []
    for contact in qs[:50]:
        match = score_contacts(typed, contact_values(contact))
        if match.strong or match.score >= WARN_SCORE["contact"]:
            found.append(Duplicate(contact, match.labels, match.score))
    found.sort(key=lambda d: -d.score)
    return found[:limit]


# --- Rows of an import -------------------------------------------------------------------

# Candidates fetched per imported row (the likeliest by shared blocking keys) and rows per query.
IMPORT_CANDIDATES = 10
IMPORT_BATCH = 1000
# A candidate must share two keys (a phonetic name key and a fragment, say) or one
# identifier (e-mail, phone, e-mail name count twice): one shared three-letter
# fragment of a name says too little to be worth scoring for every row of a big file.
IMPORT_MIN_SHARED = 2

_CONTACT_KEYS_SQL = (
    "dedupe_contact_keys(c.first_name, c.last_name, c.email, c.secondary_email, c.phone, c.mobile, c.company_id)"
)
# Each distinct blocking key of the batch is looked up once in the GIN index (``&&`` on one
# key needs no recheck, so the key function is never run on a stored row); a key shared by
# more than BLOCK_CAP active contacts is left out, as in the refresh, and only then are the
# contacts the user may not see dropped (filtering first would visit every row of a common
# key). The pairs come back with the number of keys they share (identifiers twice, as
# ``dedupe_shared`` counts).
_IMPORT_MATCH_SQL = f"""
WITH t AS MATERIALIZED (
  SELECT idx, dedupe_contact_keys(f, l, e1, e2, p1, p2, cid) AS keys
  FROM unnest(%s::int[], %s::text[], %s::text[], %s::text[], %s::text[], %s::text[], %s::text[], %s::bigint[])
       AS input(idx, f, l, e1, e2, p1, p2, cid)
), k AS (
  SELECT DISTINCT unnest(keys) AS key FROM t
), hits AS MATERIALIZED (
  SELECT k.key, h.id, h.owner_id FROM k CROSS JOIN LATERAL (
    SELECT c.id, c.owner_id FROM {Contact._meta.db_table} c
    WHERE c.archived_at IS NULL AND {_CONTACT_KEYS_SQL} && ARRAY[k.key]
    LIMIT %s
  ) h
), usable AS (
  SELECT key FROM hits GROUP BY key HAVING count(*) <= %s
)
SELECT t.idx, hits.id, count(*) + count(*) FILTER (WHERE hits.key ~ '^[epld]:') AS shared
FROM t CROSS JOIN LATERAL unnest(t.keys) AS tk(key)
JOIN usable ON usable.key = tk.key
JOIN hits ON hits.key = tk.key
{{owner_filter}}
GROUP BY t.idx, hits.id
HAVING count(*) + count(*) FILTER (WHERE hits.key ~ '^[epld]:') >= %s
"""  # noqa: S608  (names from model metadata and constants; values are parameters)


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
            cursor.execute("SELECT gin_clean_pending_list('contact_match_keys'::regclass)")
    except DatabaseError:
        logger.warning("duplicates: could not flush the pending list of contact_match_keys", exc_info=True)


@dataclass(frozen=True)
class RowMatch:
    """The existing contact an imported row most likely is. ``confident``: the score reaches
    the Duplicates page's threshold (the import skips such a row unless told otherwise)."""

    record: Contact
    score: int
    reasons: list[str]
    confident: bool


def contact_import_matches(user: User, *, rows: Sequence[Mapping[str, Any]]) -> dict[int, RowMatch]:
    """For each row of an import (a dict of contact field values: names, emails, phones,
    ``company_id``/``company_name``, country, address, birth date), the visible active contact
    it most likely duplicates, by row index; rows with no likely duplicate are left out.

    The import reads duplicates through this one function only, so the matcher behind it can
    change. Blocking uses the same keys as the form's warning and the nightly refresh (one
    indexed lookup per distinct key of ``IMPORT_BATCH`` rows, keys shared by more than
    ``BLOCK_CAP`` contacts skipped); the ``IMPORT_CANDIDATES`` sharing the most keys are
    scored with ``score_contacts``; a row is reported when the form would warn about it.
    """
    candidates: dict[int, list[int]] = {}
    owner_filter, owner_params = "", []
    if not user.is_admin:
        owner_filter, owner_params = "WHERE hits.owner_id = ANY(%s)", [sorted(user.visible_owner_ids)]
    sql = _IMPORT_MATCH_SQL.format(owner_filter=owner_filter)
    if len(rows) >= FLUSH_PENDING_FROM:
        _flush_pending_keys()
    with transaction.atomic(), connection.cursor() as cursor:
        # The planner's estimates for the key function make it JIT-compile the query, which
        # costs more than the query itself (1.4 of 2.8 s for 1,000 rows).
        cursor.execute("SET LOCAL jit = off")
        for start in range(0, len(rows), IMPORT_BATCH):
            batch = list(enumerate(rows[start : start + IMPORT_BATCH], start=start))
            columns: list[list[Any]] = [[i for i, _row in batch]]
            for name in ("first_name", "last_name", "email", "secondary_email", "phone", "mobile"):
                columns.append([str(row.get(name) or "") for _i, row in batch])
            columns.append([row.get("company_id") for _i, row in batch])
            cursor.execute(sql, [*columns, BLOCK_CAP + 1, BLOCK_CAP, *owner_params, IMPORT_MIN_SHARED])
            shared: dict[int, list[tuple[int, int]]] = {}
            for index, pk, count in cursor.fetchall():
                shared.setdefault(index, []).append((-count, pk))
            for index, pairs in shared.items():
                candidates[index] = [pk for _count, pk in sorted(pairs)[:IMPORT_CANDIDATES]]
    if not candidates:
        return {}
    # Scored from plain values (model instances cost three times as much to load); only the
    # records that win are loaded as instances, for the preview to show.
    ids = sorted({pk for pks in candidates.values() for pk in pks})
    existing: dict[int, dict[str, Any]] = {}
    columns = [f.attname for f in Contact._meta.concrete_fields]
    for start in range(0, len(ids), 5000):
        chunk = ids[start : start + 5000]
        for row in Contact.objects.filter(pk__in=chunk).order_by().values(*columns, "company__name"):
            row["company_name"] = row.pop("company__name") or ""
            existing[row["id"]] = contact_values(row)
    best: dict[int, tuple[int, Any, int]] = {}
    for index, pks in candidates.items():
        typed = contact_values({**rows[index], "company": None})
        for pk in pks:
            match = score_contacts(typed, existing[pk])
            if (match.strong or match.score >= WARN_SCORE["contact"]) and (
                index not in best or match.score > best[index][0]
            ):
                best[index] = (match.score, match, pk)
    records: dict[int, Contact] = {}
    winners = sorted({pk for _score, _match, pk in best.values()})
    qs = Contact.objects.select_related("company", "owner").order_by()
    for start in range(0, len(winners), 5000):
        records.update(qs.in_bulk(winners[start : start + 5000]))
    return {
        index: RowMatch(records[pk], score, match.labels, score >= DUPLICATE_SCORE)
        for index, (score, match, pk) in best.items()
    }


# --- The nightly refresh ------------------------------------------------------------------


@dataclass(frozen=True)
class RefreshReport:
    kind: str
    records: int
    pairs: int
    candidates: int
    seconds: float

    def __str__(self) -> str:
        return (
            f"duplicates refresh: {self.kind}: {self.records} records, {self.pairs} pairs scored, "
            f"{self.candidates} candidates in {self.seconds:.2f} s"
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
    RecordKind.CONTACT: {
        "model": Contact,
        "function": "dedupe_contact_keys",
        "columns": CONTACT_KEYS,
        "values": (
            "id",
            "first_name",
            "last_name",
            "email",
            "secondary_email",
            "phone",
            "mobile",
            "company_id",
            "company__name",
            "country",
        ),
        "to_values": lambda row: contact_values({**row, "company_name": row.get("company__name") or ""}),
        "score": score_contacts,
        "fk": "contact",
    },
}


def duplicates_refresh(*, kinds: tuple[str, ...] = (RecordKind.COMPANY, RecordKind.CONTACT)) -> list[RefreshReport]:
    """Recompute the duplicate candidates of ``kinds``; dismissed pairs stay dismissed."""
    reports = [_refresh_kind(RecordKind(kind)) for kind in kinds]
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
            f"CREATE TEMP TABLE dedupe_keys ON COMMIT DROP AS "  # noqa: S608 (SQL names from model metadata and module constants; values are bound parameters)
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
        cursor.execute(f"SELECT count(*) FROM {table} WHERE archived_at IS NULL")  # noqa: S608 (SQL names from model metadata and module constants; values are bound parameters)
        return cursor.fetchone()[0]


def blocking_pairs(kind: str) -> set[tuple[int, int]]:
    """Every pair blocking proposes, unscored (for measuring blocking recall in ``bench/``)."""
    with transaction.atomic():
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
            for a, b, name_block in batch:
                match = spec["score"](rows[a], rows[b], rare_name=is_rare_name(name_block, records))
                if match.score >= DUPLICATE_SCORE:
                    found.append((kind.value, a, b, match.score, Json(match.reasons), CandidateStatus.OPEN.value, now))
            if found:
                candidates += len(found)
                with connection.cursor() as cursor:
                    execute_values(
                        cursor.cursor,
                        f"INSERT INTO {DuplicateCandidate._meta.db_table} "  # noqa: S608 (SQL names from model metadata and module constants; values are bound parameters)
                        f"(kind, {fk}_a_id, {fk}_b_id, score, reasons, status, computed_at) VALUES %s "
                        f"ON CONFLICT ({fk}_a_id, {fk}_b_id) DO UPDATE SET score = EXCLUDED.score, "
                        f"reasons = EXCLUDED.reasons, computed_at = EXCLUDED.computed_at",
                        found,
                        page_size=1000,
                    )
    # Open pairs this run did not find again (a record changed, merged or archived) go.
    DuplicateCandidate.objects.filter(kind=kind, status=CandidateStatus.OPEN, computed_at__lt=now).delete()
    return RefreshReport(kind.value, records, pairs, candidates, time.monotonic() - started)


def duplicate_dismiss(*, actor: User, candidate: DuplicateCandidate) -> DuplicateCandidate:
    """ "Not a duplicate": the pair stays dismissed through every later refresh."""
    candidate.status = CandidateStatus.DISMISSED
    candidate.dismissed_by = actor
    candidate.dismissed_at = timezone.now()
    candidate.save(update_fields=["status", "dismissed_by", "dismissed_at"])
    return candidate
