from typing import Any

from django.contrib import admin
from django.contrib.admin.widgets import AutocompleteSelect, AutocompleteSelectMultiple
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.db.models import Count
from django.forms import MultiWidget, SplitDateTimeWidget
from django.forms.models import BaseInlineFormSet
from django.http import Http404, HttpRequest, HttpResponse
from django.utils.translation import gettext_lazy as _
from django_otp.plugins.otp_static.models import StaticDevice
from django_otp.plugins.otp_totp.models import TOTPDevice
from simple_history.admin import SimpleHistoryAdmin

from crm.forms import CustomFieldForm
from crm.models import CustomField, Notification, Outbox, RoleCost, SavedView, SecurityEvent, Team, User
from crm.params import id_or_none
from crm.signals import team_event_record


class _OnlyIdsSelected:
    """Django's autocomplete widgets look the submitted values up to redraw a form with errors,
    and a value like "²" makes that query fail (a 500). Malformed values are left out."""

    def optgroups(self, name: str, value: list[str], attr: dict | None = None) -> Any:
        return super().optgroups(name, [v for v in value if id_or_none(v) is not None], attr)  # type: ignore[misc]


class SafeAutocompleteSelect(_OnlyIdsSelected, AutocompleteSelect):
    pass


class SafeAutocompleteSelectMultiple(_OnlyIdsSelected, AutocompleteSelectMultiple):
    pass


def label_row_fields(form: Any, row: int | None) -> None:
    """Names each input of a table row for screen readers ("Name, row 3"): Django admin's
    tabular inlines and list_editable columns put the label in the column header only, so a
    screen reader announced 41 bare "spin button"s on a pipeline's stages."""
    for name, field in form.fields.items():
        attrs = field.widget.attrs
        if attrs.get("aria-label") or field.widget.is_hidden:
            continue
        label = field.label or (_("Delete") if name == "DELETE" else name)
        if row is None:
            attrs["aria-label"] = str(label)
        else:
            attrs["aria-label"] = _("%(field)s, row %(row)s") % {"field": label, "row": row}


class LabelledInlineFormSet(BaseInlineFormSet):
    def add_fields(self, form: Any, index: int | None) -> None:
        super().add_fields(form, index)
        label_row_fields(form, None if index is None else index + 1)


class LabelledTabularInline(admin.TabularInline):
    """A tabular inline whose every input has an accessible name."""

    formset = LabelledInlineFormSet


class LabelledChangelistMixin:
    """list_editable inputs with an accessible name ("Position, row 2"), and the date and
    time boxes of a date-time field named apart ("Date joined: date"): Django admin writes
    "Date:" and "Time:" as plain text beside them."""

    def formfield_for_dbfield(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        field = super().formfield_for_dbfield(db_field, request, **kwargs)  # type: ignore[misc]
        if field is not None and isinstance(field.widget, MultiWidget):
            parts = [_("date"), _("time")] if isinstance(field.widget, SplitDateTimeWidget) else None
            for index, widget in enumerate(field.widget.widgets):
                part = parts[index] if parts else index + 1
                widget.attrs.setdefault("aria-label", f"{field.label}: {part}")
        return field

    def get_changelist_formset(self, request: HttpRequest, **kwargs: Any) -> Any:
        formset_class = super().get_changelist_formset(request, **kwargs)  # type: ignore[misc]

        class Labelled(formset_class):  # type: ignore[valid-type, misc]
            def add_fields(self, form: Any, index: int | None) -> None:
                super().add_fields(form, index)
                label_row_fields(form, None if index is None else index + 1)

        return Labelled


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


class MemberInline(LabelledTabularInline):
    model = Team.members.through
    extra = 0
    verbose_name = _("team membership")
    verbose_name_plural = _("team memberships")
    autocomplete_fields = ["team"]


@admin.register(User)
class UserAdmin(LabelledChangelistMixin, BaseUserAdmin):
    list_display = ["username", "email", "first_name", "last_name", "role", "is_active", "last_login"]
    list_filter = ["role", "is_active", "is_staff", "teams"]
    search_fields = ["username", "email", "first_name", "last_name"]
    fieldsets = (
        *BaseUserAdmin.fieldsets,
        (_("CRM"), {"fields": ("role", "two_factor_required", "email_reminders", "daily_digest")}),
    )
    add_fieldsets = (
        *BaseUserAdmin.add_fieldsets,
        (_("CRM"), {"fields": ("email", "first_name", "last_name", "role")}),
    )
    inlines = [MemberInline]

    def save_formset(self, request, form, formset, change) -> None:
        """Log the memberships the inline adds and removes: it saves rows of the auto-created
        through table, which send neither ``m2m_changed`` nor ``post_save``."""
        super().save_formset(request, form, formset, change)
        if formset.model is Team.members.through:
            for row in formset.new_objects:
                team_event_record(team_id=row.team_id, user_ids=[row.user_id], relation="member", action="added")
            for row in formset.deleted_objects:
                team_event_record(team_id=row.team_id, user_ids=[row.user_id], relation="member", action="removed")


@admin.register(RoleCost)
class RoleCostAdmin(admin.ModelAdmin):
    list_display = ["role", "hourly_cost"]
    list_editable = ["hourly_cost"]


@admin.register(Team)
class TeamAdmin(LabelledChangelistMixin, admin.ModelAdmin):
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


@admin.register(SecurityEvent)
class SecurityEventAdmin(admin.ModelAdmin):
    """The security log, read-only: rows are only added by the CRM and removed by retention."""

    list_display = ["at", "kind", "username", "actor", "ip_address", "summary"]
    # Plain filters: "related only" users and a date hierarchy each scan the whole log per page.
    list_filter = ["kind", "user", "at"]
    search_fields = ["username", "ip_address", "user_agent"]
    list_select_related = ["actor"]
    ordering = ["-at", "-id"]
    show_full_result_count = False
    readonly_fields = ["at", "kind", "user", "username", "actor", "ip_address", "user_agent", "detail"]
    fields = readonly_fields

    @admin.display(description=_("detail"))
    def summary(self, obj: SecurityEvent) -> str:
        return ", ".join(f"{key}: {value}" for key, value in obj.detail.items())[:200]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def has_view_permission(self, request, obj=None) -> bool:
        return request.user.is_active and request.user.is_admin


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


class AuthenticatorAdmin(admin.ModelAdmin):
    """A user's two-factor devices, for an admin who helps someone who lost their phone: list
    and delete only. django-otp's own admin would show each secret as a QR code to every admin
    (a second factor an admin could copy) and answers 500 to unknown ids and far-off dates."""

    list_display = ["user", "name", "confirmed", "created_at", "last_used_at"]
    list_filter = ["confirmed"]
    search_fields = ["user__username", "name"]
    list_select_related = ["user"]
    fields = ["user", "name", "confirmed", "created_at", "last_used_at"]
    readonly_fields = fields
    show_full_result_count = False

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_view_permission(self, request, obj=None) -> bool:
        return request.user.is_active and request.user.is_admin

    def has_delete_permission(self, request, obj=None) -> bool:
        return request.user.is_active and request.user.is_admin


for _device_model in (TOTPDevice, StaticDevice):
    if admin.site.is_registered(_device_model):
        admin.site.unregister(_device_model)
    admin.site.register(_device_model, AuthenticatorAdmin)


@admin.register(CustomField)
class CustomFieldAdmin(admin.ModelAdmin):
    """Admin-defined fields of companies, contacts, deals and cases (``crm.custom_fields``)."""

    form = CustomFieldForm
    list_display = ["label", "model", "key", "field_type", "required", "position", "is_active"]
    list_filter = ["model", "field_type", "is_active"]
    list_editable = ["position"]
    search_fields = ["label", "key"]
    fieldsets = [
        (None, {"fields": ["model", "label", "key", "field_type", "choices_text"]}),
        (_("Form"), {"fields": ["help_text", "required", "position", "is_active"]}),
    ]

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # Deleting would orphan the stored values; a field is retired by making it inactive.
        return False


@admin.register(SavedView)
class SavedViewAdmin(admin.ModelAdmin):
    list_display = ["name", "list_name", "owner", "team", "updated_at"]
    list_filter = ["list_name"]
    search_fields = ["name", "owner__username"]
    raw_id_fields = ["owner", "team"]
