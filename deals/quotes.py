"""Quotes: numbered offers made from a deal's line items, their versions, the PDF, sending
and the customer's answer.

- Numbers (``Q-2026-0007``) run without gaps per year: taken from ``QuoteNumber`` locked
  in the transaction that writes the quote.
- An edit never changes a version: it writes version N+1 (and the quote goes back to draft
  until it is sent again).
- The PDF is drawn by xhtml2pdf (pure Python, on ReportLab) from ``deals/quote_pdf.html``,
  in the TrueType font of ``QUOTE_PDF_FONT`` (DejaVu Sans: Latin and Cyrillic).
- Accepting or declining moves the deal when its pipeline names a stage for that answer.
"""

from __future__ import annotations

import datetime as dt
import io
import logging
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.mail import EmailMessage
from django.db import transaction
from django.db.models import QuerySet
from django.http import Http404
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.translation import gettext as _

from contacts.signals import customer_event
from crm.compiled import CompiledQuery
from crm.models import User
from crm.services import notification_create, outbox_enqueue
from deals.models import (
    Deal,
    LineItem,
    LostReason,
    Quote,
    QuoteEmail,
    QuoteEmailState,
    QuoteLine,
    QuoteNumber,
    QuoteStatus,
    QuoteVersion,
    Stage,
)
from deals.selectors import deal_for_user
from deals.services import deal_move_stage

logger = logging.getLogger(__name__)

CENT = Decimal("0.01")
# The lost reason a declined quote gives when the pipeline sends the deal to a lost stage
# (stored like the admin-defined reasons, in the team's language of record).
DECLINED_REASON = "Quote declined"
HUNDRED = Decimal("100")


@dataclass
class LineInput:
    """One line of a version being written (from the deal's line items or an edit)."""

    description: str
    sku: str
    quantity: Decimal
    unit_price: Decimal
    discount_percent: Decimal = Decimal("0")
    tax_percent: Decimal = Decimal("0")


def _money(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def line_amounts(line: LineInput) -> tuple[Decimal, Decimal, Decimal, Decimal]:
    """(gross, net after discount, tax on the net, total) of a line, each rounded to cents."""
    gross = _money(line.quantity * line.unit_price)
    net = _money(line.quantity * line.unit_price * (HUNDRED - line.discount_percent) / HUNDRED)
    tax = _money(net * line.tax_percent / HUNDRED)
    return gross, net, tax, net + tax


def _next_number(year: int) -> int:
    """The year's next number, with its counter row locked until the caller's transaction ends."""
    QuoteNumber.objects.get_or_create(year=year)
    counter = QuoteNumber.objects.select_for_update().get(year=year)
    counter.last += 1
    counter.save(update_fields=["last"])
    return counter.last


def _write_version(
    *, quote: Quote, version: int, valid_until: dt.date, terms: str, lines: list[LineInput], actor: User | None
) -> QuoteVersion:
    amounts = [line_amounts(line) for line in lines]
    subtotal = sum((a[0] for a in amounts), Decimal("0"))
    net = sum((a[1] for a in amounts), Decimal("0"))
    tax = sum((a[2] for a in amounts), Decimal("0"))
    written = QuoteVersion.objects.create(
        quote=quote,
        version=version,
        valid_until=valid_until,
        terms=terms,
        currency=quote.deal.currency,
        subtotal=subtotal,
        discount_total=subtotal - net,
        tax_total=tax,
        total=net + tax,
        created_by=actor,
    )
    QuoteLine.objects.bulk_create(
        QuoteLine(
            quote_version=written,
            position=position,
            description=line.description[:300],
            sku=line.sku[:60],
            quantity=line.quantity,
            unit_price=line.unit_price,
            discount_percent=line.discount_percent,
            tax_percent=line.tax_percent,
            net=amount[1],
            tax=amount[2],
            total=amount[3],
        )
        for position, (line, amount) in enumerate(zip(lines, amounts, strict=True))
    )
    return written


def quote_create(*, deal: Deal, actor: User | None, valid_until: dt.date | None = None, terms: str = "") -> Quote:
    """A new quote, version 1, from the deal's line items (their discounts; no tax until edited)."""
    items = list(LineItem.objects.filter(deal=deal).select_related("product").order_by("position", "id"))
    if not items:
        raise ValidationError(_("Add line items to the deal before making a quote."))
    now = timezone.now()
    today = timezone.localdate(now)
    lines = [
        LineInput(
            description=item.product.name,
            sku=item.product.sku,
            quantity=item.quantity,
            unit_price=item.unit_price,
            discount_percent=item.discount_percent,
        )
        for item in items
    ]
    with transaction.atomic():
        quote = Quote.objects.create(
            deal=deal, year=today.year, sequence=_next_number(today.year), created_by=actor, created_at=now
        )
        _write_version(
            quote=quote,
            version=1,
            valid_until=valid_until or today + dt.timedelta(days=settings.QUOTE_VALID_DAYS),
            terms=terms,
            lines=lines,
            actor=actor,
        )
        customer_event.send(
            sender=Quote,
            kind="quote_created",
            title=_("Quote %(number)s made") % {"number": quote.number},
            actor=actor,
            company=deal.company,
            contact=None,
            deal=deal,
            data={"quote_id": quote.pk, "number": quote.number},
        )
    return quote


def quote_revise(
    *, quote: Quote, actor: User | None, valid_until: dt.date, terms: str, lines: list[LineInput], version: int
) -> QuoteVersion:
    """Write version N+1. ``version`` is the one the editor saw: an edit made meanwhile by
    someone else raises ``ValidationError`` instead of being overwritten."""
    if not lines:
        raise ValidationError(_("A quote needs at least one line."))
    with transaction.atomic():
        locked = Quote.objects.select_for_update().select_related("deal").get(pk=quote.pk)
        if locked.is_decided:
            raise ValidationError(_("This quote has been answered; make a new quote instead."))
        if locked.version != version:
            raise ValidationError(
                _("Someone saved version %(n)s of this quote meanwhile: look at it and edit again.")
                % {"n": locked.version}
            )
        locked.version += 1
        locked.status = QuoteStatus.DRAFT
        locked.save(update_fields=["version", "status"])
        written = _write_version(
            quote=locked, version=locked.version, valid_until=valid_until, terms=terms, lines=lines, actor=actor
        )
    quote.refresh_from_db()
    return written


# --- Reads --------------------------------------------------------------------------------


def quote_for_user(user: User, pk: int, *, write: bool = False) -> Quote:
    """The quote when ``user`` may see its deal (404 otherwise); ``write``: 403 unless they may change it."""
    quote = Quote.objects.filter(pk=pk).first()
    if quote is None:
        raise Http404
    quote.deal = deal_for_user(user, quote.deal_id, write=write)
    return quote


def quote_version(quote: Quote, number: int | None = None) -> QuoteVersion:
    """A version of the quote (the current one by default) with its lines, in two queries."""
    version = (
        QuoteVersion.objects.filter(quote=quote, version=number or quote.version)
        .select_related("created_by")
        .prefetch_related("lines")
        .first()
    )
    if version is None:
        raise Http404
    version.quote = quote
    return version


def _deal_quotes(_key: tuple, *, deal: int) -> QuerySet[Quote]:
    return Quote.objects.filter(deal=deal).order_by("-created_at", "-id")


# The deal page's quotes panel: built and compiled once.
_DEAL_QUOTES = CompiledQuery(_deal_quotes, deal=int)


def deal_quotes(deal: Deal) -> list[Quote]:
    return _DEAL_QUOTES.fetch(deal=deal.pk)


# --- The PDF ------------------------------------------------------------------------------


def _font_paths() -> dict[str, str]:
    return {
        "regular": settings.QUOTE_PDF_FONT,
        "bold": settings.QUOTE_PDF_FONT_BOLD,
        "cjk": settings.QUOTE_PDF_FONT_CJK,
    }


def _link_callback(uri: str, rel: str) -> str:
    """Only the configured fonts may be read while drawing: nothing from the network, and no
    other file, whatever a quote's text contains."""
    allowed = {str(Path(p).resolve()) for p in _font_paths().values() if p}
    resolved = str(Path(uri).resolve()) if uri.startswith("/") else ""
    if resolved in allowed:
        return resolved
    raise PermissionDenied(f"quote PDF may not load {uri!r}")


def quote_context(version: QuoteVersion) -> dict[str, Any]:
    quote = version.quote
    deal = quote.deal
    return {
        "quote": quote,
        "version": version,
        "lines": list(version.lines.all()),
        "deal": deal,
        "company": deal.company,
        "seller": settings.QUOTE_SELLER_NAME,
    }


def quote_pdf(version: QuoteVersion) -> bytes:
    """The version as a PDF document."""
    from xhtml2pdf import pisa
    from xhtml2pdf.config.resources import ResourceAccessPolicy

    fonts = {name: path for name, path in _font_paths().items() if path and Path(path).is_file()}
    html = render_to_string("deals/quote_pdf.html", {**quote_context(version), "fonts": fonts})
    out = io.BytesIO()
    # Nothing from the network, and no local file but the fonts' folders.
    policy = ResourceAccessPolicy.server(
        base_dir=None, extra_roots=tuple({Path(p).resolve().parent for p in fonts.values()}), allow_remote=False
    )
    result = pisa.CreatePDF(html, dest=out, encoding="utf-8", link_callback=_link_callback, resource_policy=policy)
    if result.err:
        raise RuntimeError(f"quote PDF failed: {result.err} errors")
    return out.getvalue()


def quote_filename(version: QuoteVersion) -> str:
    return f"{version.quote.number}-v{version.version}.pdf"


# --- Sending and answers --------------------------------------------------------------------


QUOTE_EMAIL_MAX_ATTEMPTS = 5
QUOTE_EMAIL_BACKOFF_SECONDS = 60


def quote_send(*, quote: Quote, actor: User, to: list[str], subject: str, message: str) -> QuoteEmail:
    """Queue the current version for sending by email to ``to``.

    Writes the request and an outbox row in one transaction: the mail goes out from a worker
    (``quote_email_deliver``) once this commits, and the quote is marked sent — and logged on
    the deal's timeline — when the mail server has taken it, not before."""
    with transaction.atomic():
        locked = Quote.objects.select_for_update().get(pk=quote.pk)
        if locked.is_decided:
            raise ValidationError(_("This quote has been answered already."))
        email = QuoteEmail.objects.create(
            quote=locked,
            version=locked.version,
            to=to,
            subject=subject[:200],
            message=message,
            reply_to=actor.email or "",
            created_by=actor,
        )
        outbox_enqueue(task="deals.tasks.quote_email_send", args=[email.pk])
    return email


def quote_emails(quote: Quote) -> list[QuoteEmail]:
    """The quote's emails, newest first (one query)."""
    return list(QuoteEmail.objects.filter(quote=quote).order_by("-created_at", "-id")[:20])


def quote_email_deliver(*, email_id: int, now: dt.datetime | None = None) -> str | None:
    """Send one queued quote email whose attempt is due; returns its state (``None``: not
    due, or another worker has it). Idempotent: a sent or failed email is left alone.

    The row stays locked while the mail server is talking, so a second worker given the same
    email skips it. A refused mail gets ``attempts + 1``, the server's answer in
    ``last_error`` and a later ``next_attempt_at`` (beat's sweep tries again), and fails
    after ``QUOTE_EMAIL_MAX_ATTEMPTS`` with a notification to the sender."""
    now = now or timezone.now()
    with transaction.atomic():
        email = (
            QuoteEmail.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("quote__deal__company", "created_by")
            .filter(pk=email_id, state=QuoteEmailState.QUEUED, next_attempt_at__lte=now)
            .first()
        )
        if email is None:
            return None
        quote = email.quote
        if quote.is_decided:
            email.state = QuoteEmailState.FAILED
            email.last_error = _("The quote was answered before the email went out.")
            email.next_attempt_at = None
            email.save(update_fields=["state", "last_error", "next_attempt_at"])
            return email.state
        version = quote_version(quote, email.version)
        try:
            message = EmailMessage(
                subject=email.subject,
                body=email.message,
                from_email=settings.DEFAULT_FROM_EMAIL,
                to=email.to,
                reply_to=[email.reply_to] if email.reply_to else None,
            )
            message.attach(quote_filename(version), quote_pdf(version), "application/pdf")
            message.send()
        except SoftTimeLimitExceeded:
            raise  # out of time: roll back; the sweep finds the email still queued and due
        except Exception as exc:  # noqa: BLE001 - any SMTP/backend failure is recorded and retried
            _record_quote_email_failure(email, exc, now)
            return email.state
        email.state = QuoteEmailState.SENT
        email.sent_at = timezone.now()
        email.attempts += 1
        email.last_error = ""
        email.next_attempt_at = None
        email.save(update_fields=["state", "sent_at", "attempts", "last_error", "next_attempt_at"])
        locked = Quote.objects.select_for_update().get(pk=quote.pk)
        locked.sent_at = email.sent_at
        fields = ["sent_at"]
        if locked.version == email.version and not locked.is_decided:
            locked.status = QuoteStatus.SENT
            fields.append("status")
        locked.save(update_fields=fields)
        deal = quote.deal
        customer_event.send(
            sender=Quote,
            kind="quote_sent",
            title=_("Quote %(number)s (version %(version)s) sent to %(to)s")
            % {"number": quote.number, "version": version.version, "to": ", ".join(email.to)},
            actor=email.created_by,
            company=deal.company,
            contact=None,
            deal=deal,
            body=email.message,
            data={
                "quote_id": quote.pk,
                "number": quote.number,
                "version": version.version,
                "to": email.to,
                "total": str(version.total),
                "currency": version.currency,
            },
        )
    return email.state


def _record_quote_email_failure(email: QuoteEmail, exc: Exception, now: dt.datetime) -> None:
    email.attempts += 1
    email.last_error = f"{exc.__class__.__name__}: {exc}"[:2000]
    if email.attempts >= QUOTE_EMAIL_MAX_ATTEMPTS:
        email.state = QuoteEmailState.FAILED
        email.next_attempt_at = None
        if email.created_by is not None:
            notification_create(
                user=email.created_by,
                text=_("Quote %(number)s could not be sent to %(to)s: %(error)s")
                % {"number": email.quote.number, "to": ", ".join(email.to), "error": email.last_error},
                link=email.quote.get_absolute_url(),
            )
    else:
        delay = min(QUOTE_EMAIL_BACKOFF_SECONDS * 2 ** (email.attempts - 1), 3600)
        email.next_attempt_at = now + dt.timedelta(seconds=delay)
    email.save(update_fields=["attempts", "last_error", "state", "next_attempt_at"])
    logger.warning("Quote email %s failed (attempt %s): %s", email.pk, email.attempts, email.last_error)


def quote_email_sweep(*, now: dt.datetime | None = None, limit: int = 100) -> int:
    """Beat: send the queued quote emails that are due (retries, and any whose first task was
    lost); returns how many were tried."""
    now = now or timezone.now()
    ids = list(
        QuoteEmail.objects.filter(state=QuoteEmailState.QUEUED, next_attempt_at__lte=now)
        .order_by("next_attempt_at", "id")
        .values_list("pk", flat=True)[:limit]
    )
    for email_id in ids:
        quote_email_deliver(email_id=email_id, now=now)
    return len(ids)


def quote_decide(*, quote: Quote, status: str, actor: User) -> Quote:
    """Record the customer's answer; the deal moves to the stage its pipeline names for it."""
    if status not in (QuoteStatus.ACCEPTED, QuoteStatus.DECLINED):
        raise ValidationError(_("Unknown answer."))
    with transaction.atomic():
        locked = Quote.objects.select_for_update().get(pk=quote.pk)
        if locked.is_decided:
            raise ValidationError(_("This quote has been answered already."))
        locked.status = status
        locked.decided_at = timezone.now()
        locked.save(update_fields=["status", "decided_at"])
        deal = Deal.objects.select_related("pipeline", "company").get(pk=quote.deal_id)
        pipeline = deal.pipeline
        stage_id = (
            pipeline.quote_accepted_stage_id if status == QuoteStatus.ACCEPTED else pipeline.quote_declined_stage_id
        )
        titles = {
            QuoteStatus.ACCEPTED: _("Quote %(number)s accepted"),
            QuoteStatus.DECLINED: _("Quote %(number)s declined"),
        }
        customer_event.send(
            sender=Quote,
            kind=f"quote_{status}",
            title=titles[status] % {"number": locked.number},
            actor=actor,
            company=deal.company,
            contact=None,
            deal=deal,
            data={"quote_id": locked.pk, "number": locked.number, "version": locked.version},
        )
        if stage_id is not None and deal.stage_id != stage_id and deal.is_open:
            stage = Stage.objects.get(pk=stage_id)
            # A lost stage wants a reason: the answer is the reason.
            reason = LostReason.objects.get_or_create(name=DECLINED_REASON)[0] if stage.is_lost else None
            deal_move_stage(deal=deal, stage=stage, actor=actor, lost_reason=reason, lost_note=locked.number)
    quote.refresh_from_db()
    return quote
