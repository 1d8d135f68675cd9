"""Pages of the import: upload → column mapping → dry-run preview → progress → result."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from contacts import import_services
from contacts.forms import ImportMappingForm, ImportUploadForm
from contacts.imports import ImportFileError
from contacts.models import ImportJob, ImportRowError, ImportState
from contacts.selectors import import_job_for_user
from crm import exports

ERRORS_SHOWN = 50
JOBS_SHOWN = 100


def _can_remap(job: ImportJob) -> bool:
    return job.state in (ImportState.DRAFT, ImportState.PREVIEW) or (
        job.state == ImportState.FAILED and job.started_at is None
    )


@require_GET
def import_list(request: HttpRequest) -> HttpResponse:
    jobs = list(ImportJob.objects.without_file().visible_to(request.user).select_related("owner")[:JOBS_SHOWN])
    return render(request, "contacts/import_list.html", {"jobs": jobs, "nav": "imports"})


@require_http_methods(["GET", "POST"])
def import_new(request: HttpRequest) -> HttpResponse:
    initial = {"kind": request.GET.get("kind")} if request.GET.get("kind") in ("contacts", "companies") else {}
    form = ImportUploadForm(request.POST or None, request.FILES or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        upload = form.cleaned_data["file"]
        try:
            job = import_services.import_upload(
                actor=request.user, kind=form.cleaned_data["kind"], file_name=upload.name, data=upload.read()
            )
        except ImportFileError as exc:
            form.add_error("file", str(exc))
        else:
            return redirect("contacts:import-mapping", pk=job.pk)
    context = {
        "form": form,
        "max_size": settings.IMPORT_MAX_BYTES,
        "max_rows": f"{settings.IMPORT_MAX_ROWS:,}",
        "nav": "imports",
    }
    return render(request, "contacts/import_upload.html", context)


@require_http_methods(["GET", "POST"])
def import_mapping(request: HttpRequest, pk: int) -> HttpResponse:
    job = import_job_for_user(request.user, pk, write=True)
    if not _can_remap(job):
        return redirect(job)
    form = ImportMappingForm(request.POST or None, job=job)
    if request.method == "POST" and form.is_valid():
        import_services.import_configure(job=job, mapping=form.cleaned_data["mapping"], options=form.options())
        return redirect(job)
    return render(request, "contacts/import_mapping.html", {"form": form, "job": job, "nav": "imports"})


@require_GET
def import_detail(request: HttpRequest, pk: int) -> HttpResponse:
    job = import_job_for_user(request.user, pk)
    if job.state == ImportState.DRAFT and job.owner_id == request.user.pk:
        return redirect("contacts:import-mapping", pk=job.pk)
    errors = []
    if job.state in (ImportState.PREVIEW, ImportState.DONE, ImportState.FAILED):
        errors = list(job.row_errors.only("line", "reason")[:ERRORS_SHOWN])
    context = {
        "job": job,
        "errors": errors,
        "errors_more": max(0, job.rejected_count - len(errors)),
        "progress": import_services.import_progress(job),
        "can_act": job.owner_id == request.user.pk,
        "can_remap": job.owner_id == request.user.pk and _can_remap(job),
        "can_retry": job.state == ImportState.FAILED,
        "nav": "imports",
    }
    return render(request, "contacts/import_detail.html", context)


@require_GET
def import_progress(request: HttpRequest, pk: int) -> HttpResponse:
    """The progress bar, polled by htmx; once the job has moved on, the page reloads."""
    job = import_job_for_user(request.user, pk)
    response = render(
        request,
        "contacts/partials/import_progress.html",
        {"job": job, "progress": import_services.import_progress(job)},
    )
    if not job.is_busy:
        response["HX-Refresh"] = "true"
    return response


@require_POST
def import_confirm(request: HttpRequest, pk: int) -> HttpResponse:
    job = import_job_for_user(request.user, pk, write=True)
    if job.state != ImportState.PREVIEW:
        messages.error(request, _("This import is not waiting for a confirmation."))
        return redirect(job)
    import_services.import_confirm(job=job)
    return redirect(job)


@require_POST
def import_retry(request: HttpRequest, pk: int) -> HttpResponse:
    """Try a failed job again (its owner, or an admin helping them: it runs as the owner)."""
    job = import_job_for_user(request.user, pk)
    if job.state != ImportState.FAILED:
        messages.error(request, _("Only a failed import can be tried again."))
        return redirect(job)
    import_services.import_retry(job=job)
    messages.success(request, _("The import will be tried again."))
    return redirect(job)


@require_GET
def import_errors_csv(request: HttpRequest, pk: int) -> HttpResponse:
    """The rejected rows with their original columns and a "reason" column, to fix and re-upload."""
    job = import_job_for_user(request.user, pk)
    width = len(job.headers)

    def rows():
        for error in ImportRowError.objects.filter(job=job).order_by("line", "id").iterator(chunk_size=2000):
            cells = list(error.values)[:width]
            yield [*cells, *([""] * (width - len(cells))), error.reason]

    stem = job.file_name.rsplit(".", 1)[0] or "import"
    return exports.csv_streaming_response(f"{stem}-errors.csv", [*job.headers, _("reason")], rows())
