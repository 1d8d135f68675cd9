"""Writes on cases: opening, editing, status changes, the conversation, SLA clocks and
their timers, the beat sweep that warns and escalates, and satisfaction surveys.

SLA delivery guarantees (README, "Service cases") are the reminders' (``activities.services``):

- Due times live in PostgreSQL (``Case.*_due_at`` and one ``SlaTimer`` per target and kind,
  unique). The sweep claims due timers with ``select_for_update(skip_locked=True)``, marking
  them "sending" with a ``claimed_at``; a worker killed after claiming leaves them in
  "sending" until the lease (``SLA_LEASE_SECONDS``) runs out and a later sweep claims them.
- A warning or escalation is never doubled: delivery locks the case, then the timer, checks
  it is still claimed and due, and creates each recipient's notification with
  ``dedupe_key="sla:<timer>:<user>"`` (unique) in the transaction that marks the timer sent.
  A sent timer is never armed again, so each target warns once and escalates once.
- Email follows the in-app notification and is at-least-once, as for reminders.
"""

from __future__ import annotations

import logging
import secrets
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.db import transaction
from django.db.models import Q
from django.template.loader import render_to_string
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from activities.models import ActivityType
from activities.services import activity_create, timeline_record
from contacts.models import Company, Contact, Source
from contacts.services import contact_create
from crm.html import DateText
from crm.i18n import user_locale
from crm.models import Team, User
from crm.services import notification_create, outbox_enqueue
from crm.versioning import bump, lock_versioned
from service.models import (
    RUNNING_STATUSES,
    Case,
    CaseActivity,
    CaseChannel,
    CasePriority,
    CaseStatus,
    CaseWebForm,
    SlaPolicy,
    SlaTarget,
    SlaTimer,
    SlaTimerKind,
    SlaTimerState,
    SurveyToken,
    TeamCalendar,
)
from service.signals import case_changed
from service.sla import BusinessHours

logger = logging.getLogger(__name__)

SLA_BATCH_SIZE = 100
# Activity types that reach the customer: the first one logged by an agent is the first response.
RESPONSE_TYPES = frozenset({"email", "call", "meeting"})


def _lease() -> timedelta:
    return timedelta(seconds=settings.SLA_LEASE_SECONDS)


# --- Calendars and policies -----------------------------------------------------------------


def business_hours_for(team_id: int) -> BusinessHours:
    """The team's calendar with its holidays (no calendar: around the clock)."""
    calendar = TeamCalendar.objects.filter(team_id=team_id).first()
    if calendar is None or calendar.around_the_clock:
        return BusinessHours.around_the_clock()
    try:
        tz = ZoneInfo(calendar.time_zone)
    except (ZoneInfoNotFoundError, ValueError):
        tz = ZoneInfo("UTC")
    return BusinessHours(
        tz=tz,
        weekdays=frozenset(int(d) for d in calendar.weekdays),
        start=calendar.start,
        end=calendar.end,
        holidays=frozenset(calendar.holidays.values_list("day", flat=True)),
    )


def policy_for(*, team_id: int, priority: str) -> SlaPolicy | None:
    """The team's policy for ``priority``, else the one for every queue, else none."""
    policies = SlaPolicy.objects.filter(Q(team_id=team_id) | Q(team__isnull=True), priority=priority)
    return min(policies, key=lambda p: p.team_id is None, default=None)


# --- The SLA clock --------------------------------------------------------------------------


@dataclass(frozen=True)
class _Clock:
    hours: BusinessHours
    policy: SlaPolicy | None


def _clock(case: Case) -> _Clock:
    return _Clock(
        hours=business_hours_for(case.team_id), policy=policy_for(team_id=case.team_id, priority=case.priority)
    )


def _arm(case: Case, target: str, *, due: datetime | None, warning: datetime | None) -> None:
    """Point the target's two timers at their times (``None``: paused). A timer already sent
    stays sent: each target warns once and escalates once, whatever happens later."""
    for kind, at in ((SlaTimerKind.WARNING, warning), (SlaTimerKind.BREACH, due)):
        timer, created = SlaTimer.objects.select_for_update().get_or_create(
            case=case, target=target, kind=kind, defaults={"due_at": at}
        )
        if not created and timer.state != SlaTimerState.SENT:
            timer.due_at = at
            timer.state = SlaTimerState.PENDING
            timer.claimed_at = None
            timer.save(update_fields=["due_at", "state", "claimed_at"])


def _cancel(case: Case, target: str) -> None:
    SlaTimer.objects.filter(case=case, target=target, state__in=[SlaTimerState.PENDING, SlaTimerState.SENDING]).update(
        state=SlaTimerState.CANCELLED, claimed_at=None
    )


def _schedule(case: Case, clock: _Clock, *, start: datetime, seconds: dict[str, float]) -> None:
    """Due times ``seconds[target]`` business seconds after ``start``, and their timers."""
    if clock.policy is None:
        return
    warn = clock.policy.warning_minutes * 60
    for target, left in seconds.items():
        due = clock.hours.add(start, left)
        warning = clock.hours.add(start, max(left - warn, 0))
        setattr(case, f"{target}_due_at", due)
        _arm(case, target, due=due, warning=warning)


def _budget(clock: _Clock, target: str) -> float:
    if clock.policy is None:
        return 0.0
    minutes = (
        clock.policy.first_response_minutes if target == SlaTarget.FIRST_RESPONSE else clock.policy.resolution_minutes
    )
    return minutes * 60.0


def _open_targets(case: Case) -> list[str]:
    targets = []
    if case.first_responded_at is None:
        targets.append(SlaTarget.FIRST_RESPONSE)
    if case.resolved_at is None:
        targets.append(SlaTarget.RESOLUTION)
    return targets


def _start_clock(case: Case, now: datetime) -> None:
    """A new case: both targets' full budgets from now."""
    clock = _clock(case)
    if clock.policy is None:
        return
    _schedule(case, clock, start=now, seconds={t: _budget(clock, t) for t in _open_targets(case)})


def _stop_clock(case: Case, now: datetime) -> None:
    """Waiting on the customer (or resolved): keep what the resolution target had left."""
    if case.resolution_due_at is not None and case.resolution_seconds_left is None:
        hours = business_hours_for(case.team_id)
        case.resolution_seconds_left = int(hours.seconds_between(now, case.resolution_due_at))
        if case.resolution_due_at <= now:
            case.resolution_seconds_left = 0
    SlaTimer.objects.filter(
        case=case, target=SlaTarget.RESOLUTION, state__in=[SlaTimerState.PENDING, SlaTimerState.SENDING]
    ).update(due_at=None, state=SlaTimerState.PENDING, claimed_at=None)


def _resume_clock(case: Case, now: datetime) -> None:
    """Worked on again: the resolution target gets back what it had left (a breach stays a breach)."""
    if case.resolution_seconds_left is None:
        return
    clock = _clock(case)
    left = float(case.resolution_seconds_left)
    case.resolution_seconds_left = None
    if clock.policy is None:
        return
    if left <= 0:
        # Breached before the pause: the breach time stays in the past and fires (once).
        _arm(case, SlaTarget.RESOLUTION, due=case.resolution_due_at, warning=case.resolution_due_at)
        return
    _schedule(case, clock, start=now, seconds={SlaTarget.RESOLUTION: left})


def _used(case: Case, clock: _Clock, now: datetime) -> dict[str, float]:
    """Business seconds each running target has used of its budget under ``clock``."""
    used = {}
    for target in _open_targets(case):
        due = getattr(case, f"{target}_due_at")
        if clock.policy is None or due is None:
            continue
        if target == SlaTarget.RESOLUTION and case.resolution_seconds_left is not None:
            left = float(case.resolution_seconds_left)
        else:
            left = clock.hours.seconds_between(now, due) if due > now else 0.0
        used[target] = max(_budget(clock, target) - left, 0.0)
    return used


def _rescope(case: Case, used: dict[str, float], now: datetime) -> None:
    """Priority or queue changed: the new policy's budgets, less the business time used so far."""
    clock = _clock(case)
    if clock.policy is None:
        return
    left = {t: max(_budget(clock, t) - used.get(t, 0.0), 0.0) for t in _open_targets(case)}
    if not case.clock_running and SlaTarget.RESOLUTION in left:
        case.resolution_seconds_left = int(left.pop(SlaTarget.RESOLUTION))
    _schedule(case, clock, start=now, seconds=left)


def _changed(case: Case, *, previous_company_id: int | None = None) -> None:
    """Tell the reports (rollups, customer value) that ``case`` changed, in this transaction."""
    company_ids = sorted({pk for pk in (case.company_id, previous_company_id) if pk is not None})
    case_changed.send(sender=Case, case=case, company_ids=company_ids)


def _mark_first_response(case: Case, now: datetime) -> None:
    if case.first_responded_at is None:
        case.first_responded_at = now
        _cancel(case, SlaTarget.FIRST_RESPONSE)


# --- Cases ----------------------------------------------------------------------------------


def _customer_check(company: Company | None, contact: Contact | None) -> None:
    if company is None and contact is None:
        raise ValidationError(_("A case needs a customer: a company, a contact or both."))


def _timeline(case: Case, *, kind: str, title: str, actor: User | None, body: str = "", data: dict | None = None):
    if case.company_id is None and case.contact_id is None:
        return None
    return timeline_record(
        kind=kind,
        title=title,
        actor=actor,
        company=case.company,
        contact=case.contact,
        body=body,
        data={"case": case.pk, **(data or {})},
    )


@transaction.atomic
def case_create(
    *,
    actor: User | None,
    subject: str,
    team: Team,
    company: Company | None = None,
    contact: Contact | None = None,
    description: str = "",
    priority: str = CasePriority.NORMAL,
    channel: str = CaseChannel.PHONE,
    assignee: User | None = None,
    time_spent_minutes: int = 0,
    now: datetime | None = None,
    custom: dict | None = None,
) -> Case:
    """Open a case in ``team``'s queue; its SLA clock starts now."""
    _customer_check(company, contact)
    if company is None and contact is not None:
        company = contact.company
    now = now or timezone.now()
    case = Case.objects.create(
        subject=subject,
        description=description,
        company=company,
        contact=contact,
        priority=priority,
        channel=channel,
        team=team,
        assignee=assignee,
        time_spent_minutes=time_spent_minutes or 0,
        created_by=actor,
        created_at=now,
        custom=custom or {},
    )
    _start_clock(case, now)
    case.save(update_fields=["first_response_due_at", "resolution_due_at"])
    _changed(case)
    _timeline(
        case,
        kind="case_opened",
        title=_("Case opened: %(subject)s") % {"subject": subject},
        actor=actor,
        data={"priority": priority, "channel": channel},
    )
    return case


CASE_EDIT_FIELDS = (
    *("subject", "description", "company", "contact", "priority", "channel", "team", "assignee"),
    "time_spent_minutes",
    "custom",
)


@transaction.atomic
def case_update(*, case: Case, actor: User, version: int | None = None, **fields: object) -> Case:
    """Change a case's fields (versioned: a stale ``version`` raises ``VersionConflict``).
    A new priority or queue re-aims the SLA: the new budgets less the time used."""
    unknown = set(fields) - set(CASE_EDIT_FIELDS)
    if unknown:
        raise TypeError(f"case_update() got unknown fields {sorted(unknown)}")
    case = lock_versioned(case, version=version, fields=list(fields), submitted=fields)
    _customer_check(fields.get("company", case.company), fields.get("contact", case.contact))
    rescope = any(
        name in fields and getattr(case, f"{name}_id" if name == "team" else name) != getattr(value, "pk", value)
        for name, value in fields.items()
        if name in ("priority", "team")
    )
    now = timezone.now()
    used = _used(case, _clock(case), now) if rescope else {}
    previous_company_id = case.company_id
    for name, value in fields.items():
        setattr(case, name, value)
    if rescope:
        _rescope(case, used, now)
    bump(case)
    case.save()
    _changed(case, previous_company_id=previous_company_id)
    return case


@transaction.atomic
def case_assign(*, case: Case, actor: User, assignee: User | None) -> Case:
    case = lock_versioned(case, version=None)
    if case.assignee_id != (assignee.pk if assignee else None):
        case.assignee = assignee
        bump(case)
        case.save(update_fields=["assignee", "version", "updated_at"])
    return case


@transaction.atomic
def case_set_status(*, case: Case, actor: User | None, status: str, now: datetime | None = None) -> Case:
    """Move a case to ``status``: leaving "new" is a first response; waiting on the customer
    stops the resolution clock and working on it again restarts it with the time it had
    left; resolving cancels the timers and sends the satisfaction survey."""
    if status not in CaseStatus.values:
        raise ValidationError(_("Unknown status."))
    case = lock_versioned(case, version=None)
    if case.status == status:
        return case
    now = now or timezone.now()
    old = case.status
    if old == CaseStatus.NEW:
        _mark_first_response(case, now)
    if old in RUNNING_STATUSES and status not in RUNNING_STATUSES:
        _stop_clock(case, now)
    case.status = status
    if status in RUNNING_STATUSES and old not in RUNNING_STATUSES:
        if old in (CaseStatus.RESOLVED, CaseStatus.CLOSED):
            case.resolved_at = None
            case.closed_at = None
        _resume_clock(case, now)
    send_survey = False
    if status == CaseStatus.RESOLVED:
        case.resolved_at = case.resolved_at or now
        _cancel(case, SlaTarget.RESOLUTION)
        send_survey = old != CaseStatus.CLOSED
    if status == CaseStatus.CLOSED:
        case.resolved_at = case.resolved_at or now
        case.closed_at = now
        _cancel(case, SlaTarget.RESOLUTION)
    bump(case)
    case.save()
    _changed(case)
    if status == CaseStatus.RESOLVED:
        _timeline(
            case, kind="case_resolved", title=_("Case resolved: %(subject)s") % {"subject": case.subject}, actor=actor
        )
    if send_survey:
        # After the commit, through the outbox: a broker that is down delays the email, never
        # loses it, and a rolled-back resolve sends nothing.
        outbox_enqueue(
            task="service.tasks.send_survey", args=[case.pk], kwargs={"resolved_at": case.resolved_at.isoformat()}
        )
    return case


def case_change_record(*, case: Case, actor: User | None, field: str, old: str, new: str) -> None:
    """The history entry of a change made to many cases at once (``service.bulk_actions``):
    cases keep no field history table, so each one's change and its undo go on its
    customer's timeline (``case_changed``)."""
    _timeline(
        case,
        kind="case_changed",
        title=_("Case #%(id)s %(field)s: %(old)s → %(new)s")
        % {"id": case.pk, "field": field, "old": old or "—", "new": new or "—"},
        actor=actor,
        data={"field": field},
    )


@transaction.atomic
def case_log_activity(
    *, case: Case, actor: User, type: ActivityType, subject: str, body: str = "", now: datetime | None = None
) -> CaseActivity:
    """Add a note, email or call to the case's conversation (and the customer's timeline).
    An email, call or meeting is a reply to the customer: the first one is the first response."""
    case = lock_versioned(case, version=None)
    now = now or timezone.now()
    activity = activity_create(
        actor=actor,
        type=type,
        subject=subject,
        body=body,
        company=case.company,
        contact=case.contact,
        done=True,
    )
    public = type.key in RESPONSE_TYPES
    link = CaseActivity.objects.create(case=case, activity=activity, public=public, created_at=now)
    if public and case.first_responded_at is None:
        _mark_first_response(case, now)
        if case.status == CaseStatus.NEW:
            case.status = CaseStatus.OPEN
        bump(case)
        case.save()
        _changed(case)
    return link


# --- The SLA sweep --------------------------------------------------------------------------


def sla_claim(*, now: datetime | None = None, batch_size: int = SLA_BATCH_SIZE) -> list[int]:
    """Claim up to ``batch_size`` due timers (short transaction); rows another sweep holds are
    skipped, rows stuck in "sending" past the lease are claimed again."""
    now = now or timezone.now()
    due = Q(state=SlaTimerState.PENDING, due_at__lte=now)
    stale = Q(state=SlaTimerState.SENDING, claimed_at__lt=now - _lease())
    with transaction.atomic():
        ids = list(
            SlaTimer.objects.select_for_update(skip_locked=True)
            .filter(due | stale)
            .order_by("due_at", "id")
            .values_list("id", flat=True)[:batch_size]
        )
        if ids:
            SlaTimer.objects.filter(pk__in=ids).update(state=SlaTimerState.SENDING, claimed_at=now)
    return ids


def _recipients(case: Case, kind: str) -> list[User]:
    """A warning goes to the assignee, an escalation to the queue's managers; either falls
    back to the other when nobody is there."""
    managers = list(case.team.managers.filter(is_active=True).order_by("pk"))
    assignee = [case.assignee] if case.assignee is not None and case.assignee.is_active else []
    if kind == SlaTimerKind.WARNING:
        return assignee or managers
    return managers or assignee


def _sla_text(timer: SlaTimer, case: Case, user: User) -> str:
    with user_locale(user):
        values = {"number": case.pk, "subject": case.subject, "target": timer.get_target_display()}
        if timer.kind == SlaTimerKind.WARNING:
            due = getattr(case, f"{timer.target}_due_at")
            values["when"] = DateText().day_time(timezone.localtime(due)) if due else ""
            return _("SLA warning: case #%(number)s “%(subject)s”, %(target)s due %(when)s") % values
        return _("SLA breached: case #%(number)s “%(subject)s”, %(target)s overdue") % values


def _send_sla_email(timer: SlaTimer, case: Case, users: list[User]) -> None:
    url = settings.SITE_URL + case.get_absolute_url()
    for user in users:
        if not (user.email_reminders and user.email and user.is_active):
            continue
        with user_locale(user):
            subject = _sla_text(timer, case, user)
            message = render_to_string("service/email/sla.txt", {"case": case, "timer": timer, "url": url})
        send_mail(subject=subject, message=message, from_email=None, recipient_list=[user.email])


def sla_deliver(*, timer_id: int, now: datetime | None = None) -> str:
    """Deliver one claimed timer; returns its resulting state. Locks the case, then the timer
    (the order every case write takes), so a status change either comes first and is seen
    here, or waits until the warning or escalation is recorded."""
    now = now or timezone.now()
    with transaction.atomic():
        case_id = SlaTimer.objects.filter(pk=timer_id).values_list("case_id", flat=True).first()
        if case_id is None:
            return "missing"
        case = Case.objects.select_for_update(of=("self",)).select_related("team", "assignee").get(pk=case_id)
        timer = SlaTimer.objects.select_for_update().get(pk=timer_id)
        if timer.state != SlaTimerState.SENDING:
            return timer.state
        met = (
            case.first_responded_at is not None
            if timer.target == SlaTarget.FIRST_RESPONSE
            else case.resolved_at is not None
        )
        if met:
            timer.state, timer.claimed_at = SlaTimerState.CANCELLED, None
            timer.save(update_fields=["state", "claimed_at"])
            return timer.state
        if timer.due_at is None or timer.due_at > now:
            # Paused or moved after the claim: not at this time.
            timer.state, timer.claimed_at = SlaTimerState.PENDING, None
            timer.save(update_fields=["state", "claimed_at"])
            return timer.state
        users = _recipients(case, timer.kind)
        if timer.notified_at is None:
            for user in users:
                notification_create(
                    user=user,
                    text=_sla_text(timer, case, user),
                    link=case.get_absolute_url(),
                    dedupe_key=timer.dedupe_key(user.pk),
                )
            timer.notified_at = now
            if timer.kind == SlaTimerKind.BREACH:
                if not case.sla_breached:
                    Case.objects.filter(pk=case.pk).update(sla_breached=True)
                    case.sla_breached = True
                _changed(case)
                with translation.override(settings.LANGUAGE_CODE):
                    _timeline(
                        case,
                        kind="sla_breach",
                        title=_("SLA breached (%(target)s): %(subject)s")
                        % {"target": timer.get_target_display(), "subject": case.subject},
                        actor=None,
                    )
        if timer.email_sent_at is None:
            try:
                _send_sla_email(timer, case, users)
            except SoftTimeLimitExceeded:
                raise
            except Exception:  # the in-app notification stands; email is best effort
                logger.warning("SLA timer %s: email failed", timer.pk, exc_info=True)
            timer.email_sent_at = timezone.now()
        timer.state = SlaTimerState.SENT
        timer.sent_at = timezone.now()
        timer.save()
        return timer.state


def sla_sweep(
    *, now: datetime | None = None, batch_size: int = SLA_BATCH_SIZE, max_batches: int = 20, time_budget: float = 50.0
) -> int:
    """Claim due timers batch by batch and deliver them; returns how many were claimed."""
    started = time.monotonic()
    total = 0
    for _batch in range(max_batches):
        ids = sla_claim(now=now, batch_size=batch_size)
        for timer_id in ids:
            sla_deliver(timer_id=timer_id, now=now)
        total += len(ids)
        if len(ids) < batch_size or time.monotonic() - started > time_budget:
            break
    return total


# --- Satisfaction ---------------------------------------------------------------------------


def survey_issue(*, case: Case, email: str = "", now: datetime | None = None) -> str:
    """A new one-use survey token for ``case``; returns the raw token (only its hash is stored)."""
    now = now or timezone.now()
    token = secrets.token_urlsafe(32)
    SurveyToken.objects.create(
        case=case,
        token_hash=SurveyToken.hash(token),
        email=email,
        created_at=now,
        expires_at=now + timedelta(days=settings.SURVEY_TTL_DAYS),
    )
    return token


def survey_url(token: str) -> str:
    from django.urls import reverse

    return settings.SITE_URL + reverse("service:survey", args=[token])


def survey_send(*, case_id: int, resolved_at: str | None = None) -> str | None:
    """Email the case's contact a one-time link to rate the service (the outbox task that
    resolving a case enqueues). Returns the token, or ``None`` when there is nothing to send:
    no email address or *do not email*, the case reopened or resolved again since
    (``resolved_at`` differs), or this resolution's survey already went out.

    At-least-once, like reminder emails: a worker that dies between the mail server's answer
    and the commit leaves no token behind, and the retry sends a new link."""
    with transaction.atomic():
        case = Case.objects.select_for_update(of=("self",)).select_related("contact").filter(pk=case_id).first()
        if case is None or case.status != CaseStatus.RESOLVED or case.resolved_at is None:
            return None
        if resolved_at is not None and case.resolved_at.isoformat() != resolved_at:
            return None
        if SurveyToken.objects.filter(case=case, created_at__gte=case.resolved_at).exists():
            return None
        contact = case.contact
        if contact is None or not contact.email or contact.do_not_email:
            return None
        token = survey_issue(case=case, email=contact.email)
        url = survey_url(token)
        with translation.override(settings.LANGUAGE_CODE):
            subject = _("How did we do? Case #%(number)s: %(subject)s") % {"number": case.pk, "subject": case.subject}
            message = render_to_string(
                "service/email/survey.txt", {"case": case, "url": url, "days": settings.SURVEY_TTL_DAYS}
            )
        send_mail(subject=subject, message=message, from_email=None, recipient_list=[contact.email])
        return token


class SurveyGone(Exception):
    """Unknown, used or expired token."""


def survey_lookup(*, token: str, now: datetime | None = None) -> SurveyToken:
    now = now or timezone.now()
    row = SurveyToken.objects.select_related("case").filter(token_hash=SurveyToken.hash(token)).first()
    if row is None or row.used_at is not None or row.expires_at <= now:
        raise SurveyGone
    return row


@transaction.atomic
def survey_answer(*, token: str, score: int, comment: str = "", now: datetime | None = None) -> Case:
    """Record the customer's rating once: the token row is locked and marked used with it."""
    if not 1 <= score <= 5:
        raise ValidationError(_("Choose a score from 1 to 5."))
    now = now or timezone.now()
    row = SurveyToken.objects.select_for_update().filter(token_hash=SurveyToken.hash(token)).first()
    if row is None or row.used_at is not None or row.expires_at <= now:
        raise SurveyGone
    row.used_at = now
    row.save(update_fields=["used_at"])
    case = Case.objects.select_for_update().get(pk=row.case_id)
    case.csat_score = score
    case.csat_comment = comment
    case.csat_at = now
    bump(case)
    case.save(update_fields=["csat_score", "csat_comment", "csat_at", "version", "updated_at"])
    _changed(case)
    with translation.override(settings.LANGUAGE_CODE):
        _timeline(
            case,
            kind="case_csat",
            title=_("Satisfaction %(score)s/5: %(subject)s") % {"score": score, "subject": case.subject},
            actor=None,
            body=comment,
            data={"score": score},
        )
    return case


# --- Public web form ------------------------------------------------------------------------


@transaction.atomic
def case_create_from_web(*, web_form: CaseWebForm, name: str, email: str, subject: str, description: str = "") -> Case:
    """A case from the public form: the sender becomes (or is found as) a contact by email,
    owned by the queue's first manager (else member), and the case lands unassigned in the
    queue with the form's priority and the clock started."""
    team = web_form.team
    contact = Contact.objects.filter(email__iexact=email).select_related("company").order_by("id").first()
    if contact is None:
        owner = team.managers.filter(is_active=True).order_by("pk").first() or (
            team.members.filter(is_active=True).order_by("pk").first()
        )
        if owner is None:
            raise ValidationError(_("This form is not accepting requests."))
        first, _sep, last = name.strip().rpartition(" ")
        contact = contact_create(
            actor=None,
            owner=owner,
            first_name=first[:100],
            last_name=(last or name)[:100],
            email=email.lower(),
            source=Source.WEBSITE,
        )
    return case_create(
        actor=None,
        subject=subject,
        description=description,
        team=team,
        company=contact.company,
        contact=contact,
        priority=web_form.priority,
        channel=CaseChannel.WEB,
    )
