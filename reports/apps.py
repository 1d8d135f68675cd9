from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ReportsConfig(AppConfig):
    name = "reports"
    verbose_name = _("Reports")

    def ready(self) -> None:
        # Segments in campaigns filter on customer value through this hook (campaigns never
        # imports reports): dormant customers and those with a cross-sell suggestion.
        from campaigns.segments import register_company_filter
        from campaigns.selectors import acquisition_costs
        from crm.home import register_home_panel
        from reports import receivers  # noqa: F401  (connects the signal receivers)
        from reports.home import home_panel_context
        from reports.models import CrossSellSuggestion, CustomerValue

        register_company_filter(
            "dormant",
            _("Dormant customers"),
            lambda: CustomerValue.objects.filter(is_dormant=True).values("company_id"),
        )
        register_company_filter(
            "cross_sell",
            _("Cross-sell candidates"),
            lambda: CrossSellSuggestion.objects.filter(rank=1).values("company_id"),
        )

        # A campaign's cost, spread over the customers it acquired, counts against their profit.
        from reports.value import register_acquisition_cost_source

        register_acquisition_cost_source("campaigns", acquisition_costs)

        # Campaign members as a report builder dataset (campaigns must not import reports).
        from reports.builder_campaigns import register_report_dataset

        register_report_dataset()

        register_home_panel(
            key="reports-sales", order=50, template_name="reports/partials/home_panel.html", context=home_panel_context
        )
