from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class DealsConfig(AppConfig):
    name = "deals"
    verbose_name = _("Deals and pipelines")

    def ready(self) -> None:
        from django.db.models.signals import post_delete, post_save

        import deals.bulk_actions  # noqa: F401 (registers the list's bulk actions, for the web and the worker)
        from contacts.attachments import for_write, register_attachable
        from contacts.merge import register_merge_handler
        from crm.home import register_home_panel
        from crm.search import register_search_provider
        from deals import merge
        from deals.models import Deal, ExchangeRate
        from deals.money import rates_changed
        from deals.selectors import deal_for_user, home_panel_context, search_deals

        post_save.connect(rates_changed, sender=ExchangeRate, dispatch_uid="deals.rate_saved")
        post_delete.connect(rates_changed, sender=ExchangeRate, dispatch_uid="deals.rate_deleted")

        register_attachable(kind="deal", model=Deal, get=for_write(deal_for_user), customers=lambda d: {"deal": d})

        register_merge_handler(kind="company", key="deals", move=merge.company_move, restore=merge.company_restore)
        register_merge_handler(kind="contact", key="deals", move=merge.contact_move, restore=merge.contact_restore)
        register_search_provider(key="deals", order=30, search=search_deals)
        register_home_panel(
            key="deals", order=20, template_name="deals/partials/home_panel.html", context=home_panel_context
        )
