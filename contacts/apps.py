from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ContactsConfig(AppConfig):
    name = "contacts"
    verbose_name = _("Companies and contacts")

    def ready(self) -> None:
        import contacts.bulk_actions  # noqa: F401 (registers the lists' bulk actions, for the web and the worker)
        from contacts.panels import customers_panel
        from contacts.search import search_companies, search_contacts
        from crm.home import register_home_panel
        from crm.search import register_search_provider

        register_search_provider(key="companies", order=10, search=search_companies)
        register_search_provider(key="contacts", order=20, search=search_contacts)
        register_home_panel(
            key="customers", order=10, template_name="contacts/partials/home_panel.html", context=customers_panel
        )
