"""A stage move while the broker is down: the user gets success, the move is saved, and the
rollup refresh it needs is not lost — it goes out once the broker is back.

Real processes' view of it: the request commits for real (transactional database), the
immediate relay inside the request meets a real connection refusal (the Celery app pointed at
a closed port), the sweep later puts the message on the real Redis queue, and the task the
message names is run with the message's own arguments.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from crm import services as crm_services
from crm.models import Outbox
from crm.tests.broker import broker_down, run_like_a_worker, take_outbox_messages
from deals.models import Deal, StageChange
from reports import services
from reports.models import RollupPointer, StageFact

HTMX = {"HTTP_HX_REQUEST": "true"}
REFRESH = "reports.tasks.refresh_deal_rollups"


def _stage_facts(deal, stage) -> int:
    generation_id = RollupPointer.objects.get(pk=1).generation_id
    return StageFact.objects.filter(generation_id=generation_id, deal=deal, stage=stage).count()


# Real commits, so the immediate relay runs inside the request as in production (pytest-django
# runs these after the tests that roll back).
REAL_COMMITS = pytest.mark.django_db(transaction=True)


@REAL_COMMITS
@pytest.mark.parametrize("htmx", [True, False], ids=["board", "deal-page"])
def test_a_move_while_the_broker_is_down_succeeds_and_its_refresh_runs_once_the_broker_is_back(
    hand_data, teammate_client, htmx
):
    services.rollups_rebuild()
    deal, stages = hand_data["deals"]["C"], hand_data["stages"]  # the teammate's, open in Qualified
    assert _stage_facts(deal, stages["Proposal"]) == 0
    data = {"stage": stages["Proposal"].pk, "expected_stage": stages["Qualified"].pk}

    with broker_down():
        response = teammate_client.post(reverse("deals:move", args=[deal.pk]), data, **(HTMX if htmx else {}))

    assert response.status_code == (200 if htmx else 302)
    deal.refresh_from_db()
    assert deal.stage == stages["Proposal"]
    assert StageChange.objects.filter(deal=deal, to_stage=stages["Proposal"]).count() == 1
    row = Outbox.objects.get(task=REFRESH, args=[deal.pk])
    assert row.sent_at is None and row.attempts == 1 and "Connection refused" in row.last_error
    assert _stage_facts(deal, stages["Proposal"]) == 0  # not refreshed yet

    # The broker is back; beat's next sweep (after the row's backoff) relays the refresh.
    result = crm_services.outbox_relay(now=timezone.now() + timedelta(minutes=1))
    assert result.sent == 1
    [message] = take_outbox_messages({row.pk})
    assert (message["task"], message["args"]) == (REFRESH, [deal.pk])
    assert run_like_a_worker(message) is True

    assert _stage_facts(deal, stages["Proposal"]) == 1
    # At-least-once is safe: a second delivery of the same message changes nothing.
    assert run_like_a_worker(message) is True
    assert _stage_facts(deal, stages["Proposal"]) == 1
    assert Deal.objects.get(pk=deal.pk).stage == stages["Proposal"]


@REAL_COMMITS
def test_a_move_with_the_broker_up_is_relayed_at_once(hand_data, teammate_client):
    deal, stages = hand_data["deals"]["C"], hand_data["stages"]
    response = teammate_client.post(
        reverse("deals:move", args=[deal.pk]),
        {"stage": stages["Proposal"].pk, "expected_stage": stages["Qualified"].pk},
        **HTMX,
    )
    assert response.status_code == 200
    row = Outbox.objects.get(task=REFRESH, args=[deal.pk])
    assert row.sent_at is not None and row.last_error == ""
    assert len(take_outbox_messages({row.pk})) == 1
