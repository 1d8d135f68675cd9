from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.db.models import Count
from django.utils.translation import gettext_lazy as _

from crm.models import Notification, Outbox, Team, User


class MemberInline(admin.TabularInline):
    model = Team.members.through
    extra = 0
    verbose_name = _("team membership")
    verbose_name_plural = _("team memberships")
    autocomplete_fields = ["team"]


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    list_display = ["username", "email", "first_name", "last_name", "role", "is_active", "last_login"]
    list_filter = ["role", "is_active", "is_staff", "teams"]
    search_fields = ["username", "email", "first_name", "last_name"]
    fieldsets = (
        *BaseUserAdmin.fieldsets,
        (_("CRM"), {"fields": ("role", "email_reminders", "daily_digest")}),
    )
    add_fieldsets = (
        *BaseUserAdmin.add_fieldsets,
        (_("CRM"), {"fields": ("email", "first_name", "last_name", "role")}),
    )
    inlines = [MemberInline]


@admin.register(Team)
class TeamAdmin(admin.ModelAdmin):
    list_display = ["name", "member_count", "created_at"]
    search_fields = ["name", "members__username", "managers__username"]
    filter_horizontal = ["members", "managers"]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(_member_count=Count("members", distinct=True))

    @admin.display(description=_("members"), ordering="_member_count")
    def member_count(self, obj: Team) -> int:
        return obj._member_count


@admin.register(Notification)
class NotificationAdmin(admin.ModelAdmin):
    list_display = ["user", "text", "created_at", "read_at"]
    list_filter = ["read_at"]
    search_fields = ["text", "user__username"]
    list_select_related = ["user"]
    raw_id_fields = ["user"]
    date_hierarchy = "created_at"


@admin.register(Outbox)
class OutboxAdmin(admin.ModelAdmin):
    """Follow-up work waiting for (or sent to) Celery: read-only, to see what a broker outage delayed."""

    list_display = ["id", "task", "args", "created_at", "attempts", "sent_at", "available_at", "last_error"]
    list_filter = [("sent_at", admin.EmptyFieldListFilter), "task"]
    search_fields = ["task", "last_error"]
    readonly_fields = [f.name for f in Outbox._meta.fields]
    show_full_result_count = False

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False
