"""Rollup tables the report pages read, so no page scans raw deal history per request.

A full rebuild writes every fact row under a new ``RollupGeneration`` inside one transaction
and then points ``RollupPointer`` at it; readers only ever read the pointer's generation, so
they see the old figures or the new ones, never half. Facts are kept per deal (one
``DealFact``, one ``StageFact`` per stage the deal entered, one ``StageVisit`` per finished
stage visit) so an incremental refresh after a stage change replaces one deal's rows, and
every filter a page offers (period, pipeline, team, owner) is a GROUP BY over indexed rows.

Facts are derived data, rewritten wholesale by every rebuild: their foreign keys carry no
database constraint (millions of per-row checks at commit would cost more than the rebuild
itself; Django's ``on_delete`` still removes the facts of a deleted deal, user or stage) and
no single-column index the ``(generation, …)`` indexes already cover, except ``deal``, which
deleting a deal looks facts up by.
"""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from activities.models import Activity
from contacts.models import Company, ValueSegment
from crm.models import Team
from deals.models import Deal, DealStatus, LostReason, Pipeline, Product, Stage


class RollupGeneration(models.Model):
    started_at = models.DateTimeField(_("started"), default=timezone.now)
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True)
    deal_count = models.PositiveIntegerField(_("deals"), default=0)
    seconds = models.FloatField(_("seconds taken"), default=0)

    class Meta:
        ordering = ["-started_at", "-id"]
        verbose_name = _("rollup generation")
        verbose_name_plural = _("rollup generations")

    def __str__(self) -> str:
        building = _("building")  # outside the f-string: makemessages cannot see into one
        return f"#{self.pk} ({self.finished_at or building})"


class RollupPointer(models.Model):
    """The single row naming the generation readers use; also the lock that serialises writers."""

    id = models.PositiveSmallIntegerField(primary_key=True, default=1, editable=False)
    generation = models.ForeignKey(RollupGeneration, on_delete=models.PROTECT, null=True, related_name="+")
    # Bumped by every incremental refresh too, so "data as of" covers the latest stage change.
    refreshed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.CheckConstraint(condition=models.Q(id=1), name="rolluppointer_single_row")]

    def __str__(self) -> str:
        return f"current: {self.generation_id}"


class DealFact(models.Model):
    """One row per deal: what win/loss, forecast, velocity and customer value aggregate."""

    generation = models.ForeignKey(
        RollupGeneration, on_delete=models.CASCADE, related_name="+", db_constraint=False, db_index=False
    )
    deal = models.ForeignKey(Deal, on_delete=models.CASCADE, related_name="+", db_constraint=False)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+", db_constraint=False, db_index=False
    )
    pipeline = models.ForeignKey(
        Pipeline, on_delete=models.CASCADE, related_name="+", db_constraint=False, db_index=False
    )
    # The report builder groups by the company's country, segment and tags through this join
    # (a company edit refreshes no fact, so those are read live); no constraint, as the others.
    company = models.ForeignKey(
        Company,
        on_delete=models.DO_NOTHING,
        null=True,
        blank=True,
        related_name="+",
        db_constraint=False,
        db_index=False,
    )
    # The deal's current stage and custom field values (the builder's "stage" and choice custom
    # field dimensions): every stage move and every edit refreshes the deal's facts. A deleted
    # stage leaves its id until the refresh of the deals moved out of it.
    stage = models.ForeignKey(
        Stage,
        on_delete=models.DO_NOTHING,
        null=True,
        blank=True,
        related_name="+",
        db_constraint=False,
        db_index=False,
    )
    custom = models.JSONField(default=dict, blank=True)
    status = models.CharField(max_length=8, choices=DealStatus.choices)
    source = models.CharField(max_length=20, blank=True)
    lost_reason = models.ForeignKey(
        LostReason,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        db_constraint=False,
        db_index=False,
    )
    created_at = models.DateTimeField()
    created_month = models.DateField()
    # The day in the server's time zone: the report builder's weeks group by it.
    created_day = models.DateField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    closed_month = models.DateField(null=True, blank=True)
    closed_day = models.DateField(null=True, blank=True)
    expected_close_month = models.DateField(null=True, blank=True)
    probability = models.PositiveSmallIntegerField(default=0)
    amount_base = models.DecimalField(max_digits=16, decimal_places=2)
    weighted_base = models.DecimalField(max_digits=16, decimal_places=2)
    # True when no exchange rate existed for the deal's currency: its amount counts as 0.
    rate_missing = models.BooleanField(default=False)
    cycle_days = models.DecimalField(max_digits=9, decimal_places=2, null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["generation", "deal"], name="dealfact_unique_deal_per_generation"),
        ]
        indexes = [
            models.Index(fields=["generation", "pipeline", "status", "closed_month"], name="dealfact_closed"),
            models.Index(fields=["generation", "status", "expected_close_month"], name="dealfact_open_close"),
            models.Index(fields=["generation", "owner", "status"], name="dealfact_owner"),
            models.Index(fields=["generation", "company_id", "status"], name="dealfact_company"),
            # The home panel's first month of "the last 90 days": an index-only scan.
            models.Index(
                fields=["generation", "closed_month", "owner"],
                include=["status", "closed_at"],
                name="dealfact_closed_month",
            ),
        ]

    def __str__(self) -> str:
        return f"deal {self.deal_id} @ generation {self.generation_id}"


class StageFact(models.Model):
    """A deal entered ``stage`` (by moving into it or skipping past it), counted once per stage."""

    generation = models.ForeignKey(
        RollupGeneration, on_delete=models.CASCADE, related_name="+", db_constraint=False, db_index=False
    )
    deal = models.ForeignKey(Deal, on_delete=models.CASCADE, related_name="+", db_constraint=False)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+", db_constraint=False, db_index=False
    )
    pipeline = models.ForeignKey(
        Pipeline, on_delete=models.CASCADE, related_name="+", db_constraint=False, db_index=False
    )
    stage = models.ForeignKey(Stage, on_delete=models.CASCADE, related_name="+", db_constraint=False, db_index=False)
    entered_at = models.DateTimeField()
    entered_month = models.DateField()
    reached_later = models.BooleanField()
    amount_base = models.DecimalField(max_digits=16, decimal_places=2)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["generation", "deal", "stage"], name="stagefact_unique_deal_stage"),
        ]
        indexes = [
            models.Index(fields=["generation", "pipeline", "entered_month"], name="stagefact_funnel"),
            models.Index(fields=["generation", "deal"], name="stagefact_deal"),
        ]

    def __str__(self) -> str:
        return f"deal {self.deal_id} entered stage {self.stage_id}"


class StageVisit(models.Model):
    """A finished stay of a deal in a stage; time in stage is averaged over these."""

    generation = models.ForeignKey(
        RollupGeneration, on_delete=models.CASCADE, related_name="+", db_constraint=False, db_index=False
    )
    deal = models.ForeignKey(Deal, on_delete=models.CASCADE, related_name="+", db_constraint=False)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+", db_constraint=False, db_index=False
    )
    pipeline = models.ForeignKey(
        Pipeline, on_delete=models.CASCADE, related_name="+", db_constraint=False, db_index=False
    )
    stage = models.ForeignKey(Stage, on_delete=models.CASCADE, related_name="+", db_constraint=False, db_index=False)
    left_at = models.DateTimeField()
    left_month = models.DateField()
    seconds = models.BigIntegerField()

    class Meta:
        indexes = [
            models.Index(fields=["generation", "pipeline", "left_month"], name="stagevisit_period"),
            models.Index(fields=["generation", "deal"], name="stagevisit_deal"),
        ]

    def __str__(self) -> str:
        return f"deal {self.deal_id} in stage {self.stage_id} for {self.seconds}s"


# Cells: the facts summed per month and report dimension ------------------------------------
# Written set-based from the facts by the same rebuild (``services._write_cells``) and kept
# equal to them by the incremental refresh, which recomputes the cells a deal's old and new
# facts fall in. The report pages sum a few thousand cells instead of tens of thousands of
# facts. Every count or sum a report shows is a sum of cell values; averages are kept as a
# sum and a count and divided in SQL exactly as ``AVG`` divides. No median is shown.


def _cell_fk(model, **kwargs):
    return models.ForeignKey(
        model, on_delete=models.CASCADE, related_name="+", db_constraint=False, db_index=False, **kwargs
    )


class ClosedCell(models.Model):
    """Won or lost deals of one owner, pipeline, source and close month (win/loss, velocity, accuracy)."""

    generation = _cell_fk(RollupGeneration)
    owner = _cell_fk(settings.AUTH_USER_MODEL)
    pipeline = _cell_fk(Pipeline)
    closed_month = models.DateField()
    status = models.CharField(max_length=8, choices=DealStatus.choices)
    source = models.CharField(max_length=20, blank=True)
    deals = models.PositiveIntegerField()
    amount_base = models.DecimalField(max_digits=18, decimal_places=2)
    # Sum and count of the non-null ``DealFact.cycle_days`` (won deals), for the average cycle.
    cycle_days = models.DecimalField(max_digits=14, decimal_places=2, null=True, blank=True)
    cycle_deals = models.PositiveIntegerField()

    class Meta:
        indexes = [
            models.Index(fields=["generation", "closed_month", "owner"], name="closedcell_period"),
            models.Index(fields=["generation", "owner", "pipeline", "closed_month"], name="closedcell_key"),
        ]

    def __str__(self) -> str:
        return f"{self.owner_id} {self.closed_month:%Y-%m} {self.status} {self.source}: {self.deals}"


class LostReasonCell(models.Model):
    """Lost deals of one owner, pipeline and close month per lost reason (win/loss reasons).

    No unique constraint: deleting a lost reason sets it to null here as on the facts, and two
    cells of the same key then simply add up."""

    generation = _cell_fk(RollupGeneration)
    owner = _cell_fk(settings.AUTH_USER_MODEL)
    pipeline = _cell_fk(Pipeline)
    closed_month = models.DateField()
    lost_reason = models.ForeignKey(
        LostReason,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        db_constraint=False,
        db_index=False,
    )
    deals = models.PositiveIntegerField()
    amount_base = models.DecimalField(max_digits=18, decimal_places=2)

    class Meta:
        indexes = [
            models.Index(fields=["generation", "closed_month", "owner"], name="lostreasoncell_period"),
            models.Index(fields=["generation", "owner", "pipeline", "closed_month"], name="lostreasoncell_key"),
        ]

    def __str__(self) -> str:
        return f"{self.owner_id} {self.closed_month:%Y-%m} reason {self.lost_reason_id}: {self.deals}"


class OpenCell(models.Model):
    """Open deals of one owner and pipeline per expected close month (null: no date) (forecast)."""

    generation = _cell_fk(RollupGeneration)
    owner = _cell_fk(settings.AUTH_USER_MODEL)
    pipeline = _cell_fk(Pipeline)
    expected_close_month = models.DateField(null=True, blank=True)
    deals = models.PositiveIntegerField()
    weighted_base = models.DecimalField(max_digits=18, decimal_places=2)
    amount_base = models.DecimalField(max_digits=18, decimal_places=2)
    rate_missing = models.PositiveIntegerField()  # deals without an exchange rate

    class Meta:
        indexes = [models.Index(fields=["generation", "owner", "pipeline"], name="opencell_key")]

    def __str__(self) -> str:
        return f"{self.owner_id} {self.expected_close_month}: {self.deals}"


class FunnelCell(models.Model):
    """Funnel entries (``StageFact``) of one owner and stage per month entered."""

    generation = _cell_fk(RollupGeneration)
    owner = _cell_fk(settings.AUTH_USER_MODEL)
    pipeline = _cell_fk(Pipeline)
    stage = _cell_fk(Stage)
    entered_month = models.DateField()
    entered = models.PositiveIntegerField()
    reached_later = models.PositiveIntegerField()
    amount_base = models.DecimalField(max_digits=18, decimal_places=2)

    class Meta:
        indexes = [models.Index(fields=["generation", "pipeline", "entered_month"], name="funnelcell_period")]

    def __str__(self) -> str:
        return f"{self.owner_id} stage {self.stage_id} {self.entered_month:%Y-%m}: {self.entered}"


class StageTimeCell(models.Model):
    """Finished stage visits (``StageVisit``) of one owner and stage per month left: count and seconds."""

    generation = _cell_fk(RollupGeneration)
    owner = _cell_fk(settings.AUTH_USER_MODEL)
    pipeline = _cell_fk(Pipeline)
    stage = _cell_fk(Stage)
    left_month = models.DateField()
    visits = models.PositiveIntegerField()
    seconds = models.BigIntegerField()

    class Meta:
        indexes = [models.Index(fields=["generation", "pipeline", "left_month"], name="stagetimecell_period")]

    def __str__(self) -> str:
        return f"{self.owner_id} stage {self.stage_id} {self.left_month:%Y-%m}: {self.visits}"


class ActivityWeek(models.Model):
    """Done calls, meetings and tasks of one owner in one week (weeks start on Monday)."""

    generation = models.ForeignKey(
        RollupGeneration, on_delete=models.CASCADE, related_name="+", db_constraint=False, db_index=False
    )
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+", db_constraint=False, db_index=False
    )
    week = models.DateField()
    calls = models.PositiveIntegerField(default=0)
    meetings = models.PositiveIntegerField(default=0)
    tasks_done = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["generation", "owner", "week"], name="activityweek_unique_owner_week"),
        ]
        indexes = [models.Index(fields=["generation", "week"], name="activityweek_period")]

    def __str__(self) -> str:
        return f"{self.owner_id} {self.week}: {self.calls}/{self.meetings}/{self.tasks_done}"


# Service cases ------------------------------------------------------------------------------
# One ``CaseFact`` per case under the same generation as the deal facts (the nightly rebuild
# writes both, ``services.rollups_refresh_for_case`` replaces one case's), and three cell
# tables the service report sums: cases opened per queue, priority and month with their SLA
# outcomes and business-time totals; the open backlog per queue and day opened (its age is
# counted from the day at read time); satisfaction ratings per queue and month rated.


class CaseFact(models.Model):
    """One case as the service report counts it; times are business seconds of its queue's calendar."""

    generation = _cell_fk(RollupGeneration)
    case = models.ForeignKey("service.Case", on_delete=models.CASCADE, related_name="+", db_constraint=False)
    team = _cell_fk(Team)
    priority = models.CharField(max_length=10)
    status = models.CharField(max_length=10)
    created_month = models.DateField()
    # The local day opened while the case is open (new, open, waiting): what the backlog counts.
    open_day = models.DateField(null=True, blank=True)
    # SLA outcome per target: True met, False breached, null not decided yet or no target.
    first_response_met = models.BooleanField(null=True)
    resolution_met = models.BooleanField(null=True)
    first_response_seconds = models.BigIntegerField(null=True, blank=True)
    resolution_seconds = models.BigIntegerField(null=True, blank=True)
    csat_score = models.PositiveSmallIntegerField(null=True, blank=True)
    csat_month = models.DateField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["generation", "case"], name="casefact_unique_case_per_generation"),
        ]

    def __str__(self) -> str:
        return f"case {self.case_id} @ generation {self.generation_id}"


class CaseCell(models.Model):
    """Cases of one queue and priority opened in one month: SLA outcomes and time totals."""

    generation = _cell_fk(RollupGeneration)
    team = _cell_fk(Team)
    priority = models.CharField(max_length=10)
    created_month = models.DateField()
    cases = models.PositiveIntegerField()
    first_response_met = models.PositiveIntegerField()
    first_response_breached = models.PositiveIntegerField()
    resolution_met = models.PositiveIntegerField()
    resolution_breached = models.PositiveIntegerField()
    # Sum and count of the facts' business seconds, for the averages.
    first_response_seconds = models.BigIntegerField(null=True, blank=True)
    first_responses = models.PositiveIntegerField()
    resolution_seconds = models.BigIntegerField(null=True, blank=True)
    resolutions = models.PositiveIntegerField()

    class Meta:
        indexes = [models.Index(fields=["generation", "created_month", "team"], name="casecell_period")]

    def __str__(self) -> str:
        return f"{self.team_id} {self.priority} {self.created_month:%Y-%m}: {self.cases}"


class BacklogCell(models.Model):
    """Open cases (new, open, waiting) of one queue and priority opened on one local day."""

    generation = _cell_fk(RollupGeneration)
    team = _cell_fk(Team)
    priority = models.CharField(max_length=10)
    open_day = models.DateField()
    cases = models.PositiveIntegerField()

    class Meta:
        indexes = [models.Index(fields=["generation", "team"], name="backlogcell_team")]

    def __str__(self) -> str:
        return f"{self.team_id} {self.open_day}: {self.cases}"


class CsatCell(models.Model):
    """Satisfaction ratings of one queue's cases in the month they were given."""

    generation = _cell_fk(RollupGeneration)
    team = _cell_fk(Team)
    csat_month = models.DateField()
    ratings = models.PositiveIntegerField()
    score_total = models.PositiveIntegerField()
    low = models.PositiveIntegerField()  # ratings of 1 or 2

    class Meta:
        indexes = [models.Index(fields=["generation", "csat_month", "team"], name="csatcell_period")]

    def __str__(self) -> str:
        return f"{self.team_id} {self.csat_month:%Y-%m}: {self.ratings}"


class ForecastSnapshot(models.Model):
    """The open pipeline as it stood when ``month`` began, kept to measure forecast accuracy."""

    month = models.DateField(_("month"))
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    pipeline = models.ForeignKey(Pipeline, on_delete=models.CASCADE, related_name="+")
    close_month = models.DateField(_("expected close month"))
    weighted_base = models.DecimalField(max_digits=16, decimal_places=2)
    unweighted_base = models.DecimalField(max_digits=16, decimal_places=2)
    deal_count = models.PositiveIntegerField(default=0)
    taken_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-month", "close_month"]
        constraints = [
            models.UniqueConstraint(
                fields=["month", "owner", "pipeline", "close_month"], name="forecastsnapshot_unique_cell"
            ),
        ]
        indexes = [models.Index(fields=["month", "close_month"], name="forecastsnapshot_month")]
        verbose_name = _("forecast snapshot")
        verbose_name_plural = _("forecast snapshots")

    def __str__(self) -> str:
        return f"{self.month:%Y-%m}: {self.close_month:%Y-%m} {self.weighted_base}"


class ReportSubscription(models.Model):
    """A manager's weekly email with the team's funnel and forecast summary."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="report_subscriptions")
    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="report_subscriptions")
    created_at = models.DateTimeField(default=timezone.now)
    # ISO year-week ("2026-W48") of the last email, so a second beat tick in a week sends nothing.
    last_sent_week = models.CharField(max_length=8, blank=True)

    class Meta:
        ordering = ["team__name"]
        constraints = [
            models.UniqueConstraint(fields=["user", "team"], name="reportsubscription_unique_user_team"),
        ]
        verbose_name = _("report subscription")
        verbose_name_plural = _("report subscriptions")

    def __str__(self) -> str:
        return f"{self.user} ← {self.team}"


# Customer value and retention ----------------------------------------------------------
# Rebuilt as a whole by ``services.customer_value_recompute`` in one transaction (DELETE +
# INSERT … SELECT under PostgreSQL MVCC): readers see the previous figures or the new ones,
# never half. The single ``ValueRun`` row records the run and its row lock serialises runs.


class ValueRun(models.Model):
    """The single row describing the customer-value tables readers currently see."""

    id = models.PositiveSmallIntegerField(primary_key=True, default=1, editable=False)
    computed_at = models.DateTimeField(_("computed"), null=True, blank=True)
    seconds = models.FloatField(_("seconds taken"), default=0)
    customers = models.PositiveIntegerField(_("customers"), default=0)
    scored = models.PositiveIntegerField(_("customers with RFM scores"), default=0)
    window_months = models.PositiveSmallIntegerField(_("RFM window (months)"), default=0)
    # Annual churn observed when the run computed it (None: too few customers to say).
    churn_rate = models.DecimalField(_("annual churn"), max_digits=6, decimal_places=4, null=True, blank=True)
    lifespan_years = models.DecimalField(_("expected lifespan (years)"), max_digits=6, decimal_places=2, default=0)

    class Meta:
        constraints = [models.CheckConstraint(condition=models.Q(id=1), name="valuerun_single_row")]

    def __str__(self) -> str:
        return f"customer value as of {self.computed_at}"


class CustomerValue(models.Model):
    """One row per active company with a won or an open deal; money in BASE_CURRENCY."""

    company = models.OneToOneField(
        Company, on_delete=models.CASCADE, primary_key=True, related_name="+", verbose_name=_("company")
    )
    # The company's owner when the run computed it: what report scopes filter on.
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    revenue_total = models.DecimalField(_("revenue, all time"), max_digits=16, decimal_places=2)
    revenue_this_year = models.DecimalField(_("revenue, this year"), max_digits=16, decimal_places=2)
    revenue_12m = models.DecimalField(_("revenue, last 12 months"), max_digits=16, decimal_places=2)
    # Of revenue_total: the net of what other systems reported (registered revenue sources:
    # revenue events less refunds), for "of which from other systems".
    revenue_external = models.DecimalField(_("revenue from other systems"), max_digits=16, decimal_places=2, default=0)
    won_deals = models.PositiveIntegerField(_("won deals"))
    first_won_on = models.DateField(_("first purchase"), null=True, blank=True)
    last_won_on = models.DateField(_("last purchase"), null=True, blank=True)
    cohort_month = models.DateField(_("cohort"), null=True, blank=True)
    average_deal = models.DecimalField(_("average deal"), max_digits=16, decimal_places=2, null=True, blank=True)
    open_pipeline = models.DecimalField(_("open pipeline"), max_digits=16, decimal_places=2)
    open_deals = models.PositiveIntegerField(_("open deals"))
    purchases_per_year = models.DecimalField(max_digits=9, decimal_places=3, default=0)
    lifetime_value = models.DecimalField(_("lifetime value"), max_digits=16, decimal_places=2, default=0)
    last_activity_at = models.DateTimeField(_("last activity"), null=True, blank=True)
    # Latest of the last done activity and the last purchase: what dormancy counts from.
    last_touch_at = models.DateTimeField(_("last touch"), null=True, blank=True)
    is_dormant = models.BooleanField(_("dormant"), default=False)
    # RFM over the won deals of the last RFM_WINDOW_MONTHS (null: no purchase in the window).
    frequency = models.PositiveIntegerField(default=0)
    monetary = models.DecimalField(max_digits=16, decimal_places=2, default=0)
    recency_days = models.PositiveIntegerField(null=True, blank=True)
    r_score = models.PositiveSmallIntegerField(null=True, blank=True)
    f_score = models.PositiveSmallIntegerField(null=True, blank=True)
    m_score = models.PositiveSmallIntegerField(null=True, blank=True)
    segment = models.CharField(_("segment"), max_length=12, choices=ValueSegment.choices, blank=True)
    # {"YYYY-MM-DD" (quarter start): "revenue"} of won deals, for the company page chart.
    quarters = models.JSONField(default=dict, blank=True)
    # Service (docs/customer-value.md, "Service trouble"): open cases that breached an SLA,
    # the average satisfaction score given in the last SERVICE_CSAT_DAYS and how many scores.
    breached_cases = models.PositiveIntegerField(_("open breached cases"), default=0)
    csat_average = models.DecimalField(_("satisfaction"), max_digits=3, decimal_places=2, null=True, blank=True)
    csat_ratings = models.PositiveIntegerField(default=0)
    # Service trouble moved the customer into "At risk" or "Can't lose".
    service_risk = models.BooleanField(_("service trouble"), default=False)

    class Meta:
        indexes = [
            models.Index(fields=["-lifetime_value", "company"], name="customervalue_ltv"),
            models.Index(fields=["owner", "-lifetime_value"], name="customervalue_owner_ltv"),
            models.Index(fields=["segment", "owner"], name="customervalue_segment"),
            models.Index(
                fields=["owner", "-lifetime_value"], condition=models.Q(is_dormant=True), name="customervalue_dormant"
            ),
            # The dormant list in value order for several owners (a manager, an admin): the few
            # dormant customers in order, instead of walking every customer by value.
            models.Index(
                fields=["-lifetime_value", "company"],
                condition=models.Q(is_dormant=True),
                name="customervalue_dormant_ltv",
            ),
            models.Index(fields=["cohort_month", "owner"], name="customervalue_cohort"),
        ]
        verbose_name = _("customer value")
        verbose_name_plural = _("customer values")

    def __str__(self) -> str:
        return f"{self.company_id}: {self.lifetime_value}"

    @property
    def low_csat(self) -> bool:
        return self.csat_average is not None and self.csat_average <= settings.SERVICE_LOW_CSAT

    @property
    def service_reason(self) -> str:
        """Why service trouble counts against this customer, e.g. "2 breached cases, CSAT 2/5"."""
        parts = []
        if self.breached_cases:
            parts.append(
                ngettext("%(count)s breached case", "%(count)s breached cases", self.breached_cases)
                % {"count": self.breached_cases}
            )
        if self.low_csat:
            parts.append(_("CSAT %(score)s/5") % {"score": f"{self.csat_average.normalize():f}"})
        return ", ".join(parts)


class ProfitPeriod(models.TextChoices):
    LAST_12_MONTHS = "12m", _("Last 12 months")
    ALL_TIME = "all", _("All time")


class ProfitGroup(models.TextChoices):
    UNPROFITABLE_LARGE = "unprofitable_large", _("Unprofitable large customer")
    PROFITABLE_SMALL = "profitable_small", _("Profitable small customer worth growing")


class CustomerProfit(models.Model):
    """A customer's profitability in one period (docs/customer-value.md, "Profitability"):
    gross margin − cost to serve − acquisition cost; money in BASE_CURRENCY. Written by the
    customer-value recompute next to ``CustomerValue`` (one row per customer and period)."""

    company = models.ForeignKey(Company, on_delete=models.CASCADE, related_name="+", verbose_name=_("company"))
    period = models.CharField(_("period"), max_length=3, choices=ProfitPeriod.choices)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    revenue = models.DecimalField(_("revenue"), max_digits=16, decimal_places=2)
    cost_of_sales = models.DecimalField(_("cost of sales"), max_digits=16, decimal_places=2)
    # Of cost_of_sales: the part assumed from pipelines' default margins (no known cost).
    estimated_cost = models.DecimalField(_("estimated cost of sales"), max_digits=16, decimal_places=2)
    gross_margin = models.DecimalField(_("gross margin"), max_digits=16, decimal_places=2)
    service_minutes = models.PositiveIntegerField(_("time spent (minutes)"))
    activity_cost = models.DecimalField(_("cost of activities"), max_digits=16, decimal_places=2)
    case_cost = models.DecimalField(_("cost of cases"), max_digits=16, decimal_places=2)
    external_cost = models.DecimalField(_("costs from other systems"), max_digits=16, decimal_places=2)
    service_cost = models.DecimalField(_("cost to serve"), max_digits=16, decimal_places=2)
    acquisition_cost = models.DecimalField(_("acquisition cost"), max_digits=16, decimal_places=2)
    profit = models.DecimalField(_("profit"), max_digits=16, decimal_places=2)
    # Rank by profit among all customers of the period (1 = most profitable).
    profit_rank = models.PositiveIntegerField()
    group = models.CharField(_("group"), max_length=20, choices=ProfitGroup.choices, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["company", "period"], name="customerprofit_unique_company_period"),
        ]
        indexes = [
            models.Index(fields=["period", "profit_rank"], name="customerprofit_rank"),
            models.Index(fields=["period", "owner", "profit_rank"], name="customerprofit_owner_rank"),
            models.Index(fields=["period", "-revenue", "company"], name="customerprofit_revenue"),
            models.Index(fields=["period", "owner", "-revenue", "company"], name="customerprofit_owner_revenue"),
            models.Index(
                fields=["period", "group", "owner"], condition=~models.Q(group=""), name="customerprofit_group"
            ),
            # The two action lists in rank order (unprofitable large: from the bottom): a few hundred
            # rows of a group per period, filtered by owner as they are read.
            models.Index(
                fields=["period", "group", "profit_rank"],
                condition=~models.Q(group=""),
                name="customerprofit_group_rank",
            ),
        ]
        verbose_name = _("customer profitability")
        verbose_name_plural = _("customer profitability")

    def __str__(self) -> str:
        return f"{self.company_id} {self.period}: {self.profit}"

    @property
    def margin_percent(self) -> Decimal | None:
        if not self.revenue:
            return None
        return (self.gross_margin * 100 / self.revenue).quantize(Decimal("0.1"))

    @property
    def profit_percent(self) -> Decimal | None:
        if not self.revenue:
            return None
        return (self.profit * 100 / self.revenue).quantize(Decimal("0.1"))

    @property
    def service_hours(self) -> Decimal:
        return (Decimal(self.service_minutes) / 60).quantize(Decimal("0.1"))


class ProfitCell(models.Model):
    """Profitability of one owner's customers in one period, so the page's totals sum a few rows."""

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    period = models.CharField(max_length=3, choices=ProfitPeriod.choices)
    customers = models.PositiveIntegerField()
    revenue = models.DecimalField(max_digits=18, decimal_places=2)
    gross_margin = models.DecimalField(max_digits=18, decimal_places=2)
    service_cost = models.DecimalField(max_digits=18, decimal_places=2)
    acquisition_cost = models.DecimalField(max_digits=18, decimal_places=2)
    profit = models.DecimalField(max_digits=18, decimal_places=2)
    unprofitable = models.PositiveIntegerField()
    unprofitable_loss = models.DecimalField(max_digits=18, decimal_places=2)  # −Σ profit of those (≥ 0)
    profitable = models.PositiveIntegerField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["period", "owner"], name="profitcell_unique_cell")]

    def __str__(self) -> str:
        return f"{self.owner_id} {self.period}: {self.profit}"


class ProfitBucket(models.Model):
    """The whale curve's rollup: one owner's customers of a period in one slice of the company-
    wide profit ranking (``bucket`` grows with the rank; positive and non-positive profits never
    share a slice). Summing a scope's owners per bucket, in bucket order, gives the scope's exact
    cumulative profit at each slice's end — the ranking restricted to a scope keeps its order."""

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    period = models.CharField(max_length=3, choices=ProfitPeriod.choices)
    bucket = models.PositiveIntegerField()
    customers = models.PositiveIntegerField()
    profit = models.DecimalField(max_digits=18, decimal_places=2)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["period", "owner", "bucket"], name="profitbucket_unique_bucket")]

    def __str__(self) -> str:
        return f"{self.owner_id} {self.period} #{self.bucket}: {self.profit}"


class SegmentCell(models.Model):
    """Customers of one owner in one segment ("" = not scored), so pages sum a few rows."""

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    segment = models.CharField(max_length=12, choices=ValueSegment.choices, blank=True)
    customers = models.PositiveIntegerField()
    revenue = models.DecimalField(max_digits=18, decimal_places=2)  # won in the RFM window
    lifetime_value = models.DecimalField(max_digits=18, decimal_places=2)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["owner", "segment"], name="segmentcell_unique_cell")]

    def __str__(self) -> str:
        return f"{self.owner_id} {self.segment}: {self.customers}"


class DormantCell(models.Model):
    """Dormant customers of one owner by how long they had been quiet when the run computed it."""

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    bucket = models.PositiveSmallIntegerField()  # index into selectors.QUIET_BUCKETS
    customers = models.PositiveIntegerField()
    lifetime_value = models.DecimalField(max_digits=18, decimal_places=2)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["owner", "bucket"], name="dormantcell_unique_cell")]

    def __str__(self) -> str:
        return f"{self.owner_id} bucket {self.bucket}: {self.customers}"


class CohortCell(models.Model):
    """Customers of one owner whose first purchase was in ``cohort_month`` and who bought in
    quarter ``quarter`` after it (quarter 0 = the first-purchase month itself)."""

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    cohort_month = models.DateField()
    quarter = models.PositiveSmallIntegerField()
    customers = models.PositiveIntegerField()
    revenue = models.DecimalField(max_digits=16, decimal_places=2)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["owner", "cohort_month", "quarter"], name="cohortcell_unique_cell"),
        ]
        indexes = [models.Index(fields=["cohort_month", "owner"], name="cohortcell_month")]

    def __str__(self) -> str:
        return f"{self.cohort_month:%Y-%m} Q{self.quarter}: {self.customers}"


class ProductCustomers(models.Model):
    """How many of one owner's customers bought ``product`` on a won deal (product null: any product)."""

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    product = models.ForeignKey(Product, on_delete=models.CASCADE, null=True, blank=True, related_name="+")
    customers = models.PositiveIntegerField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["owner", "product"], nulls_distinct=False, name="productcustomers_unique_owner_product"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.product_id}: {self.customers}"


class ProductPair(models.Model):
    """How many of one owner's customers bought both products (``product_a`` < ``product_b``)."""

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    product_a = models.ForeignKey(Product, on_delete=models.CASCADE, related_name="+")
    product_b = models.ForeignKey(Product, on_delete=models.CASCADE, related_name="+")
    customers = models.PositiveIntegerField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["owner", "product_a", "product_b"], name="productpair_unique_pair"),
        ]
        indexes = [models.Index(fields=["product_a", "product_b"], name="productpair_pair")]

    def __str__(self) -> str:
        return f"{self.product_a_id}+{self.product_b_id}: {self.customers}"


class CrossSellSuggestion(models.Model):
    """A product this company has not bought: from the rule "bought ``because``, so also
    ``product``", or, for a customer no rule applies to, what its industry peers buy most."""

    company = models.ForeignKey(Company, on_delete=models.CASCADE, related_name="+")
    rank = models.PositiveSmallIntegerField()
    product = models.ForeignKey(Product, on_delete=models.CASCADE, related_name="+")
    because = models.ForeignKey(Product, on_delete=models.CASCADE, null=True, blank=True, related_name="+")
    # Set when the suggestion comes from peers: the industry ("*": all customers).
    peer_group = models.CharField(max_length=100, blank=True)
    confidence = models.DecimalField(max_digits=6, decimal_places=4)
    lift = models.DecimalField(max_digits=9, decimal_places=3)
    customers = models.PositiveIntegerField()

    class Meta:
        ordering = ["company", "rank"]
        constraints = [
            models.UniqueConstraint(fields=["company", "rank"], name="crosssellsuggestion_unique_rank"),
        ]

    def __str__(self) -> str:
        return f"{self.company_id} → {self.product_id}"

    @property
    def confidence_percent(self) -> float:
        return round(float(self.confidence) * 100, 1)

    @property
    def reason(self) -> str:
        values = {"pct": self.confidence_percent, "lift": f"{self.lift:.1f}", "customers": self.customers}
        if self.because_id is not None:
            values["because"] = self.because.name
            # One sentence (an f-string hid its second half from makemessages: it stayed English).
            return (
                ngettext(
                    "%(pct)s%% of customers who bought %(because)s also bought it (%(customers)s customer, "
                    "lift %(lift)s×).",
                    "%(pct)s%% of customers who bought %(because)s also bought it (%(customers)s customers, "
                    "lift %(lift)s×).",
                    self.customers,
                )
                % values
            )
        if self.peer_group == "*":
            return (
                ngettext(
                    "Bought by %(pct)s%% of customers with products (%(customers)s customer).",
                    "Bought by %(pct)s%% of customers with products (%(customers)s customers).",
                    self.customers,
                )
                % values
            )
        values["industry"] = self.peer_group
        return (
            ngettext(
                "Bought by %(pct)s%% of %(industry)s customers (%(customers)s customer, lift %(lift)s×).",
                "Bought by %(pct)s%% of %(industry)s customers (%(customers)s customers, lift %(lift)s×).",
                self.customers,
            )
            % values
        )


class DormancyFollowUp(models.Model):
    """The follow-up task created when a customer went quiet; one per quiet spell.

    A spell is named by the customer's last touch when it went dormant: the daily job finds
    the same (company, dormant_since) again tomorrow and skips it; new activity and a later
    silence give a new ``dormant_since`` and so a new follow-up.
    """

    company = models.ForeignKey(Company, on_delete=models.CASCADE, related_name="+")
    dormant_since = models.DateTimeField(_("quiet since"))
    activity = models.ForeignKey(Activity, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    created_at = models.DateTimeField(_("created"), default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["company", "dormant_since"], name="dormancyfollowup_once_per_spell"),
        ]
        verbose_name = _("dormancy follow-up")
        verbose_name_plural = _("dormancy follow-ups")

    def __str__(self) -> str:
        return f"{self.company_id} quiet since {self.dormant_since:%Y-%m-%d}"


# Report builder ---------------------------------------------------------------------------
# A saved report stores its spec (whitelisted keys only, see ``reports.builder``) and is run
# with the viewer's access scope each time, so one shared report shows each reader only what
# they may see.


class SavedReport(models.Model):
    name = models.CharField(_("name"), max_length=120)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="saved_reports", verbose_name=_("owner")
    )
    # Shared with this team (its members and managers may open it); None: private.
    team = models.ForeignKey(
        Team,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="saved_reports",
        verbose_name=_("shared with team"),
    )
    spec = models.JSONField(_("definition"), default=dict)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name", "id"]
        indexes = [
            models.Index(fields=["owner", "name"], name="savedreport_owner"),
            models.Index(fields=["team", "name"], name="savedreport_team"),
        ]
        verbose_name = _("saved report")
        verbose_name_plural = _("saved reports")

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        from django.urls import reverse

        return reverse("reports:saved", args=[self.pk])


class Dashboard(models.Model):
    """A user's own dashboard (``user`` set) or a team's (``team`` set), never both."""

    name = models.CharField(_("name"), max_length=120)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, null=True, blank=True, related_name="dashboards"
    )
    team = models.ForeignKey(Team, on_delete=models.CASCADE, null=True, blank=True, related_name="dashboards")
    # The team's default dashboard, shown on the Reports home to its members and managers.
    is_team_default = models.BooleanField(_("team default"), default=False)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name", "id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(user__isnull=False, team__isnull=True)
                | models.Q(user__isnull=True, team__isnull=False),
                name="dashboard_user_xor_team",
            ),
            models.CheckConstraint(
                condition=models.Q(is_team_default=False) | models.Q(team__isnull=False),
                name="dashboard_default_is_team",
            ),
            models.UniqueConstraint(
                fields=["team"], condition=models.Q(is_team_default=True), name="dashboard_one_default_per_team"
            ),
        ]
        indexes = [models.Index(fields=["user", "name"], name="dashboard_user")]
        verbose_name = _("dashboard")
        verbose_name_plural = _("dashboards")

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        from django.urls import reverse

        return reverse("reports:dashboard", args=[self.pk])


class DashboardItemKind(models.TextChoices):
    REPORT = "report", _("Saved report")
    # Saved list views pin here later: a new kind with its own foreign key and renderer
    # (``reports.dashboards.register_item_kind``).


class DashboardItem(models.Model):
    dashboard = models.ForeignKey(Dashboard, on_delete=models.CASCADE, related_name="items")
    kind = models.CharField(max_length=20, choices=DashboardItemKind.choices, default=DashboardItemKind.REPORT)
    report = models.ForeignKey(SavedReport, on_delete=models.CASCADE, null=True, blank=True, related_name="pins")
    position = models.PositiveSmallIntegerField(default=0)
    added_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["position", "id"]
        constraints = [
            models.CheckConstraint(
                condition=~models.Q(kind="report") | models.Q(report__isnull=False), name="dashboarditem_report_set"
            ),
            models.UniqueConstraint(fields=["dashboard", "report"], name="dashboarditem_unique_report"),
        ]
        verbose_name = _("dashboard item")
        verbose_name_plural = _("dashboard items")

    def __str__(self) -> str:
        return f"{self.dashboard} · {self.report}"


class SavedReportSubscription(models.Model):
    """A weekly email of one saved report, run with the recipient's own access scope."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    report = models.ForeignKey(SavedReport, on_delete=models.CASCADE, related_name="subscriptions")
    created_at = models.DateTimeField(default=timezone.now)
    last_sent_week = models.CharField(max_length=8, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "report"], name="savedreportsubscription_unique"),
        ]
        verbose_name = _("saved report subscription")
        verbose_name_plural = _("saved report subscriptions")

    def __str__(self) -> str:
        return f"{self.user} ← {self.report}"
