"""Two people editing the same activity: the second save gets a 409 listing the differences."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from activities import services
from activities.tests.factories import ActivityFactory
from crm.tests.forms import posted_data

pytestmark = pytest.mark.django_db


@pytest.fixture
def client_for(request):
    return lambda who: request.getfixturevalue(f"{who}_client")


@pytest.fixture
def task(owner):
    return ActivityFactory(owner=owner, subject="Send the quote", due_at=timezone.now() + timedelta(hours=3))


def test_the_second_of_two_activity_edits_conflicts_and_saves_nothing(owner_client, manager_client, task):
    url = reverse("activities:edit", args=[task.pk])
    mine = owner_client.get(url)
    assert 'name="version"' in mine.content.decode()
    first = manager_client.post(url, posted_data(manager_client.get(url), subject="Send the final quote"))
    assert first.status_code == 302

    second = owner_client.post(url, posted_data(mine, body="Call first"))

    assert second.status_code == 409
    body = second.content.decode()
    assert "changed this record while you were editing it" in body
    assert "Send the final quote" in body and "Save mine anyway" in body
    task.refresh_from_db()
    assert (task.subject, task.body) == ("Send the final quote", "")

    again = owner_client.post(url, posted_data(second))
    assert again.status_code == 302
    task.refresh_from_db()
    assert (task.subject, task.body, task.version) == ("Send the quote", "Call first", 3)


def test_completing_it_inline_makes_an_open_edit_form_stale(owner_client, task):
    url = reverse("activities:edit", args=[task.pk])
    mine = owner_client.get(url)
    assert owner_client.post(reverse("activities:toggle-done", args=[task.pk])).status_code == 302
    task.refresh_from_db()
    assert task.done_at is not None and task.version == 2

    response = owner_client.post(url, posted_data(mine, subject="Renamed"))

    assert response.status_code == 409
    task.refresh_from_db()
    assert task.subject == "Send the quote"


def test_a_reschedule_bumps_the_version_of_the_callers_copy(owner, task):
    services.activity_reschedule(activity=task, actor=owner, due_at=task.due_at + timedelta(days=1))
    assert task.version == 2
    task.refresh_from_db()
    assert task.version == 2


@pytest.mark.parametrize(("who", "status"), [("teammate", 403), ("outsider", 404)])
def test_a_stale_form_still_respects_who_may_change_it(client_for, owner_client, task, who, status):
    url = reverse("activities:edit", args=[task.pk])
    loaded = posted_data(owner_client.get(url), subject="Changed")
    assert client_for(who).post(url, loaded).status_code == status
    task.refresh_from_db()
    assert task.subject == "Send the quote"


def test_a_stale_mark_done_click_never_reopens_what_someone_completed(owner_client, manager_client, task):
    url = reverse("activities:toggle-done", args=[task.pk])
    assert manager_client.post(url, {"done": "1"}).status_code == 302
    task.refresh_from_db()
    done_at, version = task.done_at, task.version

    # The owner's page still shows "Mark done"; the click states its intent: done.
    assert owner_client.post(url, {"done": "1"}).status_code == 302

    task.refresh_from_db()
    assert (task.done_at, task.version) == (done_at, version)
    assert owner_client.post(url, {"done": "0"}).status_code == 302  # "Reopen" reopens
    task.refresh_from_db()
    assert task.done_at is None and task.version == version + 1


def test_the_row_and_page_buttons_say_what_they_want(owner_client, task):
    detail = owner_client.get(task.get_absolute_url()).content.decode()
    assert '<input type="hidden" name="done" value="1">' in detail
    rows = owner_client.get(reverse("activities:my-day")).content.decode()
    assert '<input type="hidden" name="done" value="1">' in rows
