from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class DealsConfig(AppConfig):
    name = "deals"
    verbose_name = _("Deals and pipelines")

    def ready(self) -> None:
        from crm.home import register_home_panel
        from crm.search import register_search_provider
        from deals.selectors import home_panel_context, search_deals

        register_search_provider(key="deals", order=30, search=search_deals)
        register_home_panel(
            key="deals", order=20, template_name="deals/partials/home_panel.html", context=home_panel_context
        )
