"""Board cards and deal list rows, rendered in Python.

The board shows up to 20 cards in each open column (100+ cards), each with a "Move to…" menu
of the pipeline's stages; the deal list 50 rows. Through ``{% include %}`` of a card or row
template that was thousands of template lookups per request: most of the page's server time
once the totals came from ``DealTotal`` (bench/FINDINGS.md §7). These tags write the same
markup with f-strings, as ``contacts.templatetags.contact_lists`` does for the contact list:
every value is escaped with ``escape`` exactly as autoescaping would, numbers and dates go
through the same filters, links come from one reversed prefix per page, and the translated
strings are looked up once per page.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from decimal import ROUND_HALF_UP, Context, Decimal
from typing import Any
from urllib.parse import quote

from django import template
from django.contrib.humanize.templatetags.humanize import intcomma
from django.template.defaultfilters import floatformat
from django.urls import reverse
from django.utils import numberformat, timezone
from django.utils.formats import get_format, localize
from django.utils.safestring import SafeString, mark_safe
from django.utils.timezone import template_localtime
from django.utils.translation import gettext, ngettext

from crm.custom_fields import CustomCells
from crm.html import DateText, escape, url_around_id
from crm.inline import InlineCells
from crm.l10n import MoneyText, money
from deals.models import Deal, DealStatus, Stage
from deals.templatetags.deal_tags import board_filter_pairs

register = template.Library()


class Numbers:
    """``floatformat:"Ng"`` for non-negative Decimals, with the locale's separators read once
    per page instead of three ``get_format`` lookups per number (same output, see tests)."""

    def __init__(self) -> None:
        self.decimal_sep = get_format("DECIMAL_SEPARATOR")
        self.grouping = get_format("NUMBER_GROUPING")
        self.thousand_sep = get_format("THOUSAND_SEPARATOR")
        self.money_text = MoneyText()

    def money(self, value: Decimal, currency: str, places: int) -> str:
        """An amount with its currency as the locale writes it (``1 234 ₽``, ``¥1,234``)."""
        return self.money_text.format(value, currency, places)

    def grouped(self, value: Decimal, places: int) -> str:
        rounded = value.quantize(Decimal(1).scaleb(-places), ROUND_HALF_UP, Context(prec=60))
        return numberformat.format(
            rounded,
            self.decimal_sep,
            places,
            self.grouping,
            self.thousand_sep,
            force_grouping=True,
            use_l10n=True,
        )


class _Cards:
    """What every card of one board response shares, computed once."""

    def __init__(self, context: template.Context) -> None:
        self.dates = DateText()
        self.user = context["request"].user
        stages: Sequence[Stage] = context.get("stages") or []
        self.menu = [
            (
                stage.pk,
                f'<li><button class="dropdown-item" type="button" data-move-stage="{stage.pk}">'
                f"{escape(stage.name)}</button></li>",
            )
            for stage in stages
        ]
        querystring = context.get("board_querystring") or ""
        self.querystring = querystring
        self.filter_inputs = "".join(
            f'<input type="hidden" name="{escape(key)}" value="{escape(value)}">'
            for key, value in board_filter_pairs(querystring)
        )
        self.detail = url_around_id("deals:detail")
        self.move = url_around_id("deals:move")
        self.card_url = url_around_id("deals:card")
        self.boards: dict[int, str] = {}
        self.manual_title = escape(gettext("Probability set by hand"))
        self.owner_title = escape(gettext("Owner"))
        self.move_to = escape(gettext("Move to…"))
        self.numbers = Numbers()
        self.now = timezone.now()
        self.in_stage: dict[int, str] = {}

    def days_in_stage(self, deal: Deal) -> str:
        """``Deal.days_in_stage`` and its caption, translated once per number of days."""
        days = max((self.now - deal.stage_entered_at).days, 0)
        if days not in self.in_stage:
            # As {% blocktranslate count %}: the value is escaped, the translated text is not.
            text = ngettext("%(days)s day in stage", "%(days)s days in stage", days)
            self.in_stage[days] = text % {"days": escape(localize(days))}
        return self.in_stage[days]

    def board_url(self, pipeline_id: int) -> str:
        if pipeline_id not in self.boards:
            url = reverse("deals:board", args=[pipeline_id])
            self.boards[pipeline_id] = escape(f"{url}?{self.querystring}" if self.querystring else url)
        return self.boards[pipeline_id]

    def card(self, deal: Deal) -> str:
        can_move = self.user.can_edit_owner(deal.owner_id)
        title = escape(deal.title)
        detail_head, detail_tail = self.detail
        company = (
            f'\n    <div class="small text-secondary text-truncate">{escape(deal.company.name)}</div>'
            if deal.company
            else ""
        )
        manual = (
            f' <span class="badge text-bg-warning" title="{self.manual_title}">{deal.probability}%</span>'
            if deal.probability_is_manual
            else ""
        )
        in_stage = self.days_in_stage(deal)
        form = ""
        if can_move:
            move_head, move_tail = self.move
            menu = "".join(item for stage_id, item in self.menu if stage_id != deal.stage_id)
            form = f"""
      <form class="move-form" hx-post="{move_head}{deal.pk}{move_tail}" hx-target="#deal-card-{deal.pk}"
        hx-swap="outerHTML">
        <input type="hidden" name="expected_stage" value="{deal.stage_id}">
        <input type="hidden" name="stage" value="">
        <input type="hidden" name="next" value="{self.board_url(deal.pipeline_id)}">
        {self.filter_inputs}
        <div class="dropdown">
          <button class="btn btn-sm btn-link p-0 dropdown-toggle" type="button" data-bs-toggle="dropdown"
            aria-expanded="false">{self.move_to}</button>
          <ul class="dropdown-menu dropdown-menu-end">
            {menu}
          </ul>
        </div>
      </form>
      """
        next_activity = ""
        activity = getattr(deal, "next_activity", None)
        if activity:
            due = self.dates.day(template_localtime(activity.due_at))
            next_activity = (
                f'\n    <div class="small mt-1 deal-card-next"><i class="bi bi-calendar-event" aria-hidden="true"></i> '
                f'<a href="{escape(activity.get_absolute_url())}">{escape(activity.subject)}</a> '
                f'<span class="text-secondary">{escape(due)}</span></div>'
            )
        draggable = " data-draggable" if can_move else ""
        card_head, card_tail = self.card_url
        return f"""
<article class="deal-card card" id="deal-card-{deal.pk}" data-stage-id="{deal.stage_id}"{draggable}
  data-card-url="{card_head}{deal.pk}{card_tail}" aria-label="{title}">
  <div class="card-body p-2">
    <a class="deal-card-title fw-semibold text-decoration-none"
      href="{detail_head}{deal.pk}{detail_tail}">{title}</a>{company}
    <div class="d-flex justify-content-between small mt-1">
      <span class="text-nowrap">{escape(self.numbers.money(deal.amount, deal.currency, 0))}{manual}</span>
      <span class="text-truncate ms-2" title="{self.owner_title}">{escape(deal.owner)}</span>
    </div>
    <div class="d-flex justify-content-between align-items-center small text-secondary mt-1">
      <span>{in_stage}</span>{form}
    </div>{next_activity}
  </div>
</article>
"""


def _renderer(context: template.Context) -> _Cards:
    renderer = context.render_context.get(_Cards)
    if renderer is None:
        renderer = context.render_context[_Cards] = _Cards(context)
    return renderer


@register.simple_tag(takes_context=True)
def board_cards(context: template.Context, cards: Iterable[Deal]) -> SafeString:
    """The cards of a board column (a ``board_card.html`` include each, before); the context
    gives ``request``, ``stages`` (the move menu) and ``board_querystring``."""
    renderer = _renderer(context)
    return mark_safe("".join(renderer.card(deal) for deal in cards))  # noqa: S308 (every interpolated value is escaped above)


@register.simple_tag(takes_context=True)
def board_card(context: template.Context, deal: Deal) -> SafeString:
    """One card (a moved deal in its new column)."""
    return mark_safe(_renderer(context).card(deal))  # noqa: S308 (every interpolated value is escaped above)


@register.simple_tag(takes_context=True)
def board_column_head(context: template.Context, column, oob: bool = False) -> SafeString:
    """A column's header: name, probability, open-deal count and totals (was
    ``board_column_head.html``); ``oob`` for the htmx out-of-band swap after a move."""
    stage, total = column.stage, column.total
    # As {% blocktranslate %}: the value is escaped, the translated text is not.
    weighted = gettext("%(amount)s weighted") % {"amount": escape(floatformat(total.weighted, "0g"))}
    warning = ""
    if total.missing_rates:
        left_out = escape(gettext("Some currencies have no exchange rate and are left out"))
        warning = (
            f'<span class="text-warning" title="{left_out}">'
            '<i class="bi bi-exclamation-triangle" aria-hidden="true"></i></span>'
        )
    swap = ' hx-swap-oob="true"' if oob else ""
    open_title, total_title = escape(gettext("open deals")), escape(gettext("total"))
    weighted_title = escape(gettext("weighted by probability"))
    probability = f'<span class="text-secondary small fw-normal">{stage.probability}%</span>'
    return mark_safe(  # noqa: S308 (every interpolated value is escaped above)
        f"""<header class="kanban-column-head" id="col-head-{stage.pk}"{swap}>
  <div class="d-flex justify-content-between align-items-baseline">
    <h2 class="h6 mb-0" id="col-title-{stage.pk}">{escape(stage.name)} {probability}</h2>
    <span class="badge rounded-pill text-bg-secondary" title="{open_title}">{escape(intcomma(total.count))}</span>
  </div>
  <div class="small text-secondary">
    <span title="{total_title}">{escape(money(total.amount, context.get("base_currency", ""), 0))}</span>
    · <span title="{weighted_title}">{weighted}</span>
    {warning}
  </div>
</header>"""
    )


@register.simple_tag(takes_context=True)
def board_more(context: template.Context, stage: Stage, next_cursor: str, oob: bool = False) -> SafeString:
    """A column's "Load more" button (was ``board_more.html``)."""
    swap = ' hx-swap-oob="true"' if oob else ""
    button = ""
    if next_cursor:
        url = reverse("deals:board-column", args=[stage.pipeline_id, stage.pk])
        querystring = context.get("board_querystring") or ""
        extra = f"&amp;{escape(querystring)}" if querystring else ""
        label = escape(gettext("Load more"))  # outside the f-string: makemessages cannot see into one
        button = (
            f'<button class="btn btn-sm btn-link w-100" type="button" hx-get="{escape(url)}?after='
            f'{escape(quote(next_cursor, safe="/"))}{extra}" hx-target="#cards-{stage.pk}" hx-swap="beforeend">'
            f'{label}<span class="htmx-indicator spinner-border spinner-border-sm ms-1" '
            'aria-hidden="true"></span></button>'
        )
    return mark_safe(f'<div class="kanban-more" id="more-{stage.pk}"{swap}>{button}</div>')  # noqa: S308 (every interpolated value is escaped above)


# --- the deal list ---------------------------------------------------------------------------


_BADGES = {
    DealStatus.WON.value: "badge text-bg-success",
    DealStatus.LOST.value: "badge text-bg-danger",
}
_OPEN_BADGE = "badge text-bg-primary-subtle text-primary-emphasis border border-primary-subtle"


# The deal list's built-in columns after the title, in their default order (``crm.saved_views``).
DEAL_COLUMNS = ("company", "stage", "owner", "amount", "probability", "close")

# The deal list's cells edited in place (crm.inline).
INLINE_FIELDS = ("owner", "amount", "expected_close_date")


@register.simple_tag
def deal_list_rows(rows: Iterable[Deal], columns: list[str] | None = None, user: Any = None) -> SafeString:
    """``<tr>``s of the deal list (columns as in ``deals/deal_list.html``'s header): the title,
    then ``columns`` (``DEAL_COLUMNS`` keys and ``cf_<key>`` custom fields); with ``user``, a
    first column ticks the deals they may change for the bulk bar, and cells get inline editors."""
    rows = list(rows)
    columns = list(columns or DEAL_COLUMNS)
    custom = CustomCells("deals.deal", columns, rows)
    select = escape(gettext("Select"))
    inline = InlineCells(Deal, "deals:inline", INLINE_FIELDS)
    detail_head, detail_tail = url_around_id("deals:detail")
    company_head, company_tail = url_around_id("contacts:company-detail")
    manual_title = escape(gettext("Set by hand; kept when the stage changes"))
    manual = escape(gettext("manual"))
    overdue = escape(gettext("overdue"))
    numbers = Numbers()
    today = timezone.localdate()
    day_text = DateText()
    dates: dict[dt.date, str] = {}
    out: list[str] = []
    for deal in rows:
        company = (
            f'<a class="link-body-emphasis" href="{company_head}{deal.company_id}{company_tail}">'
            f"{escape(deal.company.name)}</a>"
            if deal.company
            else '<span class="text-secondary">—</span>'
        )
        badge = _BADGES.get(deal.status, _OPEN_BADGE)
        flag = (
            f' <span class="badge text-bg-light border" title="{manual_title}">{manual}</span>'
            if deal.probability_is_manual
            else ""
        )
        close_date = deal.expected_close_date
        if close_date is None:
            close = "—"
        else:
            if close_date not in dates:
                dates[close_date] = day_text.day(close_date)
            close = dates[close_date]
        if deal.status == DealStatus.OPEN and close_date is not None and close_date < today:  # Deal.is_overdue
            close += f' <span class="badge text-bg-danger">{overdue}</span>'
        tick = ""
        owner_cell, amount_cell, close_cell = (
            escape(deal.owner),
            escape(numbers.money(deal.amount, deal.currency, 2)),
            close,
        )
        if user is not None:
            editable = user.can_edit_owner(deal.owner_id)
            tick = (
                f'<td class="text-center"><input class="form-check-input" type="checkbox" name="ids" form="bulk-form" '
                f'value="{deal.pk}" aria-label="{select} {escape(deal.title)}">'
                if editable
                else "<td>"
            )
            # The row's version, sent by its inline editors (crm.inline); then the cell's pencils.
            tick += inline.version(deal.pk, deal.version) + "</td>"
            if editable:
                owner_cell = inline.cell(deal.pk, "owner", owner_cell)
                if not deal.amount_from_line_items:
                    amount_cell = inline.cell(deal.pk, "amount", amount_cell)
                close_cell = inline.cell(deal.pk, "expected_close_date", close_cell)
        cell = {
            "company": f"<td>{company}</td>",
            "stage": f'<td><span class="{badge}">{escape(deal.stage.name)}</span>\n'
            f'            <span class="small text-secondary">{escape(deal.pipeline.name)}</span></td>',
            "owner": f'<td class="text-nowrap">{owner_cell}</td>',
            "amount": f'<td class="text-end text-nowrap">{amount_cell}</td>',
            "probability": f'<td class="text-end">{deal.probability}%{flag}</td>',
            "close": f'<td class="text-nowrap">{close_cell}</td>',
        }
        cells = "".join(f"\n          {cell[key] if key in cell else custom.cell(deal, key)}" for key in columns)
        out.append(
            f"""<tr>{tick}
          <td><a href="{detail_head}{deal.pk}{detail_tail}">{escape(deal.title)}</a></td>{cells}
        </tr>"""
        )
    return mark_safe("\n        ".join(out))  # noqa: S308 (every interpolated value is escaped above)
