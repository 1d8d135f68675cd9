"""Email capture: a message sent (BCC or forward) to a user's capture address becomes an
Email activity on the timeline of every contact it involves.

One service, ``email_capture``, serves the MTA pipe (``manage.py ingest_email``) and the
inbound-mail webhook (``POST /api/v1/email/inbound``):

1. size check (``EMAIL_CAPTURE_MAX_BYTES``), then ``mailparse.parse_email``;
2. the capturing user from the capture address among the envelope recipient, Delivered-To,
   X-Original-To, To, Cc and Bcc (an unknown token or an inactive user is refused);
3. From, To, Cc (and the people of a forwarded message) matched to the contacts that user may
   see, on either of a contact's two addresses;
4. in one transaction: a ``CapturedEmail`` row, unique by Message-ID (so the same message
   twice, or at once, is one), and one Email activity per matched contact, linked to the
   contact and its company. No match: the row waits on the Unmatched page.

Any refusal raises ``CaptureError`` with a machine-readable code, an HTTP status and a
sysexits code for the MTA, before anything is written.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.db.models.functions import Lower
from django.template.defaultfilters import filesizeformat
from django.utils import timezone
from django.utils.translation import gettext as _

from activities.models import Activity, ActivityType
from activities.services import activity_create, activity_types_ensure_builtin
from contacts.models import Company, Contact
from crm.i18n import user_locale
from crm.models import User
from integrations.mailparse import NotAnEmail, ParsedEmail, parse_email
from integrations.models import CapturedEmail, EmailCaptureAddress, EmailDirection, new_capture_token

EMAIL_TYPE_KEY = "email"
# One message logs on at most this many contacts (a mailing list copy is not a relationship).
MAX_MATCHED_CONTACTS = 50

# sysexits.h: what an MTA pipe does with the exit status (65: bounce as bad data,
# 67: bounce as unknown user).
EX_DATAERR = 65
EX_NOUSER = 67
EARLIEST_DATE = datetime(1970, 1, 1, tzinfo=UTC)


class CaptureError(Exception):
    """A message refused before anything was written."""

    def __init__(self, code: str, detail: str, *, status: int, exit_code: int) -> None:
        super().__init__(detail)
        self.code, self.detail, self.status, self.exit_code = code, detail, status, exit_code

    def as_dict(self) -> dict[str, str]:
        return {"error": self.code, "detail": self.detail}


def _too_large(size: int) -> CaptureError:
    return CaptureError(
        "message_too_large",
        _("The message is %(size)s; the limit is %(limit)s.")
        % {"size": filesizeformat(size), "limit": filesizeformat(settings.EMAIL_CAPTURE_MAX_BYTES)},
        status=413,
        exit_code=EX_DATAERR,
    )


def _unknown_address() -> CaptureError:
    return CaptureError(
        "unknown_capture_address",
        _("No user has this capture address (it may have been regenerated)."),
        status=404,
        exit_code=EX_NOUSER,
    )


@dataclass
class CaptureResult:
    status: str  # created | duplicate
    email: CapturedEmail
    activities: list[Activity] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"status": self.status, "id": self.email.pk, "matched": self.email.linked_at is not None}
        if self.status == "created":
            out["direction"] = self.email.direction
            out["activities"] = [a.pk for a in self.activities]
            out["contacts"] = [a.contact_id for a in self.activities if a.contact_id]
        return out


# --- Capture addresses --------------------------------------------------------------------------


def capture_address_regenerate(*, user: User) -> EmailCaptureAddress:
    """The user's capture address, created on first use; afterwards a new token (mail to the old
    address is refused from now on)."""
    with transaction.atomic():
        address = EmailCaptureAddress.objects.select_for_update().filter(user=user).first()
        if address is None:
            return EmailCaptureAddress.objects.create(user=user)
        address.token = new_capture_token()
        address.rotated_at = timezone.now()
        address.save(update_fields=["token", "rotated_at"])
        return address


def _capture_tokens(addresses: list[str]) -> list[str]:
    """Local parts (``token`` or ``token+anything``) of the addresses at the capture domain, in order."""
    domain = settings.EMAIL_CAPTURE_DOMAIN
    tokens = []
    for address in addresses:
        local, _at, host = address.rpartition("@")
        if host == domain and local:
            tokens.append(local.split("+", 1)[0])
    return list(dict.fromkeys(tokens))


def _capturing_user(parsed: ParsedEmail, api_user: User | None) -> User:
    """Whose capture address the message came to; ``api_user`` (a webhook's token) delivers
    for anyone if an admin, else only to its own address (or, with none in the message, itself)."""
    tokens = _capture_tokens(parsed.recipients)
    if not tokens:
        if api_user is not None:
            return api_user
        raise CaptureError(
            "no_capture_address",
            _("The message is not addressed to a capture address (@%(domain)s).")
            % {"domain": settings.EMAIL_CAPTURE_DOMAIN},
            status=400,
            exit_code=EX_NOUSER,
        )
    found = {a.token: a for a in EmailCaptureAddress.objects.select_related("user").filter(token__in=tokens)}
    candidates = [found[t] for t in tokens if t in found]
    if api_user is not None and not api_user.is_admin:
        candidates = [a for a in candidates if a.user_id == api_user.pk]
    if not candidates:
        raise _unknown_address()
    user = candidates[0].user
    if not user.is_active:
        raise CaptureError(
            "capture_user_inactive",
            _("The capture address belongs to a deactivated user."),
            status=403,
            exit_code=EX_NOUSER,
        )
    return user


# --- Matching -----------------------------------------------------------------------------------


def _candidate_addresses(parsed: ParsedEmail, user: User) -> list[str]:
    own = {(user.email or "").lower()}
    domain = "@" + settings.EMAIL_CAPTURE_DOMAIN
    addresses = [parsed.from_address, *parsed.to, *parsed.cc, *parsed.forwarded]
    return [a for a in dict.fromkeys(addresses) if a not in own and not a.endswith(domain)]


def _matched_contacts(user: User, addresses: list[str]) -> list[Contact]:
    """The contacts ``user`` may see with one of ``addresses`` (either email), oldest first."""
    if not addresses:
        return []
    qs = (
        Contact.objects.visible_to(user)
        .filter(archived_at__isnull=True)
        .alias(first=Lower("email"), second=Lower("secondary_email"))
        .filter(Q(first__in=addresses) | (Q(second__in=addresses) & ~Q(secondary_email="")))
        .select_related("company")
        .order_by("id")
    )
    return list(qs[:MAX_MATCHED_CONTACTS])


def _contact_addresses(contact: Contact) -> set[str]:
    return {e.lower() for e in (contact.email, contact.secondary_email) if e}


# --- Activities ---------------------------------------------------------------------------------


def _email_type() -> ActivityType:
    email_type = ActivityType.objects.filter(key=EMAIL_TYPE_KEY).first()
    if email_type is None:  # a flushed table (tests, demo reset)
        activity_types_ensure_builtin()
        email_type = ActivityType.objects.get(key=EMAIL_TYPE_KEY)
    return email_type


def _activity_body(email: CapturedEmail) -> str:
    """The activity's notes: the envelope of the message, its attachments, its text."""
    sender = f"{email.from_name} <{email.from_address}>" if email.from_name else email.from_address
    lines = [f"From: {sender}"]
    if email.to_addresses:
        lines.append(f"To: {', '.join(email.to_addresses)}")
    if email.cc_addresses:
        lines.append(f"Cc: {', '.join(email.cc_addresses)}")
    lines.append(f"Date: {email.sent_at:%Y-%m-%d %H:%M} UTC")
    if email.attachments:
        with user_locale(email.user):
            names = ", ".join(f"{a['name']} ({filesizeformat(a['size'])})" for a in email.attachments)
            lines.append(_("Attachments: %(names)s") % {"names": names})
    return "\n".join(lines) + "\n\n" + email.body


def _log_activities(
    email: CapturedEmail, *, actor: User, targets: list[tuple[Contact | None, Company | None]]
) -> list[Activity]:
    email_type = _email_type()
    with user_locale(email.user):
        subject = (email.subject or _("(no subject)"))[:200]
    body = _activity_body(email)
    activities = [
        activity_create(
            actor=actor,
            owner=email.user,
            type=email_type,
            subject=subject,
            body=body,
            contact=contact,
            company=company,
            done=True,
            done_at=email.sent_at,
        )
        for contact, company in targets
    ]
    email.activities.add(*activities)
    return activities


# --- The service --------------------------------------------------------------------------------


def _sent_at(parsed: ParsedEmail, now: datetime) -> datetime:
    """The Date header, unless missing, in the future or before 1970 (a sender's wrong clock)."""
    if parsed.sent_at is None or not EARLIEST_DATE <= parsed.sent_at <= now:
        return now
    return parsed.sent_at


def email_capture(
    *, raw: bytes, envelope_recipients: list[str] | tuple[str, ...] = (), api_user: User | None = None
) -> CaptureResult:
    """Capture one raw message (see the module docstring); ``CaptureError`` when refused."""
    if len(raw) > settings.EMAIL_CAPTURE_MAX_BYTES:
        raise _too_large(len(raw))
    try:
        parsed = parse_email(raw, envelope_recipients=envelope_recipients)
    except NotAnEmail as exc:
        raise CaptureError("not_rfc822", str(exc), status=400, exit_code=EX_DATAERR) from None
    user = _capturing_user(parsed, api_user)
    contacts = _matched_contacts(user, _candidate_addresses(parsed, user))
    inbound = any(parsed.from_address in _contact_addresses(c) for c in contacts)
    now = timezone.now()
    with transaction.atomic():
        try:
            with transaction.atomic():
                email = CapturedEmail.objects.create(
                    message_key=parsed.key,
                    message_id=parsed.message_id,
                    user=user,
                    subject=parsed.subject,
                    from_address=parsed.from_address,
                    from_name=parsed.from_name,
                    to_addresses=parsed.to,
                    cc_addresses=parsed.cc,
                    sent_at=_sent_at(parsed, now),
                    body=parsed.body,
                    attachments=[a.as_dict() for a in parsed.attachments],
                    size=len(raw),
                    direction=EmailDirection.INBOUND if inbound else EmailDirection.OUTBOUND,
                    received_at=now,
                    linked_at=now if contacts else None,
                )
        except IntegrityError:
            # Captured before (or right now by another request, which has committed: the
            # unique index made this insert wait for it).
            return CaptureResult(status="duplicate", email=CapturedEmail.objects.get(message_key=parsed.key))
        activities = _log_activities(email, actor=user, targets=[(c, c.company) for c in contacts])
    return CaptureResult(status="created", email=email, activities=activities)


@transaction.atomic
def captured_email_link(
    *, email: CapturedEmail, actor: User, company: Company | None, contact: Contact | None
) -> CapturedEmail:
    """Log an unmatched email on the contact (or company) a person chose; it leaves the queue."""
    email = CapturedEmail.objects.select_for_update().select_related("user").get(pk=email.pk)
    if email.linked_at is not None:
        return email
    if contact is None and company is None:
        raise ValueError(_("Choose a company or a contact."))
    if contact is not None:
        company = company or contact.company
        if email.from_address in _contact_addresses(contact):
            email.direction = EmailDirection.INBOUND
    _log_activities(email, actor=actor, targets=[(contact, company)])
    email.linked_at = timezone.now()
    email.save(update_fields=["linked_at", "direction"])
    return email
