"""Two people acting on one deal at the same moment, on two real database connections."""

import threading

import pytest
from django.db import connection

from deals import services
from deals.models import StageChange
from deals.tests.factories import DealFactory, make_pipeline, stage


def _in_thread(barrier: threading.Barrier, errors: list, work) -> threading.Thread:
    def run():
        try:
            barrier.wait(timeout=10)
            work()
        except Exception as exc:  # noqa: BLE001 - collected and asserted on by the test
            errors.append(exc)
        finally:
            connection.close()

    return threading.Thread(target=run)


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_moves_leave_a_consistent_history(owner):
    pipeline = make_pipeline()
    deal = DealFactory(owner=owner, pipeline=pipeline)
    targets = [stage(pipeline, "Proposal"), stage(pipeline, "Negotiation")]
    barrier = threading.Barrier(len(targets))
    errors: list = []
    threads = [
        _in_thread(barrier, errors, lambda s=s: services.deal_move_stage(deal=deal, stage=s, actor=owner))
        for s in targets
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert errors == []
    deal.refresh_from_db()
    moves = list(StageChange.objects.filter(deal=deal).order_by("at", "id"))
    assert len(moves) == 3
    # Each move starts where the previous one ended: no move "from Lead" twice.
    for before, after in zip(moves, moves[1:], strict=False):
        assert after.from_stage_id == before.to_stage_id
    assert moves[-1].to_stage_id == deal.stage_id
    assert deal.version == 3


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_edits_of_one_version_save_only_one(owner):
    deal = DealFactory(owner=owner, pipeline=make_pipeline())
    seen = deal.version
    barrier = threading.Barrier(2)
    errors: list = []
    threads = [
        _in_thread(
            barrier,
            errors,
            lambda t=title: services.deal_update(deal=deal, actor=owner, version=seen, data={"title": t}),
        )
        for title in ("First", "Second")
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert len(errors) == 1
    assert isinstance(errors[0], services.DealConflict)
    deal.refresh_from_db()
    assert deal.version == seen + 1
    assert deal.title in {"First", "Second"}
    assert [c.field for c in errors[0].changes] == ["title"]
