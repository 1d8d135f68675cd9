from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ContactsConfig(AppConfig):
    name = "contacts"
    verbose_name = _("Companies and contacts")

    def ready(self) -> None:
        import contacts.bulk_actions  # noqa: F401 (registers the lists' bulk actions, for the web and the worker)
        from contacts import country_order
        from contacts.attachments import (
            company_customers,
            contact_customers,
            for_write,
            register_attachable,
            register_merge_handlers,
        )
        from contacts.models import Company, Contact
        from contacts.panels import customers_panel
        from contacts.search import search_companies, search_contacts
        from contacts.selectors import company_for_user, contact_for_user
        from crm.home import register_home_panel
        from crm.search import register_search_provider

        register_attachable(kind="company", model=Company, get=for_write(company_for_user), customers=company_customers)
        register_attachable(kind="contact", model=Contact, get=for_write(contact_for_user), customers=contact_customers)
        register_merge_handlers()
        country_order.install()  # before any country list is read (and cached) in a language
        register_search_provider(key="companies", order=10, search=search_companies)
        register_search_provider(key="contacts", order=20, search=search_contacts)
        register_home_panel(
            key="customers", order=10, template_name="contacts/partials/home_panel.html", context=customers_panel
        )
