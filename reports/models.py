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

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from crm.models import Team
from deals.models import Deal, DealStatus, LostReason, Pipeline, Stage


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
        return f"#{self.pk} ({self.finished_at or _('building')})"


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
    company_id = models.IntegerField(null=True, blank=True)
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
    closed_at = models.DateTimeField(null=True, blank=True)
    closed_month = models.DateField(null=True, blank=True)
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
