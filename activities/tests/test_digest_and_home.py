from __future__ import annotations

from datetime import timedelta

import pytest
from django.core import mail
from django.template.loader import render_to_string
from django.test import RequestFactory
from django.urls import reverse
from django.utils import timezone

from activities import services, tasks
from activities.tests.factories import ActivityFactory
from crm.home import home_panels
from crm.tests.factories import UserFactory

pytestmark = pytest.mark.django_db


class TestDailyDigest:
    def test_opted_in_users_get_the_days_open_tasks_once(self):
        keen = UserFactory(daily_digest=True)
        quiet = UserFactory(daily_digest=False)
        now = timezone.now()
        ActivityFactory(owner=keen, subject="Call Globex", due_at=now.replace(hour=23, minute=0))
        ActivityFactory(owner=keen, subject="Forgotten", due_at=now - timedelta(days=2))
        ActivityFactory(owner=keen, subject="Done one", due_at=now, done_at=now)
        ActivityFactory(owner=quiet, subject="Quiet task", due_at=now)
        assert tasks.daily_digest() == 1
        assert tasks.daily_digest() == 0  # idempotent per user per day
        assert len(mail.outbox) == 1
        message = mail.outbox[0]
        assert message.to == [keen.email]
        assert "Call Globex" in message.body and "Forgotten" in message.body
        assert "Done one" not in message.body

    def test_no_open_tasks_means_no_email(self):
        UserFactory(daily_digest=True)
        assert services.digest_send_all() == 0
        assert mail.outbox == []


class TestHomePanel:
    def test_the_today_panel_counts_overdue_and_due_today(self, owner):
        now = timezone.now()
        ActivityFactory(owner=owner, due_at=now - timedelta(hours=1))
        ActivityFactory(owner=owner, due_at=now - timedelta(days=3))
        ActivityFactory(owner=owner, due_at=now - timedelta(days=3), done_at=now)
        request = RequestFactory().get("/")
        request.user = owner
        panels = dict(home_panels(request))
        assert panels["activities/partials/home_today.html"] == {"overdue": 2, "today": 0}
        html = render_to_string("activities/partials/home_today.html", {"panel": {"overdue": 2, "today": 0}})
        assert reverse("activities:my-day") in html


class TestSearch:
    def test_search_finds_visible_activities_only(self, owner_client, outsider_client, owner):
        ActivityFactory(owner=owner, subject="Quarterly kickoff")
        assert "Quarterly kickoff" in owner_client.get(reverse("search"), {"q": "kickoff"}).content.decode()
        assert "Quarterly kickoff" not in outsider_client.get(reverse("search"), {"q": "kickoff"}).content.decode()


class TestDemo:
    def test_demo_seeding_is_idempotent(self):
        from activities.demo import seed
        from activities.models import Activity, Reminder
        from crm import demo

        people = demo.seed()
        seed(people=people)
        counts = (Activity.objects.count(), Reminder.objects.count())
        assert counts[0] > 2000 and counts[1] > 0
        assert Reminder.objects.filter(activity__owner=people.alice, remind_at__gt=timezone.now()).exists()
        seed(people=people)
        assert (Activity.objects.count(), Reminder.objects.count()) == counts
