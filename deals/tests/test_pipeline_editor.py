"""The pipeline editor: who may use it, and adding, renaming, reordering and deleting stages."""

import pytest
from django.urls import reverse

from crm.models import BulkJob, Outbox
from crm.tasks import run_bulk_job
from deals.models import Deal, Stage, StageChange
from deals.tests.factories import DealFactory, LostReasonFactory, make_pipeline, stage

pytestmark = pytest.mark.django_db


def _names(pipeline):
    return list(Stage.objects.filter(pipeline=pipeline).order_by("position").values_list("name", flat=True))


@pytest.fixture
def pipeline():
    return make_pipeline()


def test_reps_are_refused_and_managers_and_admins_get_the_editor(
    owner_client, teammate_client, manager_client, admin_client, pipeline
):
    url = reverse("deals:pipeline-editor", args=[pipeline.pk])
    assert owner_client.get(url).status_code == 403
    assert teammate_client.get(url).status_code == 403
    assert owner_client.post(reverse("deals:stage-add", args=[pipeline.pk]), {"new-name": "X"}).status_code == 403
    assert manager_client.get(url).status_code == 200
    assert admin_client.get(url).status_code == 200
    assert manager_client.get(reverse("deals:pipeline-editor", args=[999999])).status_code == 404


def test_the_editor_page_has_a_constant_number_of_queries(manager_client, pipeline, django_assert_max_num_queries):
    url = reverse("deals:pipeline-editor", args=[pipeline.pk])
    with django_assert_max_num_queries(12):
        assert manager_client.get(url).status_code == 200


def test_a_new_open_stage_goes_before_won_and_lost(manager_client, pipeline):
    response = manager_client.post(
        reverse("deals:stage-add", args=[pipeline.pk]),
        {"new-name": "Review", "new-probability": "60", "new-rotting_days": "7", "new-kind": "open"},
    )
    assert response.status_code == 302
    names = _names(pipeline)
    assert names.index("Review") == names.index("Won") - 1
    review = Stage.objects.get(pipeline=pipeline, name="Review")
    assert (review.probability, review.rotting_days, review.is_closed) == (60, 7, False)


def test_a_duplicate_name_is_refused_with_a_message(manager_client, pipeline):
    before = _names(pipeline)
    response = manager_client.post(
        reverse("deals:stage-add", args=[pipeline.pk]),
        {"new-name": "Proposal", "new-probability": "60", "new-kind": "open"},
        follow=True,
    )
    assert "already has a stage with that name" in response.content.decode()
    assert _names(pipeline) == before


def test_rename_probability_and_rotting_days(manager_client, pipeline):
    proposal = stage(pipeline, "Proposal")
    p = f"s{proposal.pk}"
    manager_client.post(
        reverse("deals:stage-edit", args=[pipeline.pk, proposal.pk]),
        {f"{p}-name": "Offer sent", f"{p}-probability": "55", f"{p}-rotting_days": "10"},
    )
    proposal.refresh_from_db()
    assert (proposal.name, proposal.probability, proposal.rotting_days) == ("Offer sent", 55, 10)
    response = manager_client.post(
        reverse("deals:stage-edit", args=[pipeline.pk, proposal.pk]),
        {f"{p}-name": "Offer sent", f"{p}-probability": "140"},
        follow=True,
    )
    assert "Probability %" in response.content.decode()
    proposal.refresh_from_db()
    assert proposal.probability == 55


def test_move_up_and_down_buttons_reorder_without_typing_positions(manager_client, pipeline):
    negotiation = stage(pipeline, "Negotiation")
    url = reverse("deals:stage-shift", args=[pipeline.pk, negotiation.pk])
    manager_client.post(url, {"direction": "up"})
    names = _names(pipeline)
    assert names.index("Negotiation") < names.index("Proposal")
    manager_client.post(url, {"direction": "down"})
    assert _names(pipeline).index("Negotiation") > _names(pipeline).index("Proposal")
    assert manager_client.post(url, {"direction": "sideways"}).status_code == 400


def test_a_drag_saves_the_whole_order_and_a_stale_list_is_refused(manager_client, pipeline):
    stages = list(Stage.objects.filter(pipeline=pipeline).order_by("position"))
    wanted = [stages[1], stages[0], *stages[2:]]
    url = reverse("deals:stage-reorder", args=[pipeline.pk])
    assert manager_client.post(url, {"stage": [s.pk for s in wanted]}).status_code == 204
    assert _names(pipeline) == [s.name for s in wanted]
    assert manager_client.post(url, {"stage": [s.pk for s in wanted[:-1]]}).status_code == 409
    assert manager_client.post(url, {"stage": ["x²"]}).status_code == 400
    assert _names(pipeline) == [s.name for s in wanted]


def test_deleting_a_used_stage_moves_its_deals_and_keeps_its_history(manager_client, manager, owner, pipeline):
    proposal, negotiation = stage(pipeline, "Proposal"), stage(pipeline, "Negotiation")
    deal = DealFactory(owner=owner, pipeline=pipeline, stage=proposal)
    url = reverse("deals:stage-delete", args=[pipeline.pk, proposal.pk])
    page = manager_client.get(url).content.decode()
    assert "1 deal is in this stage" in page
    won = stage(pipeline, "Won")
    response = manager_client.post(url, {"move_to": won.pk})  # another kind: would close the deal
    assert response.status_code == 200
    assert Deal.objects.get(pk=deal.pk).stage_id == proposal.pk
    response = manager_client.post(url, {"move_to": negotiation.pk})
    assert response.status_code == 302
    deal.refresh_from_db()
    assert deal.stage_id == negotiation.pk
    last = StageChange.objects.filter(deal=deal).latest("at", "id")
    assert (last.from_stage_id, last.to_stage_id, last.actor) == (proposal.pk, negotiation.pk, manager)
    assert "Proposal" not in _names(pipeline)  # hidden from boards, forms and the editor
    assert Stage.all_objects.get(pk=proposal.pk).archived_at is not None  # the history still points at it
    positions = list(Stage.objects.filter(pipeline=pipeline).order_by("position").values_list("position", flat=True))
    assert positions == list(range(len(positions)))
    # The name is free again.
    manager_client.post(
        reverse("deals:stage-add", args=[pipeline.pk]),
        {"new-name": "Proposal", "new-probability": "50", "new-kind": "open"},
    )
    assert "Proposal" in _names(pipeline)


def test_deleting_a_stage_with_many_deals_moves_them_in_a_job_with_progress(
    manager_client, manager, owner, outsider, pipeline, settings
):
    settings.BULK_SYNC_MAX = 3
    proposal, negotiation = stage(pipeline, "Proposal"), stage(pipeline, "Negotiation")
    # Deals of other teams too: the pipeline is everyone's, so all of its deals move.
    deals = [DealFactory(owner=who, pipeline=pipeline, stage=proposal) for who in (owner, owner, outsider, owner)]
    url = reverse("deals:stage-delete", args=[pipeline.pk, proposal.pk])
    response = manager_client.post(url, {"move_to": negotiation.pk})
    assert response.status_code == 302
    messages = [str(m) for m in response.wsgi_request._messages]
    assert messages == [
        "4 deals are moving out of “Proposal” in the background (progress below); "
        "the stage is deleted once they all have moved."
    ]
    # Nothing moved in the request: a job is queued through the outbox.
    job = BulkJob.objects.get(kind="stage-deletion")
    assert (job.user, job.total, job.state, job.ids) == (manager, 4, "pending", sorted(d.pk for d in deals))
    assert Outbox.objects.filter(task="crm.tasks.run_bulk_job", args=[job.pk]).exists()
    assert Deal.objects.filter(stage=proposal).count() == 4
    assert "Proposal" in _names(pipeline)
    editor = manager_client.get(reverse("deals:pipeline-editor", args=[pipeline.pk])).content.decode()
    assert "is waiting for a worker" in editor
    assert reverse("bulk-status", args=[job.pk]) in editor  # the banner polls the job's progress
    # Deleting it again while the job runs is refused.
    again = manager_client.post(url, {"move_to": negotiation.pk})
    assert "This stage is being deleted already" in again.content.decode()
    assert BulkJob.objects.filter(kind="stage-deletion").count() == 1
    # A deal moved in after the confirmation moves too, when the job ends.
    late = DealFactory(owner=owner, pipeline=pipeline, stage=proposal)

    run_bulk_job(job.pk)  # what the worker runs

    job.refresh_from_db()
    assert (job.state, job.processed, job.changed, job.skipped) == ("done", 4, 4, 0)
    assert not Deal.objects.filter(stage_id=proposal.pk).exists()
    for deal in [*deals, late]:
        moves = StageChange.objects.filter(deal=deal, from_stage=proposal)
        assert [(m.to_stage_id, m.actor) for m in moves] == [(negotiation.pk, manager)]  # one history entry each
    assert "Proposal" not in _names(pipeline)
    assert Stage.all_objects.get(pk=proposal.pk).archived_at is not None
    status = manager_client.get(reverse("bulk-status", args=[job.pk])).content.decode()
    assert "4 deals changed" in status and "hx-trigger" not in status
    # The task run again (at-least-once delivery) changes nothing.
    run_bulk_job(job.pk)
    assert StageChange.objects.filter(from_stage=proposal).count() == 5


def test_a_stage_with_deals_up_to_the_limit_is_deleted_in_the_request(manager_client, owner, pipeline, settings):
    settings.BULK_SYNC_MAX = 3
    proposal, negotiation = stage(pipeline, "Proposal"), stage(pipeline, "Negotiation")
    for _n in range(3):
        DealFactory(owner=owner, pipeline=pipeline, stage=proposal)
    response = manager_client.post(
        reverse("deals:stage-delete", args=[pipeline.pk, proposal.pk]), {"move_to": negotiation.pk}
    )
    assert [str(m) for m in response.wsgi_request._messages] == ["Stage “Proposal” deleted; 3 deals moved."]
    assert not BulkJob.objects.exists()
    assert Deal.objects.filter(stage=negotiation).count() == 3


def test_an_unused_stage_is_removed_and_the_last_of_its_kind_is_kept(manager_client, pipeline):
    manager_client.post(
        reverse("deals:stage-add", args=[pipeline.pk]),
        {"new-name": "Spare", "new-probability": "5", "new-kind": "open"},
    )
    spare = stage(pipeline, "Spare")
    assert manager_client.post(reverse("deals:stage-delete", args=[pipeline.pk, spare.pk])).status_code == 302
    assert not Stage.all_objects.filter(pk=spare.pk).exists()
    lost = stage(pipeline, "Lost")
    LostReasonFactory()
    page = manager_client.get(reverse("deals:stage-delete", args=[pipeline.pk, lost.pk])).content.decode()
    assert "only stage of its kind" in page
    manager_client.post(reverse("deals:stage-delete", args=[pipeline.pk, lost.pk]))
    assert Stage.objects.filter(pk=lost.pk).exists()


def test_a_stage_of_another_pipeline_is_not_found(manager_client, pipeline):
    other = make_pipeline("Other", default=False)
    lead = stage(other, "Lead")
    url = reverse("deals:stage-delete", args=[pipeline.pk, lead.pk])
    assert manager_client.get(url).status_code == 404
