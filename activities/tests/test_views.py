from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from activities.models import Activity, ActivityOutcome, CalendarFeed, Reminder, ReminderState, TimelineEvent
from activities.selectors import LIST_PAGE_SIZE
from activities.tests.factories import (
    ActivityFactory,
    CompanyFactory,
    ContactFactory,
    DealFactory,
    StageFactory,
    activity_type,
)

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def task(owner):
    return ActivityFactory(owner=owner, subject="Send the quote", due_at=timezone.now() + timedelta(hours=3))


@pytest.fixture
def company(owner):
    return CompanyFactory(owner=owner, name="Northwind")


class TestList:
    def test_it_shows_the_owners_and_teammates_activities(self, owner_client, teammate_client, task):
        assert "Send the quote" in owner_client.get(reverse("activities:list")).content.decode()
        assert "Send the quote" in teammate_client.get(reverse("activities:list")).content.decode()

    def test_it_hides_other_teams_activities(self, outsider_client, task):
        assert "Send the quote" not in outsider_client.get(reverse("activities:list")).content.decode()

    def test_a_manager_sees_the_teams_activities(self, manager_client, task):
        assert "Send the quote" in manager_client.get(reverse("activities:list")).content.decode()

    def test_it_filters_by_status_type_and_company(self, owner_client, owner, task, company):
        ActivityFactory(owner=owner, subject="Old call", type=activity_type("call"), done_at=timezone.now())
        ActivityFactory(owner=owner, subject="Late task", due_at=timezone.now() - timedelta(days=1))
        ActivityFactory(owner=owner, subject="On Northwind", company=company, type=activity_type("note"))
        url = reverse("activities:list")
        overdue = owner_client.get(url, {"status": "overdue"}).content.decode()
        assert "Late task" in overdue and "Send the quote" not in overdue and "Old call" not in overdue
        calls = owner_client.get(url, {"type": activity_type("call").pk}).content.decode()
        assert "Old call" in calls and "Late task" not in calls
        on_company = owner_client.get(url, {"company": company.pk}).content.decode()
        assert "On Northwind" in on_company and "Late task" not in on_company

    def test_it_pages_with_a_keyset_cursor(self, owner_client, owner):
        for i in range(LIST_PAGE_SIZE + 3):
            ActivityFactory(owner=owner, subject=f"Item {i:03d}")
        first = owner_client.get(reverse("activities:list"))
        assert len(first.context["rows"]) == LIST_PAGE_SIZE
        second = owner_client.get(reverse("activities:list"), {"after": first.context["next_cursor"]})
        seen = {a.pk for a in first.context["rows"]} | {a.pk for a in second.context["rows"]}
        assert len(seen) == LIST_PAGE_SIZE + 3
        assert second.context["next_cursor"] == ""
        by_due = owner_client.get(reverse("activities:list"), {"sort": "due", "after": "garbage"})
        assert by_due.status_code == 200 and by_due.context["rows"] == []  # none has a due time

    def test_it_ignores_unknown_filter_values(self, owner_client, task):
        response = owner_client.get(
            reverse("activities:list"), {"status": "drop table", "sort": "-secret", "type": "x"}
        )
        assert response.status_code == 200
        assert "Send the quote" in response.content.decode()

    def test_its_query_count_does_not_grow_with_rows(self, owner_client, owner, company, django_assert_max_num_queries):
        contact = ContactFactory(owner=owner, company=company)
        deal = DealFactory(owner=owner, company=company)
        for i in range(50):
            ActivityFactory(owner=owner, subject=f"Row {i}", company=company, contact=contact, deal=deal)
        # 4, one for the saved views menu (crm.saved_views) and one for the last bulk action's
        # banner (crm.bulk_actions.banner_job).
        with django_assert_max_num_queries(6):
            response = owner_client.get(reverse("activities:list"))
        # Each subject once as its link (the tick box names it too).
        assert response.content.decode().count(">Row ") == 50


class TestDetailAndEdit:
    def test_the_owner_sees_and_edits_it(self, owner_client, owner, task):
        assert owner_client.get(task.get_absolute_url()).status_code == 200
        response = owner_client.post(
            reverse("activities:edit", args=[task.pk]),
            {"subject": "Send the new quote", "due_at": "2031-01-02T10:00", "owner": owner.pk},
        )
        assert response.status_code == 302
        task.refresh_from_db()
        assert task.subject == "Send the new quote"
        assert timezone.localtime(task.due_at).strftime("%Y-%m-%d %H:%M") == "2031-01-02 10:00"
        assert TimelineEvent.objects.get(activity=task).title == "Send the new quote"

    def test_a_teammate_reads_but_cannot_change_it(self, teammate_client, task):
        assert teammate_client.get(task.get_absolute_url()).status_code == 200
        assert teammate_client.post(reverse("activities:edit", args=[task.pk]), {"subject": "x"}).status_code == 403
        assert teammate_client.post(reverse("activities:toggle-done", args=[task.pk])).status_code == 403
        task.refresh_from_db()
        assert task.subject == "Send the quote" and task.done_at is None

    def test_an_outsider_gets_404(self, outsider_client, task):
        assert outsider_client.get(task.get_absolute_url()).status_code == 404
        assert outsider_client.post(reverse("activities:toggle-done", args=[task.pk])).status_code == 404
        assert outsider_client.post(reverse("activities:delete", args=[task.pk])).status_code == 404
        assert Activity.objects.filter(pk=task.pk).exists()

    def test_an_activity_on_a_visible_company_opens_from_its_timeline(self, teammate_client, admin_user, company):
        # An admin's call on the team's company shows on that company's timeline, so it opens.
        call = ActivityFactory(owner=admin_user, company=company, type=activity_type("call"))
        assert teammate_client.get(call.get_absolute_url()).status_code == 200
        assert teammate_client.post(reverse("activities:toggle-done", args=[call.pk])).status_code == 403

    def test_a_manager_can_change_it(self, manager_client, task):
        manager_client.post(reverse("activities:toggle-done", args=[task.pk]))
        task.refresh_from_db()
        assert task.done_at is not None

    def test_bad_input_shows_errors_and_saves_nothing(self, owner_client, task):
        response = owner_client.post(reverse("activities:edit", args=[task.pk]), {"subject": ""})
        assert response.status_code == 200
        assert "This field is required" in response.content.decode()
        task.refresh_from_db()
        assert task.subject == "Send the quote"

    def test_notes_are_escaped_and_links_made_clickable(self, owner_client, owner):
        note = ActivityFactory(
            owner=owner, type=activity_type("note"), body="<script>alert(1)</script> see https://example.com/x"
        )
        html = owner_client.get(note.get_absolute_url()).content.decode()
        assert "<script>alert(1)</script>" not in html
        assert "&lt;script&gt;" in html
        assert 'href="https://example.com/x"' in html

    def test_the_owner_deletes_it(self, owner_client, task):
        owner_client.post(reverse("activities:delete", args=[task.pk]))
        assert not Activity.objects.filter(pk=task.pk).exists()


class TestLogging:
    def test_it_logs_a_call_on_a_company_inline(self, owner_client, owner, company):
        response = owner_client.post(
            reverse("activities:log"),
            {
                "on": f"company:{company.pk}",
                "type": "call",
                "subject": "Spoke to CFO",
                "outcome": "Connected",
                "duration_minutes": "15",
            },
            **HTMX,
        )
        assert response.status_code == 200
        assert response["HX-Trigger"] == "activity-logged"
        activity = Activity.objects.get(subject="Spoke to CFO")
        assert activity.company == company and activity.owner == owner and activity.done_at is not None
        assert activity.outcome == "Connected" and activity.duration_minutes == 15
        assert TimelineEvent.objects.get(activity=activity).company == company
        # The card again, empty, saying what was logged, with a link to it.
        html = response.content.decode()
        assert "Logged “Spoke to CFO”." in html and f'href="{activity.get_absolute_url()}">Open</a>' in html
        assert 'name="subject"' in html and "Spoke to CFO</textarea>" not in html and 'value="Spoke to CFO"' not in html
        assert f'id="log-activity-company{company.pk}"' in html and 'name="csrfmiddlewaretoken"' in html

    def test_a_logged_subject_is_escaped_and_a_bad_form_comes_back_with_its_errors(self, owner_client, company):
        on = f"company:{company.pk}"
        logged = owner_client.post(reverse("activities:log"), {"on": on, "type": "note", "subject": "<b>x</b>"}, **HTMX)
        assert "Logged “&lt;b&gt;x&lt;/b&gt;”." in logged.content.decode()
        bad = owner_client.post(reverse("activities:log"), {"on": on, "type": "note", "subject": ""}, **HTMX)
        html = bad.content.decode()
        assert 'class="textinput form-control is-invalid"' in html and "This field is required." in html
        assert "Save Note" in html and 'aria-pressed="true"' in html

    def test_a_calls_outcome_is_picked_from_the_types_outcomes(self, owner_client, company):
        call = activity_type("call")
        ActivityOutcome.objects.get_or_create(type=call, name="Connected")
        ActivityOutcome.objects.get_or_create(type=call, name="Retired", defaults={"active": False})
        form = owner_client.get(reverse("activities:log"), {"on": f"company:{company.pk}", "type": "call"})
        html = form.content.decode()
        assert '<select name="outcome"' in html
        assert '<option value="Connected">Connected</option>' in html
        assert "Retired" not in html
        response = owner_client.post(
            reverse("activities:log"),
            {"on": f"company:{company.pk}", "type": "call", "subject": "Cold call", "outcome": "Whatever I type"},
        )
        assert response.status_code == 200  # the form again, with the error
        assert not Activity.objects.filter(subject="Cold call").exists()

    def test_an_old_free_text_outcome_stays_on_its_activity_when_edited(self, owner_client, owner, company):
        call = activity_type("call")
        ActivityOutcome.objects.get_or_create(type=call, name="Connected")
        activity = ActivityFactory(owner=owner, company=company, type=call, outcome="Said maybe in spring")
        html = owner_client.get(reverse("activities:edit", args=[activity.pk])).content.decode()
        assert 'value="Said maybe in spring" selected' in html

    def test_time_spent_is_kept_or_left_to_the_type_default(self, owner_client, owner, company):
        from crm.models import Outbox

        form = owner_client.get(reverse("activities:log"), {"on": f"company:{company.pk}", "type": "call"})
        assert 'name="time_spent_minutes"' in form.content.decode()
        for subject, minutes in (("Long call", "45"), ("Usual call", "")):
            owner_client.post(
                reverse("activities:log"),
                {"on": f"company:{company.pk}", "type": "call", "subject": subject, "time_spent_minutes": minutes},
                **HTMX,
            )
        assert Activity.objects.get(subject="Long call").time_spent_minutes == 45
        usual = Activity.objects.get(subject="Usual call")
        assert usual.time_spent_minutes is None and usual.type.default_minutes == 15
        # Each done activity queues its customer's profitability refresh.
        queued = Outbox.objects.filter(task="reports.tasks.refresh_customer_value")
        assert [row.args for row in queued] == [[[company.pk]], [[company.pk]]]

    def test_a_task_on_a_deal_gets_an_assignee_due_time_and_reminder(self, owner_client, owner):
        deal = DealFactory(owner=owner)
        response = owner_client.post(
            reverse("activities:log"),
            {
                "on": f"deal:{deal.pk}",
                "type": "task",
                "subject": "Send contract",
                "due_at": "2031-05-01T09:00",
                "remind": "30",
            },
            **HTMX,
        )
        assert response.status_code == 200
        activity = Activity.objects.get(subject="Send contract")
        assert activity.deal == deal and activity.company == deal.company and activity.done_at is None
        reminder = activity.reminders.get()
        assert reminder.minutes_before == 30 and reminder.remind_at == activity.due_at - timedelta(minutes=30)

    def test_logging_a_done_activity_on_a_deal_updates_its_last_activity(self, owner_client, owner):
        deal = DealFactory(owner=owner)
        owner_client.post(reverse("activities:log"), {"on": f"deal:{deal.pk}", "type": "email", "subject": "Sent it"})
        deal.refresh_from_db()
        assert deal.last_activity_at is not None

    def test_a_meeting_has_start_end_and_attendees(self, owner_client, owner, teammate, company):
        contact = ContactFactory(owner=owner, company=company)
        owner_client.post(
            reverse("activities:log"),
            {
                "on": f"company:{company.pk}",
                "type": "meeting",
                "subject": "Kick-off",
                "due_at": "2031-05-01T09:00",
                "ends_at": "2031-05-01T10:30",
                "attendee_users": [teammate.pk],
                "attendee_contacts": [contact.pk],
            },
        )
        meeting = Activity.objects.get(subject="Kick-off")
        assert meeting.duration_minutes == 90
        assert list(meeting.attendee_users.all()) == [teammate]
        assert list(meeting.attendee_contacts.all()) == [contact]

    def test_a_meeting_ending_before_it_starts_is_refused(self, owner_client, company):
        response = owner_client.post(
            reverse("activities:log"),
            {
                "on": f"company:{company.pk}",
                "type": "meeting",
                "subject": "Bad",
                "due_at": "2031-05-01T09:00",
                "ends_at": "2031-05-01T08:00",
            },
            **HTMX,
        )
        assert "The end is before the start" in response.content.decode()
        assert not Activity.objects.filter(subject="Bad").exists()

    def test_an_outsider_cannot_log_on_a_hidden_company(self, outsider_client, company):
        response = outsider_client.post(
            reverse("activities:log"), {"on": f"company:{company.pk}", "type": "note", "subject": "Sneaky"}
        )
        assert response.status_code == 404
        assert not Activity.objects.exists()

    def test_a_rep_cannot_assign_work_to_a_teammate(self, owner_client, teammate):
        response = owner_client.post(
            reverse("activities:log"), {"type": "task", "subject": "Yours", "owner": teammate.pk}
        )
        assert response.status_code == 200
        assert not Activity.objects.filter(subject="Yours").exists()

    def test_a_manager_assigns_work_to_a_team_member(self, manager_client, owner):
        manager_client.post(reverse("activities:log"), {"type": "task", "subject": "Yours", "owner": owner.pk})
        assert Activity.objects.get(subject="Yours").owner == owner

    def test_switching_the_type_swaps_the_form(self, owner_client, company):
        html = owner_client.get(
            reverse("activities:log"), {"on": f"company:{company.pk}", "type": "meeting"}, **HTMX
        ).content.decode()
        assert 'name="ends_at"' in html and 'name="attendee_users"' in html
        html = owner_client.get(reverse("activities:log"), {"on": f"company:{company.pk}", "type": "note"}, **HTMX)
        assert 'name="due_at"' not in html.content.decode()


class TestInlineActions:
    def test_complete_and_reopen_inline(self, owner_client, task):
        response = owner_client.post(reverse("activities:toggle-done", args=[task.pk]), **HTMX)
        assert f'id="activity-row-{task.pk}"' in response.content.decode()
        task.refresh_from_db()
        assert task.done_at is not None
        owner_client.post(reverse("activities:toggle-done", args=[task.pk]), **HTMX)
        task.refresh_from_db()
        assert task.done_at is None

    def test_reschedule_to_tomorrow_inline(self, owner_client, task):
        before = task.due_at
        owner_client.post(reverse("activities:reschedule", args=[task.pk]), {"shift": "tomorrow"}, **HTMX)
        task.refresh_from_db()
        assert task.due_at - before == timedelta(days=1)

    def test_reschedule_to_a_given_time(self, owner_client, task):
        owner_client.post(reverse("activities:reschedule", args=[task.pk]), {"due_at": "2031-03-04T11:30"}, **HTMX)
        task.refresh_from_db()
        assert timezone.localtime(task.due_at).strftime("%Y-%m-%d %H:%M") == "2031-03-04 11:30"

    def test_reschedule_without_a_time_changes_nothing(self, owner_client, task):
        before = task.due_at
        owner_client.post(reverse("activities:reschedule", args=[task.pk]), {"shift": "bogus"})
        task.refresh_from_db()
        assert task.due_at == before

    def test_add_and_cancel_a_reminder(self, owner_client, task):
        owner_client.post(reverse("activities:reminder-add", args=[task.pk]), {"minutes_before": "10"})
        reminder = Reminder.objects.get(activity=task)
        assert reminder.remind_at == task.due_at - timedelta(minutes=10)
        owner_client.post(reverse("activities:reminder-cancel", args=[reminder.pk]))
        reminder.refresh_from_db()
        assert reminder.state == ReminderState.CANCELLED

    def test_a_reminder_needs_a_time_or_minutes(self, owner_client, task):
        owner_client.post(reverse("activities:reminder-add", args=[task.pk]), {})
        assert not Reminder.objects.exists()

    def test_a_teammate_cannot_cancel_someone_elses_reminder(self, teammate_client, task):
        reminder = Reminder.objects.create(activity=task, remind_at=task.due_at)
        assert teammate_client.post(reverse("activities:reminder-cancel", args=[reminder.pk])).status_code == 403
        reminder.refresh_from_db()
        assert reminder.state == ReminderState.PENDING


class TestMyDay:
    def test_it_groups_overdue_today_upcoming_and_stale_deals(self, owner_client, owner):
        now = timezone.now()
        ActivityFactory(owner=owner, subject="Was due yesterday", due_at=now - timedelta(days=1))
        ActivityFactory(owner=owner, subject="Due in three days", due_at=now + timedelta(days=3))
        ActivityFactory(owner=owner, subject="Next month", due_at=now + timedelta(days=30))
        ActivityFactory(owner=owner, subject="Done already", due_at=now - timedelta(days=1), done_at=now)
        DealFactory(owner=owner, title="Sleepy deal", last_activity_at=now - timedelta(days=40))
        DealFactory(owner=owner, title="Busy deal", last_activity_at=now - timedelta(days=1))
        response = owner_client.get(reverse("activities:my-day"))
        day = response.context["day"]
        assert [a.subject for a in day["overdue"]] == ["Was due yesterday"]
        assert [a.subject for a in day["upcoming"]] == ["Due in three days"]
        assert [d.title for d in day["stale_deals"]] == ["Sleepy deal"]
        sleepy = day["stale_deals"][0]
        html = response.content.decode()
        item = html[html.index(f'href="{sleepy.get_absolute_url()}">Sleepy deal</a>') :]
        assert f"{sleepy.stage.name} · {sleepy.company.name}" in item[: item.index("</li>")]
        assert "last activity 1\xa0month" in item[: item.index("</li>")]  # timesince: 40 days

    def test_the_stale_list_says_no_activity_yet_or_that_every_deal_is_fresh(self, owner_client, owner):
        html = owner_client.get(reverse("activities:my-day")).content.decode()
        assert "Every open deal had an activity in the last 14 days." in html
        DealFactory(
            owner=owner, title="Never touched", last_activity_at=None, created_at=timezone.now() - timedelta(days=30)
        )
        html = owner_client.get(reverse("activities:my-day")).content.decode()
        assert "Never touched</a>" in html and "no activity yet" in html and "Every open deal" not in html

    def test_a_stages_rotting_days_decide_when_its_deals_go_stale(self, owner_client, owner):
        now = timezone.now()
        fast = StageFactory(name="Fast", rotting_days=3)
        DealFactory(owner=owner, title="Quick stage deal", stage=fast, last_activity_at=now - timedelta(days=5))
        DealFactory(owner=owner, title="Default stage deal", last_activity_at=now - timedelta(days=5))
        day = owner_client.get(reverse("activities:my-day")).context["day"]
        assert [d.title for d in day["stale_deals"]] == ["Quick stage deal"]

    def test_a_manager_views_a_team_members_day(self, manager_client, task, owner):
        response = manager_client.get(reverse("activities:my-day"), {"user": owner.pk})
        assert response.context["person"] == owner
        assert "Send the quote" in response.content.decode()

    def test_a_rep_cannot_view_a_teammates_day(self, teammate_client, teammate, owner, task):
        response = teammate_client.get(reverse("activities:my-day"), {"user": owner.pk})
        assert response.context["person"] == teammate
        assert "Send the quote" not in response.content.decode()

    def test_a_manager_cannot_view_another_teams_member(self, manager_client, manager, outsider):
        response = manager_client.get(reverse("activities:my-day"), {"user": outsider.pk})
        assert response.context["person"] == manager

    def test_its_query_count_is_constant(self, owner_client, owner, django_assert_max_num_queries):
        company = CompanyFactory(owner=owner)
        deal = DealFactory(owner=owner, company=company)
        for i in range(50):
            ActivityFactory(owner=owner, company=company, deal=deal, due_at=timezone.now() + timedelta(minutes=i))
        with django_assert_max_num_queries(5):
            owner_client.get(reverse("activities:my-day"))


class TestCalendar:
    def test_month_and_week_show_the_users_activities(self, owner_client, owner):
        ActivityFactory(owner=owner, subject="Demo day", due_at=timezone.now())
        for view in ("month", "week"):
            html = owner_client.get(reverse("activities:calendar"), {"view": view}).content.decode()
            assert "Demo day" in html

    def test_a_manager_sees_the_teams_calendar(self, manager_client, owner, north):
        ActivityFactory(owner=owner, subject="Team thing", due_at=timezone.now())
        html = manager_client.get(reverse("activities:calendar"), {"team": north.pk}).content.decode()
        assert "Team thing" in html

    def test_an_outsider_cannot_peek_at_another_teams_calendar(self, outsider_client, owner, north):
        ActivityFactory(owner=owner, subject="Team thing", due_at=timezone.now())
        for params in ({"team": north.pk}, {"user": owner.pk}):
            html = outsider_client.get(reverse("activities:calendar"), params).content.decode()
            assert "Team thing" not in html

    def test_a_malformed_or_unsupported_date_is_a_400(self, owner_client):
        for date in ("2025-13-45", "9999-12-31", "0001-01-01"):
            assert owner_client.get(reverse("activities:calendar"), {"date": date}).status_code == 400

    def test_the_last_supported_month_still_steps_forward(self, owner_client):
        response = owner_client.get(reverse("activities:calendar"), {"date": "2999-12-31"})
        assert response.status_code == 200
        assert response.context["next_anchor"].year == 3000

    def test_its_query_count_is_constant(self, owner_client, owner, django_assert_max_num_queries):
        for i in range(50):
            ActivityFactory(owner=owner, due_at=timezone.now() + timedelta(hours=i))
        with django_assert_max_num_queries(5):
            owner_client.get(reverse("activities:calendar"))
        with django_assert_max_num_queries(5):
            owner_client.get(reverse("activities:calendar"), {"view": "week"})

    def test_the_week_grid_places_a_meeting_by_its_start_and_length(self, owner_client, owner):
        start = timezone.localtime().replace(hour=9, minute=30, second=0, microsecond=0)
        ActivityFactory(
            owner=owner,
            type=activity_type("meeting"),
            subject="Kick-off",
            due_at=start,
            ends_at=start + timedelta(minutes=90),
        )
        ActivityFactory(owner=owner, subject="Early call", due_at=start.replace(hour=6))
        response = owner_client.get(reverse("activities:calendar"), {"view": "day", "date": start.date().isoformat()})
        column = response.context["grid"][0]
        item = column["items"][0]
        assert item["activity"].subject == "Kick-off"
        assert (item["top"], item["height"]) == (2.5 * 48, 1.5 * 48)  # 07:00 at the top, 48 px an hour
        assert item["can_move"] is True
        assert [i["activity"].subject for i in column["outside"]] == ["Early call"]
        html = response.content.decode()
        reschedule = reverse("activities:reschedule", args=[item["activity"].pk])
        assert f'draggable="true" data-reschedule-url="{reschedule}"' in html
        slot = f"{start.date().isoformat()}T10:00"
        assert f'href="{reverse("activities:log")}?type=meeting&amp;start={slot}"' in html

    def test_overlapping_activities_stand_side_by_side(self, owner_client, owner):
        """Two meetings at once each get half the column, and their Move buttons sit at their
        own right edges (stacked, the later one hid the earlier one's button from the mouse);
        an activity after both has the column to itself again."""
        start = timezone.localtime().replace(hour=10, minute=0, second=0, microsecond=0)
        meeting = activity_type("meeting")
        for subject, at, minutes in (("Board", 0, 60), ("Call", 30, 30), ("Lunch", 120, 60)):
            ActivityFactory(
                owner=owner,
                type=meeting,
                subject=subject,
                due_at=start + timedelta(minutes=at),
                ends_at=start + timedelta(minutes=at + minutes),
            )
        response = owner_client.get(reverse("activities:calendar"), {"view": "day", "date": start.date().isoformat()})
        items = {i["activity"].subject: i for i in response.context["grid"][0]["items"]}
        lanes = {subject: (i["left"], i["width"], i["right"]) for subject, i in items.items()}
        assert lanes == {"Board": ("0", "50", "50"), "Call": ("50", "50", "0"), "Lunch": ("0", "100", "0")}
        html = response.content.decode()
        assert "left: calc(50% + 2px); width: calc(50% - 4px)" in html
        assert "right: calc(50% + 3px)" in html

    def test_a_busier_time_than_the_lanes_shows_how_many_more(self, owner_client, owner):
        """Five calls at once in a week's narrow day: two lanes of calls and a "+3" tile that
        opens that day; the day view has room for all five."""
        start = timezone.localtime().replace(hour=15, minute=0, second=0, microsecond=0)
        for n in range(5):
            ActivityFactory(owner=owner, subject=f"Call {n}", due_at=start, duration_minutes=30)
        day = start.date().isoformat()
        week = owner_client.get(reverse("activities:calendar"), {"view": "week", "date": day})
        column = next(c for c in week.context["grid"] if c["day"] == start.date())
        assert len(column["items"]) == 2 and {i["width"] for i in column["items"]} == {"33.33"}
        assert [(m["count"], m["time"], m["left"]) for m in column["more"]] == [(3, "15:00", "66.67")]
        html = week.content.decode()
        assert f'view=day&amp;date={day}">+3<span class="visually-hidden"> 3 more activities from 15:00</span>' in html
        whole_day = owner_client.get(reverse("activities:calendar"), {"view": "day", "date": day})
        assert len(whole_day.context["grid"][0]["items"]) == 5 and whole_day.context["grid"][0]["more"] == []

    def test_the_grid_has_a_keyboard_path_to_plan_and_to_move(self, owner_client, owner):
        start = timezone.localtime().replace(hour=9, minute=30, second=0, microsecond=0)
        meeting = ActivityFactory(
            owner=owner,
            type=activity_type("meeting"),
            subject="Kick-off",
            due_at=start,
            ends_at=start + timedelta(hours=1),
        )
        day = start.date().isoformat()
        url = reverse("activities:calendar") + f"?view=day&date={day}"
        html = owner_client.get(url).content.decode()
        # "New meeting at": a plain form to the log page, starting on the grid's first day.
        assert f'<form method="get" action="{reverse("activities:log")}"' in html
        assert f'name="start" id="calendar-new-start" value="{day}T09:00"' in html
        # "Move": a button opening a popover form that posts to the reschedule URL and comes back here.
        assert f'popovertarget="move-{meeting.pk}"' in html
        assert f'action="{reverse("activities:reschedule", args=[meeting.pk])}"' in html
        assert f'id="move-{meeting.pk}-at" value="{day}T09:30"' in html
        response = owner_client.post(
            reverse("activities:reschedule", args=[meeting.pk]), {"due_at": f"{day}T14:00", "next": url}
        )
        assert response.status_code == 302 and response["Location"] == url
        meeting.refresh_from_db()
        assert timezone.localtime(meeting.due_at).strftime("%H:%M") == "14:00"
        assert meeting.ends_at - meeting.due_at == timedelta(hours=1)

    def test_a_teammates_activity_in_the_team_grid_cannot_be_dragged(self, teammate_client, owner, north):
        ActivityFactory(owner=owner, subject="Not mine", due_at=timezone.localtime().replace(hour=10, minute=0))
        response = teammate_client.get(reverse("activities:calendar"), {"view": "week", "team": north.pk})
        items = [i for column in response.context["grid"] for i in column["items"] + column["outside"]]
        assert [i["can_move"] for i in items if i["activity"].subject == "Not mine"] == [False]
        assert "data-reschedule-url" not in response.content.decode()
        assert "popovertarget" not in response.content.decode()  # nor moved from the keyboard

    def test_a_slot_link_opens_the_log_form_at_that_time_and_a_bad_start_is_a_400(self, owner_client):
        response = owner_client.get(reverse("activities:log"), {"type": "meeting", "start": "2031-03-04T09:30"})
        html = response.content.decode()
        assert 'value="2031-03-04T09:30"' in html and 'value="2031-03-04T10:30"' in html
        for bad in ("2031-03-04T25:00", "x²", "2031-02-30T09:00"):
            assert owner_client.get(reverse("activities:log"), {"type": "meeting", "start": bad}).status_code == 400


class TestIcsFeed:
    def test_the_secret_url_serves_the_users_activities(self, client, owner_client, owner):
        ActivityFactory(owner=owner, subject="Board, meeting; prep", due_at=timezone.now() + timedelta(days=1))
        owner_client.post(reverse("activities:calendar-feed-regenerate"))
        feed = CalendarFeed.objects.get(user=owner)
        response = client.get(reverse("activities:ics", args=[feed.token]))
        assert response.status_code == 200
        assert response["Content-Type"].startswith("text/calendar")
        body = response.content.decode()
        assert body.startswith("BEGIN:VCALENDAR\r\n")
        assert "SUMMARY:Task: Board\\, meeting\\; prep" in body

    def test_a_wrong_or_revoked_token_is_404(self, client, owner_client, owner):
        owner_client.post(reverse("activities:calendar-feed-regenerate"))
        old = CalendarFeed.objects.get(user=owner).token
        owner_client.post(reverse("activities:calendar-feed-regenerate"))
        assert client.get(reverse("activities:ics", args=[old])).status_code == 404
        assert client.get(reverse("activities:ics", args=["not-a-token"])).status_code == 404
        assert client.get("/activities/calendar/a%00b.ics").status_code == 404

    def test_a_line_break_in_a_subject_cannot_start_a_property(self, client, owner):
        subject = "Call\rATTENDEE:mailto:evil@example.com\nX-A:1\r\nX-B:2"
        ActivityFactory(owner=owner, subject=subject, body="line 1\rline 2", due_at=timezone.now() + timedelta(days=1))
        feed = CalendarFeed.objects.create(user=owner)
        body = client.get(reverse("activities:ics", args=[feed.token])).content.decode()
        unfolded = body.replace("\r\n ", "")
        lines = unfolded.split("\r\n")
        assert "\r" not in unfolded.replace("\r\n", "") and "\n" not in unfolded.replace("\r\n", "")
        assert not any(line.startswith(("ATTENDEE", "X-A", "X-B")) for line in lines)
        assert "SUMMARY:Task: Call\\nATTENDEE:mailto:evil@example.com\\nX-A:1\\nX-B:2" in lines
        assert "DESCRIPTION:line 1\\nline 2" in lines

    def test_long_lines_are_folded_at_75_octets(self, client, owner):
        ActivityFactory(owner=owner, subject="Ж" * 100, due_at=timezone.now() + timedelta(days=1))
        feed = CalendarFeed.objects.create(user=owner)
        body = client.get(reverse("activities:ics", args=[feed.token])).content
        assert all(len(line) <= 75 for line in body.split(b"\r\n"))
        assert "SUMMARY:Task: " + "Ж" * 100 in body.decode().replace("\r\n ", "")
