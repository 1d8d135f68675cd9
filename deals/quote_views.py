"""Quote pages: make one from a deal, read it (HTML), its PDF, edit (a new version), send
it by email, and record the customer's answer. Access follows the deal (``quote_for_user``)."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from crm.params import BadParameter, parse_id
from deals import quotes
from deals.models import QuoteEmailState, QuoteStatus
from deals.quote_forms import QuoteEditForm, QuoteSendForm
from deals.selectors import deal_for_user


def _version_param(request: HttpRequest) -> int | None:
    raw = request.GET.get("version", "")
    if not raw:
        return None
    try:
        return parse_id(raw)
    except BadParameter:
        raise Http404 from None


@require_POST
def quote_create(request: HttpRequest, pk: int) -> HttpResponse:
    deal = deal_for_user(request.user, pk, write=True)
    try:
        quote = quotes.quote_create(deal=deal, actor=request.user)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return redirect(deal)
    messages.success(request, _("Quote %(number)s made.") % {"number": quote.number})
    return redirect(quote)


def _emails(quote) -> dict[str, object]:
    emails = quotes.quote_emails(quote)
    return {"emails": emails, "emails_pending": any(e.state == QuoteEmailState.QUEUED for e in emails)}


def _send_form(quote, version) -> QuoteSendForm:
    deal = quote.deal
    recipients = [c.email for c in deal.contacts.all() if c.email and not c.do_not_email]
    return QuoteSendForm(
        initial={
            "to": ", ".join(recipients[:3]),
            "subject": _("Quote %(number)s: %(deal)s") % {"number": quote.number, "deal": deal.title},
            "message": _("Hello,\n\nplease find our quote %(number)s attached. It is valid until %(date)s.\n")
            % {"number": quote.number, "date": version.valid_until.isoformat()},
        }
    )


@require_GET
def quote_detail(request: HttpRequest, pk: int) -> HttpResponse:
    quote = quotes.quote_for_user(request.user, pk)
    version = quotes.quote_version(quote, _version_param(request))
    can_edit = request.user.can_edit_owner(quote.deal.owner_id)
    return render(
        request,
        "deals/quote_detail.html",
        {
            **quotes.quote_context(version),
            "can_edit": can_edit,
            "versions": list(range(quote.version, 0, -1)),
            "send_form": _send_form(quote, version) if can_edit and not quote.is_decided else None,
            **_emails(quote),
        },
    )


@require_GET
def quote_pdf(request: HttpRequest, pk: int) -> HttpResponse:
    quote = quotes.quote_for_user(request.user, pk)
    version = quotes.quote_version(quote, _version_param(request))
    response = HttpResponse(quotes.quote_pdf(version), content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="{quotes.quote_filename(version)}"'
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "private, no-store"
    return response


@require_http_methods(["GET", "POST"])
def quote_edit(request: HttpRequest, pk: int) -> HttpResponse:
    quote = quotes.quote_for_user(request.user, pk, write=True)
    if quote.is_decided:
        messages.error(request, _("This quote has been answered; make a new quote instead."))
        return redirect(quote)
    current = quotes.quote_version(quote)
    form = QuoteEditForm(request.POST or None, current=current)
    if request.method == "POST" and form.is_valid():
        try:
            written = quotes.quote_revise(
                quote=quote,
                actor=request.user,
                valid_until=form.cleaned_data["valid_until"],
                terms=form.cleaned_data["terms"],
                lines=form.lines(),
                version=form.cleaned_data["version"],
            )
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            messages.success(request, _("Version %(n)s saved.") % {"n": written.version})
            return redirect(quote)
    return render(
        request,
        "deals/quote_form.html",
        {"quote": quote, "deal": quote.deal, "form": form},
        status=400 if form.errors else 200,
    )


@require_POST
def quote_send(request: HttpRequest, pk: int) -> HttpResponse:
    quote = quotes.quote_for_user(request.user, pk, write=True)
    form = QuoteSendForm(request.POST)
    if form.is_valid():
        try:
            email = quotes.quote_send(
                quote=quote,
                actor=request.user,
                to=form.cleaned_data["to"],
                subject=form.cleaned_data["subject"],
                message=form.cleaned_data["message"],
            )
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
        else:
            messages.success(
                request,
                _("Version %(n)s is queued for sending to %(to)s; its state is shown under “Emails”.")
                % {"n": email.version, "to": ", ".join(email.to)},
            )
            return redirect(quote)
    version = quotes.quote_version(quote)
    return render(
        request,
        "deals/quote_detail.html",
        {
            **quotes.quote_context(version),
            "can_edit": True,
            "versions": list(range(quote.version, 0, -1)),
            "send_form": form,
            **_emails(quote),
        },
        status=400,
    )


@require_GET
def quote_emails(request: HttpRequest, pk: int) -> HttpResponse:
    """The "Emails" panel alone: the quote page polls it while an email waits to go out."""
    quote = quotes.quote_for_user(request.user, pk)
    return render(request, "deals/partials/quote_emails.html", {"quote": quote, **_emails(quote)})


@require_POST
def quote_answer(request: HttpRequest, pk: int) -> HttpResponse:
    quote = quotes.quote_for_user(request.user, pk, write=True)
    status = request.POST.get("status", "")
    if status not in (QuoteStatus.ACCEPTED, QuoteStatus.DECLINED):
        return HttpResponse(status=400)
    try:
        quotes.quote_decide(quote=quote, status=status, actor=request.user)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, _("Quote marked %(status)s.") % {"status": quote.get_status_display().lower()})
    return redirect(quote)
