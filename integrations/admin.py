from __future__ import annotations

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from integrations.models import ApiToken, BusinessEvent, CapturedEmail, EmailCaptureAddress, EventType
from integrations.services import api_token_revoke


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
        messages.success(request, _("%(count)d tokens revoked.") % {"count": count})


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
