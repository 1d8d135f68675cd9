"""Campaign members in the report builder: counted for the member's owner, by response, with
the response rate and the members a deal came of."""

from decimal import Decimal

from django.urls import reverse
from django.utils import timezone

from campaigns.models import CampaignMember, DealAttribution, MemberStatus
from campaigns.tests import factories
from contacts.models import Company
from reports.tests.factories import deal_with_history, sales_pipeline


def _member(campaign, owner, name: str, status: str, company=None) -> CampaignMember:
    contact = factories.contact(owner, name, company=company)
    return CampaignMember.objects.create(campaign=campaign, contact=contact, owner=owner, status=status)


def _rows(client, **params) -> dict[str, object]:
    response = client.get(reverse("reports:builder"), {"dataset": "campaign_members", **params})
    assert response.status_code == 200
    result = response.context["result"]
    assert not result.too_broad, result.too_broad
    return {row.label: row.total.value for row in result.rows}


def test_members_count_for_their_owner_by_response(
    owner, teammate, outsider, owner_client, manager_client, admin_client
):
    spring = factories.campaign(owner)
    moscow = Company.objects.create(name="Ромашка", owner=owner, country="RU")
    _member(spring, owner, "Petrova", MemberStatus.RESPONDED, company=moscow)
    _member(spring, owner, "Ivanov", MemberStatus.PENDING)
    _member(spring, teammate, "Lee", MemberStatus.MEETING)
    _member(spring, outsider, "Stranger", MemberStatus.RESPONDED)

    by_response = {"dim1": "response", "measure": "count"}
    # The rep sees the members on the rep's own list; the manager the team's (not South's).
    assert _rows(owner_client, **by_response) == {"Responded": 1, "Not contacted yet": 1}
    assert _rows(manager_client, **by_response) == {"Responded": 1, "Not contacted yet": 1, "Meeting booked": 1}
    assert _rows(admin_client, **by_response) == {"Responded": 2, "Not contacted yet": 1, "Meeting booked": 1}
    # Responded and meeting booked both count as a response: 2 of the team's 3.
    rate = _rows(manager_client, dim1="campaign", measure="response_rate")
    assert {label: round(value, 2) for label, value in rate.items()} == {"Spring push": Decimal("66.67")}
    assert _rows(manager_client, dim1="country", measure="count") == {"Russia": 1, "Not set": 2}


def test_members_with_a_deal_count_once_each(owner, owner_client):
    spring = factories.campaign(owner)
    answered = _member(spring, owner, "Petrova", MemberStatus.MEETING)
    _member(spring, owner, "Ivanov", MemberStatus.RESPONDED)
    _pipeline, stages = sales_pipeline()
    for amount in (1000, 2000):  # two deals from one member: still one member with a deal
        deal = deal_with_history(owner=owner, amount=amount, moves=[(stages["Lead"], timezone.now())])
        DealAttribution.objects.create(deal=deal, created_by_campaign=spring, member=answered)
    assert _rows(owner_client, dim1="campaign", measure="with_deal") == {"Spring push": 1}
    assert _rows(owner_client, dim1="campaign", measure="responses") == {"Spring push": 2}
