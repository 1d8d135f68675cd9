"""Quotes: numbers, versions, totals, the PDF, sending, answers and who may do what."""

from __future__ import annotations

import datetime as dt
import io
import smtplib
import threading
from decimal import Decimal

import pytest
from django.core import mail
from django.core.exceptions import ValidationError
from django.db import connection
from django.urls import reverse
from django.utils import timezone
from pypdf import PdfReader

from activities.models import TimelineEvent
from contacts.models import Company, Contact
from crm.models import Notification, Outbox
from deals import quotes
from deals.models import LineItem, Quote, QuoteEmail, QuoteNumber, QuoteStatus
from deals.tasks import quote_email_send
from deals.tests.factories import DealFactory, ProductFactory, make_pipeline, stage


@pytest.fixture(autouse=True)
def locmem_email(settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"


@pytest.fixture
def deal(owner):
    company = Company.objects.create(name="ООО «Вектор»", owner=owner)
    deal = DealFactory(owner=owner, company=company, currency="EUR", title="Продление лицензий")
    deal.contacts.add(Contact.objects.create(first_name="Анна", last_name="Петрова", email="anna@vector.example",
                                             owner=owner, company=company))  # fmt: skip
    LineItem.objects.create(
        deal=deal, product=ProductFactory(name="Лицензия"), quantity=Decimal("3"), unit_price=Decimal("100.00"),
        discount_percent=Decimal("10"), position=0,
    )  # fmt: skip
    LineItem.objects.create(
        deal=deal, product=ProductFactory(name="Support 支持"), quantity=Decimal("1"), unit_price=Decimal("50.00")
    )
    return deal


def test_a_quote_copies_the_line_items_and_totals_them(deal, owner):
    quote = quotes.quote_create(deal=deal, actor=owner, terms="Net 14")
    version = quotes.quote_version(quote)
    assert quote.number == f"Q-{quote.year}-0001"
    assert (version.version, version.currency) == (1, "EUR")
    lines = list(version.lines.all())
    assert [line.description for line in lines] == ["Лицензия", "Support 支持"]
    assert lines[0].net == Decimal("270.00")
    assert version.subtotal == Decimal("350.00")
    assert version.discount_total == Decimal("30.00")
    assert version.tax_total == Decimal("0.00")
    assert version.total == Decimal("320.00")
    assert version.valid_until > dt.date.today()
    assert TimelineEvent.objects.filter(kind="quote_created", deal=deal).exists()


def test_a_deal_without_line_items_has_no_quote(owner):
    deal = DealFactory(owner=owner)
    with pytest.raises(ValidationError):
        quotes.quote_create(deal=deal, actor=owner)
    assert not Quote.objects.exists()


def test_numbers_run_without_gaps_per_year_and_a_rollback_gives_its_number_back(deal, owner):
    first = quotes.quote_create(deal=deal, actor=owner)
    from django.db import transaction

    with pytest.raises(RuntimeError), transaction.atomic():
        quotes.quote_create(deal=deal, actor=owner)
        raise RuntimeError
    second = quotes.quote_create(deal=deal, actor=owner)
    assert (first.sequence, second.sequence) == (1, 2)
    assert QuoteNumber.objects.get(year=first.year).last == 2
    QuoteNumber.objects.create(year=first.year - 1, last=41)
    assert second.year == first.year  # another year's counter is separate


@pytest.mark.django_db(transaction=True)
def test_concurrent_quotes_get_distinct_consecutive_numbers(owner):
    make_pipeline()
    deal = DealFactory(owner=owner)
    LineItem.objects.create(deal=deal, product=ProductFactory(), quantity=1, unit_price=Decimal("1.00"))
    numbers, errors = [], []

    def make() -> None:
        try:
            numbers.append(quotes.quote_create(deal=deal, actor=owner).sequence)
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=make) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert sorted(numbers) == [1, 2, 3, 4]


def test_editing_writes_version_two_and_keeps_version_one(owner_client, deal, owner):
    quote = quotes.quote_create(deal=deal, actor=owner)
    url = reverse("deals:quote-edit", args=[quote.pk])
    assert owner_client.get(url).status_code == 200
    response = owner_client.post(
        url,
        {"version": 1, "valid_until": "2030-01-31", "terms": "Оплата 14 дней", "discount_0": "10", "tax_0": "20",
         "discount_1": "0", "tax_1": "20"},
    )  # fmt: skip
    assert response.status_code == 302
    quote.refresh_from_db()
    assert (quote.version, quote.status) == (2, QuoteStatus.DRAFT)
    v1, v2 = quotes.quote_version(quote, 1), quotes.quote_version(quote, 2)
    assert v1.total == Decimal("320.00")
    assert v2.tax_total == Decimal("64.00")  # 20 % of 270 + 50
    assert v2.total == Decimal("384.00")
    assert v2.terms == "Оплата 14 дней"
    # The old version still reads as it was.
    page = owner_client.get(reverse("deals:quote-detail", args=[quote.pk]) + "?version=1")
    assert page.context["version"].version == 1


def test_an_edit_from_a_stale_version_is_refused(owner_client, deal, owner):
    quote = quotes.quote_create(deal=deal, actor=owner)
    data = {"version": 1, "valid_until": "2030-01-31", "terms": "", "discount_0": "0", "tax_0": "0",
            "discount_1": "0", "tax_1": "0"}  # fmt: skip
    assert owner_client.post(reverse("deals:quote-edit", args=[quote.pk]), data).status_code == 302
    response = owner_client.post(reverse("deals:quote-edit", args=[quote.pk]), data)
    assert response.status_code == 400
    assert "meanwhile" in response.content.decode()
    quote.refresh_from_db()
    assert quote.version == 2


def test_edit_shows_field_errors(owner_client, deal, owner):
    quote = quotes.quote_create(deal=deal, actor=owner)
    response = owner_client.post(
        reverse("deals:quote-edit", args=[quote.pk]),
        {"version": 1, "valid_until": "someday", "discount_0": "150", "tax_0": "x", "discount_1": "0", "tax_1": "0"},
    )
    assert response.status_code == 400
    form = response.context["form"]
    assert {"valid_until", "discount_0", "tax_0"} <= set(form.errors)
    assert "is-invalid" in response.content.decode()


def test_the_pdf_has_the_quote_in_cyrillic(owner_client, deal, owner):
    quote = quotes.quote_create(deal=deal, actor=owner, terms="Оплата в течение 14 дней")
    response = owner_client.get(reverse("deals:quote-pdf", args=[quote.pk]))
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert f"{quote.number}-v1.pdf" in response["Content-Disposition"]
    text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(response.content)).pages)
    assert quote.number in text
    assert "Лицензия" in text
    assert "Оплата в течение 14 дней" in text
    fonts = PdfReader(io.BytesIO(response.content)).pages[0]["/Resources"]["/Font"].get_object()
    assert any("DejaVu" in str(font.get_object()["/BaseFont"]) for font in fonts.values())


def test_sending_queues_the_email_and_the_worker_mails_the_pdf_and_logs_it(owner_client, deal, owner):
    quote = quotes.quote_create(deal=deal, actor=owner)
    page = owner_client.get(reverse("deals:quote-detail", args=[quote.pk]))
    assert page.context["send_form"].initial["to"] == "anna@vector.example"
    response = owner_client.post(
        reverse("deals:quote-send", args=[quote.pk]),
        {"to": "anna@vector.example, boss@vector.example", "subject": "Quote", "message": "Здравствуйте"},
    )
    assert response.status_code == 302
    # The request only queued it: no mail, the quote not yet sent, nothing on the timeline.
    email = QuoteEmail.objects.get(quote=quote)
    assert (email.state, email.version, email.to) == ("queued", 1, ["anna@vector.example", "boss@vector.example"])
    assert Outbox.objects.filter(task="deals.tasks.quote_email_send", args=[email.pk], sent_at__isnull=True).exists()
    assert not mail.outbox
    quote.refresh_from_db()
    assert quote.status == QuoteStatus.DRAFT
    assert not TimelineEvent.objects.filter(kind="quote_sent").exists()
    messages = [str(m) for m in response.wsgi_request._messages]
    to = "anna@vector.example, boss@vector.example"
    assert messages == [f"Version 1 is queued for sending to {to}; its state is shown under “Emails”."]
    page = owner_client.get(reverse("deals:quote-detail", args=[quote.pk]))
    assert "Queued: it goes out in a moment." in page.content.decode()
    assert reverse("deals:quote-emails", args=[quote.pk]) in page.content.decode()  # polls while queued

    assert quote_email_send(email.pk) == "sent"  # what the outbox relay runs on a worker

    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["anna@vector.example", "boss@vector.example"]
    assert message.reply_to == [owner.email]
    (name, content, mimetype), = message.attachments  # fmt: skip
    assert (name, mimetype) == (f"{quote.number}-v1.pdf", "application/pdf")
    assert content.startswith(b"%PDF-")
    quote.refresh_from_db()
    email.refresh_from_db()
    assert quote.status == QuoteStatus.SENT and quote.sent_at == email.sent_at
    assert (email.state, email.attempts, email.next_attempt_at) == ("sent", 1, None)
    event = TimelineEvent.objects.get(kind="quote_sent", deal=deal)
    assert event.data["to"] == ["anna@vector.example", "boss@vector.example"]
    assert event.company_id == deal.company_id
    panel = owner_client.get(reverse("deals:quote-emails", args=[quote.pk])).content.decode()
    assert "Sent " in panel and "hx-trigger" not in panel

    # Run again (the outbox sends at least once): nothing more goes out.
    assert quote_email_send(email.pk) is None
    assert len(mail.outbox) == 1
    assert TimelineEvent.objects.filter(kind="quote_sent").count() == 1


class FlakySMTP:
    """Stands in for ``smtplib.SMTP``: refuses the first ``refusals`` mails with a 451."""

    refusals = 0
    delivered: list[list[str]] = []

    def __init__(self, host, port, **kwargs):
        pass

    def sendmail(self, from_addr, to_addrs, msg):
        if FlakySMTP.refusals:
            FlakySMTP.refusals -= 1
            raise smtplib.SMTPDataError(451, b"4.3.0 Mail server busy, try later")
        FlakySMTP.delivered.append(list(to_addrs))
        return {}

    def quit(self):
        pass

    def close(self):
        pass


@pytest.fixture
def flaky_smtp(settings, monkeypatch):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    settings.EMAIL_HOST_USER = ""
    monkeypatch.setattr(smtplib, "SMTP", FlakySMTP)
    FlakySMTP.delivered = []
    return FlakySMTP


def test_a_refused_quote_email_records_why_and_is_sent_by_a_later_sweep(flaky_smtp, deal, owner):
    flaky_smtp.refusals = 1
    quote = quotes.quote_create(deal=deal, actor=owner)
    email = quotes.quote_send(quote=quote, actor=owner, to=["anna@vector.example"], subject="Quote", message="Hi")
    sent_at = timezone.now()

    assert quotes.quote_email_deliver(email_id=email.pk, now=sent_at) == "queued"
    email.refresh_from_db()
    assert email.attempts == 1
    assert "SMTPDataError" in email.last_error and "Mail server busy" in email.last_error
    assert email.next_attempt_at == sent_at + dt.timedelta(seconds=quotes.QUOTE_EMAIL_BACKOFF_SECONDS)
    quote.refresh_from_db()
    assert quote.status == QuoteStatus.DRAFT
    assert not TimelineEvent.objects.filter(kind="quote_sent").exists()

    # Not due yet: the sweep leaves it; once due, it goes out.
    assert quotes.quote_email_sweep(now=sent_at + dt.timedelta(seconds=10)) == 0
    assert quotes.quote_email_sweep(now=sent_at + dt.timedelta(seconds=61)) == 1
    email.refresh_from_db()
    quote.refresh_from_db()
    assert (email.state, email.attempts, email.last_error) == ("sent", 2, "")
    assert flaky_smtp.delivered == [["anna@vector.example"]]
    assert quote.status == QuoteStatus.SENT
    assert TimelineEvent.objects.filter(kind="quote_sent", deal=deal).count() == 1


def test_a_quote_email_refused_every_time_fails_and_tells_the_sender(flaky_smtp, owner_client, deal, owner):
    flaky_smtp.refusals = 99
    quote = quotes.quote_create(deal=deal, actor=owner)
    email = quotes.quote_send(quote=quote, actor=owner, to=["anna@vector.example"], subject="Quote", message="Hi")
    when = timezone.now()
    for _attempt in range(quotes.QUOTE_EMAIL_MAX_ATTEMPTS):
        quotes.quote_email_deliver(email_id=email.pk, now=when)
        email.refresh_from_db()
        when = email.next_attempt_at or when
    assert (email.state, email.attempts, email.next_attempt_at) == ("failed", quotes.QUOTE_EMAIL_MAX_ATTEMPTS, None)
    assert quotes.quote_email_sweep(now=when + dt.timedelta(days=1)) == 0
    quote.refresh_from_db()
    assert quote.status == QuoteStatus.DRAFT and quote.sent_at is None
    assert not TimelineEvent.objects.filter(kind="quote_sent").exists()
    note = Notification.objects.get(user=owner)
    assert note.text.startswith(f"Quote {quote.number} could not be sent to anna@vector.example: SMTPDataError")
    assert note.link == quote.get_absolute_url()
    panel = owner_client.get(reverse("deals:quote-emails", args=[quote.pk])).content.decode()
    assert "Not sent after 5 attempts:" in panel


def test_an_email_queued_before_the_quote_was_answered_is_not_sent(deal, owner):
    quote = quotes.quote_create(deal=deal, actor=owner)
    email = quotes.quote_send(quote=quote, actor=owner, to=["anna@vector.example"], subject="Quote", message="Hi")
    quotes.quote_decide(quote=quote, status=QuoteStatus.ACCEPTED, actor=owner)
    assert quotes.quote_email_deliver(email_id=email.pk) == "failed"
    assert not mail.outbox
    quote.refresh_from_db()
    assert quote.status == QuoteStatus.ACCEPTED


def test_sending_to_a_bad_address_shows_the_error_and_sends_nothing(owner_client, deal, owner):
    quote = quotes.quote_create(deal=deal, actor=owner)
    response = owner_client.post(
        reverse("deals:quote-send", args=[quote.pk]), {"to": "anna@, x", "subject": "Quote", "message": "Hi"}
    )
    assert response.status_code == 400
    assert "to" in response.context["send_form"].errors
    assert not mail.outbox
    quote.refresh_from_db()
    assert quote.status == QuoteStatus.DRAFT


def test_acceptance_moves_the_deal_when_the_pipeline_says_so(owner_client, deal, owner):
    pipeline = deal.pipeline
    pipeline.quote_accepted_stage = stage(pipeline, "Negotiation")
    pipeline.save()
    quote = quotes.quote_create(deal=deal, actor=owner)
    response = owner_client.post(reverse("deals:quote-answer", args=[quote.pk]), {"status": "accepted"})
    assert response.status_code == 302
    deal.refresh_from_db()
    quote.refresh_from_db()
    assert quote.status == QuoteStatus.ACCEPTED
    assert deal.stage.name == "Negotiation"
    assert deal.stage_changes.filter(to_stage__name="Negotiation", actor=owner).exists()
    assert TimelineEvent.objects.filter(kind="quote_accepted", deal=deal).exists()
    # Answered: no more edits, sends or answers.
    assert owner_client.post(reverse("deals:quote-answer", args=[quote.pk]), {"status": "declined"}).status_code == 302
    quote.refresh_from_db()
    assert quote.status == QuoteStatus.ACCEPTED


def test_declining_to_a_lost_stage_gives_the_reason(deal, owner):
    pipeline = deal.pipeline
    pipeline.quote_declined_stage = stage(pipeline, "Lost")
    pipeline.save()
    quote = quotes.quote_create(deal=deal, actor=owner)
    quotes.quote_decide(quote=quote, status=QuoteStatus.DECLINED, actor=owner)
    deal.refresh_from_db()
    assert deal.status == "lost"
    assert deal.lost_reason.name == quotes.DECLINED_REASON


def test_without_a_pipeline_setting_the_deal_stays(deal, owner):
    quote = quotes.quote_create(deal=deal, actor=owner)
    before = deal.stage_id
    quotes.quote_decide(quote=quote, status=QuoteStatus.ACCEPTED, actor=owner)
    deal.refresh_from_db()
    assert deal.stage_id == before


def test_a_stage_of_another_pipeline_is_refused(deal):
    other = make_pipeline("Other", default=False)
    pipeline = deal.pipeline
    pipeline.quote_accepted_stage = stage(other, "Won")
    with pytest.raises(ValidationError):
        pipeline.full_clean()


def test_it_checks_ownership(owner_client, teammate_client, outsider_client, manager_client, deal, owner):
    quote = quotes.quote_create(deal=deal, actor=owner)
    for name in ("quote-detail", "quote-pdf", "quote-emails"):
        url = reverse(f"deals:{name}", args=[quote.pk])
        assert outsider_client.get(url).status_code == 404
        assert teammate_client.get(url).status_code == 200
        assert manager_client.get(url).status_code == 200
    assert teammate_client.get(reverse("deals:quote-edit", args=[quote.pk])).status_code == 403
    assert outsider_client.get(reverse("deals:quote-edit", args=[quote.pk])).status_code == 404
    send = {"to": "a@b.example", "subject": "s", "message": "m"}
    assert teammate_client.post(reverse("deals:quote-send", args=[quote.pk]), send).status_code == 403
    assert outsider_client.post(reverse("deals:quote-send", args=[quote.pk]), send).status_code == 404
    assert (
        outsider_client.post(reverse("deals:quote-answer", args=[quote.pk]), {"status": "accepted"}).status_code == 404
    )
    assert outsider_client.post(reverse("deals:quote-create", args=[deal.pk])).status_code == 404
    assert teammate_client.post(reverse("deals:quote-create", args=[deal.pk])).status_code == 403
    assert not mail.outbox
    assert Quote.objects.count() == 1
    # The teammate reads the page without the send form.
    assert teammate_client.get(reverse("deals:quote-detail", args=[quote.pk])).context["send_form"] is None


def test_a_bad_version_parameter_is_a_404(owner_client, deal, owner):
    quote = quotes.quote_create(deal=deal, actor=owner)
    for raw in ("²", "0", "9", "abc"):
        assert owner_client.get(reverse("deals:quote-detail", args=[quote.pk]) + f"?version={raw}").status_code == 404


def test_quote_pages_make_a_constant_number_of_queries(owner_client, deal, owner, django_assert_max_num_queries):
    quote = quotes.quote_create(deal=deal, actor=owner)
    for n in range(8):
        LineItem.objects.create(deal=deal, product=ProductFactory(), quantity=1, unit_price=Decimal("5.00"), position=n)
    big = quotes.quote_create(deal=deal, actor=owner)
    for one in (quote, big):
        with django_assert_max_num_queries(8):
            assert owner_client.get(reverse("deals:quote-detail", args=[one.pk])).status_code == 200
    owner_client.get(deal.get_absolute_url())  # warms the timeline's and content types' caches
    # deals/tests/test_views.py's budget for the deal page (13), +1: EUR has no exchange rate
    # here, and the page looks for the earliest one; +1: the gross margin panel converts the
    # line items' cost to the base currency the same way (deals with line items only).
    with django_assert_max_num_queries(15):
        assert owner_client.get(deal.get_absolute_url()).status_code == 200


def test_beat_retries_quote_emails(settings):
    from deals.tasks import quote_email_sweep

    assert settings.CELERY_BEAT_SCHEDULE["deals-quote-email-sweep"]["task"] == quote_email_sweep.name
