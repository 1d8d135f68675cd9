"""The daily job: one follow-up task per quiet spell of a customer, never one a day."""

import datetime as dt

import pytest
from django.db import IntegrityError, transaction

from activities.models import Activity, ActivityType
from reports.models import DormancyFollowUp
from reports.services import customer_value_recompute, dormancy_followups_create, rollups_rebuild
from reports.tasks import follow_up_dormant_customers
from reports.tests.conftest import VALUE_NOW


def _tasks(company):
    return Activity.objects.filter(company=company, type__key="task")


def test_a_newly_dormant_customer_gets_one_task_for_its_owner(value_built, owner):
    c = value_built["companies"]["C"]
    assert dormancy_followups_create(now=VALUE_NOW) == 1
    task = _tasks(c).get()
    assert (task.owner, task.company, task.done_at) == (owner, c, None)
    assert "Customer C" in task.subject and "197 days" in task.subject  # quiet since 2025-12-15 10:00
    follow_up = DormancyFollowUp.objects.get()
    assert (follow_up.company, follow_up.activity) == (c, task)
    assert follow_up.dormant_since == dt.datetime(2025, 12, 15, 10, tzinfo=dt.UTC)


def test_running_twice_creates_nothing_more(value_built):
    assert dormancy_followups_create(now=VALUE_NOW) == 1
    assert dormancy_followups_create(now=VALUE_NOW) == 0
    assert dormancy_followups_create(now=VALUE_NOW + dt.timedelta(days=1)) == 0
    assert _tasks(value_built["companies"]["C"]).count() == 1
    assert DormancyFollowUp.objects.count() == 1


def test_the_celery_task_runs_the_same_job(value_built):
    # The task reads the last computed figures (C is dormant) and re-checks C live.
    first = follow_up_dormant_customers.apply().get()
    assert first >= 1
    assert follow_up_dormant_customers.apply().get() == 0


def test_a_customer_active_again_and_then_quiet_again_gets_a_new_task(value_built, owner):
    c = value_built["companies"]["C"]
    dormancy_followups_create(now=VALUE_NOW)
    task = _tasks(c).get()
    # The owner calls the next day and marks the task done: a done activity, the spell ends.
    task.done_at = VALUE_NOW + dt.timedelta(days=1)
    task.save(update_fields=["done_at"])
    customer_value_recompute(now=VALUE_NOW + dt.timedelta(days=2))
    assert dormancy_followups_create(now=VALUE_NOW + dt.timedelta(days=2)) == 0
    # 91 quiet days later it is dormant again (and so are the others): a second spell, a second task.
    later = VALUE_NOW + dt.timedelta(days=93)
    customer_value_recompute(now=later)
    dormancy_followups_create(now=later)
    assert _tasks(c).count() == 2
    spells = DormancyFollowUp.objects.filter(company=c).order_by("dormant_since")
    assert list(spells.values_list("dormant_since", flat=True)) == [
        dt.datetime(2025, 12, 15, 10, tzinfo=dt.UTC),
        VALUE_NOW + dt.timedelta(days=1),
    ]


def test_stale_figures_do_not_create_a_task_for_a_customer_talked_to_since(value_built, owner):
    c = value_built["companies"]["C"]
    Activity.objects.create(
        type=ActivityType.objects.get(key="call"), subject="Call", owner=owner, company=c, done_at=VALUE_NOW
    )
    # The nightly figures (computed before the call) still say dormant; the live check says no.
    assert dormancy_followups_create(now=VALUE_NOW) == 0
    assert not DormancyFollowUp.objects.exists()


def test_a_spell_already_recorded_by_another_run_is_skipped(value_built):
    c = value_built["companies"]["C"]
    DormancyFollowUp.objects.create(company=c, dormant_since=dt.datetime(2025, 12, 15, 10, tzinfo=dt.UTC))
    assert dormancy_followups_create(now=VALUE_NOW) == 0
    assert not _tasks(c).exists()


def test_the_database_refuses_a_second_follow_up_for_one_spell(value_built):
    c = value_built["companies"]["C"]
    since = dt.datetime(2025, 12, 15, 10, tzinfo=dt.UTC)
    DormancyFollowUp.objects.create(company=c, dormant_since=since)
    with pytest.raises(IntegrityError), transaction.atomic():
        DormancyFollowUp.objects.create(company=c, dormant_since=since)


def test_nothing_happens_before_the_first_computation(value_data):
    rollups_rebuild()
    assert dormancy_followups_create(now=VALUE_NOW) == 0
