"""Campaign list rows and the campaign page's member and deal rows.

Through the template, each of the 50 rows cost three ``get_FOO_display`` calls (each builds
a dict of the field's lazily translated choices), a ``{% include %}`` of the status badge and
a ``DateText`` per date: 35 ms of CPU in-process for an admin's page, more than the contact
list's whole page. As the contact, deal and case lists do, each table body is one Jinja2
render (``campaigns/jinja2/campaigns/``) with the labels looked up once per page, dates
through ``crm.html.DateText`` (the ``|day`` rule) and money through ``crm.l10n.MoneyText``.
"""

from __future__ import annotations

from collections.abc import Iterable

from django import template
from django.conf import settings
from django.utils.safestring import SafeString

from campaigns.models import (
    Campaign,
    CampaignChannel,
    CampaignGoal,
    CampaignStatus,
    MemberStatus,
)
from campaigns.selectors import Loop
from crm.html import DateText, IdUrl
from crm.jinja2 import render
from crm.l10n import MoneyText, choice_labels, person_name
from crm.rows import ListRow
from deals.models import DealStatus

register = template.Library()

_STATUS_CLASS = {CampaignStatus.RUNNING: "text-bg-success", CampaignStatus.FINISHED: "text-bg-secondary"}

_MEMBER_BADGE = {
    MemberStatus.RESPONDED: "text-bg-success",
    MemberStatus.MEETING: "text-bg-success",
    MemberStatus.BOUNCED: "text-bg-warning",
    MemberStatus.UNSUBSCRIBED: "text-bg-warning",
}


@register.simple_tag
def campaign_list_rows(rows: Iterable[tuple[Campaign, Loop]]) -> SafeString:
    """``<tr>``s of ``campaigns/campaign_list.html``: (campaign, its loop) pairs."""
    return render(
        "campaigns/campaign_list_rows.html",
        {
            "rows": rows,
            "detail_url": IdUrl("campaigns:detail"),
            "channels": choice_labels(CampaignChannel),
            "goals": choice_labels(CampaignGoal),
            "statuses": choice_labels(CampaignStatus),
            "status_classes": _STATUS_CLASS,
            "dates": DateText(),
            "money": MoneyText(),
            "base_currency": settings.BASE_CURRENCY,
            "person_name": person_name,
        },
    )


@register.simple_tag
def campaign_member_rows(members: Iterable[ListRow]) -> SafeString:
    """``<tr>``s of the campaign page's member table (``selectors.member_page``): 50 rows were
    half the page's CPU through the Django template."""
    return render(
        "campaigns/campaign_member_rows.html",
        {
            "members": members,
            "member_url": IdUrl("campaigns:member"),
            "statuses": choice_labels(MemberStatus),
            "badges": _MEMBER_BADGE,
            "dates": DateText(),
            "person_name": person_name,
        },
    )


@register.simple_tag
def campaign_deal_rows(rows: Iterable[ListRow]) -> SafeString:
    """``<tr>``s of the campaign page's "Deals created by this campaign" table."""
    return render(
        "campaigns/campaign_deal_rows.html",
        {
            "rows": rows,
            "deal_url": IdUrl("deals:detail"),
            "statuses": choice_labels(DealStatus),
            "money": MoneyText(),
            "person_name": person_name,
        },
    )
