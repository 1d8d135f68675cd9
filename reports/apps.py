from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ReportsConfig(AppConfig):
    name = "reports"
    verbose_name = _("Reports")

    def ready(self) -> None:
        from crm.home import register_home_panel
        from reports import receivers  # noqa: F401  (connects the signal receivers)
        from reports.home import home_panel_context

        register_home_panel(
            key="reports-sales", order=50, template_name="reports/partials/home_panel.html", context=home_panel_context
        )
