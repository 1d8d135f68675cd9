"""The report builder: whitelisted datasets, dimensions and measures, run inside guard rails.

Nothing a user types ever becomes SQL. A report is a ``ReportSpec`` whose every part is a key
into the registries below (``DATASETS`` → its ``dimensions`` and ``measures``); the query is
built from the ORM expressions those entries hold. Other apps plug in through hooks, so this
module never imports "upward":

- ``register_dataset(dataset)``: a whole dataset (integrations registers business events);
- ``register_dimension_provider(dataset_key, provider)``: dimensions computed at request time,
  e.g. one per choice custom field (``provider()`` returns ``Dimension``s whose ``expression``
  reads the JSONB key and whose ``labels`` map the stored choice values to their labels).

Guard rails (``run_report``): the rows come from the dataset's ``queryset(scope)``, which is
already limited to what the viewer may see in reports; the query runs in a transaction with
``SET LOCAL statement_timeout``; at most ``REPORT_BUILDER_MAX_GROUPS`` groups are read. A
report that hits either limit returns ``ReportResult.too_broad`` with a sentence saying what
to narrow, never an error page or a worker stuck on a scan.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.db import OperationalError, connections, router, transaction
from django.db.models import (
    Avg,
    BooleanField,
    Count,
    DecimalField,
    ExpressionWrapper,
    F,
    Max,
    Min,
    Q,
    QuerySet,
    Sum,
)
from django.db.models.fields.json import KeyTextTransform
from django.db.models.functions import Cast, Coalesce, NullIf, Trunc
from django.http import QueryDict
from django.urls import reverse
from django.utils import timezone
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext
from django_countries import countries

from activities.models import Activity, ActivityType
from contacts.models import Company, Contact, LifecycleStage, Source, Tag, ValueSegment
from crm import custom_fields
from crm.models import CustomFieldType, Team
from crm.params import BadParameter, optional_date, parse_choice
from deals.models import DealStatus, Pipeline, Stage, StageChange
from reports.models import DealFact
from reports.scope import ReportScope, report_scope_for_user
from service.models import Case, CaseChannel, CasePriority, CaseStatus

if TYPE_CHECKING:
    from reports.selectors import RollupStatus

Label = str | Promise
PERIODS = ("week", "month", "quarter", "year")
CHARTS = ("bar", "stacked", "line", "pie", "table")


@dataclass(frozen=True)
class Dimension:
    """One way to group rows. ``expression``: an ORM path or expression to group by;
    ``labels``: the group values → what the reader sees (one query at most);
    ``drill``: a group value → the list filter parameters that show exactly those records."""

    key: str
    label: Label
    expression: Any
    labels: Callable[[Iterable[Any]], dict[Any, str]] = lambda values: {v: str(v) for v in values}
    drill: Callable[[Any], dict[str, str]] | None = None
    period: str = ""  # week/month/quarter/year for a date dimension


@dataclass(frozen=True)
class Measure:
    key: str
    label: Label
    aggregate: Callable[[], Any]
    kind: str = "number"  # "count", "money", "number" or "percent"


@dataclass(frozen=True)
class DateField:
    key: str
    label: Label
    path: str
    # The list filter parameters for a day range on this date (None: the list has none).
    drill: tuple[str, str] | None = None
    # A date column holding the month of ``path`` in the server's time zone (the rollup's):
    # months, quarters and years group by it, which spares converting every row's timestamp.
    month_path: str = ""
    day_path: str = ""  # the same for the day (weeks)


@dataclass
class Dataset:
    key: str
    label: Label
    queryset: Callable[[ReportScope], QuerySet]
    dimensions: list[Dimension]
    measures: list[Measure]
    dates: list[DateField]
    list_url: str = ""  # the URL name of the list that shows these records
    owner_param: str = "owner"  # the list's parameter for the owner (cases: assignee)
    # Extra drill parameters every link carries (cases: any status, not only active ones).
    drill_base: dict[str, str] = field(default_factory=dict)
    # The filter parameters the list understands: a cell needing any other gets no link,
    # since the list would show records that are not the cell's.
    list_params: frozenset[str] = frozenset()
    note: Label = ""

    def all_dimensions(self) -> dict[str, Dimension]:
        found = {d.key: d for d in self.dimensions}
        for provider in _DIMENSION_PROVIDERS.get(self.key, []):
            found.update({d.key: d for d in provider()})
        return found

    def measure_map(self) -> dict[str, Measure]:
        return {m.key: m for m in self.measures}

    def date_map(self) -> dict[str, DateField]:
        return {d.key: d for d in self.dates}


DATASETS: dict[str, Dataset] = {}
_DIMENSION_PROVIDERS: dict[str, list[Callable[[], Iterable[Dimension]]]] = {}


def register_dataset(dataset: Dataset) -> None:
    """Offer ``dataset`` in the builder (called from an ``AppConfig.ready``)."""
    DATASETS[dataset.key] = dataset


def register_dimension_provider(dataset_key: str, provider: Callable[[], Iterable[Dimension]]) -> None:
    """Add dimensions computed when a report runs (custom fields change while the site runs)."""
    _DIMENSION_PROVIDERS.setdefault(dataset_key, []).append(provider)


# Labels -------------------------------------------------------------------------------------


NOT_SET = _("Not set")


def _choices(choices: Iterable[tuple[str, Any]], empty: Label = NOT_SET) -> Callable[[Iterable[Any]], dict]:
    def labels(values: Iterable[Any]) -> dict[Any, str]:
        names = {value: str(label) for value, label in choices}
        return {v: names.get(v, str(empty) if v in ("", None) else str(v)) for v in values}

    return labels


def _model_names(model: type, attribute: str = "name") -> Callable[[Iterable[Any]], dict]:
    def labels(values: Iterable[Any]) -> dict[Any, str]:
        ids = [v for v in values if v is not None]
        names = {pk: str(name) for pk, name in model.objects.filter(pk__in=ids).values_list("pk", attribute)}
        return {v: names.get(v, str(_("Not set"))) for v in values}

    return labels


def _user_names(values: Iterable[Any]) -> dict[Any, str]:
    from crm.models import User

    ids = [v for v in values if v is not None]
    users = {u.pk: str(u) for u in User.objects.filter(pk__in=ids).only("first_name", "last_name", "username")}
    return {v: users.get(v, str(_("Nobody"))) for v in values}


def _country_names(values: Iterable[Any]) -> dict[Any, str]:
    return {v: (countries.name(v) or str(v)) if v else str(_("Not set")) for v in values}


def _stage_names(values: Iterable[Any]) -> dict[Any, str]:
    ids = [v for v in values if v is not None]
    names = {s.pk: f"{s.name} ({s.pipeline.name})" for s in Stage.objects.filter(pk__in=ids).select_related("pipeline")}
    return {v: names.get(v, str(_("Not set"))) for v in values}


def _period_label(period: str) -> Callable[[Iterable[Any]], dict]:
    def label(value: dt.datetime | dt.date | None) -> str:
        if value is None:
            return str(_("No date"))
        if isinstance(value, dt.datetime):
            value = timezone.localtime(value).date() if timezone.is_aware(value) else value.date()
        if period == "week":
            year, week, _day = value.isocalendar()
            return f"{year}-W{week:02d}"
        if period == "month":
            return f"{value:%Y-%m}"
        if period == "quarter":
            return f"{value.year} Q{(value.month - 1) // 3 + 1}"
        return f"{value.year}"

    return lambda values: {v: label(v) for v in values}


def _param(name: str) -> Callable[[Any], dict[str, str]]:
    # "Not set" (None or "") has no list filter: an empty parameter would mean "any".
    return lambda value: {} if value in (None, "") else {name: str(value)}


# Public for other apps' datasets (integrations registers business events).
model_names, user_names, country_names = _model_names, _user_names, _country_names


# Common dimensions ------------------------------------------------------------------------


def _owner(path: str, param: str = "owner") -> Dimension:
    return Dimension("owner", _("Owner"), path, _user_names, _param(param))


def _team(path: str, param: str = "team") -> Dimension:
    # An owner in two teams counts under both: "by team" answers "what did each team do".
    return Dimension("team", _("Team"), path, _model_names(Team), _param(param))


def _number_measures(path: str, noun: Label, kind: str, *, sum_too: bool = True) -> list[Measure]:
    """sum/avg/min/max of one field; labels like "Average of amount"."""
    aggregates = [("avg", _("Average of %(field)s"), Avg), ("min", _("Minimum of %(field)s"), Min)]
    aggregates.append(("max", _("Maximum of %(field)s"), Max))
    if sum_too:
        aggregates.insert(0, ("sum", _("Sum of %(field)s"), Sum))
    name = path.replace("__", "_")
    return [
        Measure(f"{agg}_{name}", _LazyFormat(label, noun), (lambda fn=fn: fn(path)), kind)
        for agg, label, fn in aggregates
    ]


class _LazyFormat:
    """``label % {"field": noun}`` translated when shown, so the reader's language is used."""

    def __init__(self, label: Label, noun: Label) -> None:
        self.label, self.noun = label, noun

    def __str__(self) -> str:
        return str(self.label) % {"field": str(self.noun)}


def _share(numerator: Q, denominator: Q | None) -> Callable[[], Any]:
    """Percent of rows matching ``numerator`` among rows matching ``denominator`` (all: None)."""

    def build() -> Any:
        below = Count("pk", filter=denominator) if denominator is not None else Count("pk")
        matching = Cast(Count("pk", filter=numerator), DecimalField(max_digits=30, decimal_places=4))
        return ExpressionWrapper(matching * 100 / NullIf(below, 0), output_field=DecimalField())

    return build


# Public for other apps' datasets (reports.builder_campaigns).
choice_names, share = _choices, _share


# Datasets -----------------------------------------------------------------------------------


def scope_rollup_status(scope: ReportScope) -> RollupStatus:
    """The rollups' pointer, read once per scope: a dashboard's deal cards and the builder
    page's "as of" line share the viewer's scope."""
    from reports.selectors import rollup_status

    if "_rollup_status" not in scope.__dict__:
        scope.__dict__["_rollup_status"] = rollup_status()
    return scope.__dict__["_rollup_status"]


def _deal_facts(scope: ReportScope) -> QuerySet:
    qs = DealFact.objects.filter(generation_id=scope_rollup_status(scope).generation_id)
    return qs.filter(scope.owner_filter())


WON, LOST = Q(status=DealStatus.WON), Q(status=DealStatus.LOST)

DEALS = Dataset(
    key="deals",
    label=_("Deals"),
    queryset=_deal_facts,
    list_url="deals:list",
    list_params=frozenset(
        {"owner", "team", "stage", "pipeline", "status", "source"}
        | {"closed_from", "closed_to", "created_from", "created_to", "close_from", "close_to"}
    ),
    note=_(
        "Deals as of the last rollup refresh; amounts in the base currency (closed deals at their close date's rate)."
    ),
    dimensions=[
        _owner("owner_id"),
        _team("owner__teams"),
        Dimension("stage", _("Stage"), "stage_id", _stage_names, _param("stage")),
        Dimension("pipeline", _("Pipeline"), "pipeline_id", _model_names(Pipeline), _param("pipeline")),
        Dimension("status", _("Status"), "status", _choices(DealStatus.choices), _param("status")),
        Dimension("source", _("Source"), "source", _choices(Source.choices), _param("source")),
        Dimension("segment", _("Customer segment"), "company__value_segment", _choices(ValueSegment.choices)),
        Dimension("country", _("Country"), "company__country", _country_names),
        Dimension("tag", _("Company tag"), "company__tags", _model_names(Tag)),
    ],
    measures=[
        Measure("count", _("Number of deals"), lambda: Count("pk"), "count"),
        *_number_measures("amount_base", _("amount"), "money"),
        Measure("win_rate", _("Win rate %"), _share(WON, WON | LOST), "percent"),
        Measure("conversion", _("Conversion to won %"), _share(WON, None), "percent"),
        *_number_measures("cycle_days", _("sales cycle (days)"), "number", sum_too=False),
        *_number_measures("probability", _("probability %"), "number", sum_too=False),
    ],
    dates=[
        DateField("closed", _("Closed"), "closed_at", ("closed_from", "closed_to"), "closed_month", "closed_day"),
        DateField(
            "created", _("Created"), "created_at", ("created_from", "created_to"), "created_month", "created_day"
        ),
        DateField("expected", _("Expected close"), "expected_close_month", ("close_from", "close_to")),
    ],
)


def _stage_changes(scope: ReportScope) -> QuerySet:
    return StageChange.objects.filter(scope.owner_filter("deal__owner_id"))


STAGE_CHANGES = Dataset(
    key="stage_changes",
    label=_("Stage changes"),
    queryset=_stage_changes,
    note=_("Every stage move of a deal; grouped by the stage moved into."),
    dimensions=[
        Dimension("owner", _("Deal owner"), "deal__owner_id", _user_names),
        Dimension("team", _("Team"), "deal__owner__teams", _model_names(Team)),
        Dimension("stage", _("Stage moved into"), "to_stage_id", _stage_names),
        Dimension("from_stage", _("Stage moved from"), "from_stage_id", _stage_names),
        Dimension("pipeline", _("Pipeline"), "deal__pipeline_id", _model_names(Pipeline)),
        Dimension("source", _("Source"), "deal__source", _choices(Source.choices)),
        Dimension("actor", _("Moved by"), "actor_id", _user_names),
    ],
    measures=[
        Measure("count", _("Number of moves"), lambda: Count("pk"), "count"),
        Measure("deals", _("Number of deals"), lambda: Count("deal_id", distinct=True), "count"),
    ],
    dates=[DateField("at", _("Moved"), "at")],
)


def _activities(scope: ReportScope) -> QuerySet:
    return Activity.objects.filter(scope.owner_filter())


ACTIVITIES = Dataset(
    key="activities",
    label=_("Activities"),
    queryset=_activities,
    list_url="activities:list",
    list_params=frozenset({"owner", "type", "status", "date_from", "date_to"}),
    dimensions=[
        _owner("owner_id"),
        _team("owner__teams"),
        Dimension("type", _("Activity type"), "type_id", _model_names(ActivityType), _param("type")),
        Dimension(
            "done",
            _("Done or open"),
            Q(done_at__isnull=False),
            lambda values: {v: str(_("Done") if v else _("Open")) for v in values},
            lambda v: {"status": "done" if v else "open"},
        ),
    ],
    measures=[
        Measure("count", _("Number of activities"), lambda: Count("pk"), "count"),
        Measure("done_share", _("Done %"), _share(Q(done_at__isnull=False), None), "percent"),
        *_number_measures("duration_minutes", _("duration (minutes)"), "number"),
    ],
    dates=[
        DateField("created", _("Created"), "created_at", ("date_from", "date_to")),
        DateField("due", _("Due"), "due_at"),
        DateField("done", _("Done"), "done_at"),
    ],
)


def _customer_dimensions(*, segment: bool) -> list[Dimension]:
    dims = [
        _owner("owner_id"),
        _team("owner__teams"),
        Dimension("country", _("Country"), "country", _country_names, _param("country")),
        Dimension("source", _("Source"), "source", _choices(Source.choices), _param("source")),
        Dimension(
            "lifecycle", _("Lifecycle stage"), "lifecycle_stage", _choices(LifecycleStage.choices), _param("stage")
        ),
        Dimension("tag", _("Tag"), "tags__name", _choices([], empty=_("No tag")), _param("tag")),
    ]
    if segment:
        dims.append(
            Dimension(
                "segment", _("Customer segment"), "value_segment", _choices(ValueSegment.choices), _param("segment")
            )
        )
    return dims


CUSTOMER_LIST_PARAMS = frozenset({"owner", "team", "country", "source", "stage", "tag", "created_from", "created_to"})
COMPANIES = Dataset(
    key="companies",
    label=_("Companies"),
    queryset=lambda scope: Company.objects.active().filter(scope.owner_filter()),
    list_url="contacts:company-list",
    list_params=CUSTOMER_LIST_PARAMS | {"segment"},
    dimensions=_customer_dimensions(segment=True),
    measures=[Measure("count", _("Number of companies"), lambda: Count("pk"), "count")],
    dates=[DateField("created", _("Created"), "created_at", ("created_from", "created_to"))],
)
CONTACTS = Dataset(
    key="contacts",
    label=_("Contacts"),
    queryset=lambda scope: Contact.objects.active().filter(scope.owner_filter()),
    list_url="contacts:contact-list",
    list_params=CUSTOMER_LIST_PARAMS,
    dimensions=_customer_dimensions(segment=False),
    measures=[Measure("count", _("Number of contacts"), lambda: Count("pk"), "count")],
    dates=[DateField("created", _("Created"), "created_at", ("created_from", "created_to"))],
)


def _cases(scope: ReportScope) -> QuerySet:
    # Cases belong to a queue (a team), not an owner: what the viewer may see of them.
    qs = Case.objects.visible_to(scope.user)
    if scope.team is not None:
        qs = qs.filter(team_id=scope.team.id)
    if scope.owner is not None:
        qs = qs.filter(assignee_id=scope.owner.pk)
    return qs


CASES = Dataset(
    key="cases",
    label=_("Cases"),
    queryset=_cases,
    list_url="service:list",
    owner_param="assignee",
    drill_base={"status": "all"},
    list_params=frozenset({"team", "status", "priority"}),
    note=_("Cases of the queues you may see; the team is the case's queue, the owner its assignee."),
    dimensions=[
        Dimension("owner", _("Assignee"), "assignee_id", _user_names, _param("assignee")),
        Dimension("team", _("Queue"), "team_id", _model_names(Team), _param("team")),
        Dimension("status", _("Status"), "status", _choices(CaseStatus.choices), _param("status")),
        Dimension("priority", _("Priority"), "priority", _choices(CasePriority.choices), _param("priority")),
        Dimension("channel", _("Channel"), "channel", _choices(CaseChannel.choices)),
        Dimension("country", _("Country"), "company__country", _country_names),
    ],
    measures=[
        Measure("count", _("Number of cases"), lambda: Count("pk"), "count"),
        *_number_measures("csat_score", _("satisfaction (1–5)"), "number", sum_too=False),
    ],
    dates=[DateField("created", _("Opened"), "created_at")],
)

for _dataset in (DEALS, STAGE_CHANGES, ACTIVITIES, COMPANIES, CONTACTS, CASES):
    register_dataset(_dataset)


# Specs ----------------------------------------------------------------------------------------


@dataclass
class ReportSpec:
    """A validated report: every field a registry key (or a parsed date); safe to store."""

    dataset: str = "deals"
    dims: list[str] = field(default_factory=lambda: ["owner"])
    measure: str = "count"
    chart: str = "bar"
    date: str = ""
    date_from: dt.date | None = None
    date_to: dt.date | None = None
    status: str = ""
    source: str = ""

    def params(self, scope: ReportScope | None = None) -> QueryDict:
        query = QueryDict(mutable=True)
        query["dataset"] = self.dataset
        for index, dim in enumerate(self.dims, start=1):
            query[f"dim{index}"] = dim
        query["measure"], query["chart"] = self.measure, self.chart
        if self.date:
            query["date"] = self.date
        if self.date_from:
            query["date_from"] = self.date_from.isoformat()
        if self.date_to:
            query["date_to"] = self.date_to.isoformat()
        if self.status:
            query["status"] = self.status
        if self.source:
            query["source"] = self.source
        if scope is not None:
            if scope.team:
                query["team"] = str(scope.team.id)
            if scope.owner:
                query["owner"] = str(scope.owner.pk)
            if scope.pipeline:
                query["pipeline"] = str(scope.pipeline.pk)
        return query

    def to_json(self) -> dict[str, Any]:
        return dict(self.params().lists())


def dimension_choices(dataset: Dataset) -> list[tuple[str, str]]:
    """The dimension keys a user may pick: the dataset's own, then a date by each period."""
    choices = [(key, str(dim.label)) for key, dim in dataset.all_dimensions().items()]
    choices += [(period, str(PERIOD_LABELS[period])) for period in PERIODS]
    return choices


PERIOD_LABELS = {
    "week": _("Date by week"),
    "month": _("Date by month"),
    "quarter": _("Date by quarter"),
    "year": _("Date by year"),
}
STATUS_FILTERS: dict[str, list[tuple[str, Any]]] = {
    "deals": list(DealStatus.choices),
    "cases": list(CaseStatus.choices),
}
SOURCE_FILTER_DATASETS = ("deals", "companies", "contacts")


def parse_spec(params: QueryDict) -> ReportSpec:
    """A ``ReportSpec`` from the URL; any value outside the whitelists is a 400 page."""
    dataset_key = parse_choice(params.get("dataset"), DATASETS.keys(), name="dataset", default="deals")
    dataset = DATASETS[dataset_key]
    dim_keys = [key for key, _label in dimension_choices(dataset)]
    dims = []
    for name in ("dim1", "dim2"):
        raw = params.get(name) or ""
        if raw:
            dims.append(parse_choice(raw, dim_keys, name=name, default=dim_keys[0]))
    if len(dims) == 2 and dims[0] == dims[1]:
        dims.pop()
    if not dims:
        dims = [dim_keys[0]]
    measure = parse_choice(params.get("measure"), dataset.measure_map().keys(), name="measure", default="count")
    chart = parse_choice(params.get("chart"), CHARTS, name="chart", default="bar")
    dates = dataset.date_map()
    date = parse_choice(params.get("date"), dates.keys(), name="date", default=next(iter(dates)))
    spec = ReportSpec(dataset=dataset_key, dims=dims, measure=measure, chart=chart, date=date)
    spec.date_from = optional_date(params, "date_from")
    spec.date_to = optional_date(params, "date_to")
    if spec.date_from and spec.date_to and spec.date_from > spec.date_to:
        spec.date_from, spec.date_to = spec.date_to, spec.date_from
    statuses = STATUS_FILTERS.get(dataset_key)
    if statuses and params.get("status"):
        spec.status = parse_choice(params.get("status"), [v for v, _l in statuses], name="status", default="")
    if dataset_key in SOURCE_FILTER_DATASETS and params.get("source"):
        spec.source = parse_choice(params.get("source"), Source.values, name="source", default="")
    return spec


def spec_from_json(data: dict[str, Any]) -> ReportSpec:
    """A stored spec, parsed again: a registry entry removed since then gives a 400, not a 500."""
    query = QueryDict(mutable=True)
    for key, values in data.items():
        query.setlist(key, [str(v) for v in (values if isinstance(values, list) else [values])])
    return parse_spec(query)


def scope_for(user: Any, params: QueryDict) -> ReportScope:
    """The viewer's report scope with the team/owner filters (404 outside it); no period."""
    return report_scope_for_user(user, _only(params, "team", "owner", "pipeline"))


def _only(params: QueryDict, *names: str) -> QueryDict:
    query = QueryDict(mutable=True)
    for name in names:
        if params.get(name):
            query[name] = params[name]
    return query


# Running --------------------------------------------------------------------------------------


@dataclass
class Cell:
    value: Any
    url: str = ""


@dataclass
class Row:
    key: Any
    label: str
    cells: list[Cell]
    total: Cell


@dataclass
class ReportResult:
    spec: ReportSpec
    dataset: Dataset
    measure: Measure
    dims: list[Dimension]
    rows: list[Row] = field(default_factory=list)
    columns: list[tuple[Any, str]] = field(default_factory=list)  # the second dimension's groups
    too_broad: str = ""
    total: Any = None

    @property
    def title(self) -> str:
        return str(_("%(measure)s — %(dataset)s by %(dimensions)s")) % {
            "measure": self.measure.label,
            "dataset": self.dataset.label,
            "dimensions": " × ".join(str(d.label) for d in self.dims),
        }


def _dimension(dataset: Dataset, key: str, date: DateField) -> Dimension:
    if key in PERIODS:
        expression = Trunc(date.path, key, tzinfo=timezone.get_current_timezone())
        if date.path.endswith("_month"):  # a DateField: no time zone
            expression = Trunc(date.path, key)
        elif date.month_path and timezone.get_current_timezone_name() == settings.TIME_ZONE:
            # Three times faster over 300k facts (no time zone conversion per row, and the
            # planner knows how few groups there are); a reader elsewhere gets their own days.
            expression = Trunc(date.day_path if key == "week" else date.month_path, key)

        def drill(value: Any, period: str = key) -> dict[str, str]:
            if date.drill is None or value is None:
                return {}
            start = value.date() if isinstance(value, dt.datetime) else value
            if isinstance(value, dt.datetime) and timezone.is_aware(value):
                start = timezone.localtime(value).date()
            end = _period_end(start, period)
            return {date.drill[0]: start.isoformat(), date.drill[1]: end.isoformat()}

        return Dimension(key, PERIOD_LABELS[key], expression, _period_label(key), drill, key)
    return dataset.all_dimensions()[key]


def _period_end(start: dt.date, period: str) -> dt.date:
    if period == "week":
        return start + dt.timedelta(days=6)
    months = {"month": 1, "quarter": 3, "year": 12}[period]
    index = start.year * 12 + start.month - 1 + months
    return dt.date(index // 12, index % 12 + 1, 1) - dt.timedelta(days=1)


def _filtered(dataset: Dataset, spec: ReportSpec, scope: ReportScope, date: DateField) -> QuerySet:
    qs = dataset.queryset(scope)
    tz = timezone.get_current_timezone()
    is_date = date.path.endswith("_month") or date.path.endswith("_date")
    if spec.date_from:
        start = spec.date_from if is_date else dt.datetime.combine(spec.date_from, dt.time.min, tzinfo=tz)
        qs = qs.filter(**{f"{date.path}__gte": start})
    if spec.date_to:
        day_after = spec.date_to + dt.timedelta(days=1)
        end = day_after if is_date else dt.datetime.combine(day_after, dt.time.min, tzinfo=tz)
        qs = qs.filter(**{f"{date.path}__lt": end})
    if spec.status:
        qs = qs.filter(status=spec.status)
    if spec.source:
        qs = qs.filter(**{"deal__source" if dataset.key == "stage_changes" else "source": spec.source})
    if scope.pipeline is not None and dataset.key in ("deals",):
        qs = qs.filter(pipeline_id=scope.pipeline.pk)
    return qs


def run_report(spec: ReportSpec, scope: ReportScope) -> ReportResult:
    """The grouped figures of ``spec`` over what ``scope`` may see, within the guard rails."""
    dataset = DATASETS[spec.dataset]
    date = dataset.date_map()[spec.date]
    dims = [_dimension(dataset, key, date) for key in spec.dims]
    measure = dataset.measure_map()[spec.measure]
    result = ReportResult(spec=spec, dataset=dataset, measure=measure, dims=dims)
    names = [f"g{i}" for i in range(len(dims))]
    cells = _closed_cells(spec, scope) if dataset.key == "deals" else None
    if cells is not None:
        qs, expressions, aggregate = cells
        grouped = qs.annotate(**{n: expressions[key] for n, key in zip(names, spec.dims, strict=True)})
    else:
        qs, aggregate = _filtered(dataset, spec, scope, date), measure.aggregate()
        grouped = qs.annotate(**{n: _as_expression(d.expression) for n, d in zip(names, dims, strict=True)})
    grouped = grouped.values(*names).annotate(value=aggregate).order_by(*names)
    cap = settings.REPORT_BUILDER_MAX_GROUPS
    alias = router.db_for_read(qs.model)
    try:
        connection = connections[alias]
        nested = connection.in_atomic_block
        with transaction.atomic(using=alias), connection.cursor() as cursor:
            cursor.execute("SET LOCAL statement_timeout = %s", [int(settings.REPORT_BUILDER_TIMEOUT_MS)])
            found = list(grouped.using(alias)[: cap + 1])
            if nested:
                # Inside an outer transaction the savepoint's SET LOCAL would outlive it.
                cursor.execute("SET LOCAL statement_timeout TO DEFAULT")
    except OperationalError as error:
        if getattr(error.__cause__, "pgcode", "") != "57014":  # query_canceled
            raise
        ms = settings.REPORT_BUILDER_TIMEOUT_MS
        # A fraction of a second takes the plural ("0.5 seconds"; Russian "0,5 секунды").
        count = ms // 1000 if ms % 1000 == 0 else 2
        result.too_broad = ngettext(
            "This report asks for more than can be counted in %(seconds)s second. "
            "Narrow the dates, pick a team or an owner, or group by fewer dimensions.",
            "This report asks for more than can be counted in %(seconds)s seconds. "
            "Narrow the dates, pick a team or an owner, or group by fewer dimensions.",
            count,
        ) % {"seconds": _seconds(ms)}
        return result
    if len(found) > cap:
        result.too_broad = str(
            _(
                "This report has more than %(cap)s groups, too many to read. "
                "Narrow the dates, group by a longer period (month instead of week), or drop a dimension."
            )
            % {"cap": cap}
        )
        return result
    _fill(result, found, scope)
    return result


# Closed deals summed per owner, pipeline, close month, status and source (``ClosedCell``,
# written by the same rollup rebuild as the facts): a deals report that needs nothing else is
# read from these few thousand rows instead of every deal's fact.
CELL_DIMENSIONS = {
    "owner": "owner_id",
    "team": "owner__teams",
    "pipeline": "pipeline_id",
    "status": "status",
    "source": "source",
}
CELL_PERIODS = ("month", "quarter", "year")


def _cell_measure(key: str) -> Any:
    won, decided = Q(status=DealStatus.WON), Q(status__in=[DealStatus.WON, DealStatus.LOST])
    if key == "count":
        return Sum("deals")
    if key == "sum_amount_base":
        return Sum("amount_base")
    if key in ("win_rate", "conversion"):
        # Closed deals only: of deals closed in the period, conversion is the win rate too.
        matching = Cast(Coalesce(Sum("deals", filter=won), 0), DecimalField(max_digits=30, decimal_places=4))
        return ExpressionWrapper(matching * 100 / NullIf(Sum("deals", filter=decided), 0), output_field=DecimalField())
    return None


def _closed_cells(spec: ReportSpec, scope: ReportScope) -> tuple[QuerySet, dict[str, Any], Any] | None:
    """The ``ClosedCell`` query answering ``spec``, or None when the cells cannot (another
    dimension or measure, a date that is not the close month, days that cut a month, or open
    deals in the report)."""
    from reports.models import ClosedCell

    aggregate = _cell_measure(spec.measure)
    if aggregate is None or spec.date != "closed":
        return None
    if any(key not in CELL_DIMENSIONS and key not in CELL_PERIODS for key in spec.dims):
        return None
    closed_only = spec.status in (DealStatus.WON, DealStatus.LOST) or spec.date_from or spec.date_to
    if not closed_only:
        return None  # open deals count in a report with no dates and no won/lost status
    if spec.date_from and spec.date_from.day != 1:
        return None
    if spec.date_to and (spec.date_to + dt.timedelta(days=1)).day != 1:
        return None
    if timezone.get_current_timezone_name() != settings.TIME_ZONE:
        return None  # close months are the server's; a reader elsewhere gets their own days
    qs = ClosedCell.objects.filter(generation_id=scope_rollup_status(scope).generation_id).filter(scope.owner_filter())
    if spec.date_from:
        qs = qs.filter(closed_month__gte=spec.date_from)
    if spec.date_to:
        qs = qs.filter(closed_month__lte=spec.date_to)
    if spec.status:
        qs = qs.filter(status=spec.status)
    if spec.source:
        qs = qs.filter(source=spec.source)
    if scope.pipeline is not None:
        qs = qs.filter(pipeline_id=scope.pipeline.pk)
    expressions: dict[str, Any] = {key: F(path) for key, path in CELL_DIMENSIONS.items()}
    expressions.update({period: Trunc("closed_month", period) for period in CELL_PERIODS})
    return qs, expressions, aggregate


def _seconds(ms: int) -> str:
    return f"{ms / 1000:g}"


def _as_expression(expression: Any) -> Any:
    if isinstance(expression, str):
        return F(expression)
    if isinstance(expression, Q):
        return ExpressionWrapper(expression, output_field=BooleanField())
    return expression


def _fill(result: ReportResult, found: list[dict], scope: ReportScope) -> None:
    dims = result.dims
    first = list(dict.fromkeys(row["g0"] for row in found))
    labels0 = dims[0].labels(first)
    values: dict[tuple, Any] = {}
    if len(dims) == 1:
        values = {(row["g0"],): row["value"] for row in found}
        result.rows = [
            Row(key, labels0[key], [], Cell(values[(key,)], _drill(result, scope, [(dims[0], key)]))) for key in first
        ]
    else:
        second = list(dict.fromkeys(row["g1"] for row in found))
        labels1 = dims[1].labels(second)
        if dims[1].period:  # oldest first, "no date" last
            second.sort(key=lambda v: (v is None, v.isoformat()[:10] if v is not None else ""))
        else:
            second.sort(key=lambda v: labels1[v].casefold())
        result.columns = [(key, labels1[key]) for key in second]
        values = {(row["g0"], row["g1"]): row["value"] for row in found}
        for key in first:
            cells = []
            for col in second:
                value = values.get((key, col))
                url = _drill(result, scope, [(dims[0], key), (dims[1], col)]) if value is not None else ""
                cells.append(Cell(value, url))
            total = _row_total(result.measure, [c.value for c in cells])
            url = _drill(result, scope, [(dims[0], key)]) if total is not None else ""
            result.rows.append(Row(key, labels0[key], cells, Cell(total, url)))
    if not dims[0].period:
        result.rows.sort(key=lambda row: (-_number(row.total.value), row.label.casefold()))
    result.total = _row_total(result.measure, [row.total.value for row in result.rows])


def _number(value: Any) -> float:
    return float(value) if isinstance(value, int | float | Decimal) else 0.0


def _row_total(measure: Measure, values: list[Any]) -> Any:
    """A row's or the report's total: additive measures only (an average of averages lies)."""
    present = [v for v in values if v is not None]
    if not present:
        return None
    if measure.kind == "count" or measure.key.startswith("sum_"):
        return sum(present)
    if measure.key.startswith("min_"):
        return min(present)
    if measure.key.startswith("max_"):
        return max(present)
    return None


def _drill(result: ReportResult, scope: ReportScope, pairs: list[tuple[Dimension, Any]]) -> str:
    """The list page showing the records of one cell, or "" when no list can filter them."""
    dataset = result.dataset
    if not dataset.list_url:
        return ""
    query = QueryDict(mutable=True)
    for key, value in dataset.drill_base.items():
        query[key] = value
    date = dataset.date_map()[result.spec.date]
    for dim, value in pairs:
        if dim.drill is None:
            return ""
        part = dim.drill(value)
        if not part:
            return ""
        for key, text in part.items():
            query[key] = text
    if date.drill is not None:
        # The period's days within the report's own dates (a quarter cut by "from" counts less).
        first, last = date.drill
        if result.spec.date_from and (first not in query or query[first] < result.spec.date_from.isoformat()):
            query[first] = result.spec.date_from.isoformat()
        if result.spec.date_to and (last not in query or query[last] > result.spec.date_to.isoformat()):
            query[last] = result.spec.date_to.isoformat()
    elif result.spec.date_from or result.spec.date_to:
        return ""  # the list cannot filter this date: its records would not be the cell's
    # Filters of the whole report (a status dimension within them names the same status).
    if result.spec.status:
        query["status"] = result.spec.status
    if result.spec.source:
        query["source"] = result.spec.source
    if scope.pipeline is not None and "pipeline" not in query and dataset.key == "deals":
        query["pipeline"] = str(scope.pipeline.pk)
    # The report counts only the scope's owners; the list must not show more.
    if dataset.owner_param not in query:
        if scope.owner is not None:
            query[dataset.owner_param] = str(scope.owner.pk)
        elif scope.team is not None and "team" not in query:
            query["team"] = str(scope.team.id)
        elif scope.allowed_owner_ids is not None and len(scope.allowed_owner_ids) == 1 and dataset.key != "cases":
            query[dataset.owner_param] = str(next(iter(scope.allowed_owner_ids)))
    understood = dataset.list_params
    if any(key not in understood and not _is_custom_param(key) for key in query if key not in dataset.drill_base):
        return ""
    return f"{reverse(dataset.list_url)}?{query.urlencode()}"


def _is_custom_param(key: str) -> bool:
    # Every list with custom fields filters on ``cf_<key>`` (crm.custom_fields.filter_form_fields).
    return key.startswith(custom_fields.FIELD_PREFIX)


def export_rows(result: ReportResult) -> tuple[list[str], list[list[Any]]]:
    """The table as a header and rows for the CSV/XLSX export."""
    header = [str(result.dims[0].label)]
    if len(result.dims) == 2:
        header += [label for _key, label in result.columns]
    header.append(str(_("Total")) if len(result.dims) == 2 else str(result.measure.label))
    rows = [[row.label, *[c.value for c in row.cells], row.total.value] for row in result.rows]
    return header, rows


def bad_spec_message(error: BadParameter) -> str:
    return str(error)


# Custom fields: every "one choice" field of a record is a dimension ("Region"), read from the
# record's ``custom`` JSONB; the list filters on it, so each cell opens its records.
def _custom_choice_dimensions(model: str, path: str) -> Callable[[], list[Dimension]]:
    def provider() -> list[Dimension]:
        dims = []
        for defn in custom_fields.fields_for(model):
            if defn.field_type != CustomFieldType.CHOICE:
                continue
            dims.append(
                Dimension(
                    defn.form_name,
                    defn.label,
                    KeyTextTransform(defn.key, path),
                    _choices([(choice, choice) for choice in defn.choices]),
                    _param(defn.form_name),
                )
            )
        return dims

    return provider


for _dataset_key, _model, _path in (
    ("companies", "contacts.company", "custom"),
    ("contacts", "contacts.contact", "custom"),
    ("deals", "deals.deal", "custom"),  # the fact's copy of the deal's values
    ("cases", "service.case", "custom"),
):
    register_dimension_provider(_dataset_key, _custom_choice_dimensions(_model, _path))
