"""Campaign members in the report builder: who was in which campaign, how they answered and
whether a deal came of it, counted for the member's owner (the rep who calls them).

Lives in ``reports`` because the builder does; ``campaigns`` (a lower app) never imports it.
"""

from __future__ import annotations

from django.db.models import Count, Q, QuerySet
from django.utils.translation import gettext_lazy as _

from campaigns.models import RESPONSE_STATUSES, Campaign, CampaignChannel, CampaignGoal, CampaignMember, MemberStatus
from crm.models import Team
from reports.builder import (
    Dataset,
    DateField,
    Dimension,
    Measure,
    choice_names,
    country_names,
    model_names,
    register_dataset,
    share,
    user_names,
)
from reports.scope import ReportScope

RESPONDED = Q(status__in=RESPONSE_STATUSES)
WITH_DEAL = Q(deals__isnull=False)


def _members(scope: ReportScope) -> QuerySet[CampaignMember]:
    # A member counts for the rep who owns it, as a deal counts for its owner: a rep's report
    # shows the members on the rep's own call list, a manager's those of the team.
    return CampaignMember.objects.filter(scope.owner_filter("owner_id"))


def register_report_dataset() -> None:
    register_dataset(
        Dataset(
            key="campaign_members",
            label=_("Campaign members"),
            queryset=_members,
            note=_(
                "Each contact in each campaign, counted for the member's owner (who calls them). "
                "A campaign's page lists its members by response."
            ),
            dimensions=[
                Dimension("campaign", _("Campaign"), "campaign_id", model_names(Campaign)),
                Dimension("channel", _("Channel"), "campaign__channel", choice_names(CampaignChannel.choices)),
                Dimension("goal", _("Goal"), "campaign__goal", choice_names(CampaignGoal.choices)),
                Dimension("response", _("Response"), "status", choice_names(MemberStatus.choices)),
                Dimension("owner", _("Owner"), "owner_id", user_names),
                Dimension("team", _("Team"), "owner__teams", model_names(Team)),
                Dimension("country", _("Country"), "contact__company__country", country_names),
            ],
            measures=[
                Measure("count", _("Number of members"), lambda: Count("pk"), "count"),
                Measure("responses", _("Number of responses"), lambda: Count("pk", filter=RESPONDED), "count"),
                Measure("response_rate", _("Response rate %"), share(RESPONDED, None), "percent"),
                Measure(
                    "with_deal", _("Members with a deal"), lambda: Count("pk", filter=WITH_DEAL, distinct=True), "count"
                ),
            ],
            dates=[
                DateField("joined", _("Joined the campaign"), "created_at"),
                DateField("responded", _("Response recorded"), "responded_at"),
            ],
        )
    )
