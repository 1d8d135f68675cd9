"""Writes of the campaigns app: segments, campaigns, the frozen member list, call tasks,
responses (by hand and from CSV), deals from responses and web leads."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from types import SimpleNamespace
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection, transaction
from django.db.models import Count, F
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from activities.models import Activity, ActivityType, TimelineEvent
from activities.selectors import day_bounds
from activities.services import activity_create, timeline_record
from campaigns.models import (
    Campaign,
    CampaignChannel,
    CampaignMember,
    CampaignStatus,
    ContactAttribution,
    DealAttribution,
    LeadForm,
    LeadRouting,
    MemberStatus,
    Segment,
)
from campaigns.segments import segment_queryset
from contacts.duplicates import contact_import_matches
from contacts.models import Contact, Source, Tag
from contacts.normalize import normalize_phone
from contacts.services import contact_create
from crm.models import Team, User
from crm.params import id_or_none
from crm.services import outbox_enqueue
from deals.models import Deal, Pipeline, Stage
from deals.services import deal_create

# Call tasks are written in batches of this many rows (one INSERT each).
BATCH = 2000
# A call campaign this large gets its tasks from a worker after the start commits (outbox);
# a smaller one at once, in the request that starts it.
CALL_TASKS_INLINE = 2000


# --- Segments -----------------------------------------------------------------------------


def segment_save(*, segment: Segment, actor: User, tags: Iterable[Tag]) -> Segment:
    """Create or change a saved segment (``segment.owner`` is set by the caller for new ones)."""
    if segment.pk and not actor.can_edit_owner(segment.owner_id):
        raise PermissionDenied
    with transaction.atomic():
        segment.save()
        segment.tags.set(list(tags))
    return segment


# --- Campaigns ----------------------------------------------------------------------------


def campaign_create(*, campaign: Campaign, actor: User) -> Campaign:
    campaign.owner = campaign.owner if campaign.owner_id else actor
    campaign.version = 1
    campaign.save()
    return campaign


def campaign_update(*, campaign: Campaign, actor: User, version: int | None, data: dict[str, Any]) -> Campaign:
    """Change a campaign's fields; ``version`` is the one the form read (optimistic lock).
    A started campaign keeps its channel and segment: its list is frozen."""
    if not actor.can_edit_owner(campaign.owner_id):
        raise PermissionDenied
    with transaction.atomic():
        current = Campaign.objects.select_for_update().get(pk=campaign.pk)
        if version is not None and current.version != version:
            raise ValidationError(
                _("Someone changed this campaign since you opened it; reload the page and try again.")
            )
        frozen = {"channel", "segment"} if current.status != CampaignStatus.DRAFT else set()
        for name, value in data.items():
            if name not in frozen:
                setattr(current, name, value)
        current.version += 1
        current.full_clean(exclude=["owner", "segment", "team"])
        current.save()
    return current


@dataclass
class FreezeResult:
    members: int
    excluded_consent: int
    excluded_unreachable: int


def _consent_and_address(channel: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """(consent exclusion, unreachable exclusion) filters for a channel."""
    if channel == CampaignChannel.EMAIL:
        return {"do_not_email": True}, {"email": ""}
    if channel == CampaignChannel.CALL:
        return {"do_not_call": True}, {"phone": "", "mobile": ""}
    return {}, {}


def campaign_start(*, campaign: Campaign, actor: User) -> Campaign:
    """Freeze the target list: every contact the segment matches for the campaign's owner
    becomes a member, except those whose consent forbids this channel (do not email / do not
    call) or who have no address for it; both exclusions are counted on the campaign.
    Members become first-touch contacts of this campaign unless an earlier one touched them.
    A call campaign then gets its call tasks. Starting twice is refused."""
    if not actor.can_edit_owner(campaign.owner_id):
        raise PermissionDenied
    if campaign.segment_id is None:
        raise ValidationError(_("Choose a target segment before starting the campaign."))
    now = timezone.now()
    with transaction.atomic():
        campaign = (
            Campaign.objects.select_for_update(of=("self",)).select_related("owner", "segment").get(pk=campaign.pk)
        )
        if campaign.status != CampaignStatus.DRAFT:
            raise ValidationError(_("This campaign has already started."))
        matched = segment_queryset(campaign.segment, campaign.owner).order_by()
        consent, unreachable = _consent_and_address(campaign.channel)
        excluded_consent = matched.filter(**consent).count() if consent else 0
        eligible = matched.exclude(**consent) if consent else matched
        excluded_unreachable = eligible.filter(**unreachable).count() if unreachable else 0
        if unreachable:
            eligible = eligible.exclude(**unreachable)
        members = _insert_members(campaign, eligible, now)
        campaign.status = CampaignStatus.RUNNING
        campaign.started_at = now
        if campaign.starts_on is None:
            campaign.starts_on = timezone.localdate(now)
        campaign.members_count = members
        campaign.excluded_consent = excluded_consent
        campaign.excluded_unreachable = excluded_unreachable
        campaign.version += 1
        campaign.save()
        campaign_recount(campaign=campaign)
        in_background = campaign.channel == CampaignChannel.CALL and members > CALL_TASKS_INLINE
        if in_background:
            outbox_enqueue(task="campaigns.tasks.create_call_tasks", args=[campaign.pk, actor.pk])
    if campaign.channel == CampaignChannel.CALL and not in_background:
        campaign_create_call_tasks(campaign=campaign, actor=actor)
        campaign.refresh_from_db()
    return campaign


_MEMBERS_INSERT = """
INSERT INTO campaigns_campaignmember (campaign_id, contact_id, owner_id, status, note, consent_text, created_at)
SELECT %s, eligible.id, eligible.owner_id, %s, '', '', %s FROM ({eligible}) AS eligible (id, owner_id)
ON CONFLICT DO NOTHING
"""


def _insert_members(campaign: Campaign, eligible: Any, now: dt.datetime) -> int:
    """Copy the eligible contacts into the member list, and make this campaign the first
    touch of those without one, each in one INSERT … SELECT: a list of half a million
    contacts never passes through Python."""
    select_sql, select_params = eligible.order_by().values("pk", "owner_id").query.sql_with_params()
    with connection.cursor() as cursor:
        # The subquery is the ORM's own SQL for the segment; every value is a parameter.
        cursor.execute(
            _MEMBERS_INSERT.replace("{eligible}", select_sql), [campaign.pk, MemberStatus.PENDING, now, *select_params]
        )
        members = cursor.rowcount
        cursor.execute(
            "INSERT INTO campaigns_contactattribution (contact_id, campaign_id, created_at)"
            " SELECT contact_id, campaign_id, created_at FROM campaigns_campaignmember WHERE campaign_id = %s"
            " ON CONFLICT (contact_id) DO NOTHING",
            [campaign.pk],
        )
    return members


def campaign_recount(*, campaign: Campaign) -> dict[str, int]:
    """Store the members per response status on the campaign (one index-only count)."""
    counts = dict(
        CampaignMember.objects.filter(campaign=campaign)
        .order_by()
        .values_list("status")
        .annotate(n=Count("id"))
        .values_list("status", "n")
    )
    Campaign.objects.filter(pk=campaign.pk).update(status_counts=counts)
    campaign.status_counts = counts
    return counts


def campaign_finish(*, campaign: Campaign, actor: User) -> Campaign:
    if not actor.can_edit_owner(campaign.owner_id):
        raise PermissionDenied
    updated = Campaign.objects.filter(pk=campaign.pk, status=CampaignStatus.RUNNING).update(
        status=CampaignStatus.FINISHED, ends_on=timezone.localdate(), version=F("version") + 1
    )
    if not updated:
        raise ValidationError(_("Only a running campaign can be finished."))
    campaign.refresh_from_db()
    return campaign


def _task_due(campaign: Campaign, now: dt.datetime) -> dt.datetime:
    """Within the next two hours (still today), or at 9:00 on the campaign's first day if
    that is later: the tasks sit in My day's "Today" ahead of the day's open-ended ones."""
    start, tomorrow = day_bounds(now)
    if campaign.starts_on and campaign.starts_on > start.date():
        day = dt.datetime.combine(campaign.starts_on, dt.time(9, 0))
        return timezone.make_aware(day)
    return min(now + dt.timedelta(hours=2), tomorrow - dt.timedelta(minutes=1))


def campaign_create_call_tasks(*, campaign: Campaign, actor: User) -> int:
    """One open task per member, for the member's owner (it shows in their My day).

    Idempotent: the campaign row is locked while tasks are made, only members without a task
    get one, and ``CampaignMember.task`` is unique — running it again creates nothing."""
    if campaign.channel != CampaignChannel.CALL:
        raise ValidationError(_("Only a call campaign creates call tasks."))
    task_type = ActivityType.objects.get(key="task")
    now = timezone.now()
    due = _task_due(campaign, now)
    created = 0
    with transaction.atomic():
        campaign = Campaign.objects.select_for_update().get(pk=campaign.pk)
        if campaign.status == CampaignStatus.DRAFT:
            raise ValidationError(_("Start the campaign first."))
        # Each task reads in its owner's language ("Звонок: …" for a Russian-speaking rep).
        languages: dict[int, str] = {}
        subjects: dict[str, str] = {}

        def subject_for(owner_id: int) -> str:
            if owner_id not in languages:
                languages[owner_id] = User.objects.filter(pk=owner_id).values_list("language", flat=True).first() or ""
            language = languages[owner_id] or settings.LANGUAGE_CODE
            if language not in subjects:
                with translation.override(language):
                    subjects[language] = (_("Call: %(campaign)s") % {"campaign": campaign.name})[:200]
            return subjects[language]

        pending = (
            CampaignMember.objects.filter(campaign=campaign, task__isnull=True)
            .select_related("contact")
            .only("pk", "owner_id", "contact__id", "contact__company_id")
            .order_by("pk")
        )
        while True:
            members = list(pending[:BATCH])
            if not members:
                break
            tasks = [
                Activity(
                    type=task_type,
                    subject=subject_for(member.owner_id),
                    body=_("Record the response: %(url)s") % {"url": reverse("campaigns:member", args=[member.pk])},
                    owner_id=member.owner_id,
                    created_by=actor,
                    contact_id=member.contact_id,
                    company_id=member.contact.company_id,
                    due_at=due,
                )
                for member in members
            ]
            Activity.objects.bulk_create(tasks, batch_size=BATCH)
            TimelineEvent.objects.bulk_create(
                [
                    TimelineEvent(
                        kind="activity",
                        title=task.subject,
                        occurred_at=due,
                        actor=actor,
                        company_id=task.company_id,
                        contact_id=task.contact_id,
                        activity=task,
                    )
                    for task in tasks
                ],
                batch_size=BATCH,
            )
            for member, task in zip(members, tasks, strict=True):
                member.task = task
            CampaignMember.objects.bulk_update(members, ["task"], batch_size=BATCH)
            created += len(members)
        if created:
            Campaign.objects.filter(pk=campaign.pk).update(tasks_created=F("tasks_created") + created)
    return created


# --- Responses ----------------------------------------------------------------------------


def member_can_edit(user: User, member: CampaignMember) -> bool:
    """The member's owner (who calls them), their managers, the campaign's editors, admins."""
    return user.can_edit_owner(member.owner_id) or user.can_edit_owner(member.campaign.owner_id)


def member_set_status(*, member: CampaignMember, actor: User, status: str, note: str = "") -> CampaignMember:
    """Record a member's response; the recount keeps the campaign page's figures current.
    Marking the response also completes the member's call task."""
    if status not in MemberStatus.values:
        raise ValidationError(_("Unknown response status."))
    if not member_can_edit(actor, member):
        raise PermissionDenied
    now = timezone.now()
    with transaction.atomic():
        CampaignMember.objects.filter(pk=member.pk).update(
            status=status, responded_at=now if status != MemberStatus.PENDING else None, note=note[:300]
        )
        member.refresh_from_db()
        if member.task_id and status != MemberStatus.PENDING:
            Activity.objects.filter(pk=member.task_id, done_at__isnull=True).update(
                done_at=now, outcome=MemberStatus(status).label[:200]
            )
        campaign_recount(campaign=member.campaign)
        timeline_record(
            kind="campaign_response",
            title=_("%(campaign)s: %(status)s")
            % {"campaign": member.campaign.name, "status": member.get_status_display()},
            actor=actor,
            contact=member.contact,
            body=note,
        )
    return member


@dataclass
class ResponseImport:
    updated: int = 0
    errors: list[tuple[int, str]] = field(default_factory=list)


# Column names a mailing tool's export may use, and the status words it may write.
_ID_COLUMNS = ("member_id", "member", "id")
_STATUS_WORDS = {
    **{status.value: status.value for status in MemberStatus},
    **{str(status.label).lower(): status.value for status in MemberStatus},
    "delivered": MemberStatus.SENT,
    "opened": MemberStatus.SENT,
    "clicked": MemberStatus.RESPONDED,
    "replied": MemberStatus.RESPONDED,
    "meeting": MemberStatus.MEETING,
    "unsubscribe": MemberStatus.UNSUBSCRIBED,
    "bounce": MemberStatus.BOUNCED,
}


def responses_import(*, campaign: Campaign, actor: User, rows: Iterable[tuple[int, dict[str, str]]]) -> ResponseImport:
    """Apply a mailing tool's response CSV (already read: line number and a dict per row,
    keys lower case).

    A row names its member by ``member_id`` (as exported) or by ``email``; unknown members,
    members of another campaign and unknown statuses are reported per row (line numbers
    are the file's) and change nothing; the valid rows are applied together."""
    if not actor.can_edit_owner(campaign.owner_id):
        raise PermissionDenied
    result = ResponseImport()
    wanted: list[tuple[int, str, str, str]] = []  # line, id, email, status
    for line, row in rows:
        raw_id = next((row[c].strip() for c in _ID_COLUMNS if row.get(c)), "")
        email = (row.get("email") or "").strip().lower()
        status = _STATUS_WORDS.get((row.get("status") or "").strip().lower())
        if status is None:
            result.errors.append((line, _("Unknown status “%(value)s”.") % {"value": (row.get("status") or "")[:40]}))
            continue
        member_id = id_or_none(raw_id) if raw_id else None
        if raw_id and member_id is None:
            result.errors.append((line, _("“%(value)s” is not a member id.") % {"value": raw_id[:40]}))
            continue
        if not raw_id and not email:
            result.errors.append((line, _("The row names no member (member_id or email).")))
            continue
        wanted.append((line, member_id, email, status))
    ids = {member_id for _line, member_id, _email, _status in wanted if member_id}
    emails = {email for _line, member_id, email, _status in wanted if not member_id}
    members = CampaignMember.objects.filter(campaign=campaign)
    by_id = dict(members.filter(pk__in=ids).values_list("pk", "pk")) if ids else {}
    by_email: dict[str, int] = {}
    if emails:
        for pk, email in members.filter(contact__email__in=emails).values_list("pk", "contact__email"):
            by_email.setdefault(email.lower(), pk)
    now = timezone.now()
    changes: dict[str, list[int]] = {}
    for line, member_id, email, status in wanted:
        pk = by_id.get(member_id) if member_id else by_email.get(email)
        if pk is None:
            name = str(member_id) if member_id else email
            result.errors.append((line, _("No member “%(value)s” in this campaign.") % {"value": name[:80]}))
            continue
        changes.setdefault(status, []).append(pk)
    with transaction.atomic():
        for status, pks in changes.items():
            result.updated += CampaignMember.objects.filter(pk__in=pks).update(status=status, responded_at=now)
        campaign_recount(campaign=campaign)
    return result


# --- Deals from responses -----------------------------------------------------------------


def deal_from_member(
    *,
    member: CampaignMember,
    actor: User,
    title: str,
    amount: Decimal,
    currency: str,
    pipeline: Pipeline,
    stage: Stage,
    expected_close_date: dt.date | None = None,
) -> Deal:
    """A deal for the member's contact (and company), owned by the rep who creates it,
    recorded as created by the campaign; its first touch is the contact's first campaign."""
    if not member_can_edit(actor, member):
        raise PermissionDenied
    contact = member.contact
    with transaction.atomic():
        deal = Deal(
            title=title,
            company=contact.company,
            owner=actor,
            pipeline=pipeline,
            stage=stage,
            amount=amount,
            currency=currency,
            expected_close_date=expected_close_date,
            source=Source.OUTBOUND if member.campaign.channel == CampaignChannel.CALL else Source.OTHER,
        )
        deal_create(deal=deal, actor=actor, contacts=[contact])
        first_touch = ContactAttribution.objects.filter(contact=contact).values_list("campaign_id", flat=True).first()
        DealAttribution.objects.update_or_create(
            deal=deal,
            defaults={
                "created_by_campaign": member.campaign,
                "member": member,
                "first_touch_campaign_id": first_touch or member.campaign_id,
            },
        )
    return deal


def deal_attribute_first_touch(*, deal: Deal) -> DealAttribution | None:
    """Remember the first campaign that touched a new deal's contacts (else its company's)."""
    contact_ids = list(deal.contacts.values_list("pk", flat=True))
    touches = ContactAttribution.objects.order_by("created_at", "id")
    touch = touches.filter(contact_id__in=contact_ids).first() if contact_ids else None
    if touch is None and deal.company_id:
        touch = touches.filter(contact__company_id=deal.company_id).first()
    if touch is None:
        return None
    row, _created = DealAttribution.objects.get_or_create(
        deal=deal, defaults={"first_touch_campaign_id": touch.campaign_id}
    )
    return row


# --- Web leads ----------------------------------------------------------------------------


class LeadRejected(ValidationError):
    """The form cannot take leads now (no one to assign them to)."""


def lead_routing_next_owner(*, team: Team) -> User:
    """The team's next active member in turn (by id, wrapping around); the rule row is
    locked, so concurrent leads never get the same turn."""
    rule, _created = LeadRouting.objects.get_or_create(team=team)
    rule = LeadRouting.objects.select_for_update().get(pk=rule.pk)
    people = list(team.members.filter(is_active=True).order_by("pk"))
    if not people:
        people = list(team.managers.filter(is_active=True).order_by("pk"))
    if not people:
        raise LeadRejected(_("This form is not accepting requests."))
    after = rule.last_assigned_id or 0
    owner = next((person for person in people if person.pk > after), people[0])
    rule.last_assigned = owner
    rule.save(update_fields=["last_assigned"])
    return owner


# The duplicate check of a public form matches against every contact, not one user's.
_EVERYONE: Any = SimpleNamespace(is_admin=True, visible_owner_ids=frozenset())


@dataclass
class LeadResult:
    contact: Contact
    member: CampaignMember
    task: Activity
    created: bool


def lead_capture(
    *,
    lead_form: LeadForm,
    first_name: str,
    last_name: str,
    email: str,
    phone: str = "",
    company_name: str = "",
    message: str = "",
    consented: bool,
) -> LeadResult:
    """A web lead: the contact the duplicate check finds (confident match) is updated, else a
    new one is created for the team's next owner in turn; the person joins the campaign as a
    responder (first touch: this campaign, unless an earlier one), and the contact's owner
    gets a follow-up task due today."""
    campaign = lead_form.campaign
    if not consented:
        raise ValidationError(_("Please tick the consent checkbox."))
    now = timezone.now()
    with transaction.atomic():
        match = contact_import_matches(
            _EVERYONE, rows=[{"first_name": first_name, "last_name": last_name, "email": email, "phone": phone}]
        ).get(0)
        if match is not None and match.confident:
            contact = Contact.objects.select_for_update().get(pk=match.record.pk)
            changed = []
            typed_phone = normalize_phone(phone, str(contact.country) or None) if phone else None
            if not contact.phone and typed_phone is not None and typed_phone.valid:
                contact.phone = typed_phone.e164
                changed.append("phone")
            if contact.do_not_email:
                # Ticking the consent box is an explicit opt-in again.
                contact.do_not_email = False
                changed.append("do_not_email")
            if changed:
                contact.save(update_fields=[*changed, "updated_at"])
            created = False
        else:
            owner = lead_routing_next_owner(team=lead_form.team)
            contact = contact_create(
                actor=None,
                owner=owner,
                first_name=first_name,
                last_name=last_name,
                email=email,
                phone=phone,
                title="",
                source=Source.WEBSITE,
                keep_invalid_phone=False,
            )
            created = True
        member, _new = CampaignMember.objects.get_or_create(
            campaign=campaign, contact=contact, defaults={"owner_id": contact.owner_id, "created_at": now}
        )
        CampaignMember.objects.filter(pk=member.pk).update(
            status=MemberStatus.RESPONDED, responded_at=now, consent_text=lead_form.consent_text, consented_at=now
        )
        member.refresh_from_db()
        ContactAttribution.objects.get_or_create(contact=contact, defaults={"campaign": campaign})
        body = "\n".join(
            part for part in (company_name and _("Company: %(name)s") % {"name": company_name}, message) if part
        )
        task = activity_create(
            actor=contact.owner,
            owner=contact.owner,
            type=ActivityType.objects.get(key="task"),
            subject=(_("Follow up web lead: %(name)s") % {"name": contact.full_name})[:200],
            body=body,
            contact=contact,
            company=contact.company,
            due_at=_task_due(campaign, now),
        )
        if member.task_id is None:
            CampaignMember.objects.filter(pk=member.pk).update(task=task)
        Campaign.objects.filter(pk=campaign.pk).update(members_count=F("members_count") + (1 if _new else 0))
        campaign_recount(campaign=campaign)
        timeline_record(
            kind="campaign_response",
            title=_("Web lead from %(campaign)s") % {"campaign": campaign.name},
            contact=contact,
            body=message,
        )
    return LeadResult(contact=contact, member=member, task=task, created=created)
