from django.core.management import call_command

from deals import totals
from deals.models import Deal, DealStatus, ExchangeRate, LineItem, Pipeline, StageChange


def test_seed_demo_adds_pipelines_deals_with_histories_once(db, settings):
    settings.DEBUG = True
    call_command("seed_demo")
    counts = Deal.objects.count(), StageChange.objects.count(), LineItem.objects.count()
    call_command("seed_demo")
    assert (Deal.objects.count(), StageChange.objects.count(), LineItem.objects.count()) == counts
    assert totals.differences() == []  # the stored money totals followed the seed's writes
    assert Pipeline.objects.count() == 2
    assert 650 <= counts[0] <= 780  # 600 random deals and about 120 won deals of the customer stories
    # A deal's company is always one its owner may see.
    for deal in Deal.objects.filter(company__isnull=False).select_related("owner", "company"):
        assert deal.owner.can_read_owner(deal.company.owner_id), deal
    assert set(Deal.objects.values_list("status", flat=True)) == set(DealStatus.values)
    assert not Deal.objects.lost().filter(lost_reason=None).exists()
    # USD and EUR, and the roubles of the Russian-speaking rep (deals.demo.RUSSIAN_STORY).
    assert set(Deal.objects.values_list("currency", flat=True)) == {"USD", "EUR", "RUB"}
    assert ExchangeRate.objects.filter(currency="EUR").count() >= 18
    # Every deal's history starts from nowhere and ends in its current stage.
    for deal in Deal.objects.order_by("?")[:25]:
        moves = list(StageChange.objects.filter(deal=deal).order_by("at", "id"))
        assert moves[0].from_stage is None
        assert moves[-1].to_stage_id == deal.stage_id
    # Open deals in every open stage of both pipelines.
    open_stage_ids = set(Deal.objects.open().values_list("stage_id", flat=True))
    for pipeline in Pipeline.objects.all():
        for stage in pipeline.stages.filter(is_won=False, is_lost=False):
            assert stage.pk in open_stage_ids, stage
