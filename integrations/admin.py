from __future__ import annotations

import json
import uuid
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.db.models import QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from crm.params import id_or_none
from integrations.models import (
    PING_KIND,
    ApiToken,
    BusinessEvent,
    CapturedEmail,
    EmailCaptureAddress,
    EventType,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEventKind,
)
from integrations.services import api_token_revoke
from integrations.webhooks import (
    endpoint_url_check,
    secret_generate,
    webhook_endpoint_enable,
    webhook_endpoint_rotate_secret,
    webhook_ping,
    webhook_redeliver,
)


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    """Every user's tokens, read-only; admins can revoke them (the secret is never stored)."""

    list_display = ["name", "user", "prefix", "scope", "created_at", "expires_at", "last_used_at", "revoked_at"]
    list_filter = ["scope", ("revoked_at", admin.EmptyFieldListFilter)]
    search_fields = ["name", "prefix", "user__username"]
    list_select_related = ["user"]
    readonly_fields = ["name", "user", "prefix", "scope", "created_at", "expires_at", "last_used_at", "revoked_at"]
    fields = readonly_fields
    actions = ["revoke"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: ApiToken | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: ApiToken | None = None) -> bool:
        return False

    @admin.action(description=_("Revoke the selected tokens"), permissions=["view"])
    def revoke(self, request: HttpRequest, queryset: QuerySet[ApiToken]) -> None:
        count = 0
        for token in queryset.filter(revoked_at__isnull=True).select_related("user"):
            api_token_revoke(token=token, actor=request.user)
            count += 1
        messages.success(
            request, ngettext("%(count)d token revoked.", "%(count)d tokens revoked.", count) % {"count": count}
        )


@admin.register(EventType)
class EventTypeAdmin(admin.ModelAdmin):
    list_display = ["name", "key", "icon", "color", "revenue_effect"]
    search_fields = ["name", "key"]


@admin.register(BusinessEvent)
class BusinessEventAdmin(admin.ModelAdmin):
    list_display = ["occurred_at", "type", "title", "amount", "currency", "company", "contact", "source", "external_id"]
    list_filter = ["type", "source"]
    search_fields = ["title", "external_id"]
    list_select_related = ["type", "company", "contact"]
    raw_id_fields = ["company", "contact"]
    readonly_fields = ["source", "external_id", "received_by", "received_at", "linked_at", "customer_ref"]


# --- Outbound webhooks ----------------------------------------------------------------------


class _AdminsOnly:
    """Webhooks hold signing secrets and customer data: admins only, whatever staff permissions say."""

    def _is_admin(self, request: HttpRequest) -> bool:
        user = request.user
        return bool(user.is_active and user.is_staff and getattr(user, "is_admin", False))

    def has_module_permission(self, request: HttpRequest) -> bool:
        return self._is_admin(request)

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self._is_admin(request)

    def response_action(self, request: HttpRequest, queryset: QuerySet) -> Any:
        # Django hands the selected ids to the ORM as posted: "x²" would be a 500.
        selected = request.POST.getlist(helpers.ACTION_CHECKBOX_NAME)
        if any(id_or_none(value) is None for value in selected):
            request.POST = request.POST.copy()
            request.POST.setlist(helpers.ACTION_CHECKBOX_NAME, [v for v in selected if id_or_none(v) is not None])
        return super().response_action(request, queryset)


class WebhookEndpointForm(forms.ModelForm):
    url = forms.URLField(label=_("URL"), max_length=2000, assume_scheme="https")
    event_kinds = forms.MultipleChoiceField(
        label=_("Event kinds"),
        choices=WebhookEventKind.choices,
        widget=forms.CheckboxSelectMultiple,
        required=False,
        help_text=_("The events this URL receives."),
    )

    class Meta:
        model = WebhookEndpoint
        fields = ["url", "description", "event_kinds", "is_active"]

    def clean_url(self) -> str:
        return endpoint_url_check(self.cleaned_data["url"])

    def clean_event_kinds(self) -> list[str]:
        return sorted(set(self.cleaned_data["event_kinds"]))


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(_AdminsOnly, admin.ModelAdmin):
    """Endpoints that receive signed deliveries; the secret is shown once, when created or rotated."""

    form = WebhookEndpointForm
    list_display = [
        "url",
        "description",
        "kinds",
        "is_active",
        "consecutive_failures",
        "last_success_at",
        "disabled_at",
    ]
    list_filter = ["is_active"]
    search_fields = ["url", "description"]
    readonly_fields = [
        "secret_hint",
        "disabled_at",
        "disabled_reason",
        "consecutive_failures",
        "failing_since",
        "last_success_at",
        "created_by",
        "created_at",
        "delivery_log",
    ]
    actions = ["enable", "send_ping", "rotate_secret"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return self._is_admin(request)

    def has_change_permission(self, request: HttpRequest, obj: WebhookEndpoint | None = None) -> bool:
        return self._is_admin(request)

    def has_delete_permission(self, request: HttpRequest, obj: WebhookEndpoint | None = None) -> bool:
        return self._is_admin(request)

    def get_readonly_fields(self, request: HttpRequest, obj: WebhookEndpoint | None = None) -> list[str]:
        return [] if obj is None else self.readonly_fields

    @admin.display(description=_("event kinds"))
    def kinds(self, obj: WebhookEndpoint) -> str:
        return ", ".join(obj.event_kinds)

    @admin.display(description=_("signing secret"))
    def secret_hint(self, obj: WebhookEndpoint) -> str:
        return obj.secret_hint

    @admin.display(description=_("deliveries"))
    def delivery_log(self, obj: WebhookEndpoint) -> str:
        url = reverse("admin:integrations_webhookdelivery_changelist") + f"?endpoint__id__exact={obj.pk}"
        return format_html('<a href="{}">{}</a>', url, _("Delivery log"))

    def save_model(self, request: HttpRequest, obj: WebhookEndpoint, form: Any, change: bool) -> None:
        if not change:
            obj.secret = secret_generate()
            obj.created_by = request.user
        was_active = WebhookEndpoint.objects.filter(pk=obj.pk, is_active=True).exists() if change else True
        super().save_model(request, obj, form, change)
        if change and obj.is_active and not was_active:
            webhook_endpoint_enable(endpoint=obj)
        if not change:
            self._keep_secret_for_display(request, obj, obj.secret)

    # A new secret is shown once, on the page the admin lands on next. It waits in the session
    # (stored server-side) rather than in a flash message, which Django keeps in a cookie.
    SECRETS_SESSION_KEY = "webhook-secrets-to-show"

    def _keep_secret_for_display(self, request: HttpRequest, endpoint: WebhookEndpoint, secret: str) -> None:
        waiting = request.session.get(self.SECRETS_SESSION_KEY, [])
        request.session[self.SECRETS_SESSION_KEY] = [*waiting, [str(endpoint), secret]]

    def _show_secrets(self, request: HttpRequest) -> None:
        for name, secret in request.session.pop(self.SECRETS_SESSION_KEY, []):
            messages.warning(
                request,
                _("Signing secret of %(endpoint)s: %(secret)s — copy it now; it is not shown again.")
                % {"endpoint": name, "secret": secret},
            )

    def changelist_view(self, request: HttpRequest, extra_context: dict | None = None) -> Any:
        if request.method == "GET":
            self._show_secrets(request)  # rendered in this response, never stored
        return super().changelist_view(request, extra_context)

    def change_view(self, request: HttpRequest, object_id: str, form_url: str = "", extra_context: Any = None) -> Any:
        if request.method == "GET":
            self._show_secrets(request)
        return super().change_view(request, object_id, form_url, extra_context)

    @admin.action(description=_("Turn the selected endpoints on again"), permissions=["change"])
    def enable(self, request: HttpRequest, queryset: QuerySet[WebhookEndpoint]) -> None:
        count = 0
        for endpoint in queryset.filter(is_active=False):
            webhook_endpoint_enable(endpoint=endpoint)
            count += 1
        messages.success(
            request,
            ngettext("%(count)d endpoint turned on.", "%(count)d endpoints turned on.", count) % {"count": count},
        )

    @admin.action(description=_("Send a test delivery (ping)"), permissions=["change"])
    def send_ping(self, request: HttpRequest, queryset: QuerySet[WebhookEndpoint]) -> None:
        created = webhook_ping(endpoints=list(queryset), actor=request.user)
        messages.success(
            request,
            ngettext("%(count)d test delivery queued.", "%(count)d test deliveries queued.", len(created))
            % {"count": len(created)},
        )

    @admin.action(description=_("Rotate the signing secret"), permissions=["change"])
    def rotate_secret(self, request: HttpRequest, queryset: QuerySet[WebhookEndpoint]) -> None:
        for endpoint in queryset:
            self._keep_secret_for_display(request, endpoint, webhook_endpoint_rotate_secret(endpoint=endpoint))


class DeliveryKindFilter(admin.SimpleListFilter):
    """The fixed list of kinds (a plain field filter would scan the whole log for them)."""

    title = _("kind")
    parameter_name = "kind"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, Any]]:
        return [*WebhookEventKind.choices, (PING_KIND, _("Test delivery (ping)"))]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        return queryset.filter(kind=self.value()) if self.value() else queryset


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(_AdminsOnly, admin.ModelAdmin):
    """The delivery log, read-only, with "Redeliver"."""

    list_display = [
        "created_at",
        "kind",
        "endpoint",
        "state",
        "attempts",
        "last_status_code",
        "duration_ms",
        "next_attempt_at",
        "delivered_at",
    ]
    list_filter = ["state", DeliveryKindFilter, "endpoint"]
    search_fields = ["event_id"]
    list_select_related = ["endpoint"]
    ordering = ["-created_at", "-id"]
    show_full_result_count = False
    readonly_fields = [
        "endpoint",
        "event_id",
        "kind",
        "state",
        "attempts",
        "last_status_code",
        "duration_ms",
        "last_error",
        "next_attempt_at",
        "delivered_at",
        "created_at",
        "redelivery_of",
        "payload_json",
    ]
    fields = readonly_fields
    actions = ["redeliver"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: WebhookDelivery | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: WebhookDelivery | None = None) -> bool:
        return False

    def has_redeliver_permission(self, request: HttpRequest) -> bool:
        return self._is_admin(request)

    def get_search_results(self, request: HttpRequest, queryset: QuerySet, search_term: str) -> tuple[QuerySet, bool]:
        """Search by event id (a whole UUID); anything else finds nothing, never an error."""
        term = search_term.strip()
        if not term:
            return queryset, False
        try:
            return queryset.filter(event_id=uuid.UUID(term)), False
        except ValueError:
            return queryset.none(), False

    @admin.display(description=_("payload"))
    def payload_json(self, obj: WebhookDelivery) -> str:
        return format_html("<pre>{}</pre>", json.dumps(obj.payload, indent=2, ensure_ascii=False))

    @admin.action(description=_("Redeliver the selected deliveries"), permissions=["redeliver"])
    def redeliver(self, request: HttpRequest, queryset: QuerySet[WebhookDelivery]) -> None:
        selected = list(queryset.select_related("endpoint"))
        created = webhook_redeliver(deliveries=selected)
        messages.success(
            request,
            ngettext("%(count)d delivery queued again.", "%(count)d deliveries queued again.", len(created))
            % {"count": len(created)},
        )
        skipped = len(selected) - len(created)
        if skipped:
            messages.warning(
                request,
                ngettext(
                    "%(count)d delivery skipped: its endpoint is turned off (turn it on first).",
                    "%(count)d deliveries skipped: their endpoints are turned off (turn them on first).",
                    skipped,
                )
                % {"count": skipped},
            )


@admin.register(EmailCaptureAddress)
class EmailCaptureAddressAdmin(admin.ModelAdmin):
    """Read-only: a person regenerates their own address on the API tokens page."""

    list_display = ["user", "token", "created_at", "rotated_at"]
    search_fields = ["user__username", "token"]
    list_select_related = ["user"]
    readonly_fields = ["user", "token", "created_at", "rotated_at"]
    fields = readonly_fields

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: EmailCaptureAddress | None = None) -> bool:
        return False


@admin.register(CapturedEmail)
class CapturedEmailAdmin(admin.ModelAdmin):
    """Captured messages, read-only (deleting one leaves its activities; a new capture of the
    same message is then logged again)."""

    list_display = ["received_at", "user", "subject", "from_address", "direction", "linked_at"]
    list_filter = ["direction", ("linked_at", admin.EmptyFieldListFilter)]
    search_fields = ["subject", "from_address", "message_id", "user__username"]
    list_select_related = ["user"]
    raw_id_fields = ["activities"]
    readonly_fields = [
        "message_id", "user", "subject", "from_name", "from_address", "to_addresses", "cc_addresses", "sent_at",
        "direction", "size", "attachments", "received_at", "linked_at", "body", "activities",
    ]  # fmt: skip
    fields = readonly_fields

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: CapturedEmail | None = None) -> bool:
        return False
