from django.contrib import admin

from reports.models import DormancyFollowUp, ForecastSnapshot, ReportSubscription, RollupGeneration, ValueRun


@admin.register(RollupGeneration)
class RollupGenerationAdmin(admin.ModelAdmin):
    list_display = ["id", "started_at", "finished_at", "deal_count", "seconds"]
    readonly_fields = ["started_at", "finished_at", "deal_count", "seconds"]

    def has_add_permission(self, request) -> bool:
        return False


@admin.register(ForecastSnapshot)
class ForecastSnapshotAdmin(admin.ModelAdmin):
    list_display = ["month", "owner", "pipeline", "close_month", "weighted_base", "unweighted_base", "deal_count"]
    list_filter = ["month", "pipeline"]
    list_select_related = ["owner", "pipeline"]


@admin.register(ReportSubscription)
class ReportSubscriptionAdmin(admin.ModelAdmin):
    list_display = ["user", "team", "created_at", "last_sent_week"]
    list_select_related = ["user", "team"]


@admin.register(ValueRun)
class ValueRunAdmin(admin.ModelAdmin):
    list_display = ["computed_at", "customers", "scored", "window_months", "churn_rate", "lifespan_years", "seconds"]
    readonly_fields = list_display

    def has_add_permission(self, request) -> bool:
        return False


@admin.register(DormancyFollowUp)
class DormancyFollowUpAdmin(admin.ModelAdmin):
    list_display = ["company", "dormant_since", "activity", "created_at"]
    list_select_related = ["company", "activity"]
    raw_id_fields = ["company", "activity"]
    search_fields = ["company__name"]
