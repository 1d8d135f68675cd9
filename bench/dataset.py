"""A large, realistic and reproducible CRM dataset, written with PostgreSQL COPY.

``manage.py generate_dataset`` drives this module. The generator fills the real schema (every
index and constraint stays in place, because the schema is what the benchmark measures) in
dependency order, one *step* per group of tables. Each step draws from its own
``random.Random(f"{seed}:{step}")``, so adding a step never changes the rows of the others,
and every id is assigned here (1..n) so the same seed and ``as_of`` date give identical rows.

Adding a table later (activities, reminders, timeline events) is one function: write
``def _activities(self) -> int`` that streams rows through ``self._copy(...)`` using what the
earlier steps left on ``self`` (owners, company/contact ranges, deal facts), and append a
``Step`` to ``STEPS``.
"""

from __future__ import annotations

import bisect
import datetime as dt
import json
import math
import random
import time
from array import array
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import TypeVar

from django.conf import settings
from django.contrib.auth.hashers import make_password
from django.core.management.color import no_style
from django.db import IntegrityError, connection, models, transaction

from activities.models import Activity, ActivityType, Reminder, ReminderState, TimelineEvent
from activities.services import activity_types_ensure_builtin
from bench import pools
from campaigns import totals as campaign_totals
from campaigns.models import (
    Campaign,
    CampaignChannel,
    CampaignDealTotal,
    CampaignGoal,
    CampaignMember,
    CampaignStatus,
    ContactAttribution,
    DealAttribution,
    LeadForm,
    MemberStatus,
    Segment,
)
from contacts.models import Company, CompanySize, Contact, LifecycleStage, Source, Tag
from crm.models import CustomField, CustomFieldType, Role, Team, User
from deals import totals as deal_totals
from deals.models import (
    ClosedDealTotal,
    Deal,
    DealStatus,
    DealTotal,
    ExchangeRate,
    LineItem,
    LostReason,
    Pipeline,
    Product,
    Stage,
    StageChange,
)
from deals.money import forget_rates
from service import totals as case_totals
from service.models import (
    ACTIVE_STATUSES,
    Case,
    CasePriority,
    CaseQueueTotal,
    CaseStatus,
    SlaPolicy,
    SlaTarget,
    SlaTimer,
    SlaTimerKind,
    SlaTimerState,
    TeamCalendar,
)
from service.sla import BusinessHours

T = TypeVar("T")
DAY = 86_400.0
CENT = Decimal("0.01")
HUNDRED = Decimal("100")
NULL = "\\N"

# Known sign-ins of the benchmark: one of each role (README, "Performance").
ADMIN_USERNAME = "bench-admin"
MANAGER_USERNAME = "bench-manager-1"
REP_USERNAME = "bench-rep-01"
DEFAULT_PASSWORD = "bench-pass-2026"
USERS = 50


@dataclass(frozen=True)
class Sizes:
    companies: int
    contacts: int
    deals: int
    activities: int = 0
    cases: int = 0
    campaigns: int = 0
    campaign_members: int = 0  # in total, over every started campaign


PRESETS: dict[str, Sizes] = {
    "small": Sizes(
        companies=1_000,
        contacts=10_000,
        deals=3_000,
        activities=30_000,
        cases=3_000,
        campaigns=20,
        campaign_members=5_000,
    ),
    "large": Sizes(
        companies=100_000,
        contacts=1_000_000,
        deals=300_000,
        activities=3_000_000,
        cases=300_000,
        campaigns=200,
        campaign_members=500_000,
    ),
}


@dataclass(frozen=True)
class StepResult:
    name: str
    rows: dict[str, int]
    seconds: float


@dataclass(frozen=True)
class Step:
    name: str
    models: tuple[type[models.Model], ...]  # tables it fills (for --reset, sequences, ANALYZE)
    run: Callable[[Generator], dict[str, int]]
    # Tables the step changes in place (custom field values): analysed after it, never emptied.
    updates: tuple[type[models.Model], ...] = ()


def _through(model: type[models.Model], field: str) -> type[models.Model]:
    return model._meta.get_field(field).remote_field.through


class _LineStream:
    """A read()-able view of an iterator of COPY text lines, so rows are generated while
    PostgreSQL is still inserting the previous chunk (two cores busy instead of one)."""

    def __init__(self, lines: Iterable[str]) -> None:
        self._lines: Iterator[str] = iter(lines)
        self.rows = 0

    def read(self, size: int = 65536) -> bytes:
        parts: list[str] = []
        length = 0
        for line in self._lines:
            parts.append(line)
            length += len(line)
            if length >= size:
                break
        self.rows += len(parts)
        return "".join(parts).encode()


_EPOCH_ORDINAL = dt.date(1970, 1, 1).toordinal()
_DAY_TEXT: dict[int, str] = {}


def _ts(epoch: float) -> str:
    """UTC timestamp text for COPY; a few times faster than datetime.isoformat (millions of calls)."""
    day, second = divmod(int(epoch), 86_400)
    date = _DAY_TEXT.get(day)
    if date is None:
        date = _DAY_TEXT[day] = dt.date.fromordinal(_EPOCH_ORDINAL + day).isoformat()
    hour, rest = divmod(second, 3600)
    return f"{date} {hour:02d}:{rest // 60:02d}:{rest % 60:02d}+00"


def _date(epoch: float) -> dt.date:
    return dt.datetime.fromtimestamp(epoch, tz=dt.UTC).date()


def _copy_literal(value: object) -> str:
    if value is None:
        return NULL
    if isinstance(value, bool):
        return _b(value)
    if isinstance(value, list):  # an ArrayField's value (JSONField values come wrapped in Json)
        return _array_literal(value)
    value = getattr(value, "adapted", value)  # psycopg2's Json wrapper of JSONField values
    if isinstance(value, dict | list):
        value = json.dumps(value)
    return str(value).replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")


def _array_literal(values: list) -> str:
    """A PostgreSQL array literal of text values for COPY (``{"a","b"}``)."""
    items = ('"' + str(v).replace("\\", "\\\\").replace('"', '\\"') + '"' for v in values)
    return _copy_literal("{" + ",".join(items) + "}")


def _b(value: bool) -> str:
    return "t" if value else "f"


def _pick(rng: random.Random, items: Sequence[T]) -> T:
    # rng.choice costs three times as much through _randbelow; this runs millions of times.
    return items[int(rng.random() * len(items))]


def _weighted(rng: random.Random, cum_weights: list[float] | tuple[float, ...]) -> int:
    return bisect.bisect_right(cum_weights, rng.random() * cum_weights[-1])


def _cumulative(weights: Iterable[float]) -> list[float]:
    total = 0.0
    out = []
    for weight in weights:
        total += weight
        out.append(total)
    return out


class Generator:
    def __init__(
        self,
        *,
        sizes: Sizes,
        seed: int = 42,
        as_of: dt.date | None = None,
        password: str = DEFAULT_PASSWORD,
        log: Callable[[str], None] = lambda _msg: None,
    ) -> None:
        if settings.BASE_CURRENCY not in pools.USD_VALUE:
            raise ValueError(
                f"No reference exchange rate for BASE_CURRENCY={settings.BASE_CURRENCY}; "
                f"the generator knows {', '.join(pools.USD_VALUE)}."
            )
        self.sizes = sizes
        self.seed = seed
        self.as_of = as_of or dt.datetime.now(dt.UTC).date()
        self.now = dt.datetime.combine(self.as_of, dt.time(), tzinfo=dt.UTC).timestamp()
        self.password = password
        self.log = log
        self._slugs: dict[str, str] = {}

    # --- plumbing --------------------------------------------------------------------------

    def rng(self, step: str) -> random.Random:
        return random.Random(f"{self.seed}:{step}")

    def slug(self, value: str) -> str:
        slug = self._slugs.get(value)
        if slug is None:
            slug = self._slugs[value] = pools.ascii_slug(value) or "x"
        return slug

    def _copy(self, model: type[models.Model], columns: list[str], lines: Iterable[str]) -> int:
        """COPY ``lines`` (tab-separated values of ``columns``) into ``model``'s table.

        Columns the generator does not know (added by a later migration) get the model field's
        default, so a new NOT NULL field never breaks the load.
        """
        table = connection.ops.quote_name(model._meta.db_table)
        others = [f for f in model._meta.concrete_fields if f.column not in columns and not f.generated]
        if others:
            suffix = "".join("\t" + _copy_literal(f.get_db_prep_save(f.get_default(), connection)) for f in others)
            lines = (line[:-1] + suffix + "\n" for line in lines)
            columns = [*columns, *(f.column for f in others)]
        stream = _LineStream(lines)
        with connection.cursor() as cursor:
            cursor.copy_expert(f"COPY {table} ({', '.join(columns)}) FROM STDIN", stream, 1 << 18)
        return stream.rows

    def run(self) -> list[StepResult]:
        results = []
        all_models = generated_models()

        def timed(name: str, rows: dict[str, int], started: float) -> None:
            results.append(StepResult(name, rows, time.perf_counter() - started))
            summary = ", ".join(f"{table} {count:,}" for table, count in rows.items())
            self.log(f"  {name:<10} {results[-1].seconds:7.1f} s  {summary}".rstrip())

        with transaction.atomic():
            # Migrations may seed reference rows (a default pipeline, lost reasons): replaced.
            truncate(REFERENCE_MODELS)
            skip_row_checks = self._skip_foreign_key_triggers()
            for step in STEPS:
                started = time.perf_counter()
                indexes = drop_secondary_indexes(step.models)
                rows = step.run(self)
                loaded = time.perf_counter()
                recreate_indexes(indexes)
                timed(step.name, rows, started)
                if indexes:
                    self.log(
                        f"  {'':<10} ({time.perf_counter() - loaded:.1f} s of it rebuilding {len(indexes)} indexes)"
                    )
            started = time.perf_counter()
            if skip_row_checks:
                with connection.cursor() as cursor:
                    cursor.execute("SET LOCAL session_replication_role = origin")
                check_foreign_keys(all_models)
            with connection.cursor() as cursor:
                for statement in connection.ops.sequence_reset_sql(no_style(), all_models):
                    cursor.execute(statement)
        timed("checks", {}, started)
        started = time.perf_counter()
        # VACUUM as well as ANALYZE (as after pg_restore): it sets the visibility map, without
        # which the planner will not use the covering indexes for index-only scans until
        # autovacuum gets there. Inside a caller's transaction (tests) only ANALYZE can run.
        command = "ANALYZE" if connection.in_atomic_block else "VACUUM (ANALYZE)"
        with connection.cursor() as cursor:
            for model in all_models:
                cursor.execute(f"{command} {connection.ops.quote_name(model._meta.db_table)}")
        timed("vacuum" if command != "ANALYZE" else "analyze", {}, started)
        return results

    def run_only(self, name: str) -> StepResult:
        """Replace one standalone step's tables on a loaded dataset (``STANDALONE_STEPS``)."""
        step = next(step for step in STEPS if step.name == name)
        started = time.perf_counter()
        with transaction.atomic():
            truncate(step.models)
            skip_row_checks = self._skip_foreign_key_triggers()
            indexes = drop_secondary_indexes(step.models)
            rows = step.run(self)
            recreate_indexes(indexes)
            if skip_row_checks:
                with connection.cursor() as cursor:
                    cursor.execute("SET LOCAL session_replication_role = origin")
                check_foreign_keys(step.models)
            with connection.cursor() as cursor:
                for statement in connection.ops.sequence_reset_sql(no_style(), list(step.models)):
                    cursor.execute(statement)
        with connection.cursor() as cursor:
            for model in (*step.models, *step.updates):
                command = "ANALYZE" if connection.in_atomic_block else "VACUUM (ANALYZE)"
                cursor.execute(f"{command} {connection.ops.quote_name(model._meta.db_table)}")
        result = StepResult(name, rows, time.perf_counter() - started)
        summary = ", ".join(f"{table} {count:,}" for table, count in rows.items())
        self.log(f"  {name:<10} {result.seconds:7.1f} s  {summary}")
        return result

    def _skip_foreign_key_triggers(self) -> bool:
        """Skip the per-row foreign-key triggers during the load, as ``pg_restore
        --disable-triggers`` does: millions of deferred single-row lookups at commit cost more
        than the load itself. ``check_foreign_keys`` then verifies every reference in one
        set-based query per key, so a generator bug still fails the run. Needs a superuser;
        otherwise the ordinary (slower) row checks run."""
        with connection.cursor() as cursor:
            cursor.execute("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")
            (superuser,) = cursor.fetchone()
            if superuser:
                cursor.execute("SET LOCAL session_replication_role = replica")
        return bool(superuser)

    # --- users and teams -------------------------------------------------------------------

    def _users(self) -> dict[str, int]:
        rng = self.rng("users")
        names = pools.name_pool("en_US")
        password = make_password(self.password, salt=f"bench{self.seed}")
        joined = dt.datetime.fromtimestamp(self.now - 3 * 365 * DAY, tz=dt.UTC)
        n_teams = len(pools.TEAMS)
        people = [(ADMIN_USERNAME, Role.ADMIN)]
        people += [(f"bench-manager-{i + 1}", Role.MANAGER) for i in range(n_teams)]
        people += [(f"bench-rep-{i + 1:02d}", Role.REP) for i in range(USERS - 1 - n_teams)]
        users = []
        for pk, (username, role) in enumerate(people, start=1):
            users.append(
                User(
                    id=pk,
                    username=username,
                    first_name=rng.choices(names.first_names, cum_weights=names.first_cum_weights)[0],
                    last_name=rng.choices(names.last_names, cum_weights=names.last_cum_weights)[0],
                    email=f"{username}@bench.example",
                    role=role,
                    password=password,
                    is_staff=role == Role.ADMIN,
                    is_superuser=role == Role.ADMIN,
                    date_joined=joined,
                )
            )
        User.objects.bulk_create(users)
        Team.objects.bulk_create(Team(id=i + 1, name=name, created_at=joined) for i, name in enumerate(pools.TEAMS))
        managers = [u for u in users if u.role == Role.MANAGER]
        reps = [u for u in users if u.role == Role.REP]
        self.team_members: dict[int, list[int]] = {i + 1: [] for i in range(n_teams)}
        for index, rep in enumerate(reps):
            self.team_members[index % n_teams + 1].append(rep.id)
        Members, Managers = _through(Team, "members"), _through(Team, "managers")
        member_rows = [(team, user) for team, ids in self.team_members.items() for user in ids]
        Members.objects.bulk_create(
            Members(id=i, team_id=team, user_id=user) for i, (team, user) in enumerate(member_rows, start=1)
        )
        Managers.objects.bulk_create(
            Managers(id=i, team_id=i, user_id=manager.id) for i, manager in enumerate(managers, start=1)
        )
        # Owners: reps carry most of the book, unevenly; managers keep a few accounts themselves.
        self.owner_ids = [u.id for u in reps] + [u.id for u in managers]
        self.owner_cum = _cumulative([rng.lognormvariate(0, 0.5) for _ in reps] + [0.15] * len(managers))
        self.team_of: dict[int, int] = {}
        for team, ids in self.team_members.items():
            for user in ids:
                self.team_of[user] = team
        for team, manager in enumerate(managers, start=1):
            self.team_of[manager.id] = team
        self.teammates = {
            user: self.team_members[team] + [managers[team - 1].id] for user, team in self.team_of.items()
        }
        return {"users": len(users), "teams": n_teams, "memberships": len(member_rows) + len(managers)}

    # --- small reference tables ------------------------------------------------------------

    def _reference(self) -> dict[str, int]:
        Tag.objects.bulk_create(Tag(id=i, name=name) for i, name in enumerate(pools.TAGS, start=1))
        self.tag_ids = list(range(1, len(pools.TAGS) + 1))
        self.pipelines: list[dict] = []
        stage_pk = 0
        for position, (name, is_default, stages) in enumerate(pools.PIPELINES, start=1):
            Pipeline.objects.create(id=position, name=name, is_default=is_default, position=position)
            info: dict = {"id": position, "open": [], "probability": {}}
            for stage_position, (stage_name, probability, is_won, is_lost) in enumerate(stages):
                stage_pk += 1
                Stage.objects.create(
                    id=stage_pk,
                    pipeline_id=position,
                    name=stage_name,
                    position=stage_position,
                    probability=probability,
                    is_won=is_won,
                    is_lost=is_lost,
                )
                info["probability"][stage_pk] = probability
                if is_won:
                    info["won"] = stage_pk
                elif is_lost:
                    info["lost"] = stage_pk
                else:
                    info["open"].append(stage_pk)
            self.pipelines.append(info)
        LostReason.objects.bulk_create(
            LostReason(id=i, name=name) for i, name in enumerate(pools.LOST_REASONS, start=1)
        )
        Product.objects.bulk_create(
            Product(id=i, name=name, sku=sku, price=Decimal(price), currency="USD")
            for i, (name, sku, price) in enumerate(pools.PRODUCTS, start=1)
        )
        rates = self._exchange_rates()
        return {
            "tags": len(pools.TAGS),
            "pipelines": len(self.pipelines),
            "stages": stage_pk,
            "lost reasons": len(pools.LOST_REASONS),
            "products": len(pools.PRODUCTS),
            "exchange rates": rates,
        }

    def _exchange_rates(self) -> int:
        """Monthly rates over three years: a gentle random walk around today's value."""
        rng = self.rng("rates")
        base = settings.BASE_CURRENCY
        rows = []
        first = self.as_of.replace(day=1)
        months = [(first.year * 12 + first.month - 1 - back) for back in range(36, -1, -1)]
        # GBP is last, so adding it left the USD and EUR rates of a seed unchanged.
        for currency in ("USD", "EUR", "GBP"):
            if currency == base:
                continue
            usd_value = pools.USD_VALUE[currency]
            for month in months:
                usd_value *= math.exp(rng.gauss(0, 0.012))
                rate = usd_value / pools.USD_VALUE[base]
                date = dt.date(month // 12, month % 12 + 1, 1)
                rows.append(ExchangeRate(id=len(rows) + 1, currency=currency, date=date, rate=f"{rate:.8f}"))
        ExchangeRate.objects.bulk_create(rows)
        forget_rates()  # bulk_create sends no post_save; the web reads the rates from the cache
        self.eur_rate = {"USD": 1.0, "EUR": pools.USD_VALUE["EUR"]}
        return len(rows)

    # --- companies -------------------------------------------------------------------------

    def _companies(self) -> dict[str, int]:
        n = self.sizes.companies
        self.company_owner = array("l", bytes(8 * n))
        self.company_country = array("b", bytes(n))
        self.company_lifecycle = array("b", bytes(n))
        self.company_created = array("d", bytes(8 * n))
        self.company_name: list[str] = [""] * n
        self.company_domain: list[str] = [""] * n
        tag_rows: list[str] = []
        rows = self._copy(Company, COMPANY_COLUMNS, self._company_lines(self.rng("companies"), tag_rows))
        through = _through(Company, "tags")
        tags = self._copy(through, ["id", "company_id", "tag_id"], tag_rows)
        return {"companies": rows, "company tags": tags}

    def _company_lines(self, rng: random.Random, tag_rows: list[str]) -> Iterator[str]:
        countries = pools.COUNTRIES
        country_cum = _cumulative(c.weight for c in countries)
        lifecycles = [s.value for s in LifecycleStage]
        lifecycle_cum = _cumulative([40, 25, 28, 7])
        sources = [s.value for s in Source]
        source_cum = _cumulative([30, 15, 12, 25, 8, 7, 3])
        sizes = [s.value for s in CompanySize]
        size_cum = _cumulative([35, 30, 20, 10, 5])
        owners, owner_cum = self.owner_ids, self.owner_cum
        seen_domains: dict[str, int] = {}
        span = 3 * 365 * DAY
        for i in range(self.sizes.companies):
            pk = i + 1
            country_index = _weighted(rng, country_cum)
            country = countries[country_index]
            names = pools.name_pool(country.locale)
            kind = rng.random()
            if country.code == "RU" and kind < 0.6:
                name = _pick(rng, pools.RU_COMPANY_FORMS).format(_pick(rng, names.last_names))
            elif country.code == "CN":
                name = (
                    _pick(rng, pools.CN_COMPANY_WORDS)
                    + _pick(rng, pools.CN_COMPANY_NOUNS)
                    + _pick(rng, pools.CN_COMPANY_SUFFIXES)
                )
            elif kind < 0.45:
                last = _pick(rng, names.last_names)
                name = f"{last} {_pick(rng, pools.COMPANY_SUFFIXES)}"
            elif kind < 0.6:
                name = f"{_pick(rng, names.last_names)} & {_pick(rng, names.last_names)}"
            else:
                name = f"{_pick(rng, pools.COMPANY_WORDS)} {_pick(rng, pools.COMPANY_NOUNS)}"
                if rng.random() < 0.5:
                    name += f" {_pick(rng, pools.COMPANY_SUFFIXES)}"
            stem = self.slug(name.removesuffix(" Inc").removesuffix(" LLC"))[:40]
            count = seen_domains.get(stem, 0)
            seen_domains[stem] = count + 1
            domain = f"{stem}{count if count else ''}.{country.tld}"
            owner = owners[_weighted(rng, owner_cum)]
            lifecycle = _weighted(rng, lifecycle_cum)
            created = self.now - span * rng.random() ** 1.4
            updated = created + (self.now - created) * rng.random()
            city, region, postal = _pick(rng, country.cities)
            filled = [
                rng.random() < 0.9,  # domain
                rng.random() < 0.85,  # industry
                rng.random() < 0.7,  # size
                rng.random() < 0.8,  # phone
                rng.random() < 0.6,  # email
                rng.random() < 0.65,  # address
            ]
            phone = self._phone(rng, country, mobile=False) if filled[3] else ""
            postal_code = "".join(str(rng.randrange(10)) if ch == "#" else ch for ch in postal)
            street = f"{rng.randrange(1, 400)} {_pick(rng, pools.STREET_NAMES)} {_pick(rng, pools.STREET_KINDS)}"
            completeness = 25 + 75 * sum(filled) // len(filled)
            archived = _ts(created + (self.now - created) * rng.random()) if rng.random() < 0.02 else NULL
            self.company_owner[i] = owner
            self.company_country[i] = country_index
            self.company_lifecycle[i] = lifecycle
            self.company_created[i] = created
            self.company_name[i] = name
            self.company_domain[i] = domain
            if rng.random() < 0.3:
                for tag in rng.sample(self.tag_ids, rng.randint(1, 3)):
                    tag_rows.append(f"{len(tag_rows) + 1}\t{pk}\t{tag}\n")
            yield (
                "\t".join(
                    (
                        str(pk),
                        name,
                        domain if filled[0] else "",
                        _pick(rng, pools.INDUSTRIES) if filled[1] else "",
                        sizes[_weighted(rng, size_cum)] if filled[2] else "",
                        phone,
                        "f",
                        f"info@{domain}" if filled[4] else "",
                        street if filled[5] else "",
                        city if filled[5] else "",
                        postal_code if filled[5] else "",
                        region if filled[5] else "",
                        country.code,
                        str(owner),
                        lifecycles[lifecycle],
                        sources[_weighted(rng, source_cum)],
                        f"ERP-{pk:07d}" if rng.random() < 0.2 else "",
                        str(completeness),
                        _ts(created),
                        _ts(updated),
                        archived,
                    )
                )
                + "\n"
            )

    def _phone(self, rng: random.Random, country: pools.Country, *, mobile: bool) -> str:
        prefix = _pick(rng, country.mobile_prefixes if mobile else country.landline_prefixes)
        digits = country.national_digits - len(prefix)
        # The subscriber part never starts with 0 or 1, as real numbering plans require.
        low = 2 * 10 ** (digits - 1)
        return f"+{country.calling_code}{prefix}{low + int(rng.random() * (10**digits - low))}"

    # --- contacts --------------------------------------------------------------------------

    def _contacts(self) -> dict[str, int]:
        rng = self.rng("contacts")
        n_companies, n_contacts = self.sizes.companies, self.sizes.contacts
        with_company = round(n_contacts * 0.92) if n_companies else 0
        # Heavy-tailed contacts per company (capped: a few big accounts, many small ones).
        weights = [min(rng.paretovariate(1.3), 300.0) for _ in range(n_companies)]
        total = sum(weights) or 1.0
        counts = [int(w / total * with_company) for w in weights]
        for _ in range(with_company - sum(counts)):
            counts[rng.randrange(n_companies)] += 1
        self.company_first_contact = array("l", bytes(8 * n_companies))
        self.company_contact_count = array("l", counts)
        self.contact_owner = array("l", bytes(8 * n_contacts))
        tag_rows: list[str] = []
        rows = self._copy(Contact, CONTACT_COLUMNS, self._contact_lines(rng, counts, tag_rows))
        tags = self._copy(_through(Contact, "tags"), ["id", "contact_id", "tag_id"], tag_rows)
        return {"contacts": rows, "contact tags": tags}

    def _contact_lines(self, rng: random.Random, counts: list[int], tag_rows: list[str]) -> Iterator[str]:
        countries = pools.COUNTRIES
        country_cum = _cumulative(c.weight for c in countries)
        lifecycles = [s.value for s in LifecycleStage]
        lifecycle_cum = _cumulative([40, 25, 28, 7])
        sources = [s.value for s in Source]
        source_cum = _cumulative([30, 15, 12, 25, 8, 7, 3])
        titles = pools.JOB_TITLES
        owners, owner_cum = self.owner_ids, self.owner_cum
        n_contacts = self.sizes.contacts
        # A handful of contacts carry a surname no pool has: the benchmark's rare search term.
        rare_every = max(n_contacts // 7, 1)
        pk = 0

        def contact(company: int | None, country_index: int, owner: int, lifecycle: int, since: float) -> str:
            nonlocal pk
            pk += 1
            country = countries[country_index]
            names = pools.name_pool(country.locale)
            if names.first_cum_weights:
                first = names.first_names[_weighted(rng, names.first_cum_weights)]
            else:
                first = _pick(rng, names.first_names)
            if pk % rare_every == 0:
                last = pools.RARE_LAST_NAME
            elif names.last_cum_weights:
                last = names.last_names[_weighted(rng, names.last_cum_weights)]
            else:
                last = _pick(rng, names.last_names)
            if last in pools.RU_YO_SPELLINGS and rng.random() < 0.34:
                last = pools.RU_YO_SPELLINGS[last]
            first_slug, last_slug = self.slug(first), self.slug(last)
            kind = rng.random()
            if company is not None and kind < 0.72:
                email = f"{first_slug}.{last_slug}@{self.company_domain[company]}"
            elif company is not None and kind < 0.82:
                email = f"{first_slug[0]}{last_slug}@{self.company_domain[company]}"
            elif kind < 0.93:
                email = f"{first_slug}.{last_slug}{rng.randrange(100)}@{_pick(rng, pools.PERSONAL_EMAIL_DOMAINS)}"
            else:
                email = ""
            second = f"{first_slug}{last_slug}@{_pick(rng, pools.PERSONAL_EMAIL_DOMAINS)}" if rng.random() < 0.1 else ""
            phone = self._phone(rng, country, mobile=False) if rng.random() < 0.6 else ""
            mobile = self._phone(rng, country, mobile=True) if rng.random() < 0.5 else ""
            invalid = rng.random() < 0.003
            if invalid:
                phone = f"ask reception, ext {rng.randrange(10, 999)}"
            title = _pick(rng, titles) if rng.random() < 0.8 else ""
            created = since + (self.now - since) * rng.random()
            updated = created + (self.now - created) * rng.random()
            filled = sum(map(bool, (first, title, email, phone or mobile, company is not None)))
            self.contact_owner[pk - 1] = owner
            if rng.random() < 0.2:
                for tag in rng.sample(self.tag_ids, rng.randint(1, 3)):
                    tag_rows.append(f"{len(tag_rows) + 1}\t{pk}\t{tag}\n")
            return (
                "\t".join(
                    (
                        str(pk),
                        first,
                        last,
                        title,
                        email,
                        second,
                        phone,
                        mobile,
                        _b(invalid),
                        NULL if company is None else str(company + 1),
                        str(owner),
                        lifecycles[lifecycle],
                        sources[_weighted(rng, source_cum)],
                        country.code,
                        _b(rng.random() < 0.03),
                        _b(rng.random() < 0.04),
                        f"IMP-{pk:08d}" if rng.random() < 0.15 else "",
                        str(25 + 75 * filled // 5),
                        _ts(created),
                        _ts(updated),
                        _ts(created + (self.now - created) * rng.random()) if rng.random() < 0.02 else NULL,
                    )
                )
                + "\n"
            )

        for company, count in enumerate(counts):
            self.company_first_contact[company] = pk + 1
            company_owner = self.company_owner[company]
            teammates = self.teammates[company_owner]
            for _ in range(count):
                # Accounts are worked by one rep; some contacts belong to a teammate.
                owner = company_owner if rng.random() < 0.85 else _pick(rng, teammates)
                yield contact(
                    company,
                    self.company_country[company],
                    owner,
                    self.company_lifecycle[company],
                    self.company_created[company],
                )
        span = 3 * 365 * DAY
        while pk < n_contacts:
            yield contact(
                None,
                _weighted(rng, country_cum),
                owners[_weighted(rng, owner_cum)],
                _weighted(rng, lifecycle_cum),
                self.now - span * rng.random(),
            )

    # --- deals -----------------------------------------------------------------------------

    def _deals(self) -> dict[str, int]:
        rng = self.rng("deals")
        self.stage_lines: list[str] = []
        self.item_lines: list[str] = []
        self.deal_contact_lines: list[str] = []
        n = self.sizes.deals
        self.deal_company = array("l", bytes(8 * n))  # 0 = no company, else company id
        self.deal_owner = array("l", bytes(8 * n))
        self.deal_created = array("d", bytes(8 * n))
        self.deal_status = array("b", bytes(n))  # 0 open, 1 won, 2 lost
        deals = self._copy(Deal, DEAL_COLUMNS, self._deal_lines(rng))
        changes = self._copy(
            StageChange, ["id", "deal_id", "from_stage_id", "to_stage_id", "actor_id", "at"], self.stage_lines
        )
        items = self._copy(
            LineItem,
            ["id", "deal_id", "product_id", "quantity", "unit_price", "discount_percent", "position"],
            self.item_lines,
        )
        contacts = self._copy(_through(Deal, "contacts"), ["id", "deal_id", "contact_id"], self.deal_contact_lines)
        del self.stage_lines, self.item_lines, self.deal_contact_lines
        # The load runs with session_replication_role = replica (no triggers): the money totals
        # the deals triggers keep are filled from the loaded deals in one GROUP BY instead.
        with connection.cursor() as cursor:
            cursor.execute(f"TRUNCATE {DealTotal._meta.db_table}, {ClosedDealTotal._meta.db_table} RESTART IDENTITY")
            groups = deal_totals.rebuild(cursor)
            closed_groups = deal_totals.CLOSED_ROLLUP.rebuild(cursor)
        return {
            "deals": deals,
            "stage changes": changes,
            "line items": items,
            "deal contacts": contacts,
            "deal totals": groups,
            "closed deal totals": closed_groups,
        }

    def _deal_lines(self, rng: random.Random) -> Iterator[str]:
        n_companies = self.sizes.companies
        # Customers buy again and big accounts buy more: weight companies by both.
        lifecycle_weight = (1.0, 1.5, 4.0, 2.0)
        company_cum = _cumulative(
            lifecycle_weight[self.company_lifecycle[c]] * (1 + math.sqrt(self.company_contact_count[c]))
            for c in range(n_companies)
        )
        sources = [s.value for s in Source]
        source_cum = _cumulative([30, 15, 12, 25, 8, 7, 3])
        lost_cum = _cumulative([30, 22, 15, 12, 10, 6, 5])
        products = [(i, name, Decimal(price)) for i, (name, _sku, price) in enumerate(pools.PRODUCTS, start=1)]
        two_years = 730 * DAY
        stage_pk = item_pk = 0
        for i in range(self.sizes.deals):
            pk = i + 1
            company = _weighted(rng, company_cum) if n_companies and rng.random() < 0.96 else None
            if company is not None:
                company_owner = self.company_owner[company]
                owner = company_owner if rng.random() < 0.85 else _pick(rng, self.teammates[company_owner])
                country = pools.COUNTRIES[self.company_country[company]]
            else:
                owner = self.owner_ids[_weighted(rng, self.owner_cum)]
                country = pools.COUNTRIES[0]
            renewal = company is not None and self.company_lifecycle[company] >= 2 and rng.random() < 0.35
            pipeline = self.pipelines[1 if renewal else 0]
            created = self.now - two_years * rng.random() ** 1.2
            age_days = (self.now - created) / DAY
            if rng.random() < min(0.92, max(0.03, age_days / 200)):
                outcome = 1 if rng.random() < (0.8 if renewal else 0.36) else 2
            else:
                outcome = 0
            path = self._stage_path(rng, pipeline, outcome)
            times = self._stage_times(rng, created, len(path))
            for index, stage in enumerate(path):
                stage_pk += 1
                previous = str(path[index - 1]) if index else NULL
                actor = owner if rng.random() < 0.9 else _pick(rng, self.teammates[owner])
                self.stage_lines.append(f"{stage_pk}\t{pk}\t{previous}\t{stage}\t{actor}\t{_ts(times[index])}\n")
            entered = times[-1]
            stage = path[-1]
            currency = country.currency
            amount_from_items = not renewal and rng.random() < 0.45
            if amount_from_items:
                amount = Decimal("0")
                for position, (product, name, usd_price) in enumerate(rng.sample(products, rng.randint(1, 4))):
                    item_pk += 1
                    quantity = rng.randint(5, 200) if name.startswith("CRM Seat") else rng.randint(1, 3)
                    unit = (usd_price / Decimal(str(pools.USD_VALUE[currency]))).quantize(Decimal("0.01"))
                    discount = _pick(rng, (0, 0, 0, 5, 10, 15, 20))
                    # The same arithmetic as LineItem.total, so the deal amount equals its items' sum.
                    amount += (quantity * unit * (100 - discount) / HUNDRED).quantize(CENT)
                    self.item_lines.append(f"{item_pk}\t{pk}\t{product}\t{quantity}\t{unit}\t{discount}\t{position}\n")
            else:
                amount = Decimal(round(rng.lognormvariate(math.log(9000), 0.9), -1)).quantize(Decimal("0.01"))
            if company is not None:
                first, count = self.company_first_contact[company], self.company_contact_count[company]
                if count:
                    for offset in rng.sample(range(count), min(count, _pick(rng, (1, 1, 1, 2, 2, 3)))):
                        self.deal_contact_lines.append(f"{len(self.deal_contact_lines) + 1}\t{pk}\t{first + offset}\n")
            probability = pipeline["probability"][stage]
            manual = outcome == 0 and rng.random() < 0.06
            if manual:
                probability = rng.randrange(5, 100, 5)
            if outcome:
                expected = _date(entered)
            else:
                expected = _date(created + rng.uniform(20, 120) * DAY)
                if expected < self.as_of and rng.random() < 0.6:
                    expected = self.as_of + dt.timedelta(days=rng.randrange(1, 120))
            company_name = self.company_name[company] if company is not None else "Inbound inquiry"
            if renewal:
                title = f"{company_name} — renewal {_date(created).year + 1}"
            else:
                title = f"{company_name} — {_pick(rng, DEAL_KINDS)}"
            self.deal_company[i] = 0 if company is None else company + 1
            self.deal_owner[i] = owner
            self.deal_created[i] = created
            self.deal_status[i] = outcome
            yield (
                "\t".join(
                    (
                        str(pk),
                        title,
                        NULL if company is None else str(company + 1),
                        str(owner),
                        str(pipeline["id"]),
                        str(stage),
                        str(amount),
                        currency,
                        _b(amount_from_items),
                        str(probability),
                        _b(manual),
                        expected.isoformat(),
                        STATUSES[outcome],
                        str(1 + _weighted(rng, lost_cum)) if outcome == 2 else NULL,
                        _pick(rng, LOST_NOTES) if outcome == 2 and rng.random() < 0.25 else "",
                        sources[_weighted(rng, source_cum)],
                        _ts(entered) if outcome else NULL,
                        _ts(entered),
                        NULL,
                        _ts(created),
                        _ts(entered),
                        "1",
                    )
                )
                + "\n"
            )

    @staticmethod
    def _stage_path(rng: random.Random, pipeline: dict, outcome: int) -> list[int]:
        """The stages a deal went through: forward, sometimes skipping one, rarely slipping back."""
        open_stages = pipeline["open"]
        last = len(open_stages) - 1
        if outcome == 1:
            target = last
        elif outcome == 2:
            target = min(last, int(rng.expovariate(0.7)))
        else:
            target = min(last, int(rng.expovariate(0.9)))
        path = [open_stages[0]]
        index = 0
        while index < target:
            index += 2 if index + 2 <= target and rng.random() < 0.12 else 1
            path.append(open_stages[index])
            if 0 < index < target and rng.random() < 0.04:
                path += [open_stages[index - 1], open_stages[index]]
        if outcome == 1:
            path.append(pipeline["won"])
        elif outcome == 2:
            path.append(pipeline["lost"])
        return path

    def _stage_times(self, rng: random.Random, created: float, moves: int) -> list[float]:
        gaps = [rng.expovariate(1 / (11 * DAY)) for _ in range(moves - 1)]
        total = sum(gaps)
        room = (self.now - created) * 0.98
        if total > room:
            scale = room * rng.uniform(0.5, 1.0) / total
            gaps = [gap * scale for gap in gaps]
        times = [created]
        for gap in gaps:
            times.append(times[-1] + gap)
        return times

    # --- activities, reminders, timeline ----------------------------------------------------

    def _activities(self) -> dict[str, int]:
        """Calls, meetings, emails, tasks and notes on the deals, companies and contacts, each
        assigned to the record's owner: mostly done work in the past, some open work due
        around today (My day, overdue lists, the kanban's next activity), reminders pending
        for open work and sent for recent done work, and the timeline events the app writes
        for each activity and each stage change (the deal and company timelines read them)."""
        activity_types_ensure_builtin()
        type_ids = dict(ActivityType.objects.values_list("key", "id"))
        rng = self.rng("activities")
        self.reminder_lines: list[str] = []
        rows = self._copy(Activity, ACTIVITY_COLUMNS, self._activity_lines(rng, type_ids))
        reminders = self._copy(Reminder, REMINDER_COLUMNS, self.reminder_lines)
        del self.reminder_lines
        events = self._timeline_events()
        self._deal_last_activity()
        return {"activities": rows, "reminders": reminders, "timeline events": events}

    # --- service cases ---------------------------------------------------------------------

    def _cases(self) -> dict[str, int]:
        """Support cases over two years, in the queue of the company owner's team: most
        answered and closed, a backlog of recent ones still open, SLA due times from the
        default policies (half the teams work Monday–Friday 09–17 UTC, the others around the
        clock), one warning and one breach timer per target, and some satisfaction scores.

        Reads companies, their first contact and the teams from the database rather than from
        the earlier steps, so ``generate_dataset --only cases`` adds cases to a loaded dataset."""
        rng = self.rng("cases")
        policies = {
            CasePriority.LOW: (8 * 60, 5 * 8 * 60),
            CasePriority.NORMAL: (4 * 60, 3 * 8 * 60),
            CasePriority.HIGH: (60, 8 * 60),
            CasePriority.URGENT: (30, 4 * 60),
        }
        # Ids assigned here, like every other row (the same seed gives the same rows after a reset).
        SlaPolicy.objects.bulk_create(
            SlaPolicy(id=i, priority=p, first_response_minutes=first, resolution_minutes=res, warning_minutes=30)
            for i, (p, (first, res)) in enumerate(policies.items(), start=1)
        )
        teams = list(Team.objects.order_by("pk").values_list("pk", flat=True))
        calendars = TeamCalendar.objects.bulk_create(
            TeamCalendar(id=i, team_id=pk) for i, pk in enumerate(teams[::2], start=1)
        )
        self.case_hours = {pk: BusinessHours.around_the_clock() for pk in teams}
        for calendar in calendars:
            self.case_hours[calendar.team_id] = BusinessHours()
        members = _through(Team, "members")
        self.case_team_of = dict(members.objects.values_list("user_id", "team_id"))
        self.case_team_of.update(_through(Team, "managers").objects.values_list("user_id", "team_id"))
        self.case_team_members: dict[int, list[int]] = {}
        for user, team in self.case_team_of.items():
            self.case_team_members.setdefault(team, []).append(user)
        companies = list(Company.objects.order_by("pk").values_list("pk", "owner_id"))
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT DISTINCT ON (company_id) company_id, id FROM contacts_contact "
                "WHERE company_id IS NOT NULL ORDER BY company_id, id"
            )
            first_contact = dict(cursor.fetchall())
        self.timer_lines: list[str] = []
        rows = self._copy(Case, CASE_COLUMNS, self._case_lines(rng, companies, first_contact, policies, teams))
        timers = self._copy(SlaTimer, TIMER_COLUMNS, self.timer_lines)
        del self.timer_lines
        # Loaded without triggers (like the deal totals): the queue tabs' counts are filled
        # from the active cases in one GROUP BY.
        with connection.cursor() as cursor:
            cursor.execute(f"TRUNCATE {CaseQueueTotal._meta.db_table} RESTART IDENTITY")
            groups = case_totals.rebuild(cursor)
        return {
            "cases": rows,
            "SLA timers": timers,
            "SLA policies": len(policies),
            "calendars": len(calendars),
            "case queue totals": groups,
        }

    def _case_lines(self, rng, companies, first_contact, policies, teams) -> Iterator[str]:
        priorities = list(policies)
        priority_cum = _cumulative([20, 55, 20, 5])
        score_cum = _cumulative([5, 7, 13, 35, 40])
        fresh_cum = _cumulative([30, 40, 15, 10, 5])  # new, open, waiting, resolved, closed
        fresh_statuses = [CaseStatus.NEW, CaseStatus.OPEN, CaseStatus.WAITING, CaseStatus.RESOLVED, CaseStatus.CLOSED]
        two_years = 730 * DAY
        timer_pk = 0
        for i in range(self.sizes.cases):
            pk = i + 1
            company, owner = companies[int(len(companies) * rng.random() ** 1.6)] if companies else (None, None)
            team = self.case_team_of.get(owner) or _pick(rng, teams)
            assignee = _pick(rng, self.case_team_members.get(team, [None])) if rng.random() < 0.9 else None
            hours = self.case_hours[team]
            created = self.now - two_years * rng.random() ** 1.5
            created_at = dt.datetime.fromtimestamp(created, tz=dt.UTC)
            priority = priorities[_weighted(rng, priority_cum)]
            first_budget, resolution_budget = (m * 60 for m in policies[priority])
            age_days = (self.now - created) / DAY
            if age_days < 14:
                status = fresh_statuses[_weighted(rng, fresh_cum)]
            else:
                status = CaseStatus.CLOSED if rng.random() < 0.97 else _pick(rng, fresh_statuses[:3])
            now = dt.datetime.fromtimestamp(self.now, tz=dt.UTC)
            first_due = hours.add(created_at, first_budget)
            resolution_due = hours.add(created_at, resolution_budget)
            responded = resolved = None
            if status != CaseStatus.NEW:
                responded = hours.add(created_at, first_budget * rng.lognormvariate(-0.6, 0.6))
                responded = min(responded, now)
            if status in (CaseStatus.RESOLVED, CaseStatus.CLOSED):
                resolved = hours.add(created_at, resolution_budget * rng.lognormvariate(-0.5, 0.5))
                resolved = min(max(resolved, responded or created_at), now)
            first_late = (responded or now) > first_due
            resolution_late = (resolved or now) > resolution_due and (resolved is not None or status != "waiting")
            score = csat_at = None
            if resolved is not None and rng.random() < 0.3:
                score = _weighted(rng, score_cum) + 1
                csat_at = min(resolved + dt.timedelta(days=1), now)
            closed = resolved + dt.timedelta(days=3) if status == CaseStatus.CLOSED and resolved else None
            yield (
                "\t".join(
                    (
                        str(pk),
                        f"{pools.CASE_SUBJECTS[pk % len(pools.CASE_SUBJECTS)]} #{pk}",
                        str(company) if company else NULL,
                        str(first_contact.get(company, NULL)) if company else NULL,
                        priority,
                        status,
                        _pick(rng, ("phone", "email", "email", "web", "api")),
                        str(team),
                        str(assignee) if assignee else NULL,
                        _ts(created),
                        _ts(max(created, (resolved or responded or created_at).timestamp())),
                        _ts(first_due.timestamp()),
                        _ts(responded.timestamp()) if responded else NULL,
                        _ts(resolution_due.timestamp()),
                        _ts(resolved.timestamp()) if resolved else NULL,
                        _ts(closed.timestamp()) if closed else NULL,
                        _b(first_late or resolution_late),
                        str(score) if score else NULL,
                        _ts(csat_at.timestamp()) if csat_at else NULL,
                    )
                )
                + "\n"
            )
            active = status in ACTIVE_STATUSES
            for target, due, answered, budget in (
                (SlaTarget.FIRST_RESPONSE, first_due, responded, first_budget),
                (SlaTarget.RESOLUTION, resolution_due, resolved, resolution_budget),
            ):
                warning = hours.add(created_at, max(budget - 30 * 60, 0))
                for kind, at in ((SlaTimerKind.WARNING, warning), (SlaTimerKind.BREACH, due)):
                    timer_pk += 1
                    if (answered or now) > at:
                        state, sent = SlaTimerState.SENT, _ts(at.timestamp())
                    elif active and answered is None:
                        state, sent = SlaTimerState.PENDING, NULL
                    else:
                        state, sent = SlaTimerState.CANCELLED, NULL
                    self.timer_lines.append(
                        "\t".join((str(timer_pk), str(pk), target, kind, _ts(at.timestamp()), state, sent, sent)) + "\n"
                    )

    # --- campaigns -------------------------------------------------------------------------

    def _campaigns(self) -> dict[str, int]:
        """Campaigns over two years, each run by a team for one of its segments (the team's
        contacts at some lifecycle stages): a few drafts, the rest started with a frozen member
        list that honours consent (do-not-email contacts never join an email campaign, and so
        on, counted as exclusions), member responses, web-form sign-ups with the consent they
        gave, first touches, and the deals responders went on to open (attributed to the
        campaign). Budgets and costs in the team's currency. Member lists are heavy-tailed:
        a few campaigns hold tens of thousands of members, most a few hundred.

        Reads users, teams, contacts and deals from the database rather than from the earlier
        steps, so ``generate_dataset --only campaigns`` adds campaigns to a loaded dataset."""
        rng = self.rng("campaigns")
        members_through, managers_through = _through(Team, "members"), _through(Team, "managers")
        teams = dict(Team.objects.order_by("pk").values_list("pk", "name"))
        team_of: dict[int, int] = dict(members_through.objects.order_by("pk").values_list("user_id", "team_id"))
        managers: dict[int, list[int]] = {}
        for user, team in managers_through.objects.order_by("pk").values_list("user_id", "team_id"):
            team_of.setdefault(user, team)
            managers.setdefault(team, []).append(user)
        reps: dict[int, list[int]] = {}
        for user, team in members_through.objects.order_by("pk").values_list("user_id", "team_id"):
            reps.setdefault(team, []).append(user)
        pools_by_key = self._campaign_contact_pools(team_of)
        team_ids = [team for team in teams if reps.get(team) or managers.get(team)]
        if not team_ids or not self.sizes.campaigns:
            return {"campaigns": 0, "segments": 0, "members": 0}
        with_rates = {settings.BASE_CURRENCY, *ExchangeRate.objects.values_list("currency", flat=True).distinct()}

        lifecycles = [s.value for s in LifecycleStage]  # lead, prospect, customer, former customer
        goal_targets = {
            CampaignGoal.ACQUIRE: (lifecycles[0], lifecycles[1]),
            CampaignGoal.GROW: (lifecycles[2],),
            CampaignGoal.RETAIN: (lifecycles[2], lifecycles[3]),
        }
        goals = list(goal_targets)
        goal_cum = _cumulative([50, 30, 20])
        channels = [c.value for c in CampaignChannel]  # email, call, event, webinar, ads
        channel_cum = _cumulative([40, 25, 12, 15, 8])
        usd_cost = {"email": 2_500, "call": 9_000, "event": 30_000, "webinar": 5_000, "ads": 20_000}
        days = {"email": (10, 45), "call": (20, 60), "event": (1, 3), "webinar": (1, 2), "ads": (30, 90)}
        n = self.sizes.campaigns
        # Drafts are the newest few; every other campaign has started.
        drafts = max(1, n // 20) if n > 1 else 0
        weights = [min(rng.paretovariate(1.16), 120.0) for _ in range(n - drafts)]
        total = sum(weights) or 1.0
        targets = [int(w / total * self.sizes.campaign_members) for w in weights]
        for _ in range(self.sizes.campaign_members - sum(targets)):
            targets[int(rng.random() * len(targets))] += 1
        # Start days over two years; the newest tenth began in the last four weeks.
        recent = max(1, (n - drafts) // 10) if n > drafts else 0
        starts = sorted(
            [self.as_of - dt.timedelta(days=30 + int(670 * rng.random() ** 0.8)) for _ in range(n - drafts - recent)]
            + [self.as_of - dt.timedelta(days=rng.randrange(1, 29)) for _ in range(recent)]
        )
        segments: list[Segment] = []
        campaigns: list[Campaign] = []
        lead_forms: list[LeadForm] = []
        member_lines: list[str] = []
        shortfall = 0
        now = dt.datetime.combine(self.as_of, dt.time(), tzinfo=dt.UTC)
        for index in range(n):
            pk = index + 1
            team = _pick(rng, team_ids)
            people = managers.get(team, []) + reps.get(team, [])
            owner = _pick(rng, managers[team]) if managers.get(team) and rng.random() < 0.5 else _pick(rng, people)
            goal = goals[_weighted(rng, goal_cum)]
            stages = list(goal_targets[goal])
            channel = channels[_weighted(rng, channel_cum)]
            currency = _campaign_currency(teams[team])
            if currency not in with_rates:
                currency = settings.BASE_CURRENCY
            draft = index >= n - drafts
            # A draft is planned for the coming weeks.
            starts_on = self.as_of + dt.timedelta(days=rng.randrange(3, 40)) if draft else starts[index]
            low, high = days[channel]
            ends_on = starts_on + dt.timedelta(days=rng.randrange(low, high + 1))
            created = dt.datetime.combine(starts_on, dt.time(8), tzinfo=dt.UTC) - dt.timedelta(
                days=rng.randrange(2, 25), minutes=rng.randrange(600)
            )
            created = min(created, now - dt.timedelta(hours=rng.randrange(1, 48)))
            started = None if draft else dt.datetime.combine(starts_on, dt.time(8), tzinfo=dt.UTC)
            status = CampaignStatus.DRAFT if draft else CampaignStatus.FINISHED
            if not draft and ends_on >= self.as_of - dt.timedelta(days=30):
                status = CampaignStatus.RUNNING  # still collecting responses; the owner finishes it
            budget = Decimal(round(rng.lognormvariate(math.log(usd_cost[channel]), 0.6), -2))
            budget = (budget / Decimal(str(pools.USD_VALUE.get(currency, 1.0)))).quantize(Decimal("100"))
            if status == CampaignStatus.FINISHED:
                spent = rng.uniform(0.6, 1.15)
            elif status == CampaignStatus.RUNNING:
                spent = rng.uniform(0.1, 0.8)
            else:
                spent = 0.0
            actual = (budget * Decimal(str(round(spent, 2)))).quantize(CENT)
            team_label = teams[team]
            stage_labels = " & ".join(str(LifecycleStage(stage).label) for stage in stages)
            segments.append(
                Segment(
                    id=pk,
                    name=f"{team_label}: {stage_labels}",
                    owner_id=owner,
                    team_id=team,
                    lifecycle_stages=stages,
                    record_team_id=team,
                    created_at=created,
                )
            )
            campaign = Campaign(
                id=pk,
                name=f"{_pick(rng, CAMPAIGN_THEMES)} {starts_on.year} Q{(starts_on.month - 1) // 3 + 1} — {team_label}",
                goal=goal,
                channel=channel,
                status=status,
                starts_on=starts_on,
                ends_on=ends_on,
                currency=currency,
                budget=budget,
                actual_cost=actual,
                owner_id=owner,
                team_id=team if rng.random() < 0.8 else None,
                segment_id=pk,
                started_at=started,
                created_at=created,
            )
            campaigns.append(campaign)
            if channel in ("event", "webinar", "ads"):
                lead_forms.append(
                    LeadForm(
                        id=len(lead_forms) + 1,
                        campaign_id=pk,
                        key=f"bench-{self.seed}-{pk}",
                        title="Register" if channel != "ads" else "Get in touch",
                        team_id=team,
                        active=status == CampaignStatus.RUNNING,
                        created_at=created,
                    )
                )
            if draft:
                continue
            target = targets[index] + shortfall
            joined, counts, excluded_consent, excluded_unreachable = self._campaign_members(
                rng,
                campaign,
                pools_by_key,
                [(team, stage) for stage in stages],
                target,
                first_member=len(member_lines) + 1,
                lines=member_lines,
                web_form=bool(lead_forms) and lead_forms[-1].campaign_id == pk,
                consent_text=str(LeadForm._meta.get_field("consent_text").get_default()),
            )
            shortfall = target - joined
            campaign.members_count = joined
            campaign.excluded_consent = excluded_consent
            campaign.excluded_unreachable = excluded_unreachable
            campaign.status_counts = counts
        Segment.objects.bulk_create(segments)
        Campaign.objects.bulk_create(campaigns)
        # updated_at is auto_now: a generated time instead of the load's (same seed, same rows).
        with connection.cursor() as cursor:
            cursor.execute(f"UPDATE {Segment._meta.db_table} SET updated_at = created_at")
            cursor.execute(
                f"UPDATE {Campaign._meta.db_table} SET updated_at = "
                "LEAST(%s, COALESCE(started_at, created_at) + interval '3 days')",
                [now],
            )
        LeadForm.objects.bulk_create(lead_forms)
        members = self._copy(CampaignMember, MEMBER_COLUMNS, member_lines)
        del member_lines
        touches, converted = self._campaign_attributions()
        # Loaded without triggers (like the deal totals): the campaigns' deal totals are
        # filled from the attributions in one GROUP BY.
        with connection.cursor() as cursor:
            cursor.execute(f"TRUNCATE {CampaignDealTotal._meta.db_table} RESTART IDENTITY")
            groups = campaign_totals.rebuild(cursor)
        return {
            "campaigns": len(campaigns),
            "segments": len(segments),
            "members": members,
            "first touches": touches,
            "deals attributed": converted,
            "campaign deal totals": groups,
            "lead forms": len(lead_forms),
        }

    def _campaign_contact_pools(self, team_of: dict[int, int]) -> dict[tuple[int, str, str], tuple[array, int, int]]:
        """``{(team, lifecycle stage, channel kind): (eligible contact ids, excluded by consent,
        excluded without an address)}`` over the contacts not archived, by their owner's team.
        Channel kinds: ``email``, ``call`` and ``other`` (no consent flag applies)."""
        pools_by_key: dict[tuple[int, str, str], tuple[array, int, int]] = {}
        sql = f"""
            SELECT id, owner_id, lifecycle_stage,
                   do_not_email::int + 2 * do_not_call::int + 4 * (email = '')::int
                   + 8 * (phone = '' AND mobile = '')::int
            FROM {Contact._meta.db_table} WHERE archived_at IS NULL ORDER BY id
        """
        consent_bit = {"email": 1, "call": 2, "other": 0}
        address_bit = {"email": 4, "call": 8, "other": 0}
        with connection.chunked_cursor() as cursor:
            cursor.execute(sql)
            while rows := cursor.fetchmany(20_000):
                for pk, owner, stage, flags in rows:
                    team = team_of.get(owner)
                    if team is None:
                        continue
                    for kind in ("email", "call", "other"):
                        key = (team, stage, kind)
                        entry = pools_by_key.get(key)
                        if entry is None:
                            entry = pools_by_key[key] = (array("l"), 0, 0)
                        ids, consent, unreachable = entry
                        if flags & consent_bit[kind]:
                            pools_by_key[key] = (ids, consent + 1, unreachable)
                        elif flags & address_bit[kind]:
                            pools_by_key[key] = (ids, consent, unreachable + 1)
                        else:
                            ids.append(pk)
        return pools_by_key

    def _campaign_members(
        self,
        rng: random.Random,
        campaign: Campaign,
        pools_by_key: dict[tuple[int, str, str], tuple[array, int, int]],
        keys: list[tuple[int, str]],
        target: int,
        *,
        first_member: int,
        lines: list[str],
        web_form: bool,
        consent_text: str,
    ) -> tuple[int, dict[str, int], int, int]:
        """Freeze up to ``target`` of the segment's eligible contacts as members (COPY lines
        appended to ``lines``); returns (members, {status: members}, the two exclusions)."""
        kind = campaign.channel if campaign.channel in ("email", "call") else "other"
        eligible: list[int] = []
        consent = unreachable = 0
        for team, stage in keys:
            ids, no_consent, no_address = pools_by_key.get((team, stage, kind), (array("l"), 0, 0))
            eligible.extend(ids)
            consent += no_consent
            unreachable += no_address
        size = min(target, len(eligible))
        if not size:
            return 0, {}, 0, 0
        chosen = sorted(eligible[i] for i in rng.sample(range(len(eligible)), size))
        share = size / len(eligible)  # the list froze from a segment that has grown since
        running = campaign.status == CampaignStatus.RUNNING
        weights = MEMBER_STATUS_WEIGHTS[(campaign.channel, running)]
        status_cum = _cumulative(weights)
        statuses = [s.value for s in MEMBER_STATUS_ORDER]
        started = campaign.started_at.timestamp()
        ends = dt.datetime.combine(campaign.ends_on, dt.time(18), tzinfo=dt.UTC).timestamp()
        window = max(min(ends + 14 * DAY, self.now) - started, 3600.0)
        counts: dict[str, int] = {}
        created = _ts(started)
        owner_sql = f"SELECT id, owner_id FROM {Contact._meta.db_table} WHERE id = ANY(%s)"
        with connection.cursor() as cursor:
            cursor.execute(owner_sql, [chosen])
            owner_of = dict(cursor.fetchall())
        for offset, contact in enumerate(chosen):
            status = statuses[_weighted(rng, status_cum)]
            counts[status] = counts.get(status, 0) + 1
            responded = consented = NULL
            note = text = ""
            if status != MemberStatus.PENDING and status != MemberStatus.SENT:
                at = started + window * rng.random() ** 2
                responded = _ts(at)
                if web_form and status == MemberStatus.RESPONDED and rng.random() < 0.4:
                    text, consented, note = consent_text, responded, "Web form"
            lines.append(
                f"{first_member + offset}\t{campaign.pk}\t{contact}\t{owner_of[contact]}\t{status}\t{responded}\t"
                f"{note}\t{NULL}\t{_copy_literal(text)}\t{consented}\t{created}\n"
            )
        return size, counts, round(consent * share), round(unreachable * share)

    @staticmethod
    def _campaign_attributions() -> tuple[int, int]:
        """First touches (each member's earliest campaign) and the deals responders opened
        within 120 days of their response, attributed to that campaign, set-based."""
        from campaigns.selectors import forget_acquired_customers

        forget_acquired_customers()  # the web's refreshes read the full reading from the cache
        member, touch = CampaignMember._meta.db_table, ContactAttribution._meta.db_table
        deal_contacts = _through(Deal, "contacts")._meta.db_table
        with connection.cursor() as cursor:
            cursor.execute(
                f"""
                INSERT INTO {touch} (id, contact_id, campaign_id, created_at)
                SELECT row_number() OVER (ORDER BY contact_id), contact_id, campaign_id, created_at
                FROM (SELECT DISTINCT ON (contact_id) contact_id, campaign_id, created_at
                      FROM {member} ORDER BY contact_id, created_at, campaign_id) first
                """
            )
            touches = cursor.rowcount
            cursor.execute(
                f"""
                INSERT INTO {DealAttribution._meta.db_table}
                    (id, deal_id, created_by_campaign_id, first_touch_campaign_id, member_id, created_at)
                SELECT row_number() OVER (ORDER BY deal_id), deal_id, campaign_id, first_touch, member_id, created_at
                FROM (SELECT DISTINCT ON (d.id) d.id AS deal_id, m.campaign_id, t.campaign_id AS first_touch,
                             m.id AS member_id, d.created_at
                      FROM {member} m
                      JOIN {deal_contacts} dc ON dc.contact_id = m.contact_id
                      JOIN {Deal._meta.db_table} d ON d.id = dc.deal_id
                           AND d.created_at >= m.responded_at AND d.created_at < m.responded_at + interval '120 days'
                      JOIN {touch} t ON t.contact_id = m.contact_id
                      WHERE m.status IN (%s, %s)
                      ORDER BY d.id, m.responded_at, m.id) converted
                """,
                [MemberStatus.RESPONDED.value, MemberStatus.MEETING.value],
            )
            return touches, cursor.rowcount

    @staticmethod
    def _deal_last_activity() -> None:
        """``Deal.last_activity_at`` as ``activities.services`` keeps it: the latest done activity."""
        with connection.cursor() as cursor:
            cursor.execute(
                f"""
                UPDATE {Deal._meta.db_table} d SET last_activity_at = a.latest
                FROM (SELECT deal_id, max(done_at) AS latest FROM {Activity._meta.db_table}
                      WHERE deal_id IS NOT NULL AND done_at IS NOT NULL GROUP BY deal_id) a
                WHERE d.id = a.deal_id
                """
            )

    def _activity_lines(self, rng: random.Random, type_ids: dict[str, int]) -> Iterator[str]:
        n_deals, n_companies, n_contacts = self.sizes.deals, self.sizes.companies, self.sizes.contacts
        kinds = ("call", "email", "meeting", "task", "note")
        kind_cum = _cumulative([30, 25, 12, 23, 10])
        two_years = 730 * DAY
        reminder_pk = 0
        for i in range(self.sizes.activities):
            pk = i + 1
            link = rng.random()
            company = contact = deal = 0  # 0: none, else the id
            if n_deals and link < 0.55:
                index = int(rng.random() * n_deals)
                deal, owner, company = index + 1, self.deal_owner[index], self.deal_company[index]
                since = self.deal_created[index]
            elif n_companies and link < 0.9:
                index = int(rng.random() * n_companies)
                company, owner, since = index + 1, self.company_owner[index], self.company_created[index]
            elif n_contacts:
                index = int(rng.random() * n_contacts)
                contact, owner, since = index + 1, self.contact_owner[index], self.now - two_years
            else:
                continue
            if company and not contact and rng.random() < 0.6:
                count = self.company_contact_count[company - 1]
                if count:
                    contact = self.company_first_contact[company - 1] + int(rng.random() * count)
                    owner_of_contact = self.contact_owner[contact - 1]
                    if owner_of_contact != owner:  # the contact belongs to a teammate: log on the company only
                        contact = 0
            kind = kinds[_weighted(rng, kind_cum)]
            since = max(since, self.now - two_years)
            # Open work: recent, due within a few weeks either side of today.
            is_open = kind in ("call", "meeting", "task") and rng.random() < 0.06
            if is_open:
                due = self.now + rng.uniform(-10, 21) * DAY + rng.randrange(8, 18) * 3600.0
                created = min(due, self.now) - rng.uniform(0, 20) * DAY
                created = max(created, since)
            else:
                created = since + (self.now - since) * rng.random() ** 0.6
                due = created + rng.uniform(0, 5) * DAY if kind in ("call", "meeting", "task") else None
                if due is not None and due > self.now:
                    due = created
            due = round(due / 900) * 900 if due is not None else None  # quarter hours
            done = None if is_open else (due if due is not None else created)
            ends = duration = None
            outcome = ""
            if kind == "meeting":
                duration = _pick(rng, (30, 30, 45, 60, 60, 90))
                ends = due + duration * 60
            elif kind == "call":
                duration = _pick(rng, (5, 10, 15, 20, 30))
                ends = due + duration * 60
                if done is not None:
                    outcome = _pick(rng, CALL_OUTCOMES)
            subject = _pick(rng, ACTIVITY_SUBJECTS[kind])
            if is_open and due > self.now and rng.random() < 0.6:
                reminder_pk += 1
                remind = due - 900
                self.reminder_lines.append(
                    f"{reminder_pk}\t{pk}\t15\t{_ts(remind)}\t{ReminderState.PENDING.value}\t{NULL}\t{NULL}\t"
                    f"{NULL}\t{NULL}\t0\t{NULL}\t\t{_ts(created)}\n"
                )
            elif done is not None and due is not None and self.now - done < 60 * DAY and rng.random() < 0.3:
                reminder_pk += 1
                remind = due - 900
                sent = _ts(remind)
                self.reminder_lines.append(
                    f"{reminder_pk}\t{pk}\t15\t{sent}\t{ReminderState.SENT.value}\t{sent}\t{sent}\t"
                    f"{NULL}\t{sent}\t0\t{NULL}\t\t{_ts(created)}\n"
                )
            yield (
                "\t".join(
                    (
                        str(pk),
                        str(type_ids[kind]),
                        subject,
                        "",
                        str(owner),
                        str(owner),
                        str(company) if company else NULL,
                        str(contact) if contact else NULL,
                        str(deal) if deal else NULL,
                        _ts(due) if due is not None else NULL,
                        _ts(ends) if ends is not None else NULL,
                        str(duration) if duration is not None else NULL,
                        outcome,
                        _ts(done) if done is not None else NULL,
                        _ts(created),
                        _ts(done if done is not None else created),
                    )
                )
                + "\n"
            )

    # --- custom fields ---------------------------------------------------------------------

    def _custom_fields(self) -> dict[str, int]:
        """The issue's custom fields (#19) with values: "Region" (one choice) and "Contract
        renewal date" on companies, "Deal type" (one choice) on deals, filled set-based in SQL
        (one UPDATE per table). A value is drawn from a hash of the row's id, so the same rows
        get the same values in every run. Created through the model, so the date's range index
        (``cf_contacts_company_contract_renewal_date``) is built as an admin's save builds it,
        after the commit. Reads only the loaded tables: ``generate_dataset --only custom_fields``."""
        definitions = [
            ("contacts.company", "region", "Region", CustomFieldType.CHOICE, list(REGIONS)),
            ("contacts.company", "contract_renewal_date", "Contract renewal date", CustomFieldType.DATE, []),
            ("deals.deal", "deal_type", "Deal type", CustomFieldType.CHOICE, list(DEAL_TYPES)),
        ]
        for position, (model, key, label, kind, choices) in enumerate(definitions):
            CustomField.objects.create(
                id=position + 1,
                model=model,
                key=key,
                label=label,
                field_type=kind,
                choices=choices,
                position=position,
                created_at=dt.datetime.fromtimestamp(self.now, tz=dt.UTC),  # the same rows every run
            )
        # h: 0..999 from a hash of the id and a salt (independent draws per salt).
        h = "mod(abs(hashtext('{salt}' || id::text)), 1000)"
        region = _case_by_share(h.format(salt="region"), REGIONS)
        days = "mod(abs(hashtext('renewal-day' || id::text)), 730)"
        renewal = f"to_char(%(as_of)s::date + {days}, 'YYYY-MM-DD')"
        company_values = f"""
            CASE WHEN {region} IS NULL THEN '{{}}'::jsonb ELSE jsonb_build_object('region', {region}) END
            || CASE WHEN {h.format(salt="renewal")} < 700
                    THEN jsonb_build_object('contract_renewal_date', {renewal}) ELSE '{{}}'::jsonb END
        """
        deal_type = _case_by_share(h.format(salt="deal-type"), DEAL_TYPES)
        deal_values = (
            f"CASE WHEN {deal_type} IS NULL THEN '{{}}'::jsonb ELSE jsonb_build_object('deal_type', {deal_type}) END"
        )
        # Only rows whose values change are written (a second run rewrites nothing).
        company_sql = f"""
            UPDATE {Company._meta.db_table}
            SET custom = (custom - 'region' - 'contract_renewal_date') || {company_values}
            WHERE custom IS DISTINCT FROM (custom - 'region' - 'contract_renewal_date') || {company_values}
        """
        deal_sql = f"""
            UPDATE {Deal._meta.db_table} SET custom = (custom - 'deal_type') || {deal_values}
            WHERE custom IS DISTINCT FROM (custom - 'deal_type') || {deal_values}
        """
        # The indexes stay in place. Dropping them and building them again after the UPDATE is
        # faster, but an index built over rows updated in its own transaction (broken HOT
        # chains) is unusable (``indcheckxmin``) to every session whose snapshot began before
        # that transaction ended; on a shared server the list pages then sort the whole table.
        with connection.cursor() as cursor:
            cursor.execute(company_sql, {"as_of": self.as_of})
            companies = cursor.rowcount
            cursor.execute(deal_sql)
            deals = cursor.rowcount
        return {"custom fields": len(definitions), "companies changed": companies, "deals changed": deals}

    @staticmethod
    def _timeline_events() -> int:
        """The timeline rows the app writes (``activities.services``, ``deals.services``), built
        set-based from the loaded rows: one per stage change, one per activity."""
        stage_events = f"""
            INSERT INTO {TimelineEvent._meta.db_table}
                (id, kind, source, title, body, data, occurred_at, actor_id, company_id, contact_id, deal_id)
            SELECT row_number() OVER (ORDER BY c.id), CASE WHEN s.is_won THEN 'deal_won'
                        WHEN s.is_lost THEN 'deal_lost' ELSE 'stage_change' END,
                   'crm',
                   left(CASE WHEN s.is_won THEN 'Deal won: ' || d.title WHEN s.is_lost THEN 'Deal lost: ' || d.title
                        ELSE d.title || ' moved to ' || s.name END, 300),
                   c.note,
                   jsonb_build_object('from_stage', f.name, 'to_stage', s.name, 'stage_change_id', c.id),
                   c.at, c.actor_id, d.company_id, NULL, d.id
            FROM {StageChange._meta.db_table} c
            JOIN {Deal._meta.db_table} d ON d.id = c.deal_id
            JOIN {Stage._meta.db_table} s ON s.id = c.to_stage_id
            LEFT JOIN {Stage._meta.db_table} f ON f.id = c.from_stage_id
        """
        # Like activities.services: the company is the activity's, else its contact's or deal's.
        activity_events = f"""
            INSERT INTO {TimelineEvent._meta.db_table}
                (id, kind, source, title, body, data, occurred_at, actor_id, company_id, contact_id, deal_id,
                 activity_id)
            SELECT %s + a.id, 'activity', 'crm', a.subject, '', '{{}}'::jsonb,
                   COALESCE(a.done_at, a.due_at, a.created_at), COALESCE(a.created_by_id, a.owner_id),
                   COALESCE(a.company_id, ct.company_id, d.company_id), a.contact_id, a.deal_id, a.id
            FROM {Activity._meta.db_table} a
            LEFT JOIN {Contact._meta.db_table} ct ON ct.id = a.contact_id
            LEFT JOIN {Deal._meta.db_table} d ON d.id = a.deal_id
        """
        with connection.cursor() as cursor:
            cursor.execute(stage_events)
            stage_count = cursor.rowcount
            cursor.execute(activity_events, [stage_count])
            return stage_count + cursor.rowcount


STATUSES = (DealStatus.OPEN.value, DealStatus.WON.value, DealStatus.LOST.value)
DEAL_KINDS = ("new business", "expansion", "pilot", "team licences", "services", "upgrade")
LOST_NOTES = (
    "Chose a cheaper tool.",
    "Budget moved to next year.",
    "Champion left the company.",
    "Went with the incumbent.",
    "No response after the proposal.",
)

COMPANY_COLUMNS = [
    "id", "name", "domain", "industry", "size", "phone", "phone_is_invalid", "email", "street", "city",
    "postal_code", "region", "country", "owner_id", "lifecycle_stage", "source", "external_id", "completeness",
    "created_at", "updated_at", "archived_at",
]  # fmt: skip
CONTACT_COLUMNS = [
    "id", "first_name", "last_name", "title", "email", "secondary_email", "phone", "mobile", "phone_is_invalid",
    "company_id", "owner_id", "lifecycle_stage", "source", "country", "do_not_call", "do_not_email", "external_id",
    "completeness", "created_at", "updated_at", "archived_at",
]  # fmt: skip
DEAL_COLUMNS = [
    "id", "title", "company_id", "owner_id", "pipeline_id", "stage_id", "amount", "currency",
    "amount_from_line_items", "probability", "probability_is_manual", "expected_close_date", "status",
    "lost_reason_id", "lost_note", "source", "closed_at", "stage_entered_at", "last_activity_at", "created_at",
    "updated_at", "version",
]  # fmt: skip

ACTIVITY_COLUMNS = [
    "id", "type_id", "subject", "body", "owner_id", "created_by_id", "company_id", "contact_id", "deal_id",
    "due_at", "ends_at", "duration_minutes", "outcome", "done_at", "created_at", "updated_at",
]  # fmt: skip
REMINDER_COLUMNS = [
    "id", "activity_id", "minutes_before", "remind_at", "state", "claimed_at", "notified_at", "email_sent_at",
    "sent_at", "attempts", "next_attempt_at", "last_error", "created_at",
]  # fmt: skip
ACTIVITY_SUBJECTS = {
    "call": ("Intro call", "Follow-up call", "Discovery call", "Check-in call", "Pricing call", "Renewal call"),
    "email": ("Sent proposal", "Sent pricing", "Follow-up email", "Sent case study", "Replied to questions"),
    "meeting": ("Demo", "Kick-off meeting", "Quarterly review", "On-site visit", "Contract review"),
    "task": ("Prepare quote", "Send contract", "Update forecast", "Book demo", "Check references"),
    "note": ("Budget confirmed", "New decision maker", "Competitor in play", "Asked for a discount"),
}
CALL_OUTCOMES = ("Connected", "Left voicemail", "No answer", "Booked a meeting", "Call back later")

CASE_COLUMNS = [
    "id", "subject", "company_id", "contact_id", "priority", "status", "channel", "team_id", "assignee_id",
    "created_at", "updated_at", "first_response_due_at", "first_responded_at", "resolution_due_at", "resolved_at",
    "closed_at", "sla_breached", "csat_score", "csat_at",
]  # fmt: skip
TIMER_COLUMNS = ["id", "case_id", "target", "kind", "due_at", "state", "sent_at", "notified_at"]

# Custom field choices and the share (per mille) of rows with each; the rest have no value.
REGIONS = {"EMEA": 400, "Americas": 300, "APAC": 200}
DEAL_TYPES = {"New business": 550, "Upsell": 250, "Renewal": 150}


def _case_by_share(hashed: str, shares: dict[str, int]) -> str:
    """SQL: the choice whose band of 0..999 holds ``hashed`` (NULL past the last band)."""
    parts, upper = [], 0
    for choice, share in shares.items():
        upper += share
        parts.append(f"WHEN {hashed} < {upper} THEN '{choice}'")
    return f"(CASE {' '.join(parts)} END)"


MEMBER_COLUMNS = [
    "id", "campaign_id", "contact_id", "owner_id", "status", "responded_at", "note", "task_id", "consent_text",
    "consented_at", "created_at",
]  # fmt: skip
CAMPAIGN_THEMES = (
    "Spring launch", "Renewal drive", "Win-back", "Product update", "Customer day", "Partner webinar",
    "Year-end offer", "Onboarding series", "Trade fair", "Upsell: analytics", "Security briefing", "Roadshow",
)  # fmt: skip
MEMBER_STATUS_ORDER = (
    MemberStatus.PENDING, MemberStatus.SENT, MemberStatus.RESPONDED, MemberStatus.MEETING,
    MemberStatus.UNSUBSCRIBED, MemberStatus.BOUNCED,
)  # fmt: skip
# (channel, running) → weights of MEMBER_STATUS_ORDER: a finished campaign reached everyone.
MEMBER_STATUS_WEIGHTS: dict[tuple[str, bool], tuple[float, ...]] = {
    ("email", False): (0, 80, 7, 2, 4, 7),
    ("email", True): (30, 52, 6, 2, 3, 7),
    ("call", False): (8, 52, 26, 10, 4, 0),
    ("call", True): (55, 25, 12, 6, 2, 0),
    ("event", False): (0, 62, 28, 6, 2, 2),
    ("event", True): (20, 50, 22, 4, 2, 2),
    ("webinar", False): (0, 60, 32, 4, 2, 2),
    ("webinar", True): (25, 45, 24, 3, 1, 2),
    ("ads", False): (0, 90, 7, 2, 1, 0),
    ("ads", True): (10, 82, 6, 1, 1, 0),
}


def _campaign_currency(team_name: str) -> str:
    """A team runs its campaigns in its region's currency."""
    if team_name.startswith("UK"):
        return "GBP"
    if team_name.startswith(("North America", "Latin America")):
        return "USD"
    return "EUR"


REFERENCE_MODELS = (Tag, Pipeline, Stage, LostReason, Product, ExchangeRate)
STEPS: tuple[Step, ...] = (
    Step(
        "users",
        (User, Team, _through(Team, "members"), _through(Team, "managers")),
        Generator._users,
    ),
    Step("reference", REFERENCE_MODELS, Generator._reference),
    Step("companies", (Company, _through(Company, "tags")), Generator._companies),
    Step("contacts", (Contact, _through(Contact, "tags")), Generator._contacts),
    Step(
        "deals",
        (Deal, StageChange, LineItem, _through(Deal, "contacts"), DealTotal, ClosedDealTotal),
        Generator._deals,
    ),
    Step("activities", (Activity, Reminder, TimelineEvent), Generator._activities),
    Step("cases", (Case, SlaTimer, SlaPolicy, TeamCalendar, CaseQueueTotal), Generator._cases),
    Step("custom_fields", (CustomField,), Generator._custom_fields, updates=(Company, Deal)),
    Step(
        "campaigns",
        (
            Segment,
            _through(Segment, "tags"),
            Campaign,
            CampaignMember,
            ContactAttribution,
            DealAttribution,
            CampaignDealTotal,
            LeadForm,
        ),
        Generator._campaigns,
    ),
)


# Steps that read what they need from the database, so ``--only`` can regenerate them alone.
STANDALONE_STEPS = frozenset({"cases", "custom_fields", "campaigns"})


def generated_models() -> list[type[models.Model]]:
    return [model for step in STEPS for model in step.models]


def drop_secondary_indexes(tables: Iterable[type[models.Model]]) -> list[str]:
    """Drop the indexes that back no constraint and return their definitions.

    Building an index once over a loaded table is several times faster than maintaining it
    row by row during COPY (above all the trigram GIN indexes of the search columns); the
    definitions come from ``pg_get_indexdef``, so ``recreate_indexes`` restores exactly the
    schema the migrations made. Unique and primary-key indexes stay: they enforce rules.
    """
    names = [m._meta.db_table for m in tables]
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT i.relname, pg_get_indexdef(x.indexrelid)
            FROM pg_index x
            JOIN pg_class i ON i.oid = x.indexrelid
            JOIN pg_class t ON t.oid = x.indrelid
            WHERE t.relname = ANY(%s) AND t.relnamespace = current_schema()::regnamespace
              AND NOT x.indisunique AND NOT x.indisprimary
              AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = x.indexrelid)
            ORDER BY t.relname, i.relname
            """,
            [names],
        )
        indexes = cursor.fetchall()
        for name, _definition in indexes:
            cursor.execute(f"DROP INDEX {connection.ops.quote_name(name)}")
    return [definition for _name, definition in indexes]


def recreate_indexes(definitions: list[str]) -> None:
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL maintenance_work_mem = '256MB'")
        for definition in definitions:
            cursor.execute(definition)


def check_foreign_keys(tables: Iterable[type[models.Model]]) -> None:
    """Raise ``IntegrityError`` naming the first foreign key that points at a missing row."""
    with connection.cursor() as cursor:
        for model in tables:
            for field in model._meta.concrete_fields:
                if not (field.is_relation and field.db_constraint):
                    continue
                child, column = model._meta.db_table, field.column
                parent = field.related_model._meta
                target = parent.get_field(field.target_field.name).column
                q = connection.ops.quote_name
                cursor.execute(
                    f"SELECT c.{q(column)} FROM {q(child)} c WHERE c.{q(column)} IS NOT NULL AND NOT EXISTS "
                    f"(SELECT 1 FROM {q(parent.db_table)} p WHERE p.{q(target)} = c.{q(column)}) LIMIT 1"
                )
                missing = cursor.fetchone()
                if missing:
                    raise IntegrityError(f"{child}.{column} = {missing[0]} points at no row of {parent.db_table}")


def database_is_empty() -> bool:
    """No people, customers or deals yet (reference rows seeded by migrations do not count)."""
    return not any(model.objects.exists() for model in (User, Company, Contact, Deal))


def truncate(tables: Iterable[type[models.Model]] | None = None) -> None:
    """Empty the generated tables (and, through CASCADE, whatever references them)."""
    tables = ", ".join(connection.ops.quote_name(m._meta.db_table) for m in tables or generated_models())
    with connection.cursor() as cursor:
        if connection.in_atomic_block:
            # Deferred foreign-key checks of rows written earlier in this transaction block TRUNCATE.
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        cursor.execute(f"TRUNCATE {tables} RESTART IDENTITY CASCADE")


def sizes_for(scale: str, **overrides: int | None) -> Sizes:
    return replace(PRESETS[scale], **{k: v for k, v in overrides.items() if v is not None})
