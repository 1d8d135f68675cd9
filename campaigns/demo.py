"""Demo campaigns for ``manage.py seed_demo``: saved segments (one of them "At risk, Russia"),
a running call campaign with responses and a won deal, a running email campaign with a lead
capture form, and a draft. Safe to run again: it adds nothing twice."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.conf import settings
from django.utils import timezone

from campaigns import services
from campaigns.models import Campaign, CampaignChannel, CampaignGoal, LeadForm, MemberStatus, Segment
from contacts.models import LifecycleStage, ValueSegment
from crm.demo import DemoPeople
from deals.models import Pipeline
from deals.services import deal_mark_won

# Its customers are Russian and so are its reps' call tasks ("Звонок: Продление договоров …").
CALL_CAMPAIGN = "Продление договоров: клиенты в России"


def _segment(name: str, people: DemoPeople, **criteria: object) -> Segment:
    segment, _created = Segment.objects.get_or_create(
        name=name, owner=people.manager, defaults={"team": people.inside_sales, **criteria}
    )
    return segment


def seed(*, people: DemoPeople) -> None:
    if Campaign.objects.filter(name=CALL_CAMPAIGN).exists():
        return
    today = timezone.localdate()
    manager = people.manager
    russia = _segment("Customers in Russia", people, lifecycle_stages=[LifecycleStage.CUSTOMER], country="RU")
    at_risk = _segment(
        "At risk, Russia", people, value_segments=[ValueSegment.AT_RISK, ValueSegment.CANT_LOSE], country="RU"
    )
    germany = _segment("Leads in Germany", people, lifecycle_stages=[LifecycleStage.LEAD], country="DE")
    other = "EUR" if settings.BASE_CURRENCY != "EUR" else "USD"

    calls = services.campaign_create(
        campaign=Campaign(
            name=CALL_CAMPAIGN,
            goal=CampaignGoal.RETAIN,
            channel=CampaignChannel.CALL,
            segment=russia,
            owner=manager,
            team=people.inside_sales,
            starts_on=today - dt.timedelta(days=14),
            ends_on=today + dt.timedelta(days=30),
            currency=settings.BASE_CURRENCY,
            budget=Decimal("3000"),
            actual_cost=Decimal("2400"),
        ),
        actor=manager,
    )
    calls = services.campaign_start(campaign=calls, actor=manager)
    members = list(calls.members.select_related("contact", "campaign").order_by("pk")[:8])
    outcomes = [
        MemberStatus.MEETING,
        MemberStatus.RESPONDED,
        MemberStatus.RESPONDED,
        MemberStatus.UNSUBSCRIBED,
        MemberStatus.MEETING,
        MemberStatus.SENT,
    ]
    for member, status in zip(members, outcomes, strict=False):
        services.member_set_status(member=member, actor=manager, status=status, note="")
    pipeline = Pipeline.objects.filter(is_default=True).first()
    if pipeline is not None and members:
        stage = pipeline.stages.filter(is_won=False, is_lost=False).order_by("position").first()
        won = services.deal_from_member(
            member=members[0],
            actor=manager,
            title=f"Renewal: {members[0].contact.company or members[0].contact.full_name}",
            amount=Decimal("9800"),
            currency=settings.BASE_CURRENCY,
            pipeline=pipeline,
            stage=stage,
        )
        deal_mark_won(deal=won, actor=manager)
        if len(members) > 4:
            services.deal_from_member(
                member=members[4],
                actor=manager,
                title=f"Upgrade: {members[4].contact.company or members[4].contact.full_name}",
                amount=Decimal("4500"),
                currency=other,
                pipeline=pipeline,
                stage=stage,
                expected_close_date=today + dt.timedelta(days=20),
            )

    newsletter = services.campaign_create(
        campaign=Campaign(
            name="Spring newsletter: German leads",
            goal=CampaignGoal.ACQUIRE,
            channel=CampaignChannel.EMAIL,
            segment=germany,
            owner=manager,
            team=people.inside_sales,
            starts_on=today - dt.timedelta(days=7),
            currency=other,
            budget=Decimal("1200"),
            actual_cost=Decimal("900"),
        ),
        actor=manager,
    )
    newsletter = services.campaign_start(campaign=newsletter, actor=manager)
    rows = []
    for line, (pk, status) in enumerate(
        zip(
            newsletter.members.order_by("pk").values_list("pk", flat=True)[:12],
            ["sent"] * 6 + ["responded", "bounced", "responded", "sent", "unsubscribed", "sent"],
            strict=False,
        ),
        start=2,
    ):
        rows.append((line, {"member_id": str(pk), "status": status}))
    services.responses_import(campaign=newsletter, actor=manager, rows=rows)
    LeadForm.objects.get_or_create(
        campaign=newsletter, title="Get the spring price list", defaults={"team": people.inside_sales}
    )

    services.campaign_create(
        campaign=Campaign(
            name="Webinar: win back customers at risk",
            goal=CampaignGoal.RETAIN,
            channel=CampaignChannel.WEBINAR,
            segment=at_risk,
            owner=manager,
            team=people.inside_sales,
            starts_on=today + dt.timedelta(days=10),
            currency=settings.BASE_CURRENCY,
            budget=Decimal("800"),
        ),
        actor=manager,
    )
