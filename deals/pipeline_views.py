"""The pipeline editor: admins and managers add, rename, reorder and delete stages and set
their probabilities and rotting days, without typing positions. Reps get the 403 page: the
pipelines are shared by every team, so changing them is a manager's call."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Count
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from crm.models import User
from crm.params import id_or_none
from deals import services
from deals.forms import StageAddForm, StageDeleteForm, StageForm
from deals.models import Deal, Pipeline, Stage


def _check_editor(user: User) -> None:
    if not (user.is_admin or user.is_manager):
        raise PermissionDenied


def pipeline_for_editor(user: User, pk: int) -> Pipeline:
    """The pipeline to edit; 403 for a rep, 404 for a pipeline that does not exist."""
    _check_editor(user)
    return get_object_or_404(Pipeline, pk=pk)


def stage_for_editor(user: User, pipeline_pk: int, pk: int) -> Stage:
    pipeline = pipeline_for_editor(user, pipeline_pk)
    return get_object_or_404(Stage.objects.select_related("pipeline"), pk=pk, pipeline=pipeline)


def _errors(exc: ValidationError) -> str:
    return " ".join(str(m) for m in exc.messages)


@require_GET
def pipeline_editor_default(request: HttpRequest) -> HttpResponse:
    _check_editor(request.user)
    pipeline = Pipeline.objects.filter(is_default=True).first() or Pipeline.objects.first()
    if pipeline is None:
        raise Http404
    return redirect("deals:pipeline-editor", pipeline_pk=pipeline.pk)


@require_GET
def pipeline_editor(request: HttpRequest, pipeline_pk: int) -> HttpResponse:
    pipeline = pipeline_for_editor(request.user, pipeline_pk)
    stages = list(pipeline.stages.order_by("position", "id"))
    counts = dict(
        Deal.objects.filter(stage__in=stages)
        .values_list("stage_id")
        .annotate(n=Count("id"))
        .values_list("stage_id", "n")
    )
    rows = [
        {
            "stage": stage,
            "form": StageForm(initial=_initial(stage), prefix=f"s{stage.pk}"),
            "deals": counts.get(stage.pk, 0),
        }
        for stage in stages
    ]
    return render(
        request,
        "deals/pipeline_editor.html",
        {
            "pipeline": pipeline,
            "pipelines": list(Pipeline.objects.all()),
            "rows": rows,
            "add_form": StageAddForm(prefix="new"),
            "nav": "deals",
        },
    )


def _initial(stage: Stage) -> dict:
    return {"name": stage.name, "probability": stage.probability, "rotting_days": stage.rotting_days}


@require_POST
def stage_add(request: HttpRequest, pipeline_pk: int) -> HttpResponse:
    pipeline = pipeline_for_editor(request.user, pipeline_pk)
    form = StageAddForm(request.POST, prefix="new")
    if form.is_valid():
        data = form.cleaned_data
        try:
            stage = services.stage_add(
                pipeline=pipeline,
                name=data["name"],
                probability=data["probability"],
                rotting_days=data["rotting_days"],
                is_won=data["kind"] == "won",
                is_lost=data["kind"] == "lost",
            )
        except ValidationError as exc:
            messages.error(request, _errors(exc))
        else:
            messages.success(request, _("Stage “%(name)s” added.") % {"name": stage.name})
    else:
        messages.error(request, " ".join(f"{form.fields[k].label}: {' '.join(v)}" for k, v in form.errors.items()))
    return redirect("deals:pipeline-editor", pipeline_pk=pipeline.pk)


@require_POST
def stage_edit(request: HttpRequest, pipeline_pk: int, pk: int) -> HttpResponse:
    stage = stage_for_editor(request.user, pipeline_pk, pk)
    form = StageForm(request.POST, prefix=f"s{stage.pk}")
    if form.is_valid():
        try:
            services.stage_update(stage=stage, **form.cleaned_data)
        except ValidationError as exc:
            messages.error(request, _errors(exc))
        else:
            messages.success(request, _("Stage “%(name)s” saved.") % {"name": stage.name})
    else:
        messages.error(request, " ".join(f"{form.fields[k].label}: {' '.join(v)}" for k, v in form.errors.items()))
    return redirect(f"{_editor_url(stage.pipeline_id)}#stage-{stage.pk}")


@require_POST
def stage_shift(request: HttpRequest, pipeline_pk: int, pk: int) -> HttpResponse:
    """The "Move up" / "Move down" buttons (keyboard and no-JavaScript reordering)."""
    stage = stage_for_editor(request.user, pipeline_pk, pk)
    offset = {"up": -1, "down": 1}.get(request.POST.get("direction", ""))
    if offset is None:
        return HttpResponse(status=400)
    services.stage_shift(stage=stage, offset=offset)
    return redirect(f"{_editor_url(stage.pipeline_id)}#stage-{stage.pk}")


@require_POST
def stage_reorder(request: HttpRequest, pipeline_pk: int) -> HttpResponse:
    """A drag in the editor: every stage id in the new order."""
    pipeline = pipeline_for_editor(request.user, pipeline_pk)
    ids = [id_or_none(value) for value in request.POST.getlist("stage")]
    if not ids or None in ids:
        return HttpResponse(status=400)
    try:
        services.stage_reorder(pipeline=pipeline, stage_ids=ids)  # type: ignore[arg-type]
    except ValidationError as exc:
        return HttpResponse(_errors(exc), status=409)
    return HttpResponse(status=204)


@require_http_methods(["GET", "POST"])
def stage_delete(request: HttpRequest, pipeline_pk: int, pk: int) -> HttpResponse:
    stage = stage_for_editor(request.user, pipeline_pk, pk)
    targets = services.stage_delete_targets(stage)
    deal_count = Deal.objects.filter(stage=stage).count()
    form = StageDeleteForm(request.POST if request.method == "POST" else None, targets=targets)
    if request.method == "POST" and form.is_valid():
        try:
            deletion = services.stage_delete(stage=stage, move_to=form.cleaned_data["move_to"], actor=request.user)
        except ValidationError as exc:
            if hasattr(exc, "error_dict"):
                for field, errors in exc.error_dict.items():
                    form.add_error(field if field in form.fields else None, errors)
            else:
                form.add_error(None, exc)
        else:
            if deletion.job is not None:
                messages.info(
                    request,
                    ngettext(
                        "%(n)d deal is moving out of “%(name)s” in the background (progress below); "
                        "the stage is deleted once it has moved.",
                        "%(n)d deals are moving out of “%(name)s” in the background (progress below); "
                        "the stage is deleted once they all have moved.",
                        deletion.job.total,
                    )
                    % {"name": stage.name, "n": deletion.job.total},
                )
            else:
                messages.success(
                    request,
                    ngettext(
                        "Stage “%(name)s” deleted; %(n)d deal moved.",
                        "Stage “%(name)s” deleted; %(n)d deals moved.",
                        deletion.moved,
                    )
                    % {"name": stage.name, "n": deletion.moved},
                )
            return redirect("deals:pipeline-editor", pipeline_pk=stage.pipeline_id)
    return render(
        request,
        "deals/stage_confirm_delete.html",
        {"stage": stage, "form": form, "targets": targets, "deal_count": deal_count, "nav": "deals"},
    )


def _editor_url(pipeline_pk: int) -> str:
    return reverse("deals:pipeline-editor", args=[pipeline_pk])
