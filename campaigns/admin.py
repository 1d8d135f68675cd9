from django.contrib import admin

from campaigns.models import Campaign, CampaignMember, LeadForm, LeadRouting, Segment


@admin.register(Segment)
class SegmentAdmin(admin.ModelAdmin):
    list_display = ["name", "owner", "team", "updated_at"]
    raw_id_fields = ["owner", "record_owner"]
    filter_horizontal = ["tags"]


@admin.register(Campaign)
class CampaignAdmin(admin.ModelAdmin):
    list_display = ["name", "channel", "goal", "status", "owner", "team", "members_count", "starts_on"]
    list_filter = ["status", "channel", "goal"]
    raw_id_fields = ["owner", "segment"]
    readonly_fields = ["members_count", "excluded_consent", "excluded_unreachable", "tasks_created", "started_at"]


@admin.register(CampaignMember)
class CampaignMemberAdmin(admin.ModelAdmin):
    list_display = ["campaign", "contact", "owner", "status", "responded_at"]
    list_filter = ["status"]
    raw_id_fields = ["campaign", "contact", "owner", "task"]


@admin.register(LeadForm)
class LeadFormAdmin(admin.ModelAdmin):
    list_display = ["title", "campaign", "team", "active", "key"]
    raw_id_fields = ["campaign"]


@admin.register(LeadRouting)
class LeadRoutingAdmin(admin.ModelAdmin):
    list_display = ["team", "last_assigned"]
