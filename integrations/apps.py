from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class IntegrationsConfig(AppConfig):
    name = "integrations"
    verbose_name = _("API and integrations")

    def ready(self) -> None:
        from django.db.models.signals import post_delete, post_save

        from integrations import (
            receivers,  # noqa: F401 - connects the webhook receivers to the other apps' signals
            schema,  # noqa: F401 - registers the token auth with drf-spectacular
        )
        from integrations.events import revenue_event_rows, timeline_data_forget, timeline_look_register
        from integrations.models import EventType
        from integrations.reporting import register_report_dataset
        from reports.value import register_revenue_source

        # Revenue and refund events count in customer value alongside won deals.
        register_revenue_source("business_events", revenue_event_rows)
        # Business events as a report builder dataset (reports must not import this app).
        register_report_dataset()
        # Business events on timelines: their look and filters (types and sources, cached).
        timeline_look_register()
        post_save.connect(timeline_data_forget, sender=EventType, dispatch_uid="integrations-eventtype-saved")
        post_delete.connect(timeline_data_forget, sender=EventType, dispatch_uid="integrations-eventtype-deleted")
