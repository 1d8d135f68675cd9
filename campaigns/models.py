"""Campaigns: saved segments, campaigns with a frozen member list, member responses,
attribution of contacts and deals to campaigns, and public web-to-lead forms.

A campaign's target list is frozen when it starts (``CampaignMember`` rows); consent is
honoured then (do-not-email contacts never join an email campaign, do-not-call contacts
never join a call campaign) and the exclusions are counted on the campaign. Attribution is
owned here — ``ContactAttribution`` / ``DealAttribution`` point at the contact or deal — so
``contacts`` and ``deals`` (lower in the import order) know nothing of campaigns.
"""

from __future__ import annotations

import secrets
from typing import Self

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django_countries.fields import CountryField

from activities.models import Activity
from contacts.models import Contact, Tag
from crm.models import Team, User
from deals.models import Deal


class CampaignGoal(models.TextChoices):
    ACQUIRE = "acquire", _("Acquire new customers")
    GROW = "grow", _("Grow customer value")
    RETAIN = "retain", _("Retain customers")


class CampaignChannel(models.TextChoices):
    EMAIL = "email", _("Email")
    CALL = "call", _("Call")
    EVENT = "event", _("Event")
    WEBINAR = "webinar", _("Webinar")
    ADS = "ads", _("Ads")


class CampaignStatus(models.TextChoices):
    DRAFT = "draft", _("Draft")
    RUNNING = "running", _("Running")
    FINISHED = "finished", _("Finished")


class MemberStatus(models.TextChoices):
    PENDING = "pending", _("Not contacted yet")
    SENT = "sent", _("Sent")
    RESPONDED = "responded", _("Responded")
    MEETING = "meeting_booked", _("Meeting booked")
    UNSUBSCRIBED = "unsubscribed", _("Unsubscribed")
    BOUNCED = "bounced", _("Bounced")


# Statuses that count as a response on the campaign page and in the report.
RESPONSE_STATUSES = frozenset({MemberStatus.RESPONDED, MemberStatus.MEETING})


class TeamOwnedQuerySet(models.QuerySet):
    """Records with an ``owner`` and an optional ``team``: read by the owner's teammates (as
    deals are) and by the team's members; changed by the owner, their managers and admins."""

    def visible_to(self, user: User) -> Self:
        if user.is_admin:
            return self
        team_ids = [team.pk for team in user.visible_teams]
        return self.filter(Q(owner_id__in=user.visible_owner_ids) | Q(team_id__in=team_ids))

    def editable_by(self, user: User) -> Self:
        if user.is_admin:
            return self
        return self.filter(owner_id__in=user.editable_owner_ids)


class Segment(models.Model):
    """A saved filter over contacts (and their companies). Empty criteria match everything
    the segment's owner may see; ``company_filters`` are keys of filters other apps register
    (``campaigns.segments.register_company_filter``), e.g. reports' dormant and cross-sell."""

    name = models.CharField(_("name"), max_length=120)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="segments", verbose_name=_("owner")
    )
    team = models.ForeignKey(
        Team, on_delete=models.SET_NULL, null=True, blank=True, related_name="segments", verbose_name=_("team")
    )
    lifecycle_stages = ArrayField(
        models.CharField(max_length=20), default=list, blank=True, verbose_name=_("lifecycle stages")
    )
    value_segments = ArrayField(
        models.CharField(max_length=12), default=list, blank=True, verbose_name=_("value segments")
    )
    tags = models.ManyToManyField(Tag, blank=True, related_name="+", verbose_name=_("tags"))
    country = CountryField(_("country"), blank=True)
    record_owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("contact owner"),
    )
    record_team = models.ForeignKey(
        Team, on_delete=models.SET_NULL, null=True, blank=True, related_name="+", verbose_name=_("owner's team")
    )
    company_filters = ArrayField(
        models.CharField(max_length=40), default=list, blank=True, verbose_name=_("customer value filters")
    )
    created_at = models.DateTimeField(_("created"), default=timezone.now, editable=False)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    objects = TeamOwnedQuerySet.as_manager()

    class Meta:
        ordering = ["name", "id"]
        indexes = [
            models.Index(fields=["owner", "name"], name="segment_owner_name"),
            models.Index(fields=["team", "name"], name="segment_team_name"),
        ]
        verbose_name = _("segment")
        verbose_name_plural = _("segments")

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("campaigns:segment-edit", args=[self.pk])


class Campaign(models.Model):
    name = models.CharField(_("name"), max_length=200)
    goal = models.CharField(_("goal"), max_length=10, choices=CampaignGoal.choices, default=CampaignGoal.ACQUIRE)
    channel = models.CharField(_("channel"), max_length=10, choices=CampaignChannel.choices)
    status = models.CharField(_("status"), max_length=10, choices=CampaignStatus.choices, default=CampaignStatus.DRAFT)
    starts_on = models.DateField(_("starts"), null=True, blank=True)
    ends_on = models.DateField(_("ends"), null=True, blank=True)
    currency = models.CharField(_("currency"), max_length=3, default="USD")
    budget = models.DecimalField(_("budget"), max_digits=14, decimal_places=2, default=0)
    actual_cost = models.DecimalField(_("actual cost"), max_digits=14, decimal_places=2, default=0)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="campaigns", verbose_name=_("owner")
    )
    team = models.ForeignKey(
        Team, on_delete=models.SET_NULL, null=True, blank=True, related_name="campaigns", verbose_name=_("team")
    )
    segment = models.ForeignKey(
        Segment,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="campaigns",
        verbose_name=_("target segment"),
    )
    started_at = models.DateTimeField(_("started"), null=True, blank=True)
    # Frozen at the start: who joined and who consent or a missing address kept out.
    members_count = models.PositiveIntegerField(_("members"), default=0)
    excluded_consent = models.PositiveIntegerField(_("excluded by consent"), default=0)
    excluded_unreachable = models.PositiveIntegerField(_("excluded without an address"), default=0)
    # {status: members}, recounted by every service that changes a member's status, so
    # pages read one row instead of counting members.
    status_counts = models.JSONField(default=dict, blank=True, editable=False)
    tasks_created = models.PositiveIntegerField(_("call tasks created"), default=0)
    created_at = models.DateTimeField(_("created"), default=timezone.now, editable=False)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)
    version = models.PositiveIntegerField(default=1, editable=False)

    objects = TeamOwnedQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(condition=Q(budget__gte=0), name="campaign_budget_not_negative"),
            models.CheckConstraint(condition=Q(actual_cost__gte=0), name="campaign_cost_not_negative"),
            models.CheckConstraint(
                condition=Q(ends_on__isnull=True) | Q(starts_on__isnull=True) | Q(ends_on__gte=models.F("starts_on")),
                name="campaign_ends_after_start",
            ),
            models.CheckConstraint(
                condition=Q(status="draft") | Q(started_at__isnull=False), name="campaign_started_at_when_started"
            ),
        ]
        indexes = [
            models.Index(fields=["owner", "-created_at", "-id"], name="campaign_owner_created"),
            models.Index(fields=["team", "-created_at", "-id"], name="campaign_team_created"),
            models.Index(fields=["-created_at", "-id"], name="campaign_created"),
            models.Index(fields=["status", "-created_at"], name="campaign_status_created"),
        ]
        verbose_name = _("campaign")
        verbose_name_plural = _("campaigns")

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("campaigns:detail", args=[self.pk])

    @property
    def is_draft(self) -> bool:
        return self.status == CampaignStatus.DRAFT

    @property
    def consent_label(self) -> str:
        """What consent flag keeps contacts out of this campaign's list."""
        if self.channel == CampaignChannel.EMAIL:
            return str(_("do not email"))
        if self.channel == CampaignChannel.CALL:
            return str(_("do not call"))
        return ""

    @property
    def responses(self) -> int:
        return sum(self.status_counts.get(status, 0) for status in RESPONSE_STATUSES)


class CampaignMember(models.Model):
    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="members")
    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="campaign_memberships")
    # The contact's owner when the list froze: who calls them and whose My day shows the task.
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    status = models.CharField(_("response"), max_length=16, choices=MemberStatus.choices, default=MemberStatus.PENDING)
    responded_at = models.DateTimeField(_("response recorded"), null=True, blank=True)
    note = models.CharField(_("note"), max_length=300, blank=True)
    # One task per member, ever: the unique one-to-one makes re-running the execution a no-op.
    task = models.OneToOneField(
        Activity, on_delete=models.SET_NULL, null=True, blank=True, related_name="campaign_member"
    )
    # A web lead's consent: the checkbox text the person agreed to, and when.
    consent_text = models.CharField(_("consent given to"), max_length=500, blank=True)
    consented_at = models.DateTimeField(_("consented"), null=True, blank=True)
    created_at = models.DateTimeField(_("joined"), default=timezone.now, editable=False)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["campaign", "contact"], name="campaignmember_unique_contact"),
        ]
        indexes = [
            models.Index(fields=["campaign", "id"], name="campaignmember_campaign"),
            models.Index(fields=["campaign", "status", "id"], name="campaignmember_status"),
            models.Index(fields=["campaign", "owner", "id"], name="campaignmember_owner"),
        ]
        verbose_name = _("campaign member")
        verbose_name_plural = _("campaign members")

    def __str__(self) -> str:
        return f"{self.campaign_id}: {self.contact_id}"

    def get_absolute_url(self) -> str:
        return reverse("campaigns:member", args=[self.pk])


class ContactAttribution(models.Model):
    """The first campaign that touched a contact (first touch): set once, never moved."""

    contact = models.OneToOneField(Contact, on_delete=models.CASCADE, related_name="first_touch")
    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="first_touches")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("contact attribution")
        verbose_name_plural = _("contact attributions")

    def __str__(self) -> str:
        return f"{self.contact_id} ← {self.campaign_id}"


class DealAttribution(models.Model):
    """Which campaign created a deal (from a member's response) and which first touched its
    customer; revenue and ROI on the campaign page count the deals it created."""

    deal = models.OneToOneField(Deal, on_delete=models.CASCADE, related_name="attribution")
    created_by_campaign = models.ForeignKey(
        Campaign,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="created_deals",
        verbose_name=_("created by campaign"),
    )
    first_touch_campaign = models.ForeignKey(
        Campaign,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="first_touch_deals",
        verbose_name=_("first-touch campaign"),
    )
    member = models.ForeignKey(CampaignMember, on_delete=models.SET_NULL, null=True, blank=True, related_name="deals")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [
            # A campaign's deals, latest first (the campaign page).
            models.Index(fields=["created_by_campaign", "-created_at", "-id"], name="dealattribution_created_by"),
        ]
        verbose_name = _("deal attribution")
        verbose_name_plural = _("deal attributions")

    def __str__(self) -> str:
        return f"{self.deal_id} ← {self.created_by_campaign_id}"


class CampaignDealTotal(models.Model):
    """The money of the deals each campaign created, per status, currency and (won deals only)
    close day in TIME_ZONE: the campaign list's, page's and report's closed loop read these few
    rows instead of summing every attributed deal per request.

    Maintained only by PostgreSQL triggers on ``campaigns_dealattribution`` and ``deals_deal``
    (``campaigns.totals``), in the writer's transaction; never written by the app.
    ``campaigns.totals.rebuild`` refills it.
    """

    # The unique key (campaign first) serves the reads; no index of its own.
    campaign = models.ForeignKey(
        Campaign, on_delete=models.DO_NOTHING, db_constraint=False, db_index=False, related_name="+"
    )
    status = models.CharField(max_length=8)
    currency = models.CharField(max_length=3)
    # A won deal's revenue converts at its close day's rate; open and lost deals have none.
    closed_on = models.DateField(null=True)
    deals = models.BigIntegerField()
    amount_sum = models.DecimalField(max_digits=30, decimal_places=2)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["campaign", "status", "currency", "closed_on"],
                nulls_distinct=False,
                name="campaigndealtotal_key",
            )
        ]

    def __str__(self) -> str:
        return f"{self.campaign_id} {self.status} {self.currency} {self.closed_on}: {self.deals}"


class LeadRouting(models.Model):
    """A team's round-robin rule: web leads go to its active members in turn."""

    team = models.OneToOneField(Team, on_delete=models.CASCADE, related_name="lead_routing", verbose_name=_("team"))
    last_assigned = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        verbose_name = _("lead routing rule")
        verbose_name_plural = _("lead routing rules")

    def __str__(self) -> str:
        return str(self.team)


def _lead_form_key() -> str:
    return secrets.token_urlsafe(12)


class LeadForm(models.Model):
    """A public lead capture form of a campaign: ``/campaigns/lead/<key>/`` (GET: the form,
    POST: the plain endpoint an embedded snippet posts to). ``active`` off answers 404."""

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="lead_forms")
    key = models.CharField(_("key"), max_length=40, unique=True, default=_lead_form_key)
    title = models.CharField(_("title"), max_length=120, default=_("Get in touch"))
    team = models.ForeignKey(
        Team, on_delete=models.PROTECT, related_name="lead_forms", verbose_name=_("assign leads to team")
    )
    consent_text = models.CharField(
        _("consent checkbox text"),
        max_length=500,
        default=_("I agree to be contacted about this offer and to the processing of my data."),
    )
    active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("lead capture form")
        verbose_name_plural = _("lead capture forms")

    def __str__(self) -> str:
        return f"{self.campaign}: {self.title}"

    def get_absolute_url(self) -> str:
        return reverse("campaigns:lead-form", args=[self.key])
