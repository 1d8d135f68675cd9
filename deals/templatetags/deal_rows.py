"""Board cards, column heads and deal list rows.

The board shows up to 20 cards in each open column (100+ cards), each with a "Move to…" menu
of the pipeline's stages; the deal list 50 rows. Through ``{% include %}`` of a card or row
template that was thousands of template lookups per request: most of the page's server time
once the totals came from ``DealTotal`` (bench/FINDINGS.md §7). The cards and rows are Jinja2
templates (``deals/jinja2/deals/``), a column's cards or a page's rows one render
(``crm.jinja2``); what they share (links, the stage menu, number formats) is built once per
response here.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from decimal import Decimal
from typing import Any

from django import template
from django.contrib.humanize.templatetags.humanize import intcomma
from django.http import QueryDict
from django.template.defaultfilters import floatformat
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import localize
from django.utils.safestring import SafeString
from django.utils.translation import gettext, ngettext

from crm.custom_fields import CustomCells
from crm.html import DateText, IdUrl
from crm.inline import InlineCells
from crm.jinja2 import render
from crm.l10n import MoneyText, money, person_name
from crm.rows import ListRow
from crm.templatetags.bulk_tags import bulk_bar_html, bulk_status_html
from crm.templatetags.list_chrome import list_page_context, pagination_html
from deals.models import Deal, DealStatus, Pipeline, Stage

register = template.Library()


def board_filter_pairs(querystring: str) -> list[tuple[str, str]]:
    """``owner=1&team=2`` as (name, value) pairs, for hidden inputs that keep the board's filters."""
    return [(key, value) for key, value in QueryDict(querystring or "").items() if key in {"owner", "team"}]


class Numbers:
    """``floatformat:"Ng"`` and money, with the locale's separators read once per page instead
    of three ``get_format`` lookups per number (same output, see tests)."""

    def __init__(self) -> None:
        self.money_text = MoneyText()

    def money(self, value: Decimal, currency: str, places: int) -> str:
        """An amount with its currency as the locale writes it (``1 234 ₽``, ``¥1,234``)."""
        return self.money_text.format(value, currency, places)

    def grouped(self, value: Decimal, places: int) -> str:
        return self.money_text.number(value, places)


class _Board:
    """What every card of one board response shares, computed once."""

    def __init__(self, context: template.Context) -> None:
        self.dates = DateText()
        # The user's own method: through ``request.user`` (a lazy object) each call costs
        # two proxy lookups, on every card.
        self.can_move = context["request"].user.can_edit_owner
        self.stages: Sequence[Stage] = context.get("stages") or []
        self.querystring = context.get("board_querystring") or ""
        self.filter_pairs = board_filter_pairs(self.querystring)
        self.detail_url = IdUrl("deals:detail")
        self.move_url = IdUrl("deals:move")
        self.card_url = IdUrl("deals:card")
        self.activity_url = IdUrl("activities:detail")
        self.numbers = Numbers()
        self.now = timezone.now()
        self._boards: dict[int, str] = {}
        self._in_stage: dict[int, str] = {}
        self._owners: dict[int, str] = {}

    def owner(self, card: ListRow) -> str:
        """The card's owner's name, as ``str(user)`` writes it, once per owner."""
        name = self._owners.get(card["owner_id"])
        if name is None:
            first, last = card["owner_first_name"], card["owner_last_name"]
            name = self._owners[card["owner_id"]] = person_name(first, last) or card["owner_username"]
        return name

    def days_in_stage(self, deal: ListRow) -> str:
        """``Deal.days_in_stage`` and its caption, translated once per number of days."""
        days = max((self.now - deal.stage_entered_at).days, 0)
        if days not in self._in_stage:
            text = ngettext("%(days)s day in stage", "%(days)s days in stage", days)
            self._in_stage[days] = text % {"days": localize(days)}
        return self._in_stage[days]

    def board_url(self, pipeline_id: int) -> str:
        """Where a move goes back to: the board with its filters."""
        if pipeline_id not in self._boards:
            url = reverse("deals:board", args=[pipeline_id])
            self._boards[pipeline_id] = f"{url}?{self.querystring}" if self.querystring else url
        return self._boards[pipeline_id]


def _board(context: template.Context) -> _Board:
    board = context.render_context.get(_Board)
    if board is None:
        board = context.render_context[_Board] = _Board(context)
    return board


@register.simple_tag(takes_context=True)
def board_cards(context: template.Context, cards: Iterable[ListRow]) -> SafeString:
    """The cards of a board column (rows of ``deals.selectors.CARD_COLUMNS``); the context
    gives ``request``, ``stages`` (the move menu) and ``board_querystring``."""
    return render("deals/board_cards.html", {"cards": cards, "board": _board(context)})


@register.simple_tag(takes_context=True)
def board_card(context: template.Context, card: ListRow) -> SafeString:
    """One card (a moved deal in its new column: ``deals.selectors.card_of``)."""
    return board_cards(context, [card])


@register.simple_tag(takes_context=True)
def board_column_head(context: template.Context, column, oob: bool = False) -> SafeString:
    """A column's header: name, probability, open-deal count and totals (was
    ``board_column_head.html``); ``oob`` for the htmx out-of-band swap after a move."""
    total = column.total
    return render(
        "deals/board_column_head.html",
        {
            "stage": column.stage,
            "oob": oob,
            "count": intcomma(total.count),
            "amount": money(total.amount, context.get("base_currency", ""), 0),
            "weighted": gettext("%(amount)s weighted") % {"amount": floatformat(total.weighted, "0g")},
            "missing_rates": total.missing_rates,
        },
    )


@register.simple_tag(takes_context=True)
def board_more(context: template.Context, stage: Stage, next_cursor: str, oob: bool = False) -> SafeString:
    """A column's "Load more" button (was ``board_more.html``)."""
    return render(
        "deals/board_more.html",
        {
            "stage": stage,
            "next_cursor": next_cursor,
            "oob": oob,
            "board_querystring": context.get("board_querystring") or "",
        },
    )


# --- the deal list ---------------------------------------------------------------------------


STATUS_BADGES = {
    DealStatus.WON.value: "badge text-bg-success",
    DealStatus.LOST.value: "badge text-bg-danger",
}
OPEN_BADGE = "badge text-bg-primary-subtle text-primary-emphasis border border-primary-subtle"


# The deal list's built-in columns after the title, in their default order (``crm.saved_views``).
DEAL_COLUMNS = ("company", "stage", "owner", "amount", "probability", "close")

# The deal list's cells edited in place (crm.inline).
INLINE_FIELDS = ("owner", "amount", "expected_close_date")


def _named(row: ListRow, stages: dict[int, Stage], pipelines: dict[int, Pipeline]) -> ListRow:
    """A plain row of ``deals.selectors.LIST_ROW_FIELDS`` with the names it prints."""
    row.update(
        owner_name=person_name(row["owner__first_name"], row["owner__last_name"]) or row["owner__username"],
        company_name=row["company__name"] if row["company_id"] is not None else "",
        stage_name=stages[row["stage_id"]].name,
        pipeline_name=pipelines[row["pipeline_id"]].name,
    )
    return row


@register.simple_tag
def deal_list_rows(
    rows: Iterable[ListRow],
    columns: list[str] | None = None,
    user: Any = None,
    stages: Iterable[Stage] = (),
    pipelines: Iterable[Pipeline] = (),
) -> SafeString:
    """``<tr>``s of the deal list (columns as in ``deals/deal_list.html``'s header): the title,
    then ``columns`` (``DEAL_COLUMNS`` keys and ``cf_<key>`` custom fields); with ``user``, a
    first column ticks the deals they may change for the bulk bar, and cells get inline editors.
    ``rows``: plain rows (``ListRow``s of ``deals.selectors.LIST_ROW_FIELDS``); ``stages`` and
    ``pipelines``: those the page has loaded (others are read in one query each)."""
    rows = list(rows)
    stage_by_id = {stage.pk: stage for stage in stages}
    pipeline_by_id = {pipeline.pk: pipeline for pipeline in pipelines}
    # A stage or pipeline the page has not loaded (one query for all of them, if any).
    missing = {row["stage_id"] for row in rows} - stage_by_id.keys()
    if missing:
        stage_by_id.update((stage.pk, stage) for stage in Stage.objects.filter(pk__in=missing))
    missing = {row["pipeline_id"] for row in rows} - pipeline_by_id.keys()
    if missing:
        pipeline_by_id.update((pipeline.pk, pipeline) for pipeline in Pipeline.objects.filter(pk__in=missing))
    rows = [_named(row, stage_by_id, pipeline_by_id) for row in rows]
    columns = list(columns or DEAL_COLUMNS)
    return render(
        "deals/deal_list_rows.html",
        {
            "rows": rows,
            "columns": columns,
            # The user's own method, read once: through ``request.user`` (a lazy object) each
            # call costs two proxy lookups, on every row.
            "can_edit": user.can_edit_owner if user is not None else None,
            "custom": CustomCells("deals.deal", columns, rows),
            "inline": InlineCells(Deal, "deals:inline", INLINE_FIELDS),
            "detail_url": IdUrl("deals:detail"),
            "company_url": IdUrl("contacts:company-detail"),
            "badges": STATUS_BADGES,
            "open_badge": OPEN_BADGE,
            "open": DealStatus.OPEN,
            "numbers": Numbers(),
            "dates": DateText(),
            "today": timezone.localdate(),
        },
    )


@register.simple_tag(takes_context=True)
def deal_list_page(context: template.Context) -> SafeString:
    """The content of the deal list (``deals/jinja2/deals/list_page.html``) from the view's context."""
    request = context["request"]
    page_context = list_page_context(context)
    views = page_context["views"]
    total = page_context["total"]
    querystring = page_context["querystring"]
    page = page_context["page"]
    missing = ""
    if total.missing_rates:
        missing = gettext(
            "Totals leave out %(codes)s: no exchange rate. An admin can add one in Admin › Exchange rates."
        ) % {"codes": ", ".join(total.missing_rates)}
    return render(
        "deals/list_page.html",
        {
            **page_context,
            "boards": [
                (pipeline.get_absolute_url(), gettext("%(name)s board") % {"name": pipeline.name})
                for pipeline in page_context["pipelines"]
            ],
            "totals": {
                "count": intcomma(total.count),
                "amount": floatformat(total.amount, "0g"),
                "weighted": floatformat(total.weighted, "0g"),
                "by_currency": [(code, floatformat(amount, "0g")) for code, amount in total.by_currency.items()],
                "missing_rates": missing,
            },
            "bulk_status": bulk_status_html(request, "deal"),
            "bulk_bar": bulk_bar_html(
                request, "deal", count=page_context["bulk_count"], query=querystring, views=views
            ),
            "rows": deal_list_rows(
                page, page_context["columns"], request.user, page_context["stages"], page_context["pipelines"]
            ),
            "pagination": pagination_html(page, querystring),
        },
    )
