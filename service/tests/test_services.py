from __future__ import annotations

import threading
from datetime import UTC, datetime, time, timedelta

import pytest
from django.core import mail
from django.db import connection
from django.utils import timezone

from activities.models import ActivityType, TimelineEvent
from crm.models import Notification
from crm.versioning import VersionConflict
from service import services
from service.models import CaseActivity, Holiday, SlaTimer, SlaTimerState, TeamCalendar
from service.tests.factories import make_case, policy

pytestmark = pytest.mark.django_db

# Monday 1 December 2025, 10:00 UTC.
MONDAY = datetime(2025, 12, 1, 10, tzinfo=UTC)


def _timers(case) -> dict[tuple[str, str], SlaTimer]:
    return {(t.target, t.kind): t for t in SlaTimer.objects.filter(case=case)}


def _office_hours(team) -> TeamCalendar:
    return TeamCalendar.objects.create(team=team, time_zone="UTC", weekdays="12345", start=time(9), end=time(17))


class TestOpeningACase:
    def test_due_times_follow_the_priority_policy_around_the_clock(self, north, owner):
        policy(priority="high", first=60, resolution=480, warning=15)
        case = make_case(team=north, owner=owner, assignee=owner, priority="high", now=MONDAY)
        assert case.first_response_due_at == MONDAY + timedelta(hours=1)
        assert case.resolution_due_at == MONDAY + timedelta(hours=8)
        timers = _timers(case)
        assert timers[("first_response", "warning")].due_at == MONDAY + timedelta(minutes=45)
        assert timers[("first_response", "breach")].due_at == MONDAY + timedelta(hours=1)
        assert timers[("resolution", "warning")].due_at == MONDAY + timedelta(hours=7, minutes=45)
        assert all(t.state == SlaTimerState.PENDING for t in timers.values())

    def test_due_times_count_business_hours_and_holidays_of_the_queue(self, north, owner):
        calendar = _office_hours(north)
        Holiday.objects.create(calendar=calendar, day=datetime(2025, 12, 2).date(), name="Founders' day")
        policy(first=60, resolution=8 * 60)
        # Monday 16:30: 30 minutes on Monday, Tuesday is a holiday, the rest on Wednesday.
        case = make_case(team=north, owner=owner, now=MONDAY.replace(hour=16, minute=30))
        assert case.first_response_due_at == datetime(2025, 12, 3, 9, 30, tzinfo=UTC)
        assert case.resolution_due_at == datetime(2025, 12, 3, 16, 30, tzinfo=UTC)

    def test_a_team_policy_wins_over_the_default(self, north, owner):
        policy(first=60)
        policy(first=15, team=north)
        case = make_case(team=north, owner=owner, now=MONDAY)
        assert case.first_response_due_at == MONDAY + timedelta(minutes=15)

    def test_without_a_policy_there_is_no_clock(self, north, owner):
        case = make_case(team=north, owner=owner, now=MONDAY)
        assert case.first_response_due_at is None and case.resolution_due_at is None
        assert not SlaTimer.objects.exists()

    def test_it_lands_on_the_customers_timeline(self, north, owner):
        case = make_case(team=north, owner=owner, subject="Broken hinge")
        event = TimelineEvent.objects.get(kind="case_opened")
        assert event.company_id == case.company_id and event.contact_id == case.contact_id
        assert "Broken hinge" in event.title and event.data["case"] == case.pk

    def test_a_case_needs_a_customer(self, north, owner):
        from django.core.exceptions import ValidationError

        with pytest.raises(ValidationError):
            services.case_create(actor=owner, subject="Nobody", team=north)


class TestFirstResponse:
    def test_an_email_on_the_case_is_the_first_response(self, north, owner):
        policy()
        case = make_case(team=north, owner=owner, now=MONDAY)
        link = services.case_log_activity(
            case=case, actor=owner, type=ActivityType.objects.get(key="email"), subject="We are on it"
        )
        case.refresh_from_db()
        assert link.public and case.first_responded_at is not None and case.status == "open"
        timers = _timers(case)
        assert timers[("first_response", "warning")].state == SlaTimerState.CANCELLED
        assert timers[("first_response", "breach")].state == SlaTimerState.CANCELLED
        assert timers[("resolution", "breach")].state == SlaTimerState.PENDING
        # The activity is on the customer's timeline too.
        assert TimelineEvent.objects.filter(activity=link.activity, company=case.company).exists()

    def test_an_internal_note_is_not_a_response(self, north, owner):
        policy()
        case = make_case(team=north, owner=owner, now=MONDAY)
        services.case_log_activity(case=case, actor=owner, type=ActivityType.objects.get(key="note"), subject="fyi")
        case.refresh_from_db()
        assert case.first_responded_at is None and case.status == "new"
        assert CaseActivity.objects.filter(case=case, public=False).count() == 1

    def test_leaving_new_is_a_first_response(self, north, owner):
        policy()
        case = make_case(team=north, owner=owner, now=MONDAY)
        case = services.case_set_status(case=case, actor=owner, status="open", now=MONDAY + timedelta(minutes=5))
        assert case.first_responded_at == MONDAY + timedelta(minutes=5)


class TestPause:
    def test_waiting_on_the_customer_pauses_and_resuming_shifts_the_due_time(self, north, owner):
        policy(first=60, resolution=480, warning=15)
        case = make_case(team=north, owner=owner, now=MONDAY)
        services.case_set_status(case=case, actor=owner, status="waiting", now=MONDAY + timedelta(hours=2))
        case.refresh_from_db()
        assert case.resolution_seconds_left == 6 * 3600
        assert _timers(case)[("resolution", "breach")].due_at is None
        # Three days later the customer answers: six working hours are left from then.
        back = MONDAY + timedelta(days=3)
        case = services.case_set_status(case=case, actor=owner, status="open", now=back)
        assert case.resolution_due_at == back + timedelta(hours=6)
        timers = _timers(case)
        assert timers[("resolution", "breach")].due_at == back + timedelta(hours=6)
        assert timers[("resolution", "warning")].due_at == back + timedelta(hours=5, minutes=45)
        assert case.resolution_seconds_left is None

    def test_a_paused_timer_is_not_claimed(self, north, owner):
        policy(first=60, resolution=120)
        case = make_case(team=north, owner=owner, now=MONDAY)
        services.case_set_status(case=case, actor=owner, status="waiting", now=MONDAY + timedelta(minutes=1))
        assert services.sla_sweep(now=MONDAY + timedelta(days=30)) == 0

    def test_a_pause_in_business_hours_gives_back_business_time(self, north, owner):
        _office_hours(north)
        policy(first=60, resolution=4 * 60)
        case = make_case(team=north, owner=owner, now=MONDAY)  # 10:00, resolution due 14:00
        services.case_set_status(case=case, actor=owner, status="waiting", now=MONDAY.replace(hour=16))
        case.refresh_from_db()
        assert case.resolution_seconds_left == 0  # already past due: the breach stays
        case2 = make_case(team=north, owner=owner, subject="Second", now=MONDAY)
        services.case_set_status(case=case2, actor=owner, status="waiting", now=MONDAY.replace(hour=12))
        # Friday 16:00: two hours left run into Monday morning.
        friday = datetime(2025, 12, 5, 16, tzinfo=UTC)
        case2 = services.case_set_status(case=case2, actor=owner, status="open", now=friday)
        assert case2.resolution_due_at == datetime(2025, 12, 8, 10, tzinfo=UTC)


class TestSweep:
    def test_warning_goes_to_the_assignee_and_the_escalation_to_the_manager_once(self, north, owner, manager):
        owner.email_reminders = True
        owner.save()
        policy(first=60, resolution=480, warning=15)
        case = make_case(team=north, owner=owner, assignee=owner, now=MONDAY)
        assert services.sla_sweep(now=MONDAY + timedelta(minutes=50)) == 1
        warning = Notification.objects.get(dedupe_key__startswith="sla:")
        assert warning.user == owner and "warning" in warning.text.lower()
        assert len(mail.outbox) == 1 and mail.outbox[0].to == [owner.email]
        case.refresh_from_db()
        assert not case.sla_breached

        assert services.sla_sweep(now=MONDAY + timedelta(minutes=61)) == 1
        escalation = Notification.objects.filter(dedupe_key__startswith="sla:").exclude(pk=warning.pk).get()
        assert escalation.user == manager and "breached" in escalation.text.lower()
        case.refresh_from_db()
        assert case.sla_breached
        assert TimelineEvent.objects.filter(kind="sla_breach", company=case.company).count() == 1

        # Reruns (beat's next ticks) send nothing more.
        assert services.sla_sweep(now=MONDAY + timedelta(minutes=62)) == 0
        assert services.sla_sweep(now=MONDAY + timedelta(minutes=63)) == 0
        assert Notification.objects.filter(dedupe_key__startswith="sla:").count() == 2

    def test_a_stale_claim_is_taken_again_after_the_lease_and_not_doubled(self, north, owner, manager, settings):
        settings.SLA_LEASE_SECONDS = 60
        policy(first=60, warning=15)
        make_case(team=north, owner=owner, assignee=owner, now=MONDAY)
        late = MONDAY + timedelta(minutes=70)
        claimed = services.sla_claim(now=late)  # a worker claims both first-response timers, then dies
        assert len(claimed) == 2
        assert services.sla_sweep(now=late + timedelta(seconds=30)) == 0  # still leased
        assert services.sla_sweep(now=late + timedelta(seconds=61)) == 2
        # The dead worker's redelivery (the broker hands its task on) finds them sent.
        assert [services.sla_deliver(timer_id=pk, now=late) for pk in claimed] == ["sent", "sent"]
        assert Notification.objects.filter(dedupe_key__startswith="sla:").count() == 2

    def test_a_response_after_the_claim_cancels_the_warning(self, north, owner):
        policy(first=60, warning=15)
        case = make_case(team=north, owner=owner, assignee=owner, now=MONDAY)
        claimed = services.sla_claim(now=MONDAY + timedelta(minutes=50))
        services.case_set_status(case=case, actor=owner, status="open", now=MONDAY + timedelta(minutes=51))
        assert [services.sla_deliver(timer_id=pk) for pk in claimed] == ["cancelled"]
        assert not Notification.objects.exists()

    def test_without_an_assignee_the_warning_goes_to_the_managers(self, north, owner, manager):
        policy(first=60, warning=15)
        make_case(team=north, owner=owner, now=MONDAY)
        services.sla_sweep(now=MONDAY + timedelta(minutes=50))
        assert list(Notification.objects.values_list("user", flat=True)) == [manager.pk]

    def test_a_resolved_case_sends_nothing(self, north, owner, manager):
        policy(first=60, resolution=120, warning=15)
        case = make_case(team=north, owner=owner, assignee=owner, now=MONDAY)
        services.case_set_status(case=case, actor=owner, status="resolved", now=MONDAY + timedelta(minutes=10))
        assert services.sla_sweep(now=MONDAY + timedelta(days=1)) == 0
        assert not Notification.objects.filter(dedupe_key__startswith="sla:").exists()

    def test_a_higher_priority_reaims_the_clock_minus_the_time_used(self, north, owner):
        policy(priority="normal", first=240, resolution=480)
        policy(priority="urgent", first=30, resolution=120)
        case = make_case(team=north, owner=owner, now=MONDAY)
        # updated "now" is real time: make the case look 10 minutes old instead.
        real_now = timezone.now()
        case.created_at = real_now - timedelta(minutes=10)
        case.first_response_due_at = real_now + timedelta(minutes=230)
        case.resolution_due_at = real_now + timedelta(minutes=470)
        case.save()
        case = services.case_update(case=case, actor=owner, version=case.version, priority="urgent")
        assert abs((case.first_response_due_at - (real_now + timedelta(minutes=20))).total_seconds()) < 5
        assert abs((case.resolution_due_at - (real_now + timedelta(minutes=110))).total_seconds()) < 5


class TestEditing:
    def test_a_stale_version_conflicts_and_saves_nothing(self, north, owner):
        case = make_case(team=north, owner=owner)
        loaded = case.version
        services.case_update(case=case, actor=owner, version=loaded, subject="First edit")
        with pytest.raises(VersionConflict) as exc:
            services.case_update(case=case, actor=owner, version=loaded, subject="Second edit")
        assert [c.field for c in exc.value.changes] == ["subject"]
        case.refresh_from_db()
        assert case.subject == "First edit"


@pytest.mark.django_db(transaction=True)
def test_two_sweeps_at_once_warn_and_escalate_each_case_once(north, owner, manager):
    policy(first=60, resolution=120, warning=15)
    cases = [make_case(team=north, owner=owner, assignee=owner, subject=f"Case {i}", now=MONDAY) for i in range(25)]
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []

    def sweep() -> None:
        try:
            barrier.wait(timeout=10)
            services.sla_sweep(now=MONDAY + timedelta(hours=3), batch_size=7)
        except BaseException as exc:  # noqa: BLE001 - re-raised in the main thread
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=sweep) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors
    assert SlaTimer.objects.filter(state=SlaTimerState.SENT).count() == 4 * len(cases)
    keys = list(Notification.objects.values_list("dedupe_key", flat=True))
    assert len(keys) == len(set(keys)) == 4 * len(cases)
    # Per case: two warnings to the assignee, two escalations to the manager.
    assert Notification.objects.filter(user=owner).count() == 2 * len(cases)
    assert Notification.objects.filter(user=manager).count() == 2 * len(cases)
