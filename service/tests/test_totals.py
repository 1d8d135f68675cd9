"""The stored queue counts (``CaseQueueTotal``, kept by triggers) against counts of the cases.

The property: whatever sequence of writes — the services, ``QuerySet.update`` (the SLA sweep,
bulk changes), deletes, rollbacks — the table equals a fresh GROUP BY of the active cases, and
the queue tabs show what counting the cases shows, for a rep, a manager and an admin.
"""

from __future__ import annotations

import io
import random

import pytest
from django.core.management import call_command
from django.db import connection, transaction
from django.db.models import Count, Q

from crm.models import Team
from service import services, totals
from service.models import ACTIVE_STATUSES, Case, CaseQueueTotal
from service.selectors import queue_counts
from service.tests.factories import make_case, policy

pytestmark = pytest.mark.django_db


def _assert_exact() -> None:
    assert totals.differences() == []


def _counted(user) -> list[tuple[int, int, int]]:
    """The tabs as counting the cases the user sees would give them."""
    rows = (
        Case.objects.visible_to(user)
        .filter(status__in=ACTIVE_STATUSES)
        .values("team_id")
        .annotate(active=Count("id"), breached=Count("id", filter=Q(sla_breached=True)))
        .values_list("team_id", "active", "breached")
    )
    return sorted(rows)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_after_random_writes_the_counts_equal_a_fresh_group_by(seed, north, south, owner, teammate, outsider):
    rng = random.Random(seed)
    policy()
    people = [owner, teammate, outsider, None]
    teams = [north, south]
    for n in range(6):
        make_case(team=rng.choice(teams), owner=owner, assignee=rng.choice(people), subject=f"Case {n}")
    _assert_exact()

    for step in range(40):
        cases = list(Case.objects.order_by("pk"))
        case = rng.choice(cases) if cases else None
        action = rng.choice(["create", "status", "assign", "move", "breach", "delete", "bulk", "rollback"])
        if case is None or action == "create":
            make_case(team=rng.choice(teams), owner=owner, assignee=rng.choice(people), subject=f"New {step}")
        elif action == "status":
            status = rng.choice(["new", "open", "waiting", "resolved", "closed"])
            services.case_set_status(case=case, actor=owner, status=status)
        elif action == "assign":
            services.case_assign(case=case, actor=owner, assignee=rng.choice(people))
        elif action == "move":
            Case.objects.filter(pk=case.pk).update(team=rng.choice(teams))
        elif action == "breach":  # as the SLA sweep marks cases
            Case.objects.filter(pk__in=[c.pk for c in cases[::2]]).update(sla_breached=rng.random() < 0.7)
        elif action == "delete":
            case.delete()
        elif action == "bulk":
            Case.objects.filter(assignee=rng.choice(people[:3])).update(assignee=rng.choice(people), status="open")
        elif action == "rollback":
            with transaction.atomic():
                Case.objects.update(status="closed")
                make_case(team=north, owner=owner, subject="Gone")
                transaction.set_rollback(True)
        _assert_exact()
        for user in (owner, outsider):
            tabs = [(queue.team_id, queue.active, queue.breached) for queue in queue_counts(user)]
            assert sorted(tabs) == _counted(user)

    assert not CaseQueueTotal.objects.filter(cases=0).exists()  # groups at zero are deleted


def test_the_tabs_read_the_stored_counts(north, owner, admin_user):
    policy()
    make_case(team=north, owner=owner, assignee=owner, subject="One")
    make_case(team=north, owner=owner, subject="Two")
    assert [(q.name, q.active, q.breached) for q in queue_counts(admin_user)] == [(north.name, 2, 0)]
    # Tabs come from the table: a row changed behind the triggers' back shows.
    CaseQueueTotal.objects.filter(team=north, assignee=None).update(cases=5)
    assert [(q.name, q.active) for q in queue_counts(admin_user)] == [(north.name, 6)]
    assert [(q.name, q.active) for q in queue_counts(owner)] == [(north.name, 6)]


def test_a_status_change_within_the_active_ones_writes_no_count(north, owner):
    policy()
    case = make_case(team=north, owner=owner, assignee=owner)
    before = list(CaseQueueTotal.objects.values_list("id", "cases"))
    services.case_set_status(case=case, actor=owner, status="open")
    Case.objects.filter(pk=case.pk).update(subject="Renamed", priority="high")
    assert list(CaseQueueTotal.objects.values_list("id", "cases")) == before


def test_rebuild_refills_the_counts_and_truncate_empties_them(north, owner):
    policy()
    for n in range(3):
        make_case(team=north, owner=owner, subject=f"Case {n}")
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM service_casequeuetotal")
    assert totals.differences()
    call_command("rebuild_case_queue_totals", stdout=io.StringIO())
    _assert_exact()
    assert CaseQueueTotal.objects.get().cases == 3
    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        cursor.execute("TRUNCATE service_case CASCADE")
    assert not CaseQueueTotal.objects.exists()
    assert Team.objects.filter(pk=north.pk).exists()
