"""Deal fragments for other apps' pages, and small display helpers for deal templates.

``{% company_deals company %}`` and ``{% contact_deals contact %}`` render the customer's
deals the viewer may see, as a card with a "New deal" button: two queries whatever the
number of deals (the page of deals, and their totals per currency).
"""

from __future__ import annotations

from django import template
from django.db.models import Q, QuerySet
from django.urls import reverse
from django.utils.safestring import SafeString
from django.utils.translation import ngettext

from contacts.models import Company, Contact
from crm.compiled import CompiledQuery, OwnerAccess, owner_ids_of
from crm.html import IdUrl
from crm.jinja2 import render
from crm.l10n import money as money_text
from deals import selectors
from deals.models import Deal, DealStatus
from deals.templatetags.deal_rows import OPEN_BADGE, STATUS_BADGES, Numbers, board_filter_pairs

register = template.Library()

CUSTOMER_DEALS_LIMIT = 10


@register.filter
def editable_by(deal: Deal, user) -> bool:
    return bool(user and user.is_authenticated and user.can_edit_owner(deal.owner_id))


def _panel_deals(key: tuple[str, bool], *, pk: int, owners: list[int]) -> QuerySet[Deal]:
    """The first ``CUSTOMER_DEALS_LIMIT + 1`` deals of customer ``pk`` (a ``key[0]``: company
    or contact) that a viewer who is an admin (``key[1]``) or sees ``owners``' deals may see."""
    kind, is_admin = key
    where = Q(company_id=pk) if kind == "company" else Q(contacts=pk)
    # The panel prints each deal's title, amount and stage: only the stage is joined (the five
    # joins of ``deals_for_user`` cost a millisecond of planning, five times the execution).
    visible = Deal.objects.visible_to(OwnerAccess(is_admin=is_admin, visible_owner_ids=owners)).filter(where)
    return visible.select_related("stage").order_by("status", "-created_at", "-id")[: CUSTOMER_DEALS_LIMIT + 1]


def _panel_open_totals(key: tuple[str, bool], *, pk: int, owners: list[int]) -> QuerySet[Deal]:
    """The sums of the open deals of customer ``pk`` the viewer may see (as ``_panel_deals``),
    per currency, for the panel's summary when it shows only the first deals."""
    kind, is_admin = key
    where = Q(company_id=pk) if kind == "company" else Q(contacts=pk)
    visible = Deal.objects.visible_to(OwnerAccess(is_admin=is_admin, visible_owner_ids=owners)).filter(where)
    return selectors.money_total_rows(visible.open())


# Compiled once per process (crm/compiled.py), as every 360 page shows the panel.
_PANEL_DEALS = CompiledQuery(_panel_deals, pk=int, owners=list)
_PANEL_OPEN_TOTALS = CompiledQuery(_panel_open_totals, pk=int, owners=list)


def _customer_deals(context: template.Context, kind: str, pk: int, *, new_url: str, all_url: str) -> SafeString:
    user = context["request"].user
    key, owners = (kind, user.is_admin), owner_ids_of(user)
    deals = _PANEL_DEALS.fetch(key, pk=pk, owners=owners)
    if len(deals) > CUSTOMER_DEALS_LIMIT:
        open_total = selectors.money_total_from_rows(_PANEL_OPEN_TOTALS.fetch(key, pk=pk, owners=owners))
    else:
        # Every deal of the customer is here: its open ones are summed without another query.
        open_total = selectors.money_total_of([deal for deal in deals if deal.status == DealStatus.OPEN])
    numbers = Numbers()
    summary = ""
    if open_total.count:
        summary = ngettext(
            "%(n)s open, %(amount)s %(base_currency)s", "%(n)s open, %(amount)s %(base_currency)s", open_total.count
        ) % {
            "n": open_total.count,
            "amount": numbers.grouped(open_total.amount, 0),
            "base_currency": context.get("base_currency") or "",
        }
    return render(
        "deals/customer_deals.html",
        {
            "deals": deals[:CUSTOMER_DEALS_LIMIT],
            "has_more": len(deals) > CUSTOMER_DEALS_LIMIT,
            "summary": summary,
            "new_url": new_url,
            "all_url": all_url,
            "numbers": numbers,
            "detail_url": IdUrl("deals:detail"),
            "badges": STATUS_BADGES,
            "open_badge": OPEN_BADGE,
        },
    )


@register.simple_tag(takes_context=True)
def company_deals(context: template.Context, company: Company) -> SafeString:
    return _customer_deals(
        context,
        "company",
        company.pk,
        new_url=f"{reverse('deals:create')}?company={company.pk}",
        all_url=f"{reverse('deals:list')}?company={company.pk}",
    )


@register.simple_tag(takes_context=True)
def contact_deals(context: template.Context, contact: Contact) -> SafeString:
    return _customer_deals(
        context,
        "contact",
        contact.pk,
        new_url=f"{reverse('deals:create')}?contact={contact.pk}",
        all_url=f"{reverse('deals:list')}?contact={contact.pk}",
    )


register.filter("board_filter_pairs", board_filter_pairs)


@register.filter
def money(value, currency: str):
    """``{{ deal.amount|money:deal.currency }}``: the amount with its currency as the reader's
    locale writes it (``1 234 567,89 ₽``, ``¥1,234,567.89``, English ``1,234,567.89 USD``)."""
    if value in (None, ""):
        return ""
    return money_text(value, currency or "", 2)
