from __future__ import annotations

import datetime as dt
import io
import re
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from activities.models import Activity
from campaigns import services
from campaigns.models import Campaign, CampaignMember, Segment
from campaigns.tests.factories import campaign, contact, segment
from deals.models import Deal, Pipeline

pytestmark = pytest.mark.django_db


@pytest.fixture
def running(owner):
    for name in ("Able", "Baker", "Chan"):
        contact(owner, name)
    return services.campaign_start(campaign=campaign(owner), actor=owner)


class TestAccess:
    def test_owner_and_teammate_see_the_campaign_outsider_gets_404(
        self, running, owner_client, teammate_client, outsider_client
    ):
        assert owner_client.get(running.get_absolute_url()).status_code == 200
        assert teammate_client.get(running.get_absolute_url()).status_code == 200
        assert outsider_client.get(running.get_absolute_url()).status_code == 404

    def test_the_campaigns_team_sees_it_too(self, owner, outsider, outsider_client, south):
        shared = campaign(owner, team=south)
        assert outsider_client.get(shared.get_absolute_url()).status_code == 200

    def test_the_list_and_report_leave_out_what_an_outsider_may_not_see(self, running, outsider_client):
        assert running.name not in outsider_client.get(reverse("campaigns:list")).content.decode()
        assert running.name not in outsider_client.get(reverse("campaigns:report")).content.decode()

    def test_a_teammate_may_read_but_not_change_it(self, running, teammate_client):
        assert teammate_client.get(reverse("campaigns:edit", args=[running.pk])).status_code == 403
        assert teammate_client.post(reverse("campaigns:finish", args=[running.pk])).status_code == 403
        running.refresh_from_db()
        assert running.status == "running"

    def test_member_pages_follow_the_campaign(self, running, owner_client, teammate_client, outsider_client):
        member = CampaignMember.objects.first()
        assert owner_client.get(member.get_absolute_url()).status_code == 200
        assert teammate_client.get(member.get_absolute_url()).status_code == 200
        assert outsider_client.get(member.get_absolute_url()).status_code == 404
        response = outsider_client.post(reverse("campaigns:member-status", args=[member.pk]), {"status": "responded"})
        assert response.status_code == 404
        member.refresh_from_db()
        assert member.status == "pending"

    def test_a_segment_of_another_team_is_404(self, owner, outsider_client):
        seg = segment(owner)
        assert outsider_client.get(seg.get_absolute_url()).status_code == 404

    def test_the_export_is_for_editors_only(self, owner, teammate_client, outsider_client, owner_client):
        contact(owner, "Mail")
        started = services.campaign_start(campaign=campaign(owner, channel="email"), actor=owner)
        url = reverse("campaigns:export", args=[started.pk])
        assert outsider_client.get(url).status_code == 404
        assert teammate_client.get(url).status_code == 403
        response = owner_client.get(url)
        body = b"".join(response.streaming_content).decode("utf-8-sig")
        assert body.splitlines()[0] == "member_id,email,first_name,last_name,company,status"
        assert "mail@example.com" in body


class TestPages:
    def test_a_manager_creates_and_starts_a_campaign(self, owner, manager, manager_client):
        contact(owner, "Target")
        contact(owner, "Quiet", do_not_call=True)
        seg = segment(manager)
        response = manager_client.post(
            reverse("campaigns:create"),
            {"name": "Calls", "goal": "retain", "channel": "call", "segment": seg.pk, "currency": "USD",
             "budget": "500", "actual_cost": "400"},
        )  # fmt: skip
        created = Campaign.objects.get()
        assert response.status_code == 302 and created.owner == manager
        response = manager_client.post(reverse("campaigns:start", args=[created.pk]), follow=True)
        assert "1 member, 1 excluded: do not call" in response.content.decode()
        assert Activity.objects.get().owner == owner

    def test_the_form_shows_field_errors(self, owner_client):
        response = owner_client.post(
            reverse("campaigns:create"),
            {"name": "", "goal": "acquire", "channel": "fax", "currency": "USD", "budget": "-1", "actual_cost": "0",
             "starts_on": "2026-05-02", "ends_on": "2026-05-01"},
        )  # fmt: skip
        page = response.content.decode()
        assert response.status_code == 200 and not Campaign.objects.exists()
        assert "cannot end before it starts" in page and "is not one of the available choices" in page

    def test_the_segment_form_counts_before_saving(self, owner, owner_client):
        contact(owner, "Ru", country="RU")
        contact(owner, "De", country="DE")
        response = owner_client.post(
            reverse("campaigns:segment-create"), {"name": "Russia", "country": "RU"}, HTTP_HX_REQUEST="true"
        )
        assert "<strong>1</strong> contact matches now" in response.content.decode()
        assert not Segment.objects.exists()
        owner_client.post(reverse("campaigns:segment-create"), {"name": "Russia", "country": "RU", "save": "1"})
        assert Segment.objects.get().country == "RU"

    def test_a_rep_records_a_response_and_creates_a_deal(self, running, owner, owner_client):
        member = CampaignMember.objects.first()
        owner_client.post(reverse("campaigns:member-status", args=[member.pk]), {"status": "meeting_booked"})
        member.refresh_from_db()
        assert member.status == "meeting_booked"
        stage = Pipeline.objects.get(is_default=True).stages.filter(is_won=False, is_lost=False).first()
        response = owner_client.post(
            reverse("campaigns:member-deal", args=[member.pk]),
            {"title": "From the call", "amount": "1200", "currency": "USD", "stage": stage.pk},
        )
        deal = Deal.objects.get()
        assert response.status_code == 302 and deal.owner == owner and deal.attribution.created_by_campaign == running
        page = owner_client.get(running.get_absolute_url()).content.decode()
        assert "From the call" in page

    def test_a_deal_form_with_errors_shows_them(self, running, owner_client):
        member = CampaignMember.objects.first()
        response = owner_client.post(reverse("campaigns:member-deal", args=[member.pk]), {"title": "", "amount": "x"})
        assert response.status_code == 400 and not Deal.objects.exists()
        assert "This field is required" in response.content.decode()


class TestResponseCsv:
    def _upload(self, client, started, text: str):
        upload = io.BytesIO(text.encode())
        upload.name = "responses.csv"
        return client.post(reverse("campaigns:import", args=[started.pk]), {"file": upload})

    def test_errors_are_listed_per_row_and_good_rows_apply(self, owner, owner_client):
        contact(owner, "Ann", email="ann@example.com")
        started = services.campaign_start(campaign=campaign(owner, channel="email"), actor=owner)
        ann = CampaignMember.objects.get()
        response = self._upload(
            owner_client, started, f"member_id,status\n{ann.pk},responded\n424242,sent\n{ann.pk},on fire\n"
        )
        page = response.content.decode()
        assert response.status_code == 200
        assert "1 member updated" in page and "2 rows skipped" in page
        assert "No member “424242” in this campaign." in page and "Unknown status “on fire”." in page
        ann.refresh_from_db()
        assert ann.status == "responded"

    def test_a_file_that_is_not_a_table_is_refused(self, owner, owner_client):
        contact(owner, "Ann")
        started = services.campaign_start(campaign=campaign(owner, channel="email"), actor=owner)
        upload = io.BytesIO(b"\x89PNG\r\n\x1a\n\x00\x00\x00")
        upload.name = "picture.csv"
        response = owner_client.post(reverse("campaigns:import", args=[started.pk]), {"file": upload})
        assert response.status_code == 400
        assert CampaignMember.objects.get().status == "pending"


class TestQueryCounts:
    def test_the_campaign_page_is_constant(self, owner, owner_client, django_assert_max_num_queries):
        for i in range(3):
            contact(owner, f"First{i}")
        started = services.campaign_start(campaign=campaign(owner), actor=owner)
        owner_client.get(started.get_absolute_url())
        with django_assert_max_num_queries(8) as few:
            owner_client.get(started.get_absolute_url())
        more = campaign(owner, seg=segment(owner))
        for i in range(40):
            contact(owner, f"Later{i}")
        more = services.campaign_start(campaign=more, actor=owner)
        stage = Pipeline.objects.get(is_default=True).stages.filter(is_won=False, is_lost=False).first()
        for member in CampaignMember.objects.filter(campaign=more)[:5]:
            services.deal_from_member(
                member=member, actor=owner, title="D", amount=Decimal(10), currency="USD",
                pipeline=stage.pipeline, stage=stage,
            )  # fmt: skip
        with django_assert_max_num_queries(len(few.captured_queries)):
            response = owner_client.get(more.get_absolute_url())
        assert response.content.decode().count('class="member-row"') == 43

    def test_the_list_and_report_are_constant(self, owner, owner_client, django_assert_max_num_queries):
        contact(owner, "One")
        services.campaign_start(campaign=campaign(owner), actor=owner)
        for url in (reverse("campaigns:list"), reverse("campaigns:report")):
            owner_client.get(url)
            with django_assert_max_num_queries(5) as few:
                owner_client.get(url)
            for _i in range(5):
                services.campaign_start(campaign=campaign(owner, seg=segment(owner)), actor=owner)
            with django_assert_max_num_queries(len(few.captured_queries)):
                owner_client.get(url)


def test_the_list_pages_fifty_campaigns_at_a_time_newest_first(owner, owner_client):
    seg, now = segment(owner), timezone.now()
    Campaign.objects.bulk_create(
        Campaign(name=f"Push {i:02d}", channel="call", owner=owner, segment=seg, created_at=now - dt.timedelta(hours=i))
        for i in range(60)
    )
    first = owner_client.get(reverse("campaigns:list"))
    body = first.content.decode()
    assert "Push 00" in body and "Push 49" in body and "Push 50" not in body
    after = re.search(r'href="\?&amp;after=([^"]+)"', body).group(1)
    second = owner_client.get(reverse("campaigns:list"), {"after": after}).content.decode()
    assert "Push 50" in second and "Push 59" in second and "Push 49" not in second
    before = re.search(r'href="\?&amp;before=([^"]+)"', second).group(1)
    assert "Push 00" in owner_client.get(reverse("campaigns:list"), {"before": before}).content.decode()


def test_the_member_page_is_constant(running, owner, owner_client, django_assert_max_num_queries):
    member = CampaignMember.objects.first()
    owner_client.get(member.get_absolute_url())
    with django_assert_max_num_queries(9) as few:
        owner_client.get(member.get_absolute_url())
    stage = Pipeline.objects.get(is_default=True).stages.filter(is_won=False, is_lost=False).first()
    for i in range(3):
        services.deal_from_member(
            member=member, actor=owner, title=f"D{i}", amount=Decimal(10), currency="USD",
            pipeline=stage.pipeline, stage=stage,
        )  # fmt: skip
    with django_assert_max_num_queries(len(few.captured_queries)):
        owner_client.get(member.get_absolute_url())


def test_a_list_row_shows_the_campaign_and_its_loop(running, owner_client):
    body = owner_client.get(reverse("campaigns:list")).content.decode()
    row = body[body.index(f'href="{running.get_absolute_url()}"') :].split("</tr>")[0]
    assert ">Spring push</a>" in row
    assert "<td>Call</td>" in row and "<td>Acquire new customers</td>" in row
    assert 'campaign-status text-bg-success">Running</span>' in row
    assert "<td>Olga Owner</td>" in row
    assert '<td class="text-end">3</td>' in row  # members
    assert '<td class="text-end">-100 %</td>' in row  # ROI: no revenue yet for 1,000 USD


def test_the_campaign_page_lists_its_deals_latest_first(running, owner, owner_client):
    stage = Pipeline.objects.get(is_default=True).stages.filter(is_won=False, is_lost=False).first()
    members = CampaignMember.objects.filter(campaign=running).order_by("pk")[:2]
    for member, title in zip(members, ("Older", "Newer"), strict=True):
        services.deal_from_member(
            member=member, actor=owner, title=title, amount=Decimal(10), currency="USD",
            pipeline=stage.pipeline, stage=stage,
        )  # fmt: skip
    body = owner_client.get(running.get_absolute_url()).content.decode()
    table = body[body.index('class="table table-sm mb-0 campaign-deals"') :].split("</table>")[0]
    assert table.index(">Newer</a>") < table.index(">Older</a>")
    newer = Deal.objects.get(title="Newer")
    assert (
        f'<tr><td><a href="{newer.get_absolute_url()}">Newer</a></td><td>{stage.name} '
        '<span class="small text-secondary">Open</span></td><td>Olga Owner</td><td class="text-end">10.00 USD</td></tr>'
    ) in table


def test_a_member_row_shows_contact_company_owner_response_and_task(running, owner_client):
    member = CampaignMember.objects.select_related("task").filter(campaign=running).order_by("pk").first()
    services.member_set_status(member=member, actor=member.owner, status="responded")
    body = owner_client.get(running.get_absolute_url()).content.decode()
    row = body[body.index(f'data-member="{member.pk}"') :].split("</tr>")[0]
    assert f'<a href="{member.get_absolute_url()}">Kim Able</a>' in row
    assert "<td>Olga Owner</td>" in row
    assert '<span class="badge text-bg-success">Responded</span>' in row
    assert "done" in row  # recording the response completed the call task


def test_the_member_list_filters_by_response_and_owner_and_pages_after_a_member(running, owner, teammate, owner_client):
    members = list(CampaignMember.objects.filter(campaign=running).order_by("pk"))
    services.member_set_status(member=members[0], actor=owner, status="responded")
    CampaignMember.objects.filter(pk=members[2].pk).update(owner=teammate)

    def shown(**params):
        body = owner_client.get(running.get_absolute_url(), params).content.decode()
        return [m.pk for m in members if f'data-member="{m.pk}"' in body]

    assert shown() == [m.pk for m in members]
    assert shown(status="responded") == [members[0].pk]
    assert shown(mine="1") == [members[0].pk, members[1].pk]
    assert shown(after=members[0].pk) == [members[1].pk, members[2].pk]
    assert shown(mine="1", after=members[0].pk) == [members[1].pk]
    assert shown(status="responded", after=members[0].pk) == []
