from __future__ import annotations

from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from crm.admin import LabelledChangelistMixin, LabelledTabularInline, StrictHistoryAdmin
from crm.versioning import VersionedAdminForm
from deals import services
from deals.models import (
    Deal,
    ExchangeRate,
    LineItem,
    LostReason,
    Pipeline,
    Product,
    ProductCost,
    Quote,
    Stage,
    StageChange,
)


class StageInline(LabelledTabularInline):
    model = Stage
    extra = 0
    fields = ["position", "name", "probability", "is_won", "is_lost"]
    ordering = ["position", "id"]


@admin.register(Pipeline)
class PipelineAdmin(LabelledChangelistMixin, admin.ModelAdmin):
    list_display = ["name", "is_default", "default_margin_percent", "position"]
    list_editable = ["default_margin_percent", "position"]
    inlines = [StageInline]
    fields = [
        "name",
        "is_default",
        "position",
        "default_margin_percent",
        "quote_accepted_stage",
        "quote_declined_stage",
    ]

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        # The quote stages: only this pipeline's own (none while it is being created).
        if db_field.name in ("quote_accepted_stage", "quote_declined_stage"):
            pipeline_id = request.resolver_match.kwargs.get("object_id") if request.resolver_match else None
            kwargs["queryset"] = Stage.objects.filter(pipeline_id=pipeline_id) if pipeline_id else Stage.objects.none()
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def save_formset(self, request, form, formset, change) -> None:
        super().save_formset(request, form, formset, change)
        if formset.model is Stage:
            # New stages and stages whose position was typed take that place; the others make room.
            new_ids = {stage.pk for stage in formset.new_objects}
            claimed = [
                f.instance.pk
                for f in formset.forms
                if f.instance.pk and ("position" in f.changed_data or f.instance.pk in new_ids)
            ]
            services.stage_positions_settle(pipeline=form.instance, claimed=claimed)


@admin.register(Quote)
class QuoteAdmin(admin.ModelAdmin):
    list_display = ["__str__", "deal", "status", "version", "created_at", "sent_at"]
    list_filter = ["status", "year"]
    list_select_related = ["deal"]
    raw_id_fields = ["deal", "created_by"]
    readonly_fields = ["year", "sequence", "version", "created_at", "sent_at", "decided_at"]


@admin.register(LostReason)
class LostReasonAdmin(admin.ModelAdmin):
    list_display = ["name", "active"]
    list_filter = ["active"]
    search_fields = ["name"]


@admin.register(ExchangeRate)
class ExchangeRateAdmin(admin.ModelAdmin):
    list_display = ["currency", "date", "rate"]
    list_filter = ["currency"]
    date_hierarchy = "date"


class ProductCostInline(admin.TabularInline):
    model = ProductCost
    extra = 1
    fields = ["valid_from", "cost", "currency"]


@admin.register(Product)
class ProductAdmin(admin.ModelAdmin):
    inlines = [ProductCostInline]
    list_display = ["name", "sku", "price", "currency", "active"]
    list_filter = ["active", "currency"]
    search_fields = ["name", "sku"]


class LineItemInline(LabelledTabularInline):
    model = LineItem
    extra = 0
    autocomplete_fields = ["product"]
    fields = ["product", "quantity", "unit_price", "discount_percent", "unit_cost", "position"]


class StageChangeInline(LabelledTabularInline):
    model = StageChange
    extra = 0
    can_delete = False
    fields = ["at", "from_stage", "to_stage", "actor", "lost_reason", "note"]
    readonly_fields = fields

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("from_stage", "to_stage", "actor", "lost_reason")


class DealAdminForm(VersionedAdminForm):
    class Meta:
        model = Deal
        fields = [
            "title",
            "company",
            "contacts",
            "owner",
            "pipeline",
            "stage",
            "amount",
            "currency",
            "amount_from_line_items",
            "probability",
            "probability_is_manual",
            "expected_close_date",
            "source",
            "lost_reason",
            "lost_note",
            "created_at",
        ]

    def clean(self):
        cleaned = super().clean()
        stage, pipeline = cleaned.get("stage"), cleaned.get("pipeline")
        if stage and pipeline and stage.pipeline_id != pipeline.pk:
            self.add_error("stage", _("That stage belongs to another pipeline."))
        if stage and stage.is_lost and not cleaned.get("lost_reason"):
            self.add_error("lost_reason", _("Say why the deal was lost."))
        return cleaned


@admin.register(Deal)
class DealAdmin(StrictHistoryAdmin):
    form = DealAdminForm
    list_display = ["title", "company", "owner", "pipeline", "stage", "status", "amount", "currency", "created_at"]
    list_filter = ["pipeline", "status", "stage", "currency", "owner"]
    search_fields = ["title", "company__name"]
    list_select_related = ["company", "owner", "pipeline", "stage"]
    raw_id_fields = ["owner", "company", "contacts"]
    readonly_fields = ["status", "closed_at", "stage_entered_at", "version"]
    date_hierarchy = "created_at"
    inlines = [LineItemInline, StageChangeInline]

    def save_model(self, request, obj: Deal, form, change: bool) -> None:
        """Stage changes from the admin go through the same service as the board."""
        if not change:
            services.deal_create(deal=obj, actor=request.user)
            return
        data = {name: form.cleaned_data[name] for name in services.EDITABLE_FIELDS if name in form.cleaned_data}
        services.deal_update(deal=obj, actor=request.user, version=None, data=data)
        obj.refresh_from_db()

    def save_related(self, request, form, formsets, change: bool) -> None:
        super().save_related(request, form, formsets, change)
        deal = form.instance
        if deal.amount_from_line_items:
            # Line items edited inline bypass the line-item services; bring the amount in line.
            services.deal_update(deal=deal, actor=request.user, version=None, data={})


@admin.register(StageChange)
class StageChangeAdmin(admin.ModelAdmin):
    list_display = ["deal", "from_stage", "to_stage", "actor", "at", "lost_reason"]
    list_filter = ["to_stage__pipeline", "to_stage"]
    list_select_related = ["deal", "from_stage", "to_stage", "actor", "lost_reason"]
    date_hierarchy = "at"
    search_fields = ["deal__title"]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False
