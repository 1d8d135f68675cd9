"""Campaign list rows and the campaign page's member and deal rows, rendered in Python.

Through the template, each of the 50 rows cost three ``get_FOO_display`` calls (each builds
a dict of the field's lazily translated choices), a ``{% include %}`` of the status badge and
a ``DateText`` per date: 35 ms of CPU in-process for an admin's page, more than the contact
list's whole page. As the contact, deal and case lists do, this tag writes the same markup
with f-strings: every value escaped as autoescaping would, labels looked up once per page,
dates through ``crm.html.DateText`` (the ``|day`` rule), money through ``crm.l10n.MoneyText``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from django import template
from django.conf import settings
from django.utils import timezone
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext

from campaigns.models import (
    Campaign,
    CampaignChannel,
    CampaignGoal,
    CampaignMember,
    CampaignStatus,
    DealAttribution,
    MemberStatus,
)
from campaigns.selectors import Loop
from crm.html import DateText, escape, url_around_id
from crm.l10n import MoneyText, person_name
from crm.models import User
from deals.models import DealStatus

register = template.Library()

_STATUS_CLASS = {CampaignStatus.RUNNING: "text-bg-success", CampaignStatus.FINISHED: "text-bg-secondary"}


@register.simple_tag
def campaign_list_rows(rows: Iterable[tuple[Campaign, Loop]]) -> SafeString:
    """``<tr>``s of ``campaigns/campaign_list.html``: (campaign, its loop) pairs."""
    detail_head, detail_tail = url_around_id("campaigns:detail")
    channels = {value: escape(label) for value, label in CampaignChannel.choices}
    goals = {value: escape(label) for value, label in CampaignGoal.choices}
    statuses = {value: escape(label) for value, label in CampaignStatus.choices}
    dates = DateText()
    days: dict[dt.date, str] = {}
    money = MoneyText()
    base = settings.BASE_CURRENCY

    def day(value: dt.date) -> str:
        if value not in days:
            days[value] = dates.day(value)
        return days[value]

    out: list[str] = []
    for campaign, loop in rows:
        when = ""
        if campaign.starts_on:
            ends = f" – {day(campaign.ends_on)}" if campaign.ends_on else ""
            when = f'<div class="small text-secondary">{day(campaign.starts_on)}{ends}</div>'
        status = campaign.status
        badge = _STATUS_CLASS.get(status, "text-bg-light border")
        roi = f"{loop.roi_percent} %" if loop.roi_percent is not None else "—"
        out.append(
            "<tr>\n"
            f'    <td><a href="{detail_head}{campaign.pk}{detail_tail}">{escape(campaign.name)}</a>{when}</td>\n'
            f"    <td>{channels.get(campaign.channel, escape(campaign.channel))}</td>\n"
            f"    <td>{goals.get(campaign.goal, escape(campaign.goal))}</td>\n"
            f'    <td><span class="badge campaign-status {badge}">{statuses.get(status, escape(status))}</span></td>\n'
            f"    <td>{_person(campaign.owner)}</td>\n"
            f'    <td class="text-end">{loop.members}</td>\n'
            f'    <td class="text-end">{loop.responses}</td>\n'
            f'    <td class="text-end">{escape(money.format(loop.won_revenue, base, 2))}</td>\n'
            f'    <td class="text-end">{roi}</td>\n'
            "  </tr>"
        )
    return mark_safe("\n  ".join(out))  # noqa: S308 (every interpolated value is escaped above)


_MEMBER_BADGE = {
    MemberStatus.RESPONDED: "text-bg-success",
    MemberStatus.MEETING: "text-bg-success",
    MemberStatus.BOUNCED: "text-bg-warning",
    MemberStatus.UNSUBSCRIBED: "text-bg-warning",
}


def _person(user: User) -> str:
    return escape(person_name(user.first_name, user.last_name) or user.username)


@register.simple_tag
def campaign_member_rows(members: Iterable[CampaignMember]) -> SafeString:
    """``<tr>``s of the campaign page's member table (``selectors.member_page``), as its
    template wrote them: 50 rows were half the page's CPU through the template."""
    head, tail = url_around_id("campaigns:member")
    statuses = {value: escape(label) for value, label in MemberStatus.choices}
    done_label = escape(gettext("done"))
    done = f'<i class="bi bi-check2" aria-hidden="true"></i> {done_label}'
    dates = DateText()
    out: list[str] = []
    for member in members:
        contact = member.contact
        company = escape(contact.company.name) if contact.company_id else ""
        task = ""
        if member.task_id:
            if member.task.done_at:
                task = done
            elif member.task.due_at:
                task = dates.day(timezone.localtime(member.task.due_at))
        badge = _MEMBER_BADGE.get(member.status, "text-bg-light border")
        label = statuses.get(member.status, escape(member.status))
        out.append(
            f'<tr class="member-row" data-member="{member.pk}">\n'
            f'          <td><a href="{head}{member.pk}{tail}">{escape(contact.full_name)}</a></td>\n'
            f"          <td>{company}</td>\n"
            f"          <td>{_person(member.owner)}</td>\n"
            f'          <td><span class="badge {badge}">{label}</span></td>\n'
            f'          <td class="small">{task}</td>\n'
            "        </tr>"
        )
    return mark_safe("\n        ".join(out))  # noqa: S308 (every interpolated value is escaped above)


@register.simple_tag
def campaign_deal_rows(rows: Iterable[DealAttribution]) -> SafeString:
    """``<tr>``s of the campaign page's "Deals created by this campaign" table."""
    head, tail = url_around_id("deals:detail")
    statuses = {value: escape(label) for value, label in DealStatus.choices}
    money = MoneyText()
    out: list[str] = []
    for row in rows:
        deal = row.deal
        out.append(
            f'<tr><td><a href="{head}{deal.pk}{tail}">{escape(deal.title)}</a></td>'
            f'<td>{escape(deal.stage.name)} <span class="small text-secondary">'
            f"{statuses.get(deal.status, escape(deal.status))}</span></td>"
            f"<td>{_person(deal.owner)}</td>"
            f'<td class="text-end">{escape(money.format(deal.amount, deal.currency, 2))}</td></tr>'
        )
    return mark_safe("".join(out))  # noqa: S308 (every interpolated value is escaped above)
