"""Reads of the campaigns app: access helpers, the campaign page's closed loop, members
pages and the campaigns report."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from django.conf import settings
from django.core.cache import cache
from django.db.models import F, Min, QuerySet
from django.http import Http404
from django.utils import timezone

from campaigns.models import (
    Campaign,
    CampaignDealTotal,
    CampaignMember,
    ContactAttribution,
    DealAttribution,
    LeadForm,
    MemberStatus,
    Segment,
)
from contacts.keyset import KeysetPage, SortOption, keyset_page
from crm import request_memo
from crm.compiled import CompiledQuery
from crm.models import User
from crm.rows import ListRow, list_rows
from deals.models import Deal, DealStatus
from deals.money import MissingRate, RateBook

MEMBERS_PAGE = 50
LIST_PAGE = 50
CAMPAIGN_SORT = SortOption(label="newest", keys=(F("created_at"),), descending=True)
REPORT_LIMIT = 200


def campaigns_for_user(user: User) -> QuerySet[Campaign]:
    return Campaign.objects.visible_to(user).select_related("owner", "team", "segment")


def campaign_page(user: User, *, after: str = "", before: str = "") -> KeysetPage:
    """A page of the campaigns ``user`` sees, newest first (keyset paging on the
    ``campaign_created`` index: a long campaign history never renders in one page)."""
    return keyset_page(campaigns_for_user(user), CAMPAIGN_SORT, after=after, before=before, size=LIST_PAGE)


def campaign_for_user(user: User, pk: int) -> Campaign:
    """The campaign if ``user`` may see it (owner, teammates, the campaign's team); else 404."""
    try:
        return campaigns_for_user(user).get(pk=pk)
    except Campaign.DoesNotExist:
        raise Http404 from None


def segment_for_user(user: User, pk: int) -> Segment:
    try:
        return Segment.objects.visible_to(user).select_related("owner", "team").get(pk=pk)
    except Segment.DoesNotExist:
        raise Http404 from None


def member_for_user(user: User, pk: int) -> CampaignMember:
    """A member is seen by whoever sees its campaign, and by the contact's owner's teammates
    (a rep works their members from the task even when the campaign is another team's)."""
    member = (
        CampaignMember.objects.select_related(
            "campaign", "campaign__owner", "owner", "contact", "contact__company", "task"
        )
        .filter(pk=pk)
        .first()
    )
    if member is None:
        raise Http404
    if not (
        user.can_read_owner(member.owner_id) or Campaign.objects.visible_to(user).filter(pk=member.campaign_id).exists()
    ):
        raise Http404
    return member


@dataclass
class Loop:
    """The closed loop of one campaign, money in BASE_CURRENCY."""

    members: int
    responses: int
    deals_created: int
    open_deals: int
    pipeline: Decimal
    won_deals: int
    won_revenue: Decimal
    cost: Decimal | None
    budget: Decimal | None
    missing_rate: str = ""

    @property
    def roi_percent(self) -> Decimal | None:
        """(won revenue − cost) ÷ cost, in per cent; none without a cost."""
        if not self.cost:
            return None
        return ((self.won_revenue - self.cost) * 100 / self.cost).quantize(Decimal("1"), rounding=ROUND_HALF_UP)

    @property
    def cost_per_won_deal(self) -> Decimal | None:
        if self.cost is None or not self.won_deals:
            return None
        return (self.cost / self.won_deals).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)

    @property
    def response_rate(self) -> Decimal | None:
        if not self.members:
            return None
        return (Decimal(self.responses) * 100 / self.members).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)


def _deal_sums(campaign_ids: list[int]) -> dict[int, list[tuple[str, str, Decimal, dt.date | None, int]]]:
    """Per campaign: (status, currency, amount, close day, deals) of the deals it created, from
    the trigger-kept rollup (``campaigns.totals``): a few rows per campaign, whatever the number
    of its deals. Only a won deal's close day is kept (its revenue converts at that day's rate)."""
    rows = (
        CampaignDealTotal.objects.filter(campaign_id__in=campaign_ids)
        .values_list("campaign_id", "status", "currency", "amount_sum", "closed_on", "deals")
        .order_by()
    )
    sums: dict[int, list] = {}
    for campaign_id, *group in rows:
        sums.setdefault(campaign_id, []).append(tuple(group))
    return sums


def loops(campaigns: Iterable[Campaign], *, book: RateBook | None = None) -> dict[int, Loop]:
    """The loop of each campaign: members and responses from the campaign's stored counts,
    deals from one grouped query, money converted through one RateBook (won deals at the
    rate of their close day, open pipeline and cost at today's and the start day's)."""
    campaigns = list(campaigns)
    book = book or RateBook()
    today = timezone.localdate()
    sums = _deal_sums([c.pk for c in campaigns])
    result = {}
    for campaign in campaigns:
        missing = ""
        created = open_deals = won = 0
        pipeline = won_revenue = Decimal("0")
        cost = budget = None
        try:
            for status, currency, amount, closed_on, deals in sums.get(campaign.pk, []):
                created += deals
                if status == DealStatus.OPEN:
                    open_deals += deals
                    pipeline += book.to_base(amount, currency, today)
                elif status == DealStatus.WON:
                    won += deals
                    won_revenue += book.to_base(amount, currency, closed_on or today)
            on = campaign.starts_on or campaign.created_at.date()
            cost = book.to_base(campaign.actual_cost, campaign.currency, on)
            budget = book.to_base(campaign.budget, campaign.currency, on)
        except MissingRate as exc:
            missing = exc.currency
        result[campaign.pk] = Loop(
            members=campaign.members_count,
            responses=campaign.responses,
            deals_created=created,
            open_deals=open_deals,
            pipeline=pipeline,
            won_deals=won,
            won_revenue=won_revenue,
            cost=cost,
            budget=budget,
            missing_rate=missing,
        )
    return result


def status_rows(campaign: Campaign) -> list[tuple[str, str, int]]:
    """(status, label, members) for every response status, from the stored counts."""
    return [(s.value, s.label, campaign.status_counts.get(s.value, 0)) for s in MemberStatus]


def _member_page(
    key: tuple, *, campaign: int, owner: User | int | None = None, after: int = 0, status: str = ""
) -> QuerySet:
    qs = CampaignMember.objects.filter(campaign=campaign)
    if status:
        qs = qs.filter(status=status)
    if owner is not None:
        qs = qs.filter(owner=owner)
    if after:
        qs = qs.filter(pk__gt=after)
    rows = list_rows(qs.annotate(**_MEMBER_NAMES), ("id", "status", "task_id", *_MEMBER_NAMES))
    return rows.order_by("pk")[: MEMBERS_PAGE + 1]


# What a member row shows (campaigns/jinja2/campaigns/campaign_member_rows.html), as a row of
# values (``crm.rows.ListRow``): not ~200 model instances (members, contacts, companies,
# owners, tasks) per page.
_MEMBER_NAMES = {
    "contact_first_name": F("contact__first_name"),
    "contact_last_name": F("contact__last_name"),
    "company_id": F("contact__company_id"),
    "company_name": F("contact__company__name"),
    "owner_first_name": F("owner__first_name"),
    "owner_last_name": F("owner__last_name"),
    "owner_username": F("owner__username"),
    "task_done_at": F("task__done_at"),
    "task_due_at": F("task__due_at"),
}


# The campaign page's members (by owner, from a cursor) and its deals: built and compiled once
# per shape. A status filter (text) builds its query each time.
_MEMBER_PAGE = CompiledQuery(_member_page, campaign=int, owner=int, after=int)


def member_page(
    campaign: Campaign, *, status: str = "", owner: User | None = None, after: int = 0
) -> tuple[list[ListRow], int | None]:
    """One page of members by id (keyset: ``after`` the last id shown), as rows, and the next cursor."""
    if status:
        rows = list(_member_page((), campaign=campaign.pk, owner=owner, after=after, status=status))
    else:
        values = {"campaign": campaign.pk}
        if owner is not None:
            values["owner"] = owner.pk
        if after:
            values["after"] = after
        rows = _MEMBER_PAGE.fetch((owner is not None, bool(after)), **values)
    more = len(rows) > MEMBERS_PAGE
    rows = rows[:MEMBERS_PAGE]
    return rows, (rows[-1].pk if more and rows else None)


def campaign_deals(campaign: Campaign, *, limit: int = 50) -> list[ListRow]:
    """The latest deals the campaign created, as rows. Ordered by the attribution's own time
    (written with the deal) on the ``dealattribution_created_by`` index: ordered by the deal's
    ``created_at``, PostgreSQL walked every deal newest first looking for the campaign's
    (300 ms for the biggest campaign of the large benchmark dataset)."""
    return _CAMPAIGN_DEALS.fetch(limit, campaign=campaign.pk)


# What a row shows (campaigns/jinja2/campaigns/campaign_deal_rows.html), nothing more.
_DEAL_ROW = {
    "deal_title": F("deal__title"),
    "deal_status": F("deal__status"),
    "deal_amount": F("deal__amount"),
    "deal_currency": F("deal__currency"),
    "stage_name": F("deal__stage__name"),
    "owner_first_name": F("deal__owner__first_name"),
    "owner_last_name": F("deal__owner__last_name"),
    "owner_username": F("deal__owner__username"),
}


def _campaign_deals(limit: int, *, campaign: int) -> QuerySet:
    qs = DealAttribution.objects.filter(created_by_campaign=campaign).annotate(**_DEAL_ROW)
    return list_rows(qs, ("deal_id", *_DEAL_ROW)).order_by("-created_at", "-id")[:limit]


_CAMPAIGN_DEALS = CompiledQuery(_campaign_deals, campaign=int)


def lead_forms(campaign: Campaign) -> list[LeadForm]:
    return list(LeadForm.objects.filter(campaign=campaign).select_related("team").order_by("pk"))


def base_currency() -> str:
    return settings.BASE_CURRENCY


# --- Acquisition cost (customer profitability) ----------------------------------------------


ACQUIRED_CACHE_KEY = "campaigns:acquired-customers:v1"


def acquired_customers(
    *, today: dt.date | None = None, company_ids: Iterable[int] | None = None
) -> dict[int, tuple[int, dt.date]]:
    """``{company_id: (campaign_id, acquired_on)}``: the customers each campaign acquired.

    A company's campaign is the first touch of its contacts (the earliest ``ContactAttribution``
    among them); the campaign acquired it when the company's first won deal closed between the
    campaign's start and ``CAMPAIGN_ACQUISITION_DAYS`` after its end (a running campaign: after
    today). ``acquired_on`` is that deal's close day.

    Without ``company_ids``: every customer, read in three queries whatever the numbers (two
    seconds over the large benchmark dataset), and kept in the cache. With them (an incremental
    refresh, after a deal of theirs moved): those customers read afresh, the others as the last
    full reading found them — a refresh after every deal move no longer scans every attribution
    and won deal. How many customers share a campaign's cost may so lag by the customers other
    than these acquired since; the nightly full run counts them all again."""
    if company_ids is None:
        acquired = _acquired(today=today, company_ids=None)
        cache.set(ACQUIRED_CACHE_KEY, acquired, None)
        return acquired
    wanted = {int(pk) for pk in company_ids}
    known = cache.get(ACQUIRED_CACHE_KEY)
    if known is None:
        known = _acquired(today=today, company_ids=None)
        cache.set(ACQUIRED_CACHE_KEY, known, None)
    if not wanted:
        return known
    acquired = {pk: value for pk, value in known.items() if pk not in wanted}
    acquired.update(_acquired(today=today, company_ids=wanted))
    return acquired


def forget_acquired_customers() -> None:
    """Drop the cached full reading (tests; after bulk loads): the next refresh reads it again."""
    cache.delete(ACQUIRED_CACHE_KEY)
    request_memo.forget(ACQUIRED_CACHE_KEY)


def _acquired(*, today: dt.date | None, company_ids: set[int] | None) -> dict[int, tuple[int, dt.date]]:
    today = today or timezone.localdate()
    first_touch: dict[int, int] = {}
    touches = ContactAttribution.objects.filter(contact__company__isnull=False)
    won = Deal.objects.filter(status=DealStatus.WON, closed_at__isnull=False)
    if company_ids is None:
        won = won.filter(company_id__in=ContactAttribution.objects.values("contact__company_id"))
    else:
        touches = touches.filter(contact__company_id__in=company_ids)
        won = won.filter(company_id__in=company_ids)
    touches = touches.order_by("contact__company_id", "created_at", "pk").values_list(
        "contact__company_id", "campaign_id"
    )
    for company_id, campaign_id in touches.iterator(chunk_size=5000):
        first_touch.setdefault(company_id, campaign_id)
    if not first_touch:
        return {}
    first_won = won.values("company_id").annotate(first=Min("closed_at")).values_list("company_id", "first")
    campaigns = Campaign.objects.in_bulk(set(first_touch.values()))
    after_end = dt.timedelta(days=settings.CAMPAIGN_ACQUISITION_DAYS)
    acquired = {}
    for company_id, first in first_won.iterator(chunk_size=5000):
        campaign = campaigns.get(first_touch.get(company_id))
        if campaign is None or campaign.started_at is None:
            continue  # a draft never touched anyone
        won_on = timezone.localdate(first)
        starts = campaign.starts_on or timezone.localdate(campaign.started_at)
        ends = (campaign.ends_on or today) + after_end
        if starts <= won_on <= ends:
            acquired[company_id] = (campaign.pk, won_on)
    return acquired


def acquisition_costs(*, start: dt.date | None, end: dt.date, company_ids: list[int] | None) -> dict[int, Decimal]:
    """Each campaign's actual cost (base currency, at its start day's rate) spread evenly over
    the customers it acquired (``acquired_customers``), cent by cent: the first customers by id
    take the odd cents, so the shares add up to the cost exactly. A customer's share falls in
    the period of its first won deal: after ``start`` (None: since ever), up to ``end``. What
    ``reports.value.register_acquisition_cost_source`` expects (registered by reports)."""
    wanted = None if company_ids is None else set(company_ids)
    if wanted is None:
        # A full run asks once per period: one reading for both (``crm.request_memo.scope``).
        acquired = request_memo.remember(ACQUIRED_CACHE_KEY, acquired_customers)
    else:
        acquired = acquired_customers(company_ids=wanted)
    by_campaign: dict[int, list[int]] = {}
    for company_id, (campaign_id, _won_on) in acquired.items():
        by_campaign.setdefault(campaign_id, []).append(company_id)
    charged = by_campaign if wanted is None else {acquired[pk][0] for pk in wanted if pk in acquired}
    if not charged:
        return {}
    book = RateBook()
    costs: dict[int, Decimal] = {}
    for campaign in Campaign.objects.filter(pk__in=charged).only(
        "actual_cost", "currency", "starts_on", "started_at", "created_at"
    ):
        on = campaign.starts_on or timezone.localdate(campaign.started_at or campaign.created_at)
        try:
            cents = int(
                (book.to_base(campaign.actual_cost, campaign.currency, on) * 100).to_integral_value(ROUND_HALF_UP)
            )
        except MissingRate:
            continue  # no rate for its currency yet: no cost rather than a wrong one
        companies = sorted(by_campaign[campaign.pk])
        share, odd = divmod(cents, len(companies))
        for index, company_id in enumerate(companies):
            won_on = acquired[company_id][1]
            if (start is not None and won_on <= start) or won_on > end:
                continue
            if wanted is not None and company_id not in wanted:
                continue
            costs[company_id] = Decimal(share + (1 if index < odd else 0)) / 100
    return costs
