from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db.models import Q
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from contacts.models import Company, Contact
from crm import custom_fields, exports
from crm.inline import InlineSpec, inline_edit_view, register_inline
from crm.params import optional_id, safe_next
from crm.rows import list_rows
from crm.saved_views import Column, columns_for, header_cells, list_state
from crm.versioning import VersionConflict, parse_version
from deals import selectors, services
from deals.forms import BoardFilterForm, DealFilterForm, DealForm, LineItemAddForm, LineItemForm, MoveForm
from deals.hooks import decorate_cards
from deals.models import Deal, LineItem, Pipeline, Stage
from deals.money import RateBook

LIST_PAGE_SIZE = 50


# --- List and export -----------------------------------------------------------------------


def _deal_columns() -> list[Column]:
    builtin = [
        ("company", gettext_lazy("Company")),
        ("stage", gettext_lazy("Stage")),
        ("owner", gettext_lazy("Owner")),
        ("amount", gettext_lazy("Amount")),
        ("probability", gettext_lazy("Prob.")),
        ("close", gettext_lazy("Close date")),
    ]
    return columns_for(builtin, "deals.deal")


@require_GET
def deal_list(request: HttpRequest) -> HttpResponse:
    state = list_state(request, "deals", columns=_deal_columns())
    if state.redirect:
        return state.redirect
    form = DealFilterForm(state.params or None, user=request.user)
    # The rows join their company and owner only: their stage and pipeline come from the
    # filter form's lists (two more joins, with the lost reason three, tripled the planning).
    qs = form.apply(Deal.objects.visible_to(request.user).select_related("owner", "company"))
    totals = selectors.deal_totals(request.user, qs, form.totals_where(), book=RateBook())
    total = totals.get(None, selectors.MoneyTotal())
    # What a row shows (deals/jinja2/deals/deal_list_rows.html): not the companies' and
    # owners' other columns, nor the deals' custom fields unless a column shows one.
    custom = any(key.startswith("cf_") for key in state.columns)
    fields = selectors.LIST_ROW_FIELDS + (("custom",) if custom else ())
    # Plain rows (``crm.rows.ListRow``), not 150 model instances (deals, companies, owners);
    # the stages and pipelines come from the filter form's lists (``deal_list_rows``).
    paginator = Paginator(list_rows(qs, fields), LIST_PAGE_SIZE)
    paginator.count = total.count  # the totals already counted the deals: no COUNT(*) pass of its own
    page = paginator.get_page(request.GET.get("page"))
    if page.number == 1 and form.is_unfiltered():
        # Most visits: the same rows from the query compiled once per role and sort.
        page.object_list = selectors.unfiltered_list_page(
            request.user, form.order(), custom=custom, size=LIST_PAGE_SIZE
        )
    querystring = request.GET.copy()
    querystring.pop("page", None)
    return render(
        request,
        "deals/deal_list.html",
        {
            "form": form,
            "page": page,
            "total": total,
            "querystring": querystring.urlencode(),
            "pipelines": form.pipelines,
            "stages": form.stages,
            "views": state,
            "columns": state.columns,
            "header": header_cells(state, end=("amount", "probability")),
            "bulk_count": total.count,
        },
    )


def _export_header() -> list[str]:
    return [
        _("Title"),
        _("Company"),
        _("Owner"),
        _("Pipeline"),
        _("Stage"),
        _("Status"),
        _("Amount"),
        _("Currency"),
        _("Probability %"),
        _("Expected close"),
        _("Source"),
        _("Lost reason"),
        _("Created"),
        _("Closed"),
    ]


def _export_rows(qs, defs: list[custom_fields.FieldDef], names: dict[int, str]) -> Iterator[list[object]]:
    for deal in qs.iterator(chunk_size=2000):
        stored = deal.custom or {}
        yield [
            deal.title,
            deal.company.name if deal.company else "",
            str(deal.owner),
            deal.pipeline.name,
            deal.stage.name,
            deal.get_status_display(),
            deal.amount,
            deal.currency,
            deal.probability,
            deal.expected_close_date,
            deal.get_source_display(),
            deal.lost_reason.name if deal.lost_reason else "",
            deal.created_at,
            deal.closed_at,
            *(custom_fields.export_value(defn, stored.get(defn.key), names) for defn in defs),
        ]


def _export(request: HttpRequest, fmt: str) -> HttpResponse:
    """The filtered list (only deals the user may see) as CSV, streamed row by row, or XLSX."""
    state = list_state(request, "deals", columns=_deal_columns())  # a saved view's filters apply too
    form = DealFilterForm(state.params or None, user=request.user)
    return export_deals(request, form.apply(selectors.deals_for_user(request.user)), fmt=fmt)


def export_deals(request: HttpRequest, qs: Any, *, fmt: str = "csv") -> HttpResponse:
    """``qs`` (deals the user may see) as a file, also for the bulk bar's "Export"."""
    defs = custom_fields.fields_for("deals.deal")
    names = custom_fields.all_user_names() if any(d.field_type == "user" for d in defs) else {}
    header = _export_header() + [defn.label for defn in defs]
    rows = _export_rows(qs, defs, names)
    filename = f"deals-{timezone.localdate().isoformat()}.{fmt}"
    if fmt == "xlsx":
        return exports.xlsx_response(filename, header, rows, title=_("Deals"), request=request)
    return exports.csv_streaming_response(filename, header, rows, request=request)


@require_GET
def deal_export(request: HttpRequest) -> HttpResponse:
    return _export(request, "csv")


@require_GET
def deal_export_xlsx(request: HttpRequest) -> HttpResponse:
    return _export(request, "xlsx")


# --- Create, edit, detail ------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
def deal_create(request: HttpRequest) -> HttpResponse:
    initial: dict = {"owner": request.user, "currency": settings.BASE_CURRENCY}
    pipeline = selectors.default_pipeline()
    pipeline_id = optional_id(request.GET, "pipeline")
    if pipeline_id is not None:
        pipeline = Pipeline.objects.filter(pk=pipeline_id).first() or pipeline
    if pipeline:
        initial["pipeline"] = pipeline
        initial["stage"] = pipeline.stages.filter(is_won=False, is_lost=False).order_by("position", "id").first()
    company = None
    company_id, contact_id = optional_id(request.GET, "company"), optional_id(request.GET, "contact")
    if company_id is not None:
        company = Company.objects.visible_to(request.user).filter(pk=company_id).first()
    if contact_id is not None:
        contact = Contact.objects.visible_to(request.user).select_related("company").filter(pk=contact_id).first()
        if contact:
            initial["contacts"] = [contact]
            company = company or contact.company
    if company:
        initial["company"] = company
        initial["title"] = _("%(company)s deal") % {"company": company.name}
    form = DealForm(request.POST or None, initial=initial, user=request.user)
    if request.method == "POST" and form.is_valid():
        deal = form.save(commit=False)
        deal.probability_is_manual = form.cleaned_data["probability_is_manual"]
        try:
            services.deal_create(deal=deal, actor=request.user, contacts=form.cleaned_data["contacts"])
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            messages.success(request, _("Deal created."))
            return redirect(deal)
    return render(request, "deals/deal_form.html", {"form": form, "deal": None})


@require_http_methods(["GET", "POST"])
def deal_edit(request: HttpRequest, pk: int) -> HttpResponse:
    deal = selectors.deal_for_user(request.user, pk, write=True)
    form = DealForm(request.POST or None, instance=deal, user=request.user)
    conflict = None
    if request.method == "POST" and form.is_valid():
        try:
            services.deal_update(
                deal=deal,
                actor=request.user,
                version=parse_version(form.cleaned_data["version"]),
                data=form.service_data(),
            )
        except services.DealConflict as exc:
            conflict = exc
            # The next save is a deliberate "keep mine" after reading what changed.
            data = request.POST.copy()
            data["version"] = str(exc.deal.version)
            form = DealForm(data, instance=exc.deal, user=request.user)
            form.is_valid()
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            messages.success(request, _("Deal saved."))
            return redirect(deal)
    if request.method == "POST":
        # Validating the form wrote the typed values onto ``deal``; show the saved one.
        deal = Deal.objects.get(pk=deal.pk)
    status = 409 if conflict else 200
    return render(request, "deals/deal_form.html", {"form": form, "deal": deal, "conflict": conflict}, status=status)


@require_GET
def contact_options(request: HttpRequest) -> HttpResponse:
    """The contacts a deal form offers for the chosen company (htmx, on company change)."""
    company_id = optional_id(request.GET, "company")
    contacts = (
        Contact.objects.visible_to(request.user).filter(company_id=company_id).order_by("last_name", "first_name", "id")
        if company_id is not None
        else Contact.objects.none()
    )
    return render(request, "deals/partials/contact_options.html", {"contacts": contacts[:500]})


@require_GET
def deal_detail(request: HttpRequest, pk: int) -> HttpResponse:
    today = timezone.localdate()
    # With today's rate, its line items and contacts: no query of their own.
    deal = selectors.deal_for_user(request.user, pk, rate_on=today, for_page=True)
    amount_in_base = selectors.deal_amount_in_base(deal, today)
    line_items = selectors.deal_line_items(deal)
    can_edit = request.user.can_edit_owner(deal.owner_id)
    return render(
        request,
        "deals/deal_detail.html",
        {
            "deal": deal,
            "can_edit": can_edit,
            "amount_in_base": amount_in_base,
            "contacts": selectors.deal_contacts(deal),
            "line_items": line_items,
            "line_items_total": sum((item.total for item in line_items), Decimal("0")),
            "margin": selectors.deal_margin(deal, line_items),
            "line_item_form": LineItemAddForm() if can_edit else None,
            "stage_history": selectors.deal_stage_history(deal),
            "edit_history": selectors.deal_edit_history(deal),
            "staleness": selectors.deal_staleness(deal),
            # The won/lost buttons, shown only to who may move an open deal.
            "stages": (
                list(Stage.objects.filter(pipeline_id=deal.pipeline_id).order_by("position", "id"))
                if can_edit and deal.is_open
                else []
            ),
        },
    )


# --- Stage moves ---------------------------------------------------------------------------


def _board_column_heads(
    request: HttpRequest, deal: Deal, stage_ids: set[int], data: Any = None
) -> list[selectors.BoardColumn]:
    """Fresh header figures for the columns a move touched (same board filters as the page)."""
    filters = BoardFilterForm(request.POST if data is None else data, user=request.user)
    where = selectors.board_where(deal.pipeline, filters.where()) & Q(stage_id__in=stage_ids)
    totals = selectors.stored_money_totals(request.user, where, group_by="stage_id")
    stages = Stage.objects.filter(pk__in=stage_ids, is_won=False, is_lost=False)
    return [
        selectors.BoardColumn(stage=s, total=totals.get(s.pk, selectors.MoneyTotal()), cards=[], next_cursor="")
        for s in stages
    ]


def _move_form_context(request: HttpRequest, form: MoveForm, deal: Deal) -> dict[str, Any]:
    # The board's owner/team filters ride along so the moved card is redrawn under them.
    carried = [(name, request.POST[name]) for name in ("owner", "team") if name in request.POST]
    return {
        "form": form,
        "deal": deal,
        "carried_filters": carried,
        "cancel_url": safe_next(request, deal.get_absolute_url()),
    }


def _ask_lost_reason(request: HttpRequest, form: MoveForm, deal: Deal) -> HttpResponse:
    """On the board, a drop on "Lost" opens the reason dialog instead of failing."""
    response = render(request, "deals/partials/move_form.html", _move_form_context(request, form, deal))
    response["HX-Retarget"] = "#move-dialog-body"
    response["HX-Reswap"] = "innerHTML"
    response["HX-Trigger-After-Swap"] = "deals:ask-lost-reason"
    return response


def _moved_card(request: HttpRequest, deal: Deal, old_stage_id: int | None, data: Any = None) -> HttpResponse:
    """The card in its new column and the touched columns' new figures (htmx out-of-band swaps);
    with ``old_stage_id=None``, every open column's figures."""
    data = request.POST if data is None else data
    deal = selectors.deals_for_user(request.user).get(pk=deal.pk)
    card = selectors.card_of(deal)
    decorate_cards([card])
    board_filters = BoardFilterForm(data, user=request.user)
    stages = list(Stage.objects.filter(pipeline_id=deal.pipeline_id).order_by("position", "id"))
    touched = {old_stage_id, deal.stage_id} if old_stage_id is not None else {s.pk for s in stages}
    heads = _board_column_heads(request, deal, touched, data)
    context = {
        "deal": deal,
        "card": card,
        "heads": heads,
        "stages": stages,
        "board_querystring": board_filters.querystring(),
    }
    return render(request, "deals/partials/move_result.html", context)


@require_GET
def deal_card(request: HttpRequest, pk: int) -> HttpResponse:
    """A card as it really is now, in its real column, with fresh column figures.

    The board asks for it when a move's answer was an error or never came: the move may have
    been saved (or someone else moved the card), so the board shows what is stored instead of
    guessing. Takes the board's filters (owner, team) as query parameters.
    """
    deal = selectors.deal_for_user(request.user, pk)
    return _moved_card(request, deal, None, request.GET)


@require_http_methods(["GET", "POST"])
def deal_move(request: HttpRequest, pk: int) -> HttpResponse:
    """Move a deal to another stage: the board (drag or "Move to…"), the deal page, or this form."""
    deal = selectors.deal_for_user(request.user, pk, write=True)
    default_stage = deal.stage_id if deal.is_open else getattr(selectors.deal_reopen_stage(deal), "pk", None)
    initial = {
        "stage": request.GET.get("stage") or default_stage,
        "expected_stage": deal.stage_id,
        "next": safe_next(request, deal.get_absolute_url()),
    }
    form = MoveForm(request.POST or None, initial=initial, deal=deal)
    if request.method == "POST" and form.is_valid():
        if form.needs_reason() and request.htmx:
            return _ask_lost_reason(request, form, deal)
        old_stage_id = deal.stage_id
        try:
            moved = services.deal_move_stage(
                deal=deal,
                stage=form.cleaned_data["stage"],
                actor=request.user,
                lost_reason=form.cleaned_data["lost_reason"],
                lost_note=form.cleaned_data["lost_note"],
                expected_stage=form.cleaned_data["expected_stage"],
            )
        except services.StageMoveConflict as exc:
            message = _("Someone else already moved this deal to %(stage)s. Reload to see it.") % {
                "stage": exc.deal.stage.name
            }
            if request.htmx:
                return HttpResponse(message, status=409, content_type="text/plain; charset=utf-8")
            messages.error(request, message)
            return redirect(deal)
        except ValidationError as exc:
            if request.htmx:
                return HttpResponse(" ".join(exc.messages), status=400, content_type="text/plain; charset=utf-8")
            form.add_error(None, exc)
        else:
            if request.htmx:
                return _moved_card(request, moved, old_stage_id)
            messages.success(request, _("Moved to %(stage)s.") % {"stage": moved.stage.name})
            return redirect(safe_next(request, moved.get_absolute_url()))
    template = "deals/partials/move_form.html" if request.htmx else "deals/deal_move.html"
    return render(request, template, _move_form_context(request, form, deal), status=400 if form.errors else 200)


# --- Line items ----------------------------------------------------------------------------


@require_POST
def line_item_add(request: HttpRequest, pk: int) -> HttpResponse:
    deal = selectors.deal_for_user(request.user, pk, write=True)
    form = LineItemForm(request.POST)
    if form.is_valid():
        services.line_item_add(
            deal=deal,
            actor=request.user,
            product=form.cleaned_data["product"],
            quantity=form.cleaned_data["quantity"],
            unit_price=form.cleaned_data["unit_price"],
            discount_percent=form.cleaned_data["discount_percent"],
        )
        messages.success(request, _("Line item added."))
        return redirect(deal)
    return render(request, "deals/line_item_form.html", {"form": form, "deal": deal}, status=400)


def _line_item_for(request: HttpRequest, pk: int, item_pk: int) -> tuple[Deal, LineItem]:
    deal = selectors.deal_for_user(request.user, pk, write=True)
    return deal, get_object_or_404(LineItem.objects.select_related("product"), pk=item_pk, deal=deal)


@require_http_methods(["GET", "POST"])
def line_item_edit(request: HttpRequest, pk: int, item_pk: int) -> HttpResponse:
    deal, item = _line_item_for(request, pk, item_pk)
    form = LineItemForm(request.POST or None, instance=item)
    conflict = None
    if request.method == "POST" and form.is_valid():
        try:
            services.line_item_update(
                line_item=item,
                actor=request.user,
                quantity=form.cleaned_data["quantity"],
                unit_price=form.cleaned_data["unit_price"],
                discount_percent=form.cleaned_data["discount_percent"],
                version=parse_version(form.cleaned_data["version"]),
            )
        except VersionConflict as exc:
            conflict = exc
            # The editor's values again on the saved version: saving once more keeps them.
            data = request.POST.copy()
            data["version"] = str(exc.version)
            form = LineItemForm(data, instance=exc.instance)
            form.is_valid()
        else:
            messages.success(request, _("Line item saved."))
            return redirect(deal)
    context = {"form": form, "deal": deal, "item": item, "conflict": conflict}
    return render(request, "deals/line_item_form.html", context, status=409 if conflict else 200)


@require_POST
def line_item_remove(request: HttpRequest, pk: int, item_pk: int) -> HttpResponse:
    deal, item = _line_item_for(request, pk, item_pk)
    services.line_item_remove(line_item=item, actor=request.user)
    messages.success(request, _("Line item removed."))
    return redirect(deal)


# --- Board ---------------------------------------------------------------------------------


@require_GET
def board_default(request: HttpRequest) -> HttpResponse:
    pipeline = selectors.default_pipeline()
    if pipeline is None:
        raise Http404(_("No pipeline yet: an admin can add one in Admin › Pipelines."))
    return redirect(pipeline)


@require_GET
def board(request: HttpRequest, pipeline_pk: int) -> HttpResponse:
    pipelines = list(Pipeline.objects.all())  # the board's tabs; one query for both
    pipeline = next((p for p in pipelines if p.pk == pipeline_pk), None)
    if pipeline is None:
        raise Http404(_("No such pipeline."))
    filters = BoardFilterForm(request.GET or None, user=request.user)
    filtered = filters.where()
    where = selectors.board_where(pipeline, filtered)
    qs = Deal.objects.visible_to(request.user).filter(where)
    stages = list(pipeline.stages.order_by("position", "id"))
    unfiltered = pipeline if not filtered else None
    columns = selectors.board_columns(qs, stages=stages, user=request.user, where=where, pipeline=unfiltered)
    decorate_cards([card for column in columns for card in column.cards])
    return render(
        request,
        "deals/board.html",
        {
            "pipeline": pipeline,
            "pipelines": pipelines,
            "filters": filters,
            "board_querystring": filters.querystring(),
            "columns": columns,
            "stages": stages,
            "open_stages": [s for s in stages if not s.is_closed],
            "closed_stages": [s for s in stages if s.is_closed],
        },
    )


@require_GET
def board_column(request: HttpRequest, pipeline_pk: int, stage_pk: int) -> HttpResponse:
    """The next page of one column's cards ("Load more"), keyset-paginated."""
    pipeline = get_object_or_404(Pipeline, pk=pipeline_pk)
    stage = get_object_or_404(Stage, pk=stage_pk, pipeline=pipeline)
    filters = BoardFilterForm(request.GET, user=request.user)
    qs = filters.apply(selectors.board_deals(request.user, pipeline))
    cards, next_cursor = selectors.board_cards(qs, stage=stage, after=request.GET.get("after", ""))
    decorate_cards(cards)
    stages = list(pipeline.stages.order_by("position", "id"))
    return render(
        request,
        "deals/partials/board_cards.html",
        {
            "pipeline": pipeline,
            "stage": stage,
            "cards": cards,
            "next_cursor": next_cursor,
            "stages": stages,
            "open_stages": [s for s in stages if not s.is_closed],
            "board_querystring": filters.querystring(),
            "oob": True,
        },
    )


# --- Inline editing -------------------------------------------------------------------------


def _deal_inline_save(*, user: Any, record: Deal, name: str, form: DealForm, version: int | None) -> Deal:
    return services.deal_update(deal=record, actor=user, version=version, data={name: form.cleaned_data[name]})


def _deal_inline_stages(form: DealForm, record: Deal, name: str) -> None:
    """The inline stage menu offers the deal's own pipeline (moving to another is the full form's job)."""
    if name == "stage":
        form.fields["stage"].queryset = form.fields["stage"].queryset.filter(pipeline_id=record.pipeline_id)


register_inline(
    InlineSpec(
        model=Deal,
        url_name="deals:inline",
        fields=("owner", "stage", "amount", "expected_close_date"),
        form_class=DealForm,
        get=lambda user, pk, write: selectors.deal_for_user(user, pk, write=write),
        save=_deal_inline_save,
        display_template="deals/partials/inline_display.html",
        editable=lambda user, record, name: not (name == "amount" and record.amount_from_line_items),
        form_setup=_deal_inline_stages,
    )
)


@require_http_methods(["GET", "POST"])
def deal_inline(request: HttpRequest, pk: int, field: str) -> HttpResponse:
    """One field of a deal edited in place (``crm.inline``): access as ``deal_edit``."""
    return inline_edit_view(request, Deal, pk, field)
