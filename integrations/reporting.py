"""Business events in the report builder: registered into ``reports.builder`` (which may not
import this app), grouped by type, source, the customer's owner, team and country."""

from __future__ import annotations

from django.db.models import Count, QuerySet
from django.utils.translation import gettext_lazy as _

from crm.models import Team
from integrations.models import BusinessEvent, EventType
from reports.builder import (
    Dataset,
    DateField,
    Dimension,
    Measure,
    country_names,
    model_names,
    register_dataset,
    user_names,
)
from reports.scope import ReportScope


def _events(scope: ReportScope) -> QuerySet[BusinessEvent]:
    # An event counts for the owner of the customer it was matched to; unmatched events have
    # no owner and only admins (no owner restriction) see them.
    return BusinessEvent.objects.filter(scope.owner_filter("company__owner_id"))


def register_report_dataset() -> None:
    register_dataset(
        Dataset(
            key="business_events",
            label=_("Business events"),
            queryset=_events,
            note=_(
                "Events other systems sent (invoices, tickets…), counted for the owner of the matched customer. "
                "Amounts come in many currencies, so only counts are offered."
            ),
            dimensions=[
                Dimension("type", _("Event type"), "type_id", model_names(EventType)),
                Dimension("source", _("Sent by"), "source"),
                Dimension("owner", _("Customer owner"), "company__owner_id", user_names),
                Dimension("team", _("Team"), "company__owner__teams", model_names(Team)),
                Dimension("country", _("Country"), "company__country", country_names),
            ],
            measures=[
                Measure("count", _("Number of events"), lambda: Count("pk"), "count"),
                Measure("customers", _("Number of customers"), lambda: Count("company_id", distinct=True), "count"),
            ],
            dates=[DateField("occurred", _("Occurred"), "occurred_at")],
        )
    )
