from typing import Any

from django.contrib import admin
from django.contrib.admin.widgets import AutocompleteSelect, AutocompleteSelectMultiple
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.db.models import Count
from django.http import Http404, HttpRequest, HttpResponse
from django.utils.translation import gettext_lazy as _
from simple_history.admin import SimpleHistoryAdmin

from crm.models import Notification, Team, User
from crm.params import id_or_none


class _OnlyIdsSelected:
    """Django's autocomplete widgets look the submitted values up to redraw a form with errors,
    and a value like "²" makes that query fail (a 500). Malformed values are left out."""

    def optgroups(self, name: str, value: list[str], attr: dict | None = None) -> Any:
        return super().optgroups(name, [v for v in value if id_or_none(v) is not None], attr)  # type: ignore[misc]


class SafeAutocompleteSelect(_OnlyIdsSelected, AutocompleteSelect):
    pass


class SafeAutocompleteSelectMultiple(_OnlyIdsSelected, AutocompleteSelectMultiple):
    pass


class StrictHistoryAdmin(SimpleHistoryAdmin):
    """The CRM's admin for models with history: malformed ids are a 404 and malformed values
    an error on the form, never a 500."""

    def formfield_for_foreignkey(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        if db_field.name in self.get_autocomplete_fields(request):
            kwargs.setdefault("widget", SafeAutocompleteSelect(db_field, self.admin_site, using=kwargs.get("using")))
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def formfield_for_manytomany(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        if db_field.name in self.get_autocomplete_fields(request):
            kwargs.setdefault(
                "widget", SafeAutocompleteSelectMultiple(db_field, self.admin_site, using=kwargs.get("using"))
            )
        return super().formfield_for_manytomany(db_field, request, **kwargs)

    def history_form_view(
        self, request: HttpRequest, object_id: str, version_id: str, extra_context: dict | None = None
    ) -> HttpResponse:
        # django-simple-history hands both ids to the ORM as typed, which fails on "x²".
        if id_or_none(object_id) is None or id_or_none(version_id) is None:
            raise Http404
        return super().history_form_view(request, object_id, version_id, extra_context)


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
