import datetime as dt
from decimal import Decimal
from unittest import mock

import pytest
from django.core import mail
from django.core.management import call_command
from django.http import QueryDict

from crm.exports import safe_cell as csv_cell
from crm.models import Role
from crm.tests.factories import UserFactory
from deals.models import Deal, StageChange
from deals.signals import deal_stage_changed
from reports import selectors, services, tasks
from reports.demo import seed
from reports.models import DealFact, ForecastSnapshot, ReportSubscription, RollupPointer, StageFact
from reports.scope import report_scope_for_user
from reports.tests.factories import deal_with_history


def facts_of(deal):
    generation_id = RollupPointer.objects.get(pk=1).generation_id
    return DealFact.objects.get(generation_id=generation_id, deal=deal)


def test_an_incremental_refresh_waits_for_the_first_rebuild(hand_data):
    assert services.rollups_refresh_for_deal(deal_id=hand_data["deals"]["C"].pk) is False
    assert not DealFact.objects.exists()


def test_an_incremental_refresh_replaces_only_that_deals_facts(hand_data):
    services.rollups_rebuild()
    deal, stages = hand_data["deals"]["C"], hand_data["stages"]
    won_at = dt.datetime(2026, 2, 10, 9, tzinfo=dt.UTC)
    StageChange.objects.create(deal=deal, from_stage=stages["Qualified"], to_stage=stages["Won"], at=won_at)
    Deal.objects.filter(pk=deal.pk).update(status="won", stage=stages["Won"], closed_at=won_at)
    other_before = facts_of(hand_data["deals"]["A"]).pk

    assert tasks.refresh_deal_rollups(deal.pk) is True

    fact = facts_of(deal)
    assert (fact.status, fact.closed_month, fact.cycle_days) == ("won", dt.date(2026, 2, 1), Decimal("34.00"))
    assert StageFact.objects.filter(deal=deal, stage=stages["Won"]).count() == 1
    assert facts_of(hand_data["deals"]["A"]).pk == other_before
    assert RollupPointer.objects.get(pk=1).refreshed_at > RollupPointer.objects.get(pk=1).generation.finished_at


def test_a_committed_stage_change_enqueues_a_refresh(hand_data, published_tasks, django_capture_on_commit_callbacks):
    deal = hand_data["deals"]["C"]
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        deal_stage_changed.send(sender=Deal, deal=deal, stage_change=deal.stage_changes.last())
    assert len(callbacks) == 1
    messages = published_tasks.named("reports.tasks.refresh_deal_rollups")
    assert [message["argsrepr"] for message in messages] == [f"({deal.pk},)"]


def test_a_deal_in_a_currency_without_rate_counts_as_zero_and_is_flagged(owner, hand_data):
    stages = hand_data["stages"]
    deal = deal_with_history(
        owner=owner, amount=100, currency="RUB", moves=[(stages["Lead"], dt.datetime(2026, 1, 2, tzinfo=dt.UTC))]
    )
    services.rollups_rebuild()
    fact = facts_of(deal)
    assert (fact.amount_base, fact.rate_missing) == (Decimal("0.00"), True)
    scope = report_scope_for_user(owner, QueryDict())
    assert selectors.forecast_report(scope, fact.generation_id).missing_rates == 1


def test_a_rebuild_replaces_the_previous_generation(hand_data):
    first = services.rollups_rebuild()
    second = services.rollups_rebuild()
    assert RollupPointer.objects.get(pk=1).generation == second
    assert not DealFact.objects.filter(generation=first).exists()
    assert DealFact.objects.filter(generation=second).count() == 5
    assert second.deal_count == 5 and second.finished_at is not None


def test_the_forecast_snapshot_is_taken_once_a_month(manager, hand_data):
    services.rollups_rebuild()
    assert services.forecast_snapshot_take(month=dt.date(2026, 3, 1)) == 1
    snapshot = ForecastSnapshot.objects.get()
    assert (snapshot.close_month, snapshot.weighted_base, snapshot.unweighted_base) == (
        dt.date(2026, 3, 1),
        Decimal("1000.00"),
        Decimal("2000.00"),
    )
    assert services.forecast_snapshot_take(month=dt.date(2026, 3, 20)) == 0
    assert ForecastSnapshot.objects.count() == 1

    # C is then won in March: the accuracy page compares 1000 forecast with 2000 won.
    deal, stages = hand_data["deals"]["C"], hand_data["stages"]
    won_at = dt.datetime(2026, 3, 5, tzinfo=dt.UTC)
    StageChange.objects.create(deal=deal, from_stage=stages["Qualified"], to_stage=stages["Won"], at=won_at)
    Deal.objects.filter(pk=deal.pk).update(status="won", stage=stages["Won"], closed_at=won_at)
    generation = services.rollups_rebuild()
    scope = report_scope_for_user(manager, QueryDict("from=2026-03&to=2026-03"))
    [row] = selectors.forecast_accuracy(scope, generation.pk)
    assert (row.forecast, row.actual, row.accuracy) == (Decimal("1000.00"), Decimal("2000.00"), 200.0)


def test_the_weekly_email_goes_once_per_week(manager, north, hand_data):
    services.rollups_rebuild()
    ReportSubscription.objects.create(user=manager, team=north)
    monday = dt.date(2026, 1, 26)
    assert tasks.send_weekly_reports.run() in (0, 1)  # today's week; the rest of the test pins the date
    mail.outbox.clear()
    ReportSubscription.objects.update(last_sent_week="")
    subscription = ReportSubscription.objects.get()

    assert services.report_subscription_send(subscription_id=subscription.pk, today=monday) is True
    assert (
        services.report_subscription_send(subscription_id=subscription.pk, today=monday + dt.timedelta(days=3)) is False
    )
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == [manager.email]
    assert "North" in message.subject and "2026-W05" in message.subject
    assert "Qualified: 4 → 50.0%" in message.body
    assert "2026-03: weighted 1,000, unweighted 2,000" in message.body
    subscription.refresh_from_db()
    assert subscription.last_sent_week == "2026-W05"

    assert services.report_subscription_send(subscription_id=subscription.pk, today=monday + dt.timedelta(days=7))
    assert len(mail.outbox) == 2


def test_the_rebuild_command_prints_the_time_taken(hand_data, capsys):
    call_command("rebuild_rollups")
    assert "Rollups rebuilt" in capsys.readouterr().out
    assert DealFact.objects.count() == 5


def test_demo_seed_leaves_the_rollups_built(hand_data):
    seed(people=None)
    assert RollupPointer.objects.get(pk=1).generation.deal_count == 5


@pytest.mark.parametrize(
    ("value", "expected"),
    [("=1+1", "'=1+1"), ("+x", "'+x"), ("-x", "'-x"), ("@x", "'@x"), ("\tx", "'\tx"), ("\rx", "'\rx"), ("ok", "ok")],
)
def test_csv_cells_that_look_like_formulas_are_defused(value, expected):
    assert csv_cell(value) == expected


def test_csv_numbers_stay_numbers():
    assert csv_cell(Decimal("-5.00")) == Decimal("-5.00")
    assert csv_cell(None) == ""


def test_one_failing_mailbox_does_not_hold_up_the_other_weekly_emails(manager, north, south, hand_data):
    services.rollups_rebuild()
    other = UserFactory(username="erin", role=Role.MANAGER)
    south.managers.add(other)
    broken = ReportSubscription.objects.create(user=manager, team=north)
    working = ReportSubscription.objects.create(user=other, team=south)
    real_send = services.send_mail

    def smtp(*args, recipient_list, **kwargs):
        if recipient_list == [manager.email]:
            raise OSError("mailbox unavailable")
        return real_send(*args, recipient_list=recipient_list, **kwargs)

    with mock.patch.object(services, "send_mail", smtp):
        assert tasks.send_weekly_reports.run() == 1
    broken.refresh_from_db()
    working.refresh_from_db()
    assert broken.last_sent_week == "" and working.last_sent_week != ""
    assert [message.to for message in mail.outbox] == [[other.email]]
