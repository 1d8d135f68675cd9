from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from crm.admin import LabelledTabularInline
from service.models import Case, CaseWebForm, Holiday, SlaPolicy, SlaTimer, SurveyToken, TeamCalendar


@admin.register(SlaPolicy)
class SlaPolicyAdmin(admin.ModelAdmin):
    list_display = ["priority", "team", "first_response_minutes", "resolution_minutes", "warning_minutes"]
    list_filter = ["priority", "team"]
    fieldsets = [
        (None, {"fields": ["team", "priority"]}),
        (_("Targets"), {"fields": ["first_response_minutes", "resolution_minutes", "warning_minutes"]}),
    ]


class HolidayInline(LabelledTabularInline):
    model = Holiday
    extra = 1


@admin.register(TeamCalendar)
class TeamCalendarAdmin(admin.ModelAdmin):
    list_display = ["team", "time_zone", "weekdays", "start", "end", "around_the_clock"]
    inlines = [HolidayInline]


class ReadOnlyAdmin(admin.ModelAdmin):
    """Cases are worked in the CRM (services keep their SLA clocks and history); the admin reads them."""

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Case)
class CaseAdmin(ReadOnlyAdmin):
    list_display = ["__str__", "team", "assignee", "priority", "status", "sla_breached", "csat_score", "created_at"]
    list_filter = ["status", "priority", "sla_breached", "team"]
    search_fields = ["subject"]
    list_select_related = ["team", "assignee"]
    raw_id_fields = ["company", "contact", "assignee", "created_by"]


@admin.register(SlaTimer)
class SlaTimerAdmin(ReadOnlyAdmin):
    list_display = ["case", "target", "kind", "due_at", "state", "sent_at"]
    list_filter = ["state", "target", "kind"]
    raw_id_fields = ["case"]


@admin.register(SurveyToken)
class SurveyTokenAdmin(ReadOnlyAdmin):
    list_display = ["case", "email", "created_at", "expires_at", "used_at"]
    exclude = ["token_hash"]
    raw_id_fields = ["case"]


@admin.register(CaseWebForm)
class CaseWebFormAdmin(admin.ModelAdmin):
    list_display = ["title", "team", "priority", "active", "key"]
    list_filter = ["active", "team"]
    readonly_fields = ["key"]
