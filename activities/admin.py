from django.contrib import admin

from activities.models import Activity, ActivityOutcome, ActivityType, CalendarFeed, Reminder, TimelineEvent
from crm.admin import LabelledChangelistMixin, LabelledTabularInline


class ActivityOutcomeInline(LabelledTabularInline):
    model = ActivityOutcome
    extra = 1
    fields = ["position", "name", "active"]


@admin.register(ActivityType)
class ActivityTypeAdmin(LabelledChangelistMixin, admin.ModelAdmin):
    list_display = [
        "name",
        "key",
        "icon",
        "color",
        "has_due",
        "has_duration",
        "has_outcome",
        "has_attendees",
        "default_minutes",
        "position",
        "active",
    ]
    list_editable = ["default_minutes", "position", "active"]
    prepopulated_fields = {"key": ["name"]}
    search_fields = ["name", "key"]
    inlines = [ActivityOutcomeInline]


class ReminderInline(LabelledTabularInline):
    model = Reminder
    extra = 0
    fields = ["remind_at", "minutes_before", "state", "sent_at", "email_sent_at", "attempts", "last_error"]
    readonly_fields = ["state", "sent_at", "email_sent_at", "attempts", "last_error"]


@admin.register(Activity)
class ActivityAdmin(LabelledChangelistMixin, admin.ModelAdmin):
    list_display = ["subject", "type", "owner", "due_at", "done_at", "created_at"]
    list_filter = ["type", "done_at"]
    search_fields = ["subject"]
    # Raw ids: a select of every company or contact would not scale.
    raw_id_fields = ["company", "contact", "deal", "owner", "created_by", "attendee_contacts"]
    filter_horizontal = ["attendee_users"]
    inlines = [ReminderInline]
    list_select_related = ["type", "owner"]


@admin.register(Reminder)
class ReminderAdmin(admin.ModelAdmin):
    list_display = ["activity", "remind_at", "state", "sent_at", "email_sent_at", "attempts"]
    list_filter = ["state"]
    raw_id_fields = ["activity"]
    readonly_fields = [
        "claimed_at",
        "notified_at",
        "email_sent_at",
        "sent_at",
        "attempts",
        "next_attempt_at",
        "last_error",
    ]
    list_select_related = ["activity"]


@admin.register(TimelineEvent)
class TimelineEventAdmin(admin.ModelAdmin):
    list_display = ["title", "kind", "source", "occurred_at"]
    list_filter = ["kind", "source"]
    raw_id_fields = ["actor", "company", "contact", "deal", "activity"]


@admin.register(CalendarFeed)
class CalendarFeedAdmin(admin.ModelAdmin):
    list_display = ["user", "created_at"]
    raw_id_fields = ["user"]
    readonly_fields = ["token"]
