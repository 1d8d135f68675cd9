"""History change reasons built from long, valid names fit their 100-character column."""

from decimal import Decimal

import pytest

from contacts.merge import records_merge
from contacts.models import Company
from crm.history import CHANGE_REASON_MAX_LENGTH, fit_change_reason
from deals import services
from deals.models import Stage
from deals.tests.factories import DealFactory, ProductFactory, make_pipeline

pytestmark = pytest.mark.django_db


def test_fit_change_reason_cuts_with_an_ellipsis_only_when_needed():
    assert fit_change_reason("Edited") == "Edited"
    assert fit_change_reason(None) is None
    cut = fit_change_reason("x" * 300)
    assert len(cut) == CHANGE_REASON_MAX_LENGTH
    assert cut.endswith("…")


def test_a_line_item_with_a_long_product_name_is_added(owner):
    deal = DealFactory(owner=owner)
    product = ProductFactory(name="P" * 200)
    services.line_item_add(deal=deal, actor=owner, product=product, quantity=Decimal("1"))
    reason = deal.history.latest().history_change_reason
    assert reason.startswith("Line item added: PPP")
    assert len(reason) == CHANGE_REASON_MAX_LENGTH


def test_a_move_between_stages_with_long_names_is_recorded(owner):
    pipeline = make_pipeline()
    Stage.objects.filter(pipeline=pipeline, name="Qualified").update(name="Q" * 100)
    deal = DealFactory(owner=owner, pipeline=pipeline)
    Stage.objects.filter(pk=deal.stage_id).update(name="L" * 100)
    deal.refresh_from_db()
    services.deal_move_stage(deal=deal, stage=Stage.objects.get(name="Q" * 100), actor=owner)
    deal.refresh_from_db()
    assert deal.stage.name == "Q" * 100
    assert len(deal.history.latest().history_change_reason) == CHANGE_REASON_MAX_LENGTH


def test_a_merge_of_companies_with_long_names_is_recorded(owner):
    kept = Company.objects.create(name="K" * 200, owner=owner)
    dupe = Company.objects.create(name="D" * 200, owner=owner)
    records_merge(actor=owner, survivor=kept, loser=dupe, choices={})
    reason = kept.history.latest().history_change_reason
    assert reason.startswith("Merged DDD")
    assert reason.endswith("…")
