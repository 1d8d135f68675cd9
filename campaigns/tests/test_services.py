from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from activities.models import Activity
from campaigns import selectors, services
from campaigns.models import CampaignMember, ContactAttribution, DealAttribution, MemberStatus
from campaigns.segments import company_filters, register_company_filter, segment_contacts
from campaigns.tests.factories import campaign, contact, segment
from contacts.models import Company, Contact, Tag
from deals.models import Deal, ExchangeRate, LostReason, Pipeline
from deals.services import deal_create, deal_mark_lost, deal_mark_won

pytestmark = pytest.mark.django_db


@pytest.fixture
def pipeline(db):
    """The default pipeline of the data migration (it has open, won and lost stages)."""
    return Pipeline.objects.get(is_default=True)


def _open_stage(pipeline):
    return pipeline.stages.filter(is_won=False, is_lost=False).order_by("position").first()


class TestSegments:
    def test_country_matches_the_contact_or_else_its_company(self, owner):
        russian = Company.objects.create(name="Volga", owner=owner, country="RU")
        by_company = contact(owner, "Orlov", company=russian)
        own = contact(owner, "Ivanova", country="RU")
        contact(owner, "Smith", country="US", company=russian)  # own country wins
        found = set(segment_contacts(owner, country="RU"))
        assert found == {by_company, own}

    def test_value_segment_and_tags_and_lifecycle_combine(self, owner):
        risky = Company.objects.create(name="Risky", owner=owner, value_segment="at_risk")
        vip = Tag.objects.create(name="vip")
        tagged = contact(owner, "Tagged", company=risky, lifecycle_stage="customer")
        tagged.tags.add(vip)
        contact(owner, "Untagged", company=risky, lifecycle_stage="customer")
        contact(owner, "Lead", company=risky, lifecycle_stage="lead").tags.add(vip)
        found = segment_contacts(owner, value_segments=["at_risk"], tag_ids=[vip.pk], lifecycle_stages=["customer"])
        assert list(found) == [tagged]

    def test_a_segment_only_reaches_contacts_its_user_may_see(self, owner, outsider):
        mine = contact(owner, "Mine")
        contact(outsider, "Theirs")
        assert list(segment_contacts(owner)) == [mine]

    def test_reports_registers_dormant_and_cross_sell_filters(self):
        assert {"dormant", "cross_sell"} <= {f.key for f in company_filters()}

    def test_a_registered_company_filter_narrows_the_segment(self, owner):
        chosen = Company.objects.create(name="Chosen", owner=owner)
        inside = contact(owner, "Inside", company=chosen)
        contact(owner, "Outside")
        register_company_filter("test-chosen", "Chosen", lambda: Company.objects.filter(name="Chosen").values("pk"))
        assert list(segment_contacts(owner, filter_keys=["test-chosen"])) == [inside]


class TestFreeze:
    def test_a_call_campaign_excludes_do_not_call_and_counts_it(self, owner):
        for name in ("Able", "Baker", "Chan"):
            contact(owner, name)
        contact(owner, "Quiet", do_not_call=True)
        contact(owner, "Nophone", phone="")
        started = services.campaign_start(campaign=campaign(owner), actor=owner)
        assert (started.members_count, started.excluded_consent, started.excluded_unreachable) == (3, 1, 1)
        assert started.status == "running" and started.started_at is not None
        names = set(CampaignMember.objects.values_list("contact__last_name", flat=True))
        assert names == {"Able", "Baker", "Chan"}

    def test_an_email_campaign_excludes_do_not_email_but_keeps_do_not_call(self, owner):
        contact(owner, "Caller", do_not_call=True)
        contact(owner, "Mailless", do_not_email=True)
        started = services.campaign_start(campaign=campaign(owner, channel="email"), actor=owner)
        assert (started.members_count, started.excluded_consent) == (1, 1)
        assert CampaignMember.objects.get().contact.last_name == "Caller"

    def test_the_list_is_frozen_at_the_start(self, owner):
        contact(owner, "Early")
        started = services.campaign_start(campaign=campaign(owner), actor=owner)
        contact(owner, "Late")
        assert started.members.count() == 1
        with pytest.raises(ValidationError):
            services.campaign_start(campaign=started, actor=owner)

    def test_members_get_their_first_touch_once(self, owner):
        person = contact(owner, "Touched")
        first = services.campaign_start(campaign=campaign(owner), actor=owner)
        services.campaign_start(campaign=campaign(owner, seg=segment(owner)), actor=owner)
        assert ContactAttribution.objects.get(contact=person).campaign == first

    def test_a_teammate_cannot_start_the_owners_campaign(self, owner, teammate):
        with pytest.raises(PermissionDenied):
            services.campaign_start(campaign=campaign(owner), actor=teammate)


class TestCallTasks:
    def test_each_member_gets_one_task_for_its_owner(self, owner, teammate, manager):
        contact(owner, "Ours")
        contact(teammate, "Theirs")
        started = services.campaign_start(campaign=campaign(manager), actor=manager)
        tasks = Activity.objects.filter(campaign_member__campaign=started)
        assert sorted(tasks.values_list("owner__username", flat=True)) == ["owner", "teammate"]
        assert all(task.type.key == "task" and task.done_at is None and task.due_at for task in tasks)
        assert started.tasks_created == 2

    def test_running_the_execution_again_creates_none_twice(self, owner):
        contact(owner, "Once")
        started = services.campaign_start(campaign=campaign(owner), actor=owner)
        assert services.campaign_create_call_tasks(campaign=started, actor=owner) == 0
        assert Activity.objects.count() == 1
        started.refresh_from_db()
        assert started.tasks_created == 1

    def test_an_email_campaign_makes_no_call_tasks(self, owner):
        contact(owner, "Mail")
        started = services.campaign_start(campaign=campaign(owner, channel="email"), actor=owner)
        assert not Activity.objects.exists()
        with pytest.raises(ValidationError):
            services.campaign_create_call_tasks(campaign=started, actor=owner)


class TestResponsesAndRoi:
    def test_a_response_completes_the_task_and_is_counted(self, owner):
        contact(owner, "Reply")
        started = services.campaign_start(campaign=campaign(owner), actor=owner)
        member = CampaignMember.objects.get()
        services.member_set_status(member=member, actor=owner, status=MemberStatus.MEETING, note="Tue 10:00")
        member.refresh_from_db()
        started.refresh_from_db()
        assert member.status == "meeting_booked" and member.task.done_at is not None
        assert started.status_counts == {"meeting_booked": 1} and started.responses == 1

    def test_an_outsider_cannot_record_a_response(self, owner, outsider):
        contact(owner, "Reply")
        services.campaign_start(campaign=campaign(owner), actor=owner)
        with pytest.raises(PermissionDenied):
            services.member_set_status(member=CampaignMember.objects.get(), actor=outsider, status="responded")

    def test_the_loop_counts_created_deals_revenue_cost_and_roi(self, owner, pipeline):
        ExchangeRate.objects.create(currency="EUR", date=dt.date(2026, 1, 1), rate=Decimal("1.10"))
        contact(owner, "Buyer")
        contact(owner, "Browser")
        started = services.campaign_start(
            campaign=campaign(owner, currency="EUR", actual_cost=Decimal("1000"), starts_on=dt.date(2026, 3, 1)),
            actor=owner,
        )
        buyer, browser = CampaignMember.objects.order_by("contact__last_name")[1], CampaignMember.objects.first()
        won = services.deal_from_member(
            member=buyer,
            actor=owner,
            title="Won one",
            amount=Decimal("5500"),
            currency="USD",
            pipeline=pipeline,
            stage=_open_stage(pipeline),
        )
        deal_mark_won(deal=won, actor=owner)
        services.deal_from_member(
            member=browser,
            actor=owner,
            title="Open one",
            amount=Decimal("1000"),
            currency="EUR",
            pipeline=pipeline,
            stage=_open_stage(pipeline),
        )
        attribution = DealAttribution.objects.get(deal=won)
        assert attribution.created_by_campaign == started and attribution.first_touch_campaign == started
        loop = selectors.loops([started])[started.pk]
        # Cost 1,000 EUR × 1.10 = 1,100 USD; won 5,500 USD; ROI (5,500 − 1,100) ÷ 1,100 = 400 %.
        assert (loop.deals_created, loop.won_deals, loop.open_deals) == (2, 1, 1)
        assert loop.won_revenue == Decimal("5500.00") and loop.pipeline == Decimal("1100.00")
        assert loop.cost == Decimal("1100.00") and loop.roi_percent == Decimal("400")
        assert loop.cost_per_won_deal == Decimal("1100.00")

    def test_won_revenue_converts_at_each_close_days_rate_and_lost_deals_only_count(self, owner, pipeline):
        ExchangeRate.objects.create(currency="EUR", date=dt.date(2026, 1, 1), rate=Decimal("1.10"))
        ExchangeRate.objects.create(currency="EUR", date=dt.date(2026, 6, 1), rate=Decimal("1.20"))
        for name in ("Early", "Late", "Gone"):
            contact(owner, name)
        started = services.campaign_start(campaign=campaign(owner), actor=owner)
        members = {m.contact.last_name: m for m in CampaignMember.objects.select_related("contact")}
        deals = {
            name: services.deal_from_member(
                member=members[name],
                actor=owner,
                title=name,
                amount=Decimal("1000"),
                currency="EUR",
                pipeline=pipeline,
                stage=_open_stage(pipeline),
            )
            for name in ("Early", "Late", "Gone")
        }
        for name, day in (("Early", dt.date(2026, 3, 2)), ("Late", dt.date(2026, 7, 2))):
            deal_mark_won(deal=deals[name], actor=owner)
            closed = dt.datetime.combine(day, dt.time(12), tzinfo=dt.UTC)
            Deal.objects.filter(pk=deals[name].pk).update(closed_at=closed)
        deal_mark_lost(deal=deals["Gone"], actor=owner, lost_reason=LostReason.objects.create(name="Price"))
        loop = selectors.loops([started])[started.pk]
        assert (loop.deals_created, loop.won_deals, loop.open_deals) == (3, 2, 0)
        assert loop.won_revenue == Decimal("2300.00")  # 1,000 € × 1.10 in March + 1,000 € × 1.20 in July
        assert loop.pipeline == Decimal("0")

    def test_a_deal_made_elsewhere_remembers_the_first_touch(self, owner, pipeline):
        person = contact(owner, "Later")
        started = services.campaign_start(campaign=campaign(owner), actor=owner)
        from deals.models import Deal

        deal = Deal(title="Direct", owner=owner, pipeline=pipeline, stage=_open_stage(pipeline), amount=10)
        deal_create(deal=deal, actor=owner, contacts=[person])
        row = DealAttribution.objects.get(deal=deal)
        assert row.first_touch_campaign == started and row.created_by_campaign is None


class TestResponseImport:
    def test_rows_apply_by_id_or_email_and_bad_rows_are_reported(self, owner):
        contact(owner, "Ann", email="ann@example.com")
        contact(owner, "Ben", email="ben@example.com")
        started = services.campaign_start(campaign=campaign(owner, channel="email"), actor=owner)
        ann = CampaignMember.objects.get(contact__email="ann@example.com")
        rows = [
            (2, {"member_id": str(ann.pk), "status": "responded"}),
            (3, {"email": "BEN@example.com", "status": "Bounced"}),
            (4, {"member_id": "999999", "status": "sent"}),
            (5, {"email": "ben@example.com", "status": "exploded"}),
            (6, {"member_id": "12x", "status": "sent"}),
            (7, {"status": "sent"}),
            (8, {"member_id": "²", "status": "sent"}),  # a digit to str.isdigit(), not to int()
        ]
        result = services.responses_import(campaign=started, actor=owner, rows=rows)
        assert result.updated == 2
        assert [line for line, _message in result.errors] == [5, 6, 7, 8, 4]
        assert dict(CampaignMember.objects.values_list("contact__last_name", "status")) == {
            "Ann": "responded",
            "Ben": "bounced",
        }
        started.refresh_from_db()
        assert started.status_counts == {"responded": 1, "bounced": 1}

    def test_a_member_of_another_campaign_is_unknown_here(self, owner):
        contact(owner, "Shared")
        first = services.campaign_start(campaign=campaign(owner, channel="email"), actor=owner)
        second = services.campaign_start(campaign=campaign(owner, channel="email", seg=segment(owner)), actor=owner)
        other = CampaignMember.objects.get(campaign=first)
        result = services.responses_import(
            campaign=second, actor=owner, rows=[(2, {"member_id": str(other.pk), "status": "sent"})]
        )
        assert result.updated == 0 and len(result.errors) == 1
        other.refresh_from_db()
        assert other.status == "pending"


def test_contact_model_is_untouched_by_attribution(owner):
    """Attribution lives in campaigns: no campaign column on contacts or deals."""
    assert not any("campaign" in f.name for f in Contact._meta.concrete_fields)


def test_a_large_call_campaign_gets_its_tasks_from_the_outbox(owner, settings, monkeypatch):
    from campaigns import tasks
    from crm.models import Outbox

    monkeypatch.setattr(services, "CALL_TASKS_INLINE", 1)
    contact(owner, "One")
    contact(owner, "Two")
    started = services.campaign_start(campaign=campaign(owner), actor=owner)
    assert started.tasks_created == 0 and not Activity.objects.exists()
    row = Outbox.objects.get(task="campaigns.tasks.create_call_tasks")
    assert row.args == [started.pk, owner.pk]
    assert tasks.create_call_tasks(*row.args) == 2
    assert tasks.create_call_tasks(*row.args) == 0  # a redelivery creates nothing twice
    assert Activity.objects.count() == 2
