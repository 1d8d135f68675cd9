"""Bulk actions on the case list (``service.bulk_actions`` through ``crm.bulk_actions``)."""

from __future__ import annotations

import pytest
from django.urls import reverse

from activities.models import TimelineEvent
from crm.bulk_actions import bulk_job_continue
from crm.models import BulkJob, BulkJobState, Outbox
from crm.tests.factories import TeamFactory
from service.models import Case
from service.tests.factories import make_case, policy

pytestmark = pytest.mark.django_db

BULK = reverse("bulk-apply", args=["case"])


@pytest.fixture(autouse=True)
def sla_policy():
    policy()


def _changed_events(case: Case) -> list[str]:
    events = TimelineEvent.objects.filter(kind="case_changed", data__case=case.pk).order_by("id")
    return list(events.values_list("title", flat=True))


def test_the_list_shows_the_bulk_bar_and_a_box_for_cases_the_user_may_change(north, owner, teammate, owner_client):
    mine = make_case(team=north, owner=owner, assignee=owner, subject="Mine")
    theirs = make_case(team=north, owner=owner, assignee=teammate, subject="Theirs")
    body = owner_client.get(reverse("service:list")).content.decode()
    assert f'action="{BULK}"' in body
    assert f'name="ids" form="bulk-form" value="{mine.pk}"' in body
    assert f'form="bulk-form" value="{theirs.pk}"' not in body  # a rep changes their own and unassigned cases only
    assert "Change status" in body and "Move to queue" in body


def test_each_row_has_a_box_only_when_its_reader_may_change_the_case(
    north, owner, teammate, manager, outsider, owner_client, manager_client, outsider_client
):
    mine = make_case(team=north, owner=owner, assignee=owner, subject="Mine")
    unassigned = make_case(team=north, owner=owner, assignee=None, subject="Unassigned")
    theirs = make_case(team=north, owner=owner, assignee=teammate, subject="Theirs")

    def boxes(client) -> set[int]:
        body = client.get(reverse("service:list")).content.decode()
        return {case.pk for case in (mine, unassigned, theirs) if f'form="bulk-form" value="{case.pk}"' in body}

    assert boxes(owner_client) == {mine.pk, unassigned.pk}  # a member: their own and the queue's unassigned
    assert boxes(manager_client) == {mine.pk, unassigned.pk, theirs.pk}  # the queue's manager: all
    assert boxes(outsider_client) == set()  # another team's queue: not even listed
    assert "Theirs" not in outsider_client.get(reverse("service:list")).content.decode()


def test_a_bulk_status_change_writes_one_timeline_entry_per_case_and_undoes(north, owner, owner_client):
    cases = [make_case(team=north, owner=owner, assignee=owner, subject=f"Case {n}") for n in range(3)]
    owner_client.post(BULK, {"action": "status", "status": "waiting", "ids": [c.pk for c in cases[:2]]})
    for case in cases:
        case.refresh_from_db()
    assert [c.status for c in cases] == ["waiting", "waiting", "new"]
    assert cases[0].first_responded_at is not None  # the case page's rule: leaving "new" is a response
    assert _changed_events(cases[0]) == [f"Case #{cases[0].pk} status: New → Waiting on customer"]
    assert _changed_events(cases[2]) == []
    job = BulkJob.objects.get()
    assert (job.state, job.changed, job.skipped) == (BulkJobState.DONE, 2, 0)

    response = owner_client.post(reverse("bulk-undo", args=[job.pk]), {"next": reverse("service:list")})
    assert response.status_code == 302
    cases[0].refresh_from_db()
    assert cases[0].status == "new"
    assert len(_changed_events(cases[0])) == 2
    job.refresh_from_db()
    assert job.state == BulkJobState.UNDONE


def test_bulk_priority_re_aims_the_sla_like_the_case_form(north, owner, owner_client):
    policy(priority="urgent", first=10, resolution=60)
    case = make_case(team=north, owner=owner, assignee=owner)
    due = case.resolution_due_at
    version = case.version
    owner_client.post(BULK, {"action": "priority", "priority": "urgent", "ids": [case.pk]})
    case.refresh_from_db()
    assert case.priority == "urgent"
    assert case.resolution_due_at < due
    assert case.version == version + 1


def test_a_teammate_may_take_unassigned_cases_only_and_the_others_are_counted(north, owner, teammate, teammate_client):
    free = make_case(team=north, owner=owner, subject="Free")
    taken = make_case(team=north, owner=owner, assignee=owner, subject="Taken")
    teammate_client.post(BULK, {"action": "assign", "assignee": teammate.pk, "ids": [free.pk, taken.pk]})
    free.refresh_from_db()
    taken.refresh_from_db()
    assert free.assignee == teammate
    assert taken.assignee == owner
    job = BulkJob.objects.get()
    assert (job.changed, job.skipped) == (1, 1)


def test_an_assignee_the_user_cannot_see_is_refused(north, owner, outsider, owner_client):
    case = make_case(team=north, owner=owner, assignee=owner)
    # The owner sees only North's people; the outsider (South) is not offered nor accepted.
    owner_client.post(BULK, {"action": "assign", "assignee": outsider.pk, "ids": [case.pk]})
    assert not BulkJob.objects.exists()
    case.refresh_from_db()
    assert case.assignee == owner


def test_an_outsider_cannot_touch_cases_they_cannot_see(north, owner, outsider, outsider_client):
    case = make_case(team=north, owner=owner, assignee=owner)
    outsider_client.post(BULK, {"action": "status", "status": "closed", "ids": [case.pk]})
    outsider_client.post(BULK, {"action": "status", "status": "closed", "scope": "all", "confirmed": "1"})
    case.refresh_from_db()
    assert case.status == "new"
    assert not BulkJob.objects.filter(changed__gt=0).exists()


def test_moving_to_a_queue_the_user_works_in_unassigns_outside_its_team(north, owner, manager, manager_client):
    south = TeamFactory(name="Second line")
    south.managers.add(manager)
    case = make_case(team=north, owner=owner, assignee=owner)
    manager_client.post(BULK, {"action": "queue", "queue": south.pk, "ids": [case.pk]})
    case.refresh_from_db()
    assert (case.team, case.assignee) == (south, None)
    assert _changed_events(case) == [f"Case #{case.pk} queue: North → Second line"]
    job = BulkJob.objects.get()
    manager_client.post(reverse("bulk-undo", args=[job.pk]))
    case.refresh_from_db()
    assert (case.team, case.assignee) == (north, owner)


def test_a_queue_the_user_does_not_work_in_is_refused(north, south, owner, owner_client):
    case = make_case(team=north, owner=owner, assignee=owner)
    response = owner_client.post(BULK, {"action": "queue", "queue": south.pk, "ids": [case.pk]}, follow=True)
    assert "Choose a queue you work in." in response.content.decode()
    case.refresh_from_db()
    assert case.team == north


def test_all_matching_asks_first_and_a_large_job_goes_through_the_outbox(north, owner, owner_client, settings):
    settings.BULK_SYNC_MAX = 2
    cases = [make_case(team=north, owner=owner, assignee=owner, subject=f"Printer {n}") for n in range(3)]
    make_case(team=north, owner=owner, assignee=owner, subject="Scanner")
    data = {"action": "priority", "priority": "high", "scope": "all", "query": "q=Printer"}
    response = owner_client.post(BULK, data)
    assert "on all 3 cases matching" in response.content.decode()
    owner_client.post(BULK, {**data, "confirmed": "1"})
    job = BulkJob.objects.get()
    assert job.state == BulkJobState.PENDING
    assert Outbox.objects.filter(task="crm.tasks.run_bulk_job", args=[job.pk]).exists()
    bulk_job_continue(job_id=job.pk)
    assert set(Case.objects.filter(pk__in=[c.pk for c in cases]).values_list("priority", flat=True)) == {"high"}
    assert Case.objects.get(subject="Scanner").priority == "normal"


def test_export_of_ticked_cases_has_only_those(north, owner, owner_client, outsider_client):
    picked = make_case(team=north, owner=owner, subject="Picked printer")
    make_case(team=north, owner=owner, subject="Left out scanner")
    response = owner_client.post(BULK, {"action": "export", "ids": [picked.pk], "scope": "selected"})
    body = b"".join(response.streaming_content).decode()
    assert "Picked printer" in body and "Left out scanner" not in body
    assert body.splitlines()[0].lstrip("\ufeff").startswith("ID,Subject,Company")
    response = outsider_client.post(BULK, {"action": "export", "ids": [picked.pk], "scope": "selected"})
    assert response.status_code == 302  # nothing visible was ticked


def test_the_list_with_its_bulk_bar_keeps_its_query_count(
    north, owner, owner_client, manager_client, django_assert_max_num_queries
):
    for n in range(3):
        make_case(team=north, owner=owner, assignee=owner, subject=f"Case {n}")
    owner_client.post(BULK, {"action": "status", "status": "open", "ids": [Case.objects.first().pk]})
    for client in (owner_client, manager_client):
        client.get(reverse("service:list"))
        # The list's 4 and the last bulk action's banner (the queue filter and the row boxes
        # read the user's teams, loaded with the user).
        with django_assert_max_num_queries(5) as few:
            client.get(reverse("service:list"))
        for n in range(3, 20):
            make_case(team=north, owner=owner, subject=f"More {n}")
        with django_assert_max_num_queries(len(few.captured_queries)):
            response = client.get(reverse("service:list"))
        assert response.content.decode().count('name="ids"') >= 20
