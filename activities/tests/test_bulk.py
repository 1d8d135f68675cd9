"""Bulk actions on the activity list (crm.bulk_actions): mark done, assign, delete."""

import pytest
from django.urls import reverse

from activities.models import Activity
from activities.tests.factories import ActivityFactory
from crm.models import BulkJob

pytestmark = pytest.mark.django_db

URL = reverse("bulk-apply", args=["activity"])


def test_mark_done_of_ticked_activities_and_its_undo(owner_client, owner, teammate):
    mine = [ActivityFactory(owner=owner) for _ in range(2)]
    theirs = ActivityFactory(owner=teammate)
    owner_client.post(URL, {"action": "done", "ids": [a.pk for a in [*mine, theirs]]})
    for activity in [*mine, theirs]:
        activity.refresh_from_db()
    assert all(a.done_at is not None for a in mine)
    assert theirs.done_at is None  # a teammate's: skipped
    job = BulkJob.objects.get()
    assert (job.changed, job.skipped) == (2, 1)
    owner_client.post(reverse("bulk-undo", args=[job.pk]))
    for activity in mine:
        activity.refresh_from_db()
        assert activity.done_at is None


def test_delete_is_confirmed_first_even_for_ticked_rows(owner_client, owner):
    activity = ActivityFactory(owner=owner)
    data = {"action": "delete", "ids": [activity.pk], "scope": "selected"}
    response = owner_client.post(URL, data)
    assert "This cannot be undone." in response.content.decode()
    assert Activity.objects.filter(pk=activity.pk).exists()
    owner_client.post(URL, {**data, "confirmed": "1"})
    assert not Activity.objects.filter(pk=activity.pk).exists()


def test_an_outsider_changes_nothing(outsider_client, owner):
    activity = ActivityFactory(owner=owner)
    outsider_client.post(URL, {"action": "done", "ids": [activity.pk]})
    activity.refresh_from_db()
    assert activity.done_at is None


def test_all_matching_uses_the_lists_filters(owner_client, owner):
    open_ones = [ActivityFactory(owner=owner) for _ in range(2)]
    data = {"action": "done", "scope": "all", "query": "status=open"}
    response = owner_client.post(URL, data)
    assert "on all 2 activities matching" in response.content.decode()
    owner_client.post(URL, {**data, "confirmed": "1"})
    assert all(Activity.objects.get(pk=a.pk).done_at is not None for a in open_ones)


def test_the_list_shows_the_bulk_bar(owner_client, owner):
    ActivityFactory(owner=owner)
    response = owner_client.get(reverse("activities:list"))
    assert "Mark done" in response.content.decode()
    assert 'name="ids"' in response.content.decode()


def test_export_of_ticked_activities_has_only_those_the_user_may_see(owner_client, outsider_client, owner):
    picked = ActivityFactory(owner=owner, subject="Call the printer people")
    ActivityFactory(owner=owner, subject="Left out meeting")
    response = owner_client.post(URL, {"action": "export", "ids": [picked.pk], "scope": "selected"})
    body = b"".join(response.streaming_content).decode()
    assert body.splitlines()[0].lstrip("\ufeff").startswith("Type,Subject,Assignee")
    assert "Call the printer people" in body and "Left out meeting" not in body
    # Nothing of someone else's team: no file, back to the list.
    response = outsider_client.post(URL, {"action": "export", "ids": [picked.pk], "scope": "selected"})
    assert response.status_code == 302


def test_export_of_all_matching_follows_the_lists_filters(teammate_client, owner):
    ActivityFactory(owner=owner, subject="Still open")
    done = ActivityFactory(owner=owner, subject="Already done")
    Activity.objects.filter(pk=done.pk).update(done_at=done.created_at)
    response = teammate_client.post(URL, {"action": "export", "scope": "all", "query": "status=open"})
    body = b"".join(response.streaming_content).decode()
    assert "Still open" in body and "Already done" not in body  # a teammate reads the team's
    assert "Export (CSV)" in teammate_client.get(reverse("activities:list")).content.decode()


def test_the_lists_tick_boxes_are_on_the_activities_the_viewer_may_change(owner_client, owner, teammate):
    mine = ActivityFactory(owner=owner, subject="Mine to change")
    theirs = ActivityFactory(owner=teammate, subject="Call for the teammate")
    body = owner_client.get(reverse("activities:list")).content.decode()
    assert "Call for the teammate" in body  # visible to the team
    assert f'name="ids" value="{mine.pk}"' in body
    assert f'name="ids" value="{theirs.pk}"' not in body
