"""Inline editing and bulk actions on deals (crm.inline, crm.bulk_actions)."""

import re
from decimal import Decimal

import pytest
from django.urls import reverse

from crm.models import BulkJob
from deals.models import StageChange
from deals.tests.factories import DealFactory

pytestmark = pytest.mark.django_db


def _inline(deal, field):
    return reverse("deals:inline", args=[deal.pk, field])


def test_an_inline_amount_is_saved_with_history(owner_client, owner, deal):
    version = deal.version
    response = owner_client.post(_inline(deal, "amount"), {"amount": "2500.50", "version": version})
    assert response.status_code == 200
    deal.refresh_from_db()
    assert deal.amount == Decimal("2500.50")
    assert deal.version == version + 1
    assert deal.history.first().history_user == owner


def test_an_inline_amount_is_validated_like_the_full_form(owner_client, deal):
    amount = deal.amount
    response = owner_client.post(_inline(deal, "amount"), {"amount": "lots", "version": deal.version})
    assert "Enter a number." in response.content.decode()
    deal.refresh_from_db()
    assert deal.amount == amount


def test_an_inline_stage_move_writes_a_stage_change(owner_client, deal, pipeline):
    target = pipeline.stages.filter(is_won=False, is_lost=False).exclude(pk=deal.stage_id).first()
    owner_client.post(_inline(deal, "stage"), {"stage": target.pk, "version": deal.version})
    deal.refresh_from_db()
    assert deal.stage == target
    assert StageChange.objects.filter(deal=deal, to_stage=target).count() == 1


def test_an_inline_close_date_on_a_stale_page_is_a_conflict(owner_client, deal):
    stale = deal.version
    owner_client.post(_inline(deal, "expected_close_date"), {"expected_close_date": "2031-01-15", "version": stale})
    response = owner_client.post(
        _inline(deal, "expected_close_date"), {"expected_close_date": "2032-02-20", "version": stale}
    )
    assert "after you opened the page" in response.content.decode()
    deal.refresh_from_db()
    assert deal.expected_close_date.isoformat() == "2031-01-15"


def test_inline_deal_editing_checks_access(teammate_client, outsider_client, deal):
    assert teammate_client.post(_inline(deal, "amount"), {"amount": "1"}).status_code == 403
    assert outsider_client.post(_inline(deal, "amount"), {"amount": "1"}).status_code == 404
    assert outsider_client.get(_inline(deal, "amount")).status_code == 404


def test_bulk_move_of_all_matching_deals_and_its_undo(owner_client, owner, teammate, pipeline):
    deals = [DealFactory(owner=owner, pipeline=pipeline) for _ in range(2)]
    theirs = DealFactory(owner=teammate, pipeline=pipeline)  # visible, not the owner's to change
    start = deals[0].stage
    target = pipeline.stages.filter(is_won=False, is_lost=False).exclude(pk=start.pk).first()
    data = {"action": "move", "stage": target.pk, "scope": "all", "query": f"pipeline={pipeline.pk}"}
    assert "on all 3 deals matching" in owner_client.post(reverse("bulk-apply", args=["deal"]), data).content.decode()
    owner_client.post(reverse("bulk-apply", args=["deal"]), {**data, "confirmed": "1"})
    for deal in [*deals, theirs]:
        deal.refresh_from_db()
    assert [d.stage for d in deals] == [target, target]
    assert theirs.stage == start
    job = BulkJob.objects.get()
    assert (job.changed, job.skipped) == (2, 1)
    owner_client.post(reverse("bulk-undo", args=[job.pk]))
    for deal in deals:
        deal.refresh_from_db()
        assert deal.stage == start
        assert deal.stage_changes.count() == 3  # created, moved, moved back


def test_bulk_assign_of_deals_by_a_manager(manager_client, owner, teammate, pipeline):
    deal = DealFactory(owner=owner, pipeline=pipeline)
    manager_client.post(
        reverse("bulk-apply", args=["deal"]), {"action": "assign", "owner": teammate.pk, "ids": [deal.pk]}
    )
    deal.refresh_from_db()
    assert deal.owner == teammate


def test_the_bulk_bar_offers_every_stage_but_the_lost_ones_by_pipeline(owner_client, owner, pipeline):
    """A bulk move cannot ask each deal its lost reason: the bar lists open and won stages."""
    DealFactory(owner=owner, pipeline=pipeline)
    body = owner_client.get(reverse("deals:list")).content.decode()
    bar = body[body.index('id="bulk-stage"') : body.index("</select>", body.index('id="bulk-stage"'))]
    offered = re.findall(r'<option value="(\d+)">', bar)
    expected = pipeline.stages.filter(is_lost=False).order_by("position", "id")
    assert offered == [str(stage.pk) for stage in expected]
    assert f"{pipeline.name} › {expected[0].name}" in bar
    lost = pipeline.stages.get(is_lost=True)
    assert f'<option value="{lost.pk}">' not in bar
