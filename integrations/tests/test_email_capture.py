"""Email capture on real .eml samples (tests/eml/): plain, HTML-only, multipart with
attachments, KOI8-R, GB2312, quoted-printable Latin-1, a lying charset, an inline forward;
matching on what the capturing user may see, idempotency, the unmatched queue, the command
and the endpoint, and every refusal (a clear 4xx / exit status, nothing written)."""

from __future__ import annotations

import io
import json
import os
import random
import subprocess
import sys
import threading
from datetime import UTC, datetime
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command
from django.db import connection
from django.urls import reverse

from activities.models import Activity, TimelineEvent
from activities.selectors import timeline_page
from contacts.tests.factories import CompanyFactory, ContactFactory
from integrations.mailparse import NotAnEmail, html_to_text, parse_email
from integrations.models import CapturedEmail, EmailCaptureAddress, EmailDirection, TokenScope
from integrations.tests.conftest import token_client

pytestmark = pytest.mark.django_db

EML = Path(__file__).parent / "eml"
TOKEN = "ownertoken234567"  # the capture address the samples are sent to


def eml(name: str) -> bytes:
    return (EML / name).read_bytes()


@pytest.fixture
def capture(owner):
    owner.email = "olga@north.example"
    owner.save(update_fields=["email"])
    return EmailCaptureAddress.objects.create(user=owner, token=TOKEN)


@pytest.fixture
def acme(owner):
    return CompanyFactory(owner=owner, name="Acme", domain="acme.example")


@pytest.fixture
def anna(owner, acme):
    return ContactFactory(owner=owner, company=acme, first_name="Anna", last_name="Petrova", email="anna@acme.example")


def ingest(raw: bytes, *recipients: str) -> dict:
    out = io.StringIO()
    call_command("ingest_email", stdin=io.BytesIO(raw), recipient=list(recipients), stdout=out)
    return json.loads(out.getvalue())


def ingest_refused(raw: bytes, *recipients: str) -> tuple[int, dict]:
    err = io.StringIO()
    with pytest.raises(SystemExit) as exited:
        call_command("ingest_email", stdin=io.BytesIO(raw), recipient=list(recipients), stderr=err)
    return exited.value.code, json.loads(err.getvalue())


def post_raw(client, raw: bytes, content_type: str = "message/rfc822", **params):
    url = reverse("api:email-inbound")
    if params:
        url += "?" + "&".join(f"{k}={v}" for k, v in params.items())
    return client.generic("POST", url, raw, content_type=content_type)


# --- The samples ----------------------------------------------------------------------------


def test_a_bcc_copy_is_logged_on_the_contact_and_its_company(owner, capture, anna, acme):
    result = ingest(eml("plain.eml"))
    assert result["status"] == "created" and result["matched"] is True
    assert result["direction"] == "outbound" and result["contacts"] == [anna.pk]
    activity = Activity.objects.get()
    assert activity.type.key == "email"
    assert activity.owner == owner and activity.contact == anna and activity.company == acme
    assert activity.subject == "Quote for the 2027 renewal"
    assert "the renewal quote is 12,400 EUR for 40 seats" in activity.body
    assert "From: Olga Owner <olga@north.example>" in activity.body
    assert activity.done_at == datetime(2026, 11, 3, 9, 15, tzinfo=UTC)
    email = CapturedEmail.objects.get()
    assert email.message_id == "20261103091500.plain.1@north.example"
    assert email.direction == EmailDirection.OUTBOUND and email.user == owner
    assert list(email.activities.all()) == [activity]
    assert [e.activity_id for e in timeline_page(anna).events] == [activity.pk]
    assert [e.activity_id for e in timeline_page(acme).events] == [activity.pk]


def test_html_only_becomes_safe_text(owner, owner_client, capture, anna):
    result = ingest(eml("html_only.eml"))
    assert result["direction"] == "inbound"  # From: Anna@ACME.example, whatever its case
    activity = Activity.objects.get()
    body = activity.body
    assert "Thanks for the call & the demo yesterday — the team liked it.\nNext steps:" in body
    assert "• Security review\n• Pilot with 5 users" in body
    assert "the pilot plan <https://acme.example/pilot?x=1&y=2>" in body
    assert "alert" not in body and "color: red" not in body and "Newsletter title" not in body
    assert "<p>" not in body and "<b>" not in body
    page = owner_client.get(reverse("activities:detail", args=[activity.pk])).content.decode()
    assert "&lt;script&gt;not a tag&lt;/script&gt;" in page
    assert "<script>not a tag" not in page


def test_multipart_with_attachments_is_logged_on_each_contact(owner, capture, anna):
    globex = CompanyFactory(owner=owner, name="Globex")
    boris = ContactFactory(owner=owner, company=globex, first_name="Boris", email="boris@globex.example")
    result = ingest(eml("multipart_attachment.eml"))
    assert sorted(result["contacts"]) == sorted([anna.pk, boris.pk])
    assert {(a.contact_id, a.company_id) for a in Activity.objects.all()} == {
        (anna.pk, anna.company_id),
        (boris.pk, globex.pk),
    }
    email = CapturedEmail.objects.get()
    assert email.attachments == [
        {"name": "Quote 2026.pdf", "size": 2064, "content_type": "application/pdf"},
        {
            "name": "Договор.docx",
            "size": 1004,
            "content_type": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        },
    ]
    assert email.cc_addresses == ["someone@unknown.example"]
    activity = Activity.objects.filter(contact=boris).get()
    assert "Attachments: Quote 2026.pdf (2.0\xa0KB), Договор.docx (1004\xa0bytes)" in activity.body
    assert activity.body.endswith("please find the contract draft and the quote attached.\n\nOlga")


@pytest.mark.parametrize(
    ("sample", "sender", "subject", "name", "text"),
    [
        ("koi8r.eml", "ivan@roga.example", "Счёт на оплату N 17", "Иван Сидоров", "Добрый день, Ольга!"),
        ("gb2312.eml", "wang.fang@dragon.example", "关于合同的问题", "王芳", "我们已经收到合同草案，请确认交货日期。"),
        (
            "qp_latin1.eml",
            "juergen@mueller.example",
            "Bestätigung für nächste Woche",
            "Jürgen Müller",
            "vielen Dank für das Angebot. Die Größe passt",
        ),
    ],
)
def test_non_utf8_charsets_and_encoded_headers(owner, capture, sample, sender, subject, name, text):
    contact = ContactFactory(owner=owner, email=sender)
    result = ingest(eml(sample))
    assert result["direction"] == "inbound" and result["contacts"] == [contact.pk]
    email = CapturedEmail.objects.get()
    assert email.subject == subject and email.from_name == name and email.from_address == sender
    activity = Activity.objects.get()
    assert activity.subject == subject and text in activity.body


def test_a_lying_charset_raw_8bit_headers_and_no_message_id(owner, capture, anna):
    first = ingest(eml("broken_charset.eml"))
    email = CapturedEmail.objects.get()
    assert email.subject == "Ünïcode raw header — без кодирования"
    assert email.body == "Привет! Это письмо в кодировке windows-1251, хотя заголовок врёт."
    assert email.message_id == "" and len(email.message_key) == 64
    # No Message-ID: the same content is still the same message.
    again = ingest(eml("broken_charset.eml"))
    assert again == {"status": "duplicate", "id": first["id"], "matched": True}
    assert Activity.objects.count() == 1


def test_a_forwarded_message_is_logged_on_its_original_sender(owner, capture):
    boris = ContactFactory(owner=owner, email="boris@globex.example")
    result = ingest(eml("forwarded.eml"))
    assert result["contacts"] == [boris.pk]
    assert "Is there a discount for 100+ seats?" in Activity.objects.get().body


def test_a_contacts_second_address_matches(owner, capture):
    contact = ContactFactory(owner=owner, email="anna.private@example.org", secondary_email="Anna@Acme.example")
    assert ingest(eml("plain.eml"))["contacts"] == [contact.pk]


def test_html_to_text_drops_active_content():
    text = html_to_text(
        "<html><head><style>x{}</style><script>evil()</script></head><body onload='evil()'>"
        "<h1>Title</h1><p>A&nbsp;&lt;b&gt;</p><pre>  two\n  lines</pre><table><tr><td>a</td><td>b</td></tr></table>"
        "<iframe src='x'>frame</iframe><a href='javascript:evil()'>click</a></body></html>"
    )
    assert text == "Title\n\nA <b>\n\ntwo\nlines\n\na b\n\nclick"


def test_the_parser_reads_the_capture_address_from_every_recipient_header():
    parsed = parse_email(eml("gb2312.eml"), envelope_recipients=["Envelope@Capture.localhost"])
    assert parsed.recipients[:2] == ["envelope@capture.localhost", f"{TOKEN}@capture.localhost"]


# --- Access ---------------------------------------------------------------------------------


def test_only_contacts_the_user_may_see_are_matched(owner, teammate, outsider, capture):
    mine = ContactFactory(owner=owner, email="boris@globex.example")
    teammates = ContactFactory(owner=teammate, email="anna@acme.example")
    foreign = ContactFactory(owner=outsider, email="someone@unknown.example")
    archived = ContactFactory(owner=owner, email="someone@unknown.example")
    archived.archived_at = datetime(2026, 1, 1, tzinfo=UTC)
    archived.save(update_fields=["archived_at"])
    result = ingest(eml("multipart_attachment.eml"))
    assert sorted(result["contacts"]) == sorted([mine.pk, teammates.pk])
    assert not Activity.objects.filter(contact__in=[foreign, archived]).exists()
    assert not TimelineEvent.objects.filter(contact__in=[foreign, archived]).exists()


def test_an_email_from_an_outsiders_contact_only_waits_unmatched(owner, outsider, capture):
    ContactFactory(owner=outsider, email="anna@acme.example")
    result = ingest(eml("html_only.eml"))
    assert result["matched"] is False and result["activities"] == []
    assert not Activity.objects.exists()
    assert CapturedEmail.objects.unmatched().count() == 1


# --- Idempotency ----------------------------------------------------------------------------


def test_the_same_message_twice_is_one_activity(owner, capture, anna):
    first = ingest(eml("plain.eml"))
    again = ingest(eml("plain.eml"))
    assert again == {"status": "duplicate", "id": first["id"], "matched": True}
    assert CapturedEmail.objects.count() == 1 and Activity.objects.count() == 1


def test_the_same_message_to_two_colleagues_is_logged_once(owner, teammate, capture, anna):
    EmailCaptureAddress.objects.create(user=teammate, token="teammatetoken234")
    ingest(eml("plain.eml"))
    again = ingest(eml("plain.eml"), "teammatetoken234@capture.localhost")
    assert again["status"] == "duplicate"
    assert Activity.objects.get().owner == owner


@pytest.mark.django_db(transaction=True)
def test_the_same_message_sent_concurrently_is_one_activity(owner, capture, anna):
    clients = [token_client(owner) for _ in range(4)]
    barrier = threading.Barrier(4)
    answers = []

    def send(client):
        barrier.wait()
        answers.append(post_raw(client, eml("plain.eml")).json())
        connection.close()

    threads = [threading.Thread(target=send, args=(c,)) for c in clients]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(a["status"] for a in answers) == ["created", "duplicate", "duplicate", "duplicate"]
    assert len({a["id"] for a in answers}) == 1
    assert CapturedEmail.objects.count() == 1
    assert Activity.objects.count() == 1
    assert TimelineEvent.objects.filter(kind="activity").count() == 1


# --- The unmatched queue --------------------------------------------------------------------


def test_an_unmatched_email_waits_for_its_owner_and_is_linked(
    owner, admin_user, owner_client, teammate_client, outsider_client, admin_client, capture, acme
):
    ingest(eml("koi8r.eml"))
    email = CapturedEmail.objects.get()
    assert email.linked_at is None and not Activity.objects.exists()
    url = reverse("events:unmatched")
    assert "Счёт на оплату N 17" in owner_client.get(url).content.decode()
    assert "Счёт на оплату N 17" in admin_client.get(url).content.decode()
    # Someone's mailbox: not even a teammate sees it.
    assert "Счёт на оплату N 17" not in teammate_client.get(url).content.decode()
    assert "Счёт на оплату N 17" not in outsider_client.get(url).content.decode()
    link = reverse("events:unmatched-email-link", args=[email.pk])
    ivan = ContactFactory(owner=owner, company=acme, first_name="Иван", email="ivan@other.example")
    assert outsider_client.post(link, {"contact": ivan.pk}).status_code == 404
    assert teammate_client.post(link, {"contact": ivan.pk}).status_code == 404
    assert not Activity.objects.exists()

    response = owner_client.post(link, {"contact": ivan.pk})
    assert response.status_code == 302
    email.refresh_from_db()
    assert email.linked_at is not None
    activity = Activity.objects.get()
    assert activity.owner == owner and activity.contact == ivan and activity.company == acme
    assert activity.subject == "Счёт на оплату N 17" and "Добрый день" in activity.body
    assert list(email.activities.all()) == [activity]
    assert "Счёт на оплату N 17" not in owner_client.get(url).content.decode()
    # Linked once: a second post finds nothing waiting.
    assert owner_client.post(link, {"contact": ivan.pk}).status_code == 404
    assert Activity.objects.count() == 1


def test_an_admin_links_an_email_as_the_capturing_users_activity(owner, admin_client, capture, acme):
    ingest(eml("gb2312.eml"))
    email = CapturedEmail.objects.get()
    response = admin_client.post(reverse("events:unmatched-email-link", args=[email.pk]), {"company": acme.pk})
    assert response.status_code == 302
    activity = Activity.objects.get()
    assert activity.owner == owner and activity.company == acme and activity.contact is None


def test_linking_needs_a_record_the_user_may_see(owner, outsider, owner_client, capture):
    ingest(eml("koi8r.eml"))
    email = CapturedEmail.objects.get()
    foreign = ContactFactory(owner=outsider)
    link = reverse("events:unmatched-email-link", args=[email.pk])
    assert owner_client.post(link, {"contact": foreign.pk}).status_code == 400
    assert owner_client.post(link, {}).status_code == 400
    assert owner_client.post(link, {"contact": "x²"}).status_code == 400
    assert not Activity.objects.exists()
    email.refresh_from_db()
    assert email.linked_at is None


def test_the_unmatched_page_has_constant_queries(owner, owner_client, capture, django_assert_max_num_queries):
    for n in range(15):
        raw = eml("koi8r.eml").replace(b"<koi8.1@roga.example>", f"<koi8.{n}@roga.example>".encode())
        ingest(raw)
    url = reverse("events:unmatched")
    owner_client.get(url)
    # the user (session cached), the unmatched events, the unmatched emails
    with django_assert_max_num_queries(3):
        response = owner_client.get(url)
    assert response.content.decode().count("unmatched-email-link") == 0  # the name is not printed
    assert response.content.decode().count("/events/unmatched/emails/") == 15


# --- Refusals: a clear error, nothing written -------------------------------------------------


def _nothing_written():
    return not CapturedEmail.objects.exists() and not Activity.objects.exists()


def test_an_oversized_message_is_refused(owner, capture, anna, settings):
    settings.EMAIL_CAPTURE_MAX_BYTES = 2048
    code, error = ingest_refused(eml("multipart_attachment.eml"))
    assert code == 65 and error["error"] == "message_too_large"
    response = post_raw(token_client(owner), eml("multipart_attachment.eml"))
    assert response.status_code == 413 and response.json()["error"] == "message_too_large"
    assert _nothing_written()


def test_a_message_over_the_default_10_mb_is_413(owner, capture):
    raw = eml("plain.eml") + b"x" * (settings.EMAIL_CAPTURE_MAX_BYTES + 1)
    response = post_raw(token_client(owner), raw)
    assert response.status_code == 413
    assert response.json()["error"] == "message_too_large"
    assert _nothing_written()


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        (EML / "not_an_email.txt").read_bytes(),
        b"just some words\nand more words\n",
        b"From: \nTo: x@y.example\n\nno sender",
        b"\x00\x01\x02binary" * 10,
        b"%PDF-1.4\n" + bytes(range(256)),
    ],
)
def test_what_is_not_an_email_is_refused(owner, capture, raw):
    code, error = ingest_refused(raw)
    assert code == 65 and error["error"] == "not_rfc822"
    response = post_raw(token_client(owner), raw)
    assert response.status_code == 400 and response.json()["error"] == "not_rfc822"
    assert _nothing_written()


def test_pathological_structures_are_refused_not_crashed(owner, capture):
    head = b"From: a@b.example\r\nTo: ownertoken234567@capture.localhost\r\n"
    deep = head + b"".join(
        b"Content-Type: multipart/mixed; boundary=b%d\r\n\r\n--b%d\r\n" % (i, i) for i in range(3000)
    )
    many = head + b"Content-Type: multipart/mixed; boundary=b\r\n\r\n"
    many += b"".join(b"--b\r\nContent-Type: text/plain\r\n\r\npart\r\n" for _ in range(1000)) + b"--b--\r\n"
    for raw in (deep, many):
        code, error = ingest_refused(raw)
        assert code == 65 and error["error"] == "not_rfc822"
    assert _nothing_written()
    nested = head + b"Subject: nested\r\n" + b"Content-Type: message/rfc822\r\n\r\nFrom: c@d.example\r\n" * 500
    assert ingest(nested + b"\r\nend\r\n")["status"] == "created"


def test_mangled_samples_parse_or_are_refused_never_crash():
    """1,000 seeded mutations of the samples (truncated, bytes flipped, encoded-word and
    boundary fragments inserted, line ends changed): a clean ParsedEmail or NotAnEmail."""
    rng = random.Random(7)
    samples = [p.read_bytes() for p in sorted(EML.glob("*.eml"))]
    fragments = [b"=?", b"?=", b"=?koi8-r?B?", b"\r\n\r\n", b"--outer-boundary\r\n", b';charset="', b"\xff\xfe"]
    fragments += [
        b"Content-Type: multipart/mixed; boundary=x\r\n",
        b"filename*=",
        b"Content-Transfer-Encoding: base64\r\n",
    ]
    for _ in range(1000):
        raw = bytearray(rng.choice(samples))
        match rng.randrange(4):
            case 0:
                raw = raw[: rng.randrange(len(raw))]
            case 1:
                for _flip in range(rng.randrange(1, 20)):
                    raw[rng.randrange(len(raw))] = rng.randrange(256)
            case 2:
                at = rng.randrange(len(raw))
                raw[at:at] = rng.choice(fragments)
            case _:
                raw = raw.replace(b"\r\n", rng.choice([b"\n", b"\r", b"\r\n\t"]))
        try:
            parsed = parse_email(bytes(raw))
        except NotAnEmail:
            continue
        texts = [parsed.subject, parsed.body, parsed.from_name, parsed.message_id, *parsed.to, *parsed.cc]
        texts += [a.name for a in parsed.attachments]
        for text in texts:
            assert "\x00" not in text
            text.encode("utf-8")  # no lone surrogates: PostgreSQL takes it


def test_an_unknown_capture_token_is_refused(owner, capture, anna):
    raw = eml("plain.eml").replace(TOKEN.encode(), b"nosuchtoken23456")
    code, error = ingest_refused(raw)
    assert code == 67 and error["error"] == "unknown_capture_address"
    assert _nothing_written()


def test_a_regenerated_address_is_refused(owner, owner_client, capture, anna):
    owner_client.post(reverse("integrations:capture-address-new"))
    capture.refresh_from_db()
    assert capture.token != TOKEN and capture.rotated_at is not None
    code, error = ingest_refused(eml("plain.eml"))
    assert code == 67 and error["error"] == "unknown_capture_address"
    assert ingest(eml("plain.eml"), capture.address)["status"] == "created"


def test_the_address_of_an_inactive_user_is_refused(owner, admin_user, capture, anna):
    owner_token = token_client(owner)
    owner.is_active = False
    owner.save(update_fields=["is_active"])
    code, error = ingest_refused(eml("plain.eml"))
    assert code == 67 and error["error"] == "capture_user_inactive"
    response = post_raw(token_client(admin_user), eml("plain.eml"))
    assert response.status_code == 403 and response.json()["error"] == "capture_user_inactive"
    response = post_raw(owner_token, eml("plain.eml"))
    assert response.status_code == 401 and response.json()["error"] == "user_inactive"
    assert _nothing_written()


def test_a_message_to_no_capture_address_is_refused_by_the_command(owner, capture, anna):
    raw = eml("plain.eml").replace(f"Bcc: {TOKEN}@capture.localhost\r\n".encode(), b"")
    code, error = ingest_refused(raw)
    assert code == 67 and error["error"] == "no_capture_address"
    assert _nothing_written()


def test_the_command_reads_standard_input_and_exits_with_sysexits():
    env = {**os.environ, "PYTHONPATH": str(settings.BASE_DIR)}
    done = subprocess.run(
        [sys.executable, str(settings.BASE_DIR / "manage.py"), "ingest_email"],
        input=(EML / "not_an_email.txt").read_bytes(),
        capture_output=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert done.returncode == 65
    assert json.loads(done.stderr.decode())["error"] == "not_rfc822"


# --- The endpoint ---------------------------------------------------------------------------


def test_the_endpoint_captures_for_the_tokens_user(owner, capture, anna):
    client = token_client(owner)
    response = post_raw(client, eml("plain.eml"))
    assert response.status_code == 201
    body = response.json()
    assert body["status"] == "created" and body["contacts"] == [anna.pk]
    again = post_raw(client, eml("plain.eml"), content_type="application/octet-stream")
    assert again.status_code == 200 and again.json() == {"status": "duplicate", "id": body["id"], "matched": True}


def test_the_endpoint_takes_the_envelope_recipient(owner, teammate):
    EmailCaptureAddress.objects.create(user=teammate, token="teammatetoken234")
    ContactFactory(owner=teammate, email="anna@acme.example")
    raw = eml("plain.eml").replace(f"Bcc: {TOKEN}@capture.localhost\r\n".encode(), b"")
    response = post_raw(token_client(teammate), raw, "text/plain", recipient="teammatetoken234@capture.localhost")
    assert response.status_code == 201
    assert Activity.objects.get().owner == teammate


def test_a_token_may_deliver_only_to_its_own_address_unless_admin(owner, outsider, admin_user, capture, anna):
    response = post_raw(token_client(outsider), eml("plain.eml"))
    assert response.status_code == 404 and response.json()["error"] == "unknown_capture_address"
    assert _nothing_written()
    response = post_raw(token_client(admin_user), eml("plain.eml"))
    assert response.status_code == 201
    activity = Activity.objects.get()
    assert activity.owner == owner and activity.contact == anna  # matched as the capturing user


def test_without_a_capture_address_the_endpoint_captures_for_the_token_user(owner, teammate, anna):
    raw = eml("plain.eml").replace(f"Bcc: {TOKEN}@capture.localhost\r\n".encode(), b"")
    response = post_raw(token_client(teammate), raw)
    assert response.status_code == 201
    activity = Activity.objects.get()
    assert activity.owner == teammate and activity.contact == anna  # the teammate reads owner's contacts


def test_the_endpoint_needs_a_write_token(owner, capture, anna, client):
    response = post_raw(token_client(owner, scope=TokenScope.READ), eml("plain.eml"))
    assert response.status_code == 403
    response = client.generic("POST", reverse("api:email-inbound"), eml("plain.eml"), content_type="message/rfc822")
    assert response.status_code == 401 and response.json()["error"] == "not_authenticated"
    assert _nothing_written()


def test_the_endpoint_refuses_other_media_types_and_bad_parameters(owner, capture):
    client = token_client(owner)
    response = post_raw(client, eml("plain.eml"), content_type="application/json")
    assert response.status_code == 415 and response.json()["error"] == "unsupported_media_type"
    response = post_raw(client, eml("plain.eml"), recipient="a%00b@capture.localhost")
    assert response.status_code == 400 and "recipient" in response.json()["fields"]
    assert client.get(reverse("api:email-inbound")).status_code == 405
    assert _nothing_written()


# --- The capture address page -----------------------------------------------------------------


def test_a_user_creates_and_regenerates_their_capture_address(owner, owner_client, outsider_client):
    page = owner_client.get(reverse("integrations:token-list")).content.decode()
    assert "Create my capture address" in page
    response = owner_client.post(reverse("integrations:capture-address-new"))
    assert response.status_code == 302 and response["Location"].endswith("#email-capture")
    address = EmailCaptureAddress.objects.get(user=owner)
    assert address.address == f"{address.token}@capture.localhost"
    assert address.token.isascii() and address.token.islower() and len(address.token) == 16
    assert address.address in owner_client.get(reverse("integrations:token-list")).content.decode()
    assert address.address not in outsider_client.get(reverse("integrations:token-list")).content.decode()
    owner_client.post(reverse("integrations:capture-address-new"))
    regenerated = EmailCaptureAddress.objects.get(user=owner)
    assert regenerated.token != address.token and regenerated.rotated_at is not None


def test_the_capture_address_needs_a_signed_in_post(client, owner_client):
    assert owner_client.get(reverse("integrations:capture-address-new")).status_code == 405
    response = client.post(reverse("integrations:capture-address-new"))
    assert response.status_code == 302 and "login" in response["Location"]
    assert not EmailCaptureAddress.objects.exists()
