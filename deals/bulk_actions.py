"""The bulk actions of the deal list (``crm.bulk_actions``): assign, move to a stage, export.

Each deal changes through ``deals.services`` (version bump, history, a ``StageChange`` per
move, the rollups' follow-up work), one at a time.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse, QueryDict
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from crm.bulk_actions import BulkAction, BulkInputError, BulkKind, ParamField, register_bulk_kind
from crm.models import BulkJob, User
from crm.params import id_or_none
from deals import selectors, services
from deals.forms import DealFilterForm, owners_for, stages_in_order
from deals.models import Deal, Stage


def _clean_owner(user: User, data: QueryDict) -> dict[str, Any]:
    owner = owners_for(user).filter(pk=id_or_none(data.get("owner")) or 0).first()
    if owner is None:
        raise BulkInputError(_("Choose who the deals go to."))
    return {"owner": owner.pk, "owner_name": str(owner)}


def _assign(user: User, deal: Deal, params: dict[str, Any]) -> dict[str, Any] | None:
    if deal.owner_id == params["owner"]:
        return None
    before = {"owner": deal.owner_id}
    services.deal_update(deal=deal, actor=user, version=None, data={"owner": User.objects.get(pk=params["owner"])})
    return before


def _assign_undo(user: User, deal: Deal, previous: dict[str, Any]) -> None:
    owner = User.objects.filter(pk=previous["owner"]).first()
    if owner is not None:
        services.deal_update(deal=deal, actor=user, version=None, data={"owner": owner})


def _movable_stages() -> Any:
    # A lost deal needs its reason, asked deal by deal: bulk moves go to open or won stages.
    return Stage.objects.filter(is_lost=False).select_related("pipeline").order_by("pipeline__position", "position")


def _clean_stage(user: User, data: QueryDict) -> dict[str, Any]:
    stage = _movable_stages().filter(pk=id_or_none(data.get("stage")) or 0).first()
    if stage is None:
        raise BulkInputError(_("Choose the stage to move the deals to."))
    return {"stage": stage.pk, "stage_name": f"{stage.pipeline.name} › {stage.name}", "pipeline": stage.pipeline_id}


def _move(user: User, deal: Deal, params: dict[str, Any]) -> dict[str, Any] | None:
    if deal.stage_id == params["stage"]:
        return None
    before = {"stage": deal.stage_id}
    services.deal_move_stage(deal=deal, stage=Stage.objects.get(pk=params["stage"]), actor=user)
    return before


def _move_undo(user: User, deal: Deal, previous: dict[str, Any]) -> None:
    stage = Stage.objects.filter(pk=previous["stage"], pipeline_id=deal.pipeline_id).first()
    if stage is not None:
        services.deal_move_stage(deal=deal, stage=stage, actor=user)


def _param_fields(user: User) -> list[ParamField]:
    return [
        # ``owners_for`` without a query: the people the page already loaded, filtered alike.
        ParamField(
            "owner",
            _("New owner"),
            ("assign",),
            [(u.pk, str(u)) for u in user.visible_users if user.is_admin or u.pk in user.editable_owner_ids],
        ),
        # The stages ``_movable_stages`` accepts, from the compiled list the filter form reads.
        ParamField(
            "stage",
            _("Stage"),
            ("move",),
            [(s.pk, f"{s.pipeline.name} › {s.name}") for s in stages_in_order() if not s.is_lost],
        ),
    ]


def _matching(user: User, query: QueryDict) -> Any:
    form = DealFilterForm(query or None, user=user)
    return form.apply(Deal.objects.visible_to(user))


def _export(request: HttpRequest, query: QueryDict, ids: list[int] | None) -> HttpResponse:
    from deals.views import export_deals  # deals.views is loaded after the app registry

    qs = DealFilterForm(query or None, user=request.user).apply(selectors.deals_for_user(request.user))
    return export_deals(request, qs if ids is None else qs.filter(pk__in=ids))


register_bulk_kind(
    BulkKind(
        key="deal",
        model=Deal,
        list_url_name="deals:list",
        noun=lambda n: ngettext("deal", "deals", n),
        matching=_matching,
        load=lambda: Deal.objects.select_related("owner", "stage", "pipeline"),
        actions={
            "assign": BulkAction(
                key="assign",
                label=gettext_lazy("Assign to…"),
                apply=_assign,
                undo=_assign_undo,
                undo_allowed=lambda user, deal, previous, params: (
                    deal.owner_id == params["owner"] and user.can_edit_owner(previous["owner"])
                ),
                params=("owner",),
                clean=_clean_owner,
                describe=lambda p: p.get("owner_name", ""),
            ),
            "move": BulkAction(
                key="move",
                label=gettext_lazy("Move to stage"),
                apply=_move,
                undo=_move_undo,
                # Only open deals of the stage's pipeline move; the others are skipped and counted.
                allowed=lambda user, deal: user.can_edit_owner(deal.owner_id) and deal.is_open,
                params=("stage",),
                clean=_clean_stage,
                describe=lambda p: p.get("stage_name", ""),
            ),
        },
        param_fields=_param_fields,
        export=_export,
    )
)


# --- Deleting a stage with many deals (deals.services.stage_delete) ----------------------------


def _move_out_of_deleted_stage(user: User, deal: Deal, params: dict[str, Any]) -> dict[str, Any] | None:
    if deal.stage_id != params["stage"]:
        return None  # moved elsewhere since the deletion was confirmed
    target = Stage.objects.get(pk=params["move_to"])
    services.deal_move_stage(
        deal=deal, stage=target, actor=user, lost_reason=deal.lost_reason, lost_note=deal.lost_note
    )
    return {"stage": params["stage"]}


def _retire_stage(job: BulkJob) -> None:
    stage = Stage.objects.filter(pk=job.params["stage"]).first()
    if stage is not None:
        services.stage_retire(
            stage=stage, move_to=Stage.objects.filter(pk=job.params["move_to"]).first(), actor=job.user
        )


register_bulk_kind(
    BulkKind(
        key=services.STAGE_DELETION_KIND,
        model=Deal,
        list_url_name="deals:pipeline-editor-default",
        noun=lambda n: ngettext("deal", "deals", n),
        # Not a list of its own: jobs are made by the pipeline editor's delete, never from a bar.
        matching=lambda user, query: Deal.objects.none(),
        load=lambda: Deal.objects.select_related("owner", "stage", "pipeline", "lost_reason"),
        actions={
            "move": BulkAction(
                key="move",
                label=gettext_lazy("Delete a stage"),
                apply=_move_out_of_deleted_stage,
                # The pipeline editor's people (admins, managers) move every deal of the stage.
                allowed=lambda user, deal: user.is_admin or user.is_manager,
                describe=lambda p: (
                    _("“%(stage)s”, its deals moving to “%(to)s”")
                    % {"stage": p.get("stage_name", ""), "to": p.get("move_to_name", "")}
                ),
            ),
        },
        finish=_retire_stage,
    )
)
