from django.urls import reverse

from deals.models import StageChange
from deals.tests.factories import DealFactory, make_pipeline, stage


def _form_data(deal, **overrides):
    data = {
        "title": deal.title,
        "owner": deal.owner_id,
        "pipeline": deal.pipeline_id,
        "stage": deal.stage_id,
        "amount": str(deal.amount),
        "currency": deal.currency,
        "probability": deal.probability,
        "created_at_0": deal.created_at.strftime("%Y-%m-%d"),
        "created_at_1": deal.created_at.strftime("%H:%M:%S"),
        "loaded_version": deal.version,
        "line_items-TOTAL_FORMS": "0",
        "line_items-INITIAL_FORMS": "0",
        "stage_changes-TOTAL_FORMS": "1",
        "stage_changes-INITIAL_FORMS": "1",
        "stage_changes-0-id": StageChange.objects.filter(deal=deal).first().pk,
        "stage_changes-0-deal": deal.pk,
    }
    data.update(overrides)
    return data


def test_a_stage_change_in_admin_goes_through_the_move_service(admin_client, admin_user, owner):
    pipeline = make_pipeline()
    deal = DealFactory(owner=owner, pipeline=pipeline)
    url = reverse("admin:deals_deal_change", args=[deal.pk])
    response = admin_client.post(url, _form_data(deal, stage=stage(pipeline, "Proposal").pk))
    assert response.status_code == 302, [str(e) for e in response.context["errors"]]
    deal.refresh_from_db()
    assert deal.stage.name == "Proposal"
    assert deal.probability == 50
    last = StageChange.objects.filter(deal=deal).latest("at", "id")
    assert (last.from_stage.name, last.to_stage.name, last.actor) == ("Lead", "Proposal", admin_user)


def test_an_admin_save_on_a_stale_version_is_refused(admin_client, owner):
    deal = DealFactory(owner=owner, pipeline=make_pipeline())
    stale = _form_data(deal, title="Stale edit")
    deal.version += 1
    deal.save()
    response = admin_client.post(reverse("admin:deals_deal_change", args=[deal.pk]), stale)
    assert response.status_code == 200
    assert "Someone else saved this record after you opened it" in response.content.decode()
    deal.refresh_from_db()
    assert deal.title != "Stale edit"


def test_admin_pages_open(admin_client):
    make_pipeline()
    for name in ["deals_pipeline", "deals_deal", "deals_product", "deals_exchangerate", "deals_stagechange"]:
        assert admin_client.get(reverse(f"admin:{name}_changelist")).status_code == 200


def test_a_deal_added_in_admin_gets_its_first_stage_change(admin_client, admin_user, owner):
    pipeline = make_pipeline()
    response = admin_client.post(
        reverse("admin:deals_deal_add"),
        {
            "title": "Added in admin",
            "owner": owner.pk,
            "pipeline": pipeline.pk,
            "stage": stage(pipeline, "Qualified").pk,
            "amount": "10",
            "currency": "USD",
            "probability": "0",
            "created_at_0": "2026-01-01",
            "created_at_1": "10:00:00",
            "line_items-TOTAL_FORMS": "0",
            "line_items-INITIAL_FORMS": "0",
            "stage_changes-TOTAL_FORMS": "0",
            "stage_changes-INITIAL_FORMS": "0",
        },
    )
    assert response.status_code == 302, [str(e) for e in response.context["errors"]]
    change = StageChange.objects.get(deal__title="Added in admin")
    assert (change.from_stage, change.to_stage.name, change.actor) == (None, "Qualified", admin_user)


def _pipeline_form(pipeline, stages, extra=()):
    data = {
        "name": pipeline.name,
        "is_default": "on" if pipeline.is_default else "",
        "position": pipeline.position,
        "default_margin_percent": pipeline.default_margin_percent,
        "stages-TOTAL_FORMS": str(len(stages) + len(extra)),
        "stages-INITIAL_FORMS": str(len(stages)),
        "stages-MIN_NUM_FORMS": "0",
        "stages-MAX_NUM_FORMS": "1000",
    }
    for i, s in enumerate(stages):
        data.update(
            {
                f"stages-{i}-id": s.pk,
                f"stages-{i}-pipeline": pipeline.pk,
                f"stages-{i}-position": s.position,
                f"stages-{i}-name": s.name,
                f"stages-{i}-probability": s.probability,
                f"stages-{i}-is_won": "on" if s.is_won else "",
                f"stages-{i}-is_lost": "on" if s.is_lost else "",
            }
        )
    for j, (position, name) in enumerate(extra, start=len(stages)):
        data.update(
            {
                f"stages-{j}-pipeline": pipeline.pk,
                f"stages-{j}-position": position,
                f"stages-{j}-name": name,
                f"stages-{j}-probability": 60,
            }
        )
    return data


def test_a_stage_inserted_at_an_occupied_position_pushes_the_others_down(admin_client):
    pipeline = make_pipeline()
    stages = list(pipeline.stages.order_by("position"))
    proposal = stage(pipeline, "Proposal")
    url = reverse("admin:deals_pipeline_change", args=[pipeline.pk])
    response = admin_client.post(url, _pipeline_form(pipeline, stages, extra=[(proposal.position + 1, "Review")]))
    assert response.status_code == 302
    names = list(pipeline.stages.order_by("position").values_list("name", flat=True))
    assert names[names.index("Proposal") + 1] == "Review"
    positions = list(pipeline.stages.order_by("position").values_list("position", flat=True))
    assert positions == list(range(len(positions)))


def test_every_stage_input_in_pipeline_admin_has_an_accessible_name(admin_client):
    pipeline = make_pipeline()
    html = admin_client.get(reverse("admin:deals_pipeline_change", args=[pipeline.pk])).content.decode()
    assert 'aria-label="Probability %, row 1"' in html
    assert 'aria-label="Name, row 2"' in html
    assert 'aria-label="Delete, row 1"' in html
