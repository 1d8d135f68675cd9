import datetime as dt
import io
import re
from collections import Counter
from decimal import Decimal

import pytest
from django.core.management import CommandError, call_command
from django.db import IntegrityError, connection
from django.db.models import Count, Max, Min
from django.test import Client
from django.urls import reverse

from activities.models import Activity, Reminder, ReminderState, TimelineEvent
from bench import dataset, pools
from bench.tests.conftest import AS_OF, TINY
from campaigns import selectors as campaign_selectors
from campaigns.models import (
    Campaign,
    CampaignChannel,
    CampaignDealTotal,
    CampaignMember,
    CampaignStatus,
    ContactAttribution,
    DealAttribution,
    MemberStatus,
)
from contacts.models import Company, Contact, Tag
from crm.models import Role, Team, User
from deals.models import Deal, DealStatus, DealTotal, ExchangeRate, LineItem, LostReason, Pipeline, StageChange
from deals.money import RateBook


def snapshot() -> dict[str, list[tuple]]:
    tables = {}
    for model in dataset.generated_models():
        fields = [f.attname for f in model._meta.concrete_fields]
        tables[model._meta.db_table] = list(model.objects.order_by("pk").values_list(*fields))
    return tables


def test_it_fills_every_table_with_the_requested_sizes(generate):
    generate()

    assert Company.objects.count() == 30
    assert Contact.objects.count() == 240
    assert Deal.objects.count() == 90
    assert User.objects.count() == dataset.USERS
    assert Team.objects.count() == len(pools.TEAMS)
    assert StageChange.objects.count() >= 90
    assert LineItem.objects.exists()
    assert Deal.contacts.through.objects.exists()
    assert Contact.tags.through.objects.exists()


def test_activities_are_the_linked_records_owners_work_with_reminders_and_timeline(generate):
    generate()

    activities = list(Activity.objects.select_related("type", "company", "contact", "deal"))
    assert len(activities) == 600
    assert {a.type.key for a in activities} == {"call", "email", "meeting", "task", "note"}
    as_of = dt.datetime.combine(AS_OF, dt.time(), tzinfo=dt.UTC)
    for activity in activities:
        linked = [r for r in (activity.deal, activity.company, activity.contact) if r is not None]
        assert linked
        assert activity.owner_id == linked[0].owner_id
        if activity.contact is not None:
            assert activity.contact.owner_id == activity.owner_id
        if activity.done_at is not None:
            assert activity.done_at <= as_of
    open_work = [a for a in activities if a.done_at is None]
    assert open_work
    assert all(a.due_at is not None for a in open_work)
    assert any(a.due_at < as_of for a in open_work) and any(a.due_at > as_of for a in open_work)
    states = set(Reminder.objects.values_list("state", flat=True))
    assert states == {ReminderState.PENDING, ReminderState.SENT}
    assert not Reminder.objects.filter(state=ReminderState.PENDING, activity__done_at__isnull=False).exists()
    # Deals carry their latest done activity, as activities.services keeps it.
    latest = dict(
        Activity.objects.filter(deal__isnull=False, done_at__isnull=False)
        .values("deal_id")
        .annotate(m=Max("done_at"))
        .values_list("deal_id", "m")
    )
    assert latest
    assert dict(Deal.objects.filter(pk__in=latest).values_list("pk", "last_activity_at")) == latest
    # One timeline event per activity and per stage change, on the right records.
    assert TimelineEvent.objects.filter(kind="activity").count() == 600
    assert TimelineEvent.objects.exclude(kind="activity").count() == StageChange.objects.count()
    for event in TimelineEvent.objects.filter(kind="activity").select_related("activity__deal"):
        assert event.deal_id == event.activity.deal_id
        if event.activity.deal is not None and event.activity.deal.company_id:
            assert event.company_id is not None


def test_every_deals_history_runs_from_no_stage_to_its_current_stage(generate):
    generate()

    changes: dict[int, list[StageChange]] = {}
    for change in StageChange.objects.order_by("deal_id", "at", "id"):
        changes.setdefault(change.deal_id, []).append(change)
    as_of = dt.datetime.combine(AS_OF, dt.time(), tzinfo=dt.UTC)
    for deal in Deal.objects.all():
        history = changes[deal.pk]
        assert history[0].from_stage_id is None
        assert history[0].at == deal.created_at
        for previous, change in zip(history, history[1:], strict=False):
            assert change.from_stage_id == previous.to_stage_id
        assert history[-1].to_stage_id == deal.stage_id
        assert history[-1].at == deal.stage_entered_at
        assert history[-1].at <= as_of
        assert {c.to_stage.pipeline_id for c in history} == {deal.pipeline_id}


def test_deal_status_matches_won_and_lost_stages(generate):
    generate()

    deals = list(Deal.objects.select_related("stage"))
    statuses = {deal.status for deal in deals}
    assert statuses == {DealStatus.OPEN, DealStatus.WON, DealStatus.LOST}
    for deal in deals:
        assert deal.stage.is_won == (deal.status == DealStatus.WON)
        assert deal.stage.is_lost == (deal.status == DealStatus.LOST)
        if deal.status == DealStatus.OPEN:
            assert deal.closed_at is None
            assert deal.lost_reason_id is None
        else:
            assert deal.closed_at == deal.stage_entered_at
        if deal.status == DealStatus.LOST:
            assert deal.lost_reason_id is not None
        if not deal.probability_is_manual:
            assert deal.probability == deal.stage.probability


def test_deals_built_from_line_items_cost_exactly_their_items(generate):
    generate()

    deals = Deal.objects.filter(amount_from_line_items=True).prefetch_related("line_items")
    assert deals
    for deal in deals:
        assert deal.amount == sum((item.total for item in deal.line_items.all()), Decimal("0"))
    assert not LineItem.objects.filter(deal__amount_from_line_items=False).exists()


def test_two_currencies_convert_through_monthly_rates(generate):
    generate()

    assert set(Deal.objects.values_list("currency", flat=True)) == {"USD", "EUR"}
    dates = ExchangeRate.objects.filter(currency="EUR").aggregate(first=Min("date"), last=Max("date"))
    assert dates["first"] <= AS_OF - dt.timedelta(days=2 * 365)
    assert dates["last"] == AS_OF.replace(day=1)
    book = RateBook()
    for amount, currency, created in Deal.objects.values_list("amount", "currency", "created_at"):
        assert book.to_base(amount, currency, created.date()) >= 0


def test_phones_are_e164_and_emails_lowercase(generate):
    generate()

    e164 = re.compile(r"^\+[1-9]\d{7,14}$")
    for contact in Contact.objects.all():
        for phone in (contact.phone, contact.mobile):
            assert not phone or e164.match(phone) or contact.phone_is_invalid
        for email in (contact.email, contact.secondary_email):
            assert email == email.lower()
            assert not email or "@" in email
    assert all(not c.phone or e164.match(c.phone) for c in Company.objects.all())


def test_records_are_owned_by_reps_and_managers_in_teams(generate):
    generate()

    in_teams = set(Team.members.through.objects.values_list("user_id", flat=True)) | set(
        Team.managers.through.objects.values_list("user_id", flat=True)
    )
    owners = set(Contact.objects.values_list("owner_id", flat=True).distinct())
    owners |= set(Company.objects.values_list("owner_id", flat=True).distinct())
    owners |= set(Deal.objects.values_list("owner_id", flat=True).distinct())
    assert owners <= in_teams
    assert len(owners) > 10
    assert set(User.objects.values_list("role", flat=True)) == {Role.ADMIN, Role.MANAGER, Role.REP}
    assert Team.objects.annotate(n=Count("managers")).filter(n=1).count() == len(pools.TEAMS)


def test_search_terms_of_the_benchmark_exist(generate):
    generate()

    assert Contact.objects.filter(last_name=pools.RARE_LAST_NAME).count() == 7
    assert Contact.objects.filter(last_name=pools.COMMON_LAST_NAME).exists()


def test_the_same_seed_gives_the_same_rows_and_another_seed_does_not(generate):
    generate()
    first = snapshot()

    generate(reset=True)
    assert snapshot() == first

    generate(reset=True, seed=7)
    other = snapshot()
    assert other["contacts_contact"] != first["contacts_contact"]
    assert other["deals_stagechange"] != first["deals_stagechange"]


def test_it_refuses_a_database_with_data_unless_reset(generate):
    generate()

    with pytest.raises(CommandError, match="--reset"):
        generate()
    generate(reset=True, companies=5, contacts=20, deals=10)
    assert Company.objects.count() == 5


def test_reset_refuses_a_database_not_made_for_benchmarks(generate, monkeypatch):
    generate()
    monkeypatch.setitem(connection.settings_dict, "NAME", "crm")

    with pytest.raises(CommandError, match="only runs on a database whose name contains 'bench'"):
        generate(reset=True)
    assert Company.objects.count() == 30


def test_it_refuses_to_run_with_debug_off(db, settings):
    settings.DEBUG = False

    with pytest.raises(CommandError, match="DEBUG"):
        call_command("generate_dataset", **TINY)
    assert not Company.objects.exists()


def test_new_rows_get_fresh_ids_after_generation(generate):
    generate()

    rep = User.objects.get(username=dataset.REP_USERNAME)
    company = Company.objects.create(name="Fresh", owner=rep)
    assert company.pk > 30


def test_the_benchmark_personas_can_sign_in(generate):
    generate()

    # Through the sign-in form, as bench/run.py does (django-axes needs the request).
    for username in (dataset.REP_USERNAME, dataset.MANAGER_USERNAME, dataset.ADMIN_USERNAME):
        response = Client().post(reverse("login"), {"username": username, "password": dataset.DEFAULT_PASSWORD})
        assert response.status_code == 302, username
    assert User.objects.get(username=dataset.ADMIN_USERNAME).is_admin
    assert User.objects.get(username=dataset.MANAGER_USERNAME).managed_teams.exists()
    assert User.objects.get(username=dataset.REP_USERNAME).teams.exists()


def test_the_foreign_key_check_names_a_dangling_reference(generate):
    generate()
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL session_replication_role = replica")
        cursor.execute("UPDATE contacts_contact SET company_id = 999999 WHERE id = 1")
        cursor.execute("SET LOCAL session_replication_role = origin")

    with pytest.raises(IntegrityError, match="contacts_contact.company_id = 999999"):
        dataset.check_foreign_keys([Contact])


def test_reference_rows_seeded_by_migrations_are_replaced(generate):
    # What deals' default-pipeline migration seeds (already there once it is merged).
    Pipeline.objects.get_or_create(name="Sales", defaults={"is_default": True})
    LostReason.objects.get_or_create(name="Price too high")

    generate()

    assert set(Pipeline.objects.values_list("name", flat=True)) == {name for name, _d, _s in pools.PIPELINES}
    assert set(LostReason.objects.values_list("name", flat=True)) == set(pools.LOST_REASONS)


def test_columns_the_generator_does_not_know_get_the_fields_default(db):
    generator = dataset.Generator(sizes=dataset.Sizes(0, 0, 0))

    generator._copy(Tag, ["id"], ["41\n"])

    assert Tag.objects.get(pk=41).name == ""


def index_definitions() -> list[str]:
    tables = [m._meta.db_table for m in dataset.generated_models()]
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT indexdef FROM pg_indexes WHERE tablename = ANY(%s) AND schemaname = current_schema() ORDER BY 1",
            [tables],
        )
        return [row[0] for row in cursor.fetchall()]


def test_the_schema_keeps_every_index_the_migrations_made(generate):
    before = index_definitions()

    generate()

    assert index_definitions() == before
    assert any("gin_trgm_ops" in definition for definition in before)


@pytest.mark.parametrize("epoch", [0, 86_399.9, 86_400, 951_782_400, 1_790_000_000.7])
def test_copy_timestamps_are_the_utc_instant(epoch):
    text = dataset._ts(epoch)

    assert dt.datetime.fromisoformat(text + ":00") == dt.datetime.fromtimestamp(int(epoch), tz=dt.UTC)


def test_the_stored_deal_totals_equal_the_generated_deals(generate):
    from deals import totals

    generate()

    assert totals.differences() == []
    assert DealTotal.objects.exists()


def test_the_stored_campaign_deal_totals_equal_the_attributed_deals(generate):
    from campaigns import totals

    generate()

    assert totals.differences() == []
    assert CampaignDealTotal.objects.exists()


def test_custom_fields_are_defined_and_filled_and_regenerate_alone_unchanged(generate):
    from crm import custom_fields
    from crm.models import CustomField

    generate()
    assert sorted(CustomField.objects.values_list("model", "key")) == [
        ("contacts.company", "contract_renewal_date"),
        ("contacts.company", "region"),
        ("deals.deal", "deal_type"),
    ]
    regions = [c.get("region") for c in Company.objects.values_list("custom", flat=True)]
    assert set(regions) <= {None, *dataset.REGIONS} and len(set(regions) - {None}) >= 2
    dates = [c.get("contract_renewal_date") for c in Company.objects.values_list("custom", flat=True)]
    dates = [d for d in dates if d]
    assert dates and all(AS_OF <= dt.date.fromisoformat(d) < AS_OF + dt.timedelta(days=730) for d in dates)
    assert {c.get("deal_type") for c in Deal.objects.values_list("custom", flat=True)} - {None} <= set(
        dataset.DEAL_TYPES
    )
    # The values are what the lists filter on: one region's companies are found by the filter.
    custom_fields.forget_definitions()
    emea = custom_fields.filter_queryset(Company.objects.all(), "region", "eq", "EMEA").count()
    assert emea == regions.count("EMEA")
    before = list(Company.objects.order_by("pk").values_list("custom", flat=True))

    generate(only="custom_fields")  # --only on the loaded dataset: the same definitions and values
    assert CustomField.objects.count() == 3
    assert list(Company.objects.order_by("pk").values_list("custom", flat=True)) == before


def test_campaigns_freeze_segment_members_with_consent_responses_and_deals(generate):
    generate(companies=60, contacts=1_500, deals=900, activities=0, campaigns=12, campaign_members=1_200)

    campaigns = list(Campaign.objects.select_related("segment"))
    assert len(campaigns) == 12
    assert {c.status for c in campaigns} == {CampaignStatus.DRAFT, CampaignStatus.RUNNING, CampaignStatus.FINISHED}
    assert len({c.channel for c in campaigns}) >= 3
    assert {c.currency for c in campaigns} >= {"USD", "EUR"}
    members = list(CampaignMember.objects.select_related("contact", "campaign__segment"))
    assert 0 < len(members) <= 1_200
    team_of = dict(Team.members.through.objects.values_list("user_id", "team_id"))
    team_of.update(Team.managers.through.objects.values_list("user_id", "team_id"))
    for campaign in campaigns:
        rows = [m for m in members if m.campaign_id == campaign.pk]
        assert campaign.members_count == len(rows)
        assert campaign.status_counts == dict(Counter(m.status for m in rows))
        assert team_of[campaign.owner_id] == campaign.segment.record_team_id
        if campaign.status == CampaignStatus.DRAFT:
            assert not rows and campaign.started_at is None
    for member in members:
        contact, campaign = member.contact, member.campaign
        # Frozen from the segment: the team's contacts at its lifecycle stages, consent honoured.
        assert member.owner_id == contact.owner_id
        assert team_of[contact.owner_id] == campaign.segment.record_team_id
        assert contact.lifecycle_stage in campaign.segment.lifecycle_stages
        if campaign.channel == CampaignChannel.EMAIL:
            assert not contact.do_not_email and contact.email
        if campaign.channel == CampaignChannel.CALL:
            assert not contact.do_not_call and (contact.phone or contact.mobile)
        if member.status in (MemberStatus.PENDING, MemberStatus.SENT):
            assert member.responded_at is None
        else:
            assert member.responded_at >= campaign.started_at
        if member.consented_at is not None:
            assert member.consent_text and member.status == MemberStatus.RESPONDED
    assert any(c.excluded_consent for c in campaigns)
    assert any(m.consented_at for m in members)
    # First touch: each member's earliest campaign.
    first = {}
    for member in sorted(members, key=lambda m: (m.created_at, m.campaign_id)):
        first.setdefault(member.contact_id, member.campaign_id)
    assert dict(ContactAttribution.objects.values_list("contact_id", "campaign_id")) == first
    # Deals the responders opened afterwards are the campaign's; the loop counts them.
    attributions = list(DealAttribution.objects.select_related("deal", "member"))
    assert attributions
    for row in attributions:
        assert row.member.campaign_id == row.created_by_campaign_id
        assert row.member.status in (MemberStatus.RESPONDED, MemberStatus.MEETING)
        assert row.deal.created_at >= row.member.responded_at
        assert row.deal.contacts.filter(pk=row.member.contact_id).exists()
        assert row.first_touch_campaign_id == first[row.member.contact_id]
    loops = campaign_selectors.loops(campaigns)
    assert sum(loop.deals_created for loop in loops.values()) == len(attributions)
    assert not any(loop.missing_rate for loop in loops.values())


def test_campaigns_step_runs_alone_on_a_loaded_dataset(generate):
    generate()
    before = snapshot()

    call_command(
        "generate_dataset", only="campaigns", campaigns=5, campaign_members=60, as_of=AS_OF, stdout=io.StringIO()
    )

    assert Campaign.objects.count() == 5
    assert CampaignMember.objects.exists()
    after = snapshot()
    step_tables = {m._meta.db_table for m in next(s for s in dataset.STEPS if s.name == "campaigns").models}
    assert {t: rows for t, rows in after.items() if t not in step_tables} == {
        t: rows for t, rows in before.items() if t not in step_tables
    }
