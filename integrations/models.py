from __future__ import annotations

import base64
import secrets
from typing import Self

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.core.validators import URLValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class TokenScope(models.TextChoices):
    READ = "read", _("Read only")
    READ_WRITE = "read_write", _("Read and write")


class ApiTokenQuerySet(models.QuerySet):
    def active(self, now=None) -> Self:
        now = now or timezone.now()
        return self.filter(revoked_at__isnull=True).filter(Q(expires_at__isnull=True) | Q(expires_at__gt=now))


class ApiToken(models.Model):
    """A personal API token: acts as its user with the user's access, limited by ``scope``.

    Only the SHA-256 of the secret is stored; ``prefix`` (the start of the token) lets a person
    recognise it in lists.
    """

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens", verbose_name=_("user")
    )
    name = models.CharField(_("name"), max_length=100)
    scope = models.CharField(_("scope"), max_length=10, choices=TokenScope.choices, default=TokenScope.READ)
    prefix = models.CharField(_("prefix"), max_length=16, editable=False)
    secret_hash = models.CharField(max_length=64, editable=False)
    created_at = models.DateTimeField(_("created"), default=timezone.now, editable=False)
    expires_at = models.DateTimeField(_("expires"), null=True, blank=True)
    last_used_at = models.DateTimeField(_("last used"), null=True, blank=True, editable=False)
    revoked_at = models.DateTimeField(_("revoked"), null=True, blank=True, editable=False)

    objects = ApiTokenQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [models.UniqueConstraint(fields=["secret_hash"], name="apitoken_unique_secret_hash")]
        indexes = [models.Index(fields=["user", "-created_at"], name="apitoken_user_created")]
        verbose_name = _("API token")
        verbose_name_plural = _("API tokens")

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @property
    def can_write(self) -> bool:
        return self.scope == TokenScope.READ_WRITE

    def is_active(self, now=None) -> bool:
        now = now or timezone.now()
        return self.revoked_at is None and (self.expires_at is None or self.expires_at > now)


class RevenueEffect(models.TextChoices):
    NONE = "none", _("None")
    REVENUE = "revenue", _("Revenue")
    REFUND = "refund", _("Refund")
    COST = "cost", _("Cost to serve")


class EventType(models.Model):
    """A kind of business event other systems send (invoice paid, ticket opened…); admins define them."""

    key = models.SlugField(_("key"), max_length=50, unique=True, help_text=_("What senders put in “type”."))
    name = models.CharField(_("name"), max_length=100)
    icon = models.CharField(_("icon"), max_length=40, default="bi-lightning", help_text=_("A Bootstrap icon name."))
    color = models.CharField(_("colour"), max_length=7, default="#6c757d")
    revenue_effect = models.CharField(
        _("amount counts as"), max_length=8, choices=RevenueEffect.choices, default=RevenueEffect.NONE
    )

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(condition=Q(color__regex=r"^#[0-9a-fA-F]{6}$"), name="eventtype_color_hex"),
        ]
        verbose_name = _("business event type")
        verbose_name_plural = _("business event types")

    def __str__(self) -> str:
        return self.name


class BusinessEvent(models.Model):
    """Something another system (billing, shipping, support) reports about a customer.

    Idempotent by (``source``, ``external_id``): the same event sent twice is one row. An event
    whose customer could not be matched keeps ``company`` and ``contact`` empty and waits on the
    Unmatched events page until someone links it.
    """

    source = models.CharField(_("source"), max_length=40)
    external_id = models.CharField(_("external id"), max_length=200)
    type = models.ForeignKey(EventType, on_delete=models.PROTECT, related_name="events", verbose_name=_("type"))
    occurred_at = models.DateTimeField(_("occurred"))
    title = models.CharField(_("title"), max_length=300)
    amount = models.DecimalField(_("amount"), max_digits=14, decimal_places=2, null=True, blank=True)
    currency = models.CharField(_("currency"), max_length=3, blank=True)
    data = models.JSONField(_("data"), default=dict, blank=True)
    customer_ref = models.JSONField(_("customer as sent"), default=dict, blank=True)
    company = models.ForeignKey(
        "contacts.Company", on_delete=models.SET_NULL, null=True, blank=True, related_name="business_events"
    )
    contact = models.ForeignKey(
        "contacts.Contact", on_delete=models.SET_NULL, null=True, blank=True, related_name="business_events"
    )
    received_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+")
    received_at = models.DateTimeField(_("received"), default=timezone.now)
    linked_at = models.DateTimeField(_("linked"), null=True, blank=True)

    class Meta:
        ordering = ["-occurred_at", "-id"]
        constraints = [models.UniqueConstraint(fields=["source", "external_id"], name="businessevent_unique_source_id")]
        indexes = [
            models.Index(
                fields=["-received_at", "-id"],
                condition=Q(company__isnull=True, contact__isnull=True),
                name="businessevent_unmatched",
            ),
            models.Index(fields=["company", "-occurred_at"], name="businessevent_company"),
        ]
        verbose_name = _("business event")
        verbose_name_plural = _("business events")

    def __str__(self) -> str:
        return f"{self.source}:{self.external_id}"

    @property
    def is_matched(self) -> bool:
        return self.company_id is not None or self.contact_id is not None


def new_capture_token() -> str:
    """16 characters of [a-z2-7] (80 random bits): an email local part that survives MTAs
    that change its case."""
    return base64.b32encode(secrets.token_bytes(10)).decode("ascii").lower()


class EmailCaptureAddress(models.Model):
    """A user's personal capture address, ``<token>@EMAIL_CAPTURE_DOMAIN``; regenerating it
    replaces the token, and mail to the old address is refused."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="email_capture", verbose_name=_("user")
    )
    token = models.CharField(_("token"), max_length=32, unique=True, default=new_capture_token)
    created_at = models.DateTimeField(_("created"), default=timezone.now)
    rotated_at = models.DateTimeField(_("regenerated"), null=True, blank=True)

    class Meta:
        verbose_name = _("email capture address")
        verbose_name_plural = _("email capture addresses")

    def __str__(self) -> str:
        return self.address

    @property
    def address(self) -> str:
        return f"{self.token}@{settings.EMAIL_CAPTURE_DOMAIN}"


class EmailDirection(models.TextChoices):
    INBOUND = "inbound", _("Received from a contact")
    OUTBOUND = "outbound", _("Sent to a contact")


class CapturedEmailQuerySet(models.QuerySet):
    def unmatched(self) -> Self:
        return self.filter(linked_at__isnull=True)


class CapturedEmail(models.Model):
    """An email sent to a capture address, parsed; its Email activities hang off ``activities``.

    Idempotent by ``message_key`` (the SHA-256 of the Message-ID, or of the main headers and
    body when it has none), unique across all users: the same message captured twice — or
    BCC'd to two colleagues' addresses — is one row, logged by whoever captured it first.
    ``linked_at`` is empty while no contact matched: it then waits on the Unmatched page.
    """

    message_key = models.CharField(max_length=64, editable=False)
    message_id = models.CharField(_("Message-ID"), max_length=500, blank=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="captured_emails",
        verbose_name=_("captured by"),
    )
    subject = models.CharField(_("subject"), max_length=300, blank=True)
    from_address = models.CharField(_("from"), max_length=320, blank=True)
    from_name = models.CharField(_("sender name"), max_length=200, blank=True)
    to_addresses = models.JSONField(_("to"), default=list, blank=True)
    cc_addresses = models.JSONField(_("cc"), default=list, blank=True)
    sent_at = models.DateTimeField(_("sent"))
    body = models.TextField(_("text"), blank=True)
    attachments = models.JSONField(_("attachments"), default=list, blank=True)
    size = models.PositiveIntegerField(_("size (bytes)"), default=0)
    direction = models.CharField(_("direction"), max_length=8, choices=EmailDirection.choices)
    received_at = models.DateTimeField(_("received"), default=timezone.now)
    linked_at = models.DateTimeField(_("linked"), null=True, blank=True)
    activities = models.ManyToManyField(
        "activities.Activity", blank=True, related_name="captured_emails", verbose_name=_("activities")
    )

    objects = CapturedEmailQuerySet.as_manager()

    class Meta:
        ordering = ["-received_at", "-id"]
        constraints = [models.UniqueConstraint(fields=["message_key"], name="capturedemail_unique_message_key")]
        indexes = [
            models.Index(
                fields=["user", "-received_at", "-id"],
                condition=Q(linked_at__isnull=True),
                name="capturedemail_unmatched",
            ),
        ]
        verbose_name = _("captured email")
        verbose_name_plural = _("captured emails")

    def __str__(self) -> str:
        return self.subject or self.message_id


# --- Outbound webhooks ----------------------------------------------------------------------


class WebhookEventKind(models.TextChoices):
    COMPANY_CREATED = "company.created", _("Company created")
    COMPANY_UPDATED = "company.updated", _("Company changed")
    CONTACT_CREATED = "contact.created", _("Contact created")
    CONTACT_UPDATED = "contact.updated", _("Contact changed")
    DEAL_CREATED = "deal.created", _("Deal created")
    DEAL_STAGE_CHANGED = "deal.stage_changed", _("Deal moved to another stage")
    DEAL_WON = "deal.won", _("Deal won")
    DEAL_LOST = "deal.lost", _("Deal lost")
    ACTIVITY_COMPLETED = "activity.completed", _("Activity completed")
    EVENT_RECEIVED = "event.received", _("Business event received")


# Sent by the admin action "Send a test delivery" to any endpoint, whatever it subscribes to.
PING_KIND = "ping"


class WebhookEndpoint(models.Model):
    """A URL that receives signed JSON for the event kinds it subscribes to.

    ``secret`` signs every delivery (HMAC-SHA256); it is generated, shown to the admin once and
    kept, because signing needs it. After ``WEBHOOK_DISABLE_AFTER_FAILURES`` failed attempts in
    a row the endpoint is turned off (``is_active``) with the reason, and admins are notified.
    """

    url = models.URLField(_("URL"), max_length=2000, validators=[URLValidator(schemes=["http", "https"])])
    description = models.CharField(_("description"), max_length=200, blank=True)
    event_kinds = ArrayField(
        models.CharField(max_length=40, choices=WebhookEventKind.choices),
        verbose_name=_("event kinds"),
        default=list,
        blank=True,
    )
    secret = models.CharField(_("signing secret"), max_length=100, editable=False)
    is_active = models.BooleanField(_("active"), default=True)
    disabled_at = models.DateTimeField(_("turned off"), null=True, blank=True, editable=False)
    disabled_reason = models.TextField(_("why it was turned off"), blank=True, editable=False)
    consecutive_failures = models.PositiveIntegerField(_("failed attempts in a row"), default=0, editable=False)
    failing_since = models.DateTimeField(_("failing since"), null=True, blank=True, editable=False)
    last_success_at = models.DateTimeField(_("last delivered"), null=True, blank=True, editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        editable=False,
        related_name="+",
        verbose_name=_("created by"),
    )
    created_at = models.DateTimeField(_("created"), default=timezone.now, editable=False)

    class Meta:
        ordering = ["url", "id"]
        verbose_name = _("webhook endpoint")
        verbose_name_plural = _("webhook endpoints")

    def __str__(self) -> str:
        return self.description or self.url

    @property
    def secret_hint(self) -> str:
        return f"{self.secret[:10]}…" if self.secret else ""


class DeliveryState(models.TextChoices):
    PENDING = "pending", _("Pending")
    SENDING = "sending", _("Sending")
    DELIVERED = "delivered", _("Delivered")
    FAILED = "failed", _("Failed, will retry")
    ABANDONED = "abandoned", _("Abandoned")


class WebhookDelivery(models.Model):
    """One event for one endpoint, and the outcome of its latest attempt.

    Written in the transaction of the change it reports (so a rolled-back change sends
    nothing). Due rows (``pending``/``failed`` with ``next_attempt_at`` reached) are claimed by
    a sweep with ``FOR UPDATE SKIP LOCKED`` and marked ``sending`` with ``claimed_at``; one
    whose worker died is claimed again once the lease (``WEBHOOK_LEASE_SECONDS``) runs out.
    """

    endpoint = models.ForeignKey(
        WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries", verbose_name=_("endpoint")
    )
    event_id = models.UUIDField(_("event id"))
    kind = models.CharField(_("kind"), max_length=40)
    payload = models.JSONField(_("payload"))
    state = models.CharField(_("state"), max_length=10, choices=DeliveryState.choices, default=DeliveryState.PENDING)
    attempts = models.PositiveIntegerField(_("attempts"), default=0)
    next_attempt_at = models.DateTimeField(_("next attempt"), null=True, blank=True, default=timezone.now)
    claimed_at = models.DateTimeField(null=True, blank=True)
    last_status_code = models.PositiveSmallIntegerField(_("response code"), null=True, blank=True)
    last_error = models.TextField(_("last error"), blank=True)
    duration_ms = models.PositiveIntegerField(_("duration (ms)"), null=True, blank=True)
    delivered_at = models.DateTimeField(_("delivered"), null=True, blank=True)
    created_at = models.DateTimeField(_("created"), default=timezone.now)
    redelivery_of = models.ForeignKey(
        "self", on_delete=models.SET_NULL, null=True, blank=True, related_name="+", verbose_name=_("redelivery of")
    )

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(state__in=[s.value for s in DeliveryState]), name="webhookdelivery_state_valid"
            ),
        ]
        indexes = [
            # The sweep: rows waiting for an attempt, by due time (delivered/abandoned rows leave it).
            models.Index(
                fields=["next_attempt_at", "id"],
                condition=Q(state__in=["pending", "failed"]),
                name="webhookdelivery_due",
            ),
            # Claimed rows whose worker may have died (lease expiry).
            models.Index(fields=["claimed_at"], condition=Q(state="sending"), name="webhookdelivery_sending"),
            models.Index(fields=["endpoint", "-created_at"], name="webhookdelivery_endpoint"),
            models.Index(fields=["event_id"], name="webhookdelivery_event"),
            models.Index(fields=["-created_at", "-id"], name="webhookdelivery_created"),
        ]
        verbose_name = _("webhook delivery")
        verbose_name_plural = _("webhook deliveries")

    def __str__(self) -> str:
        return f"{self.kind} → {self.endpoint_id} ({self.get_state_display()})"
