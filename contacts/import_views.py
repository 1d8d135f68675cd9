"""Pages of the import: upload → column mapping → dry-run preview → progress → result."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.core.files.uploadhandler import FileUploadHandler, SkipFile
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.template.defaultfilters import filesizeformat
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt, csrf_protect
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from contacts import import_services
from contacts.forms import ImportEncodingForm, ImportMappingForm, ImportUploadForm
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


class _UploadSizeLimit(FileUploadHandler):
    """Stops keeping an uploaded file once it passes ``IMPORT_MAX_BYTES``: the rest of it is
    read and thrown away as it streams in, never written to memory or disk."""

    def __init__(self, request: HttpRequest) -> None:
        super().__init__(request)
        self.limit = settings.IMPORT_MAX_BYTES

    def receive_data_chunk(self, raw_data: bytes, start: int) -> bytes:
        if start + len(raw_data) > self.limit:
            self.request.import_upload_too_large = True  # type: ignore[attr-defined]
            raise SkipFile
        return raw_data

    def file_complete(self, file_size: int) -> None:
        return None


@csrf_exempt  # only to add the upload handler first: CSRF is checked by csrf_protect below
@require_http_methods(["GET", "POST"])
def import_new(request: HttpRequest) -> HttpResponse:
    request.upload_handlers.insert(0, _UploadSizeLimit(request))
    return _import_new(request)


@csrf_protect
def _import_new(request: HttpRequest) -> HttpResponse:
    initial = {"kind": request.GET.get("kind")} if request.GET.get("kind") in ("contacts", "companies") else {}
    form = ImportUploadForm(request.POST or None, request.FILES or None, initial=initial)
    if getattr(request, "import_upload_too_large", False):
        form.is_valid()
        form.errors.pop("file", None)
        form.add_error(
            "file",
            _("The file is larger than %(limit)s, the largest file you can import. Split it into smaller files.")
            % {"limit": filesizeformat(settings.IMPORT_MAX_BYTES)},
        )
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
        "max_rows_count": settings.IMPORT_MAX_ROWS,
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
    encoding_form = ImportEncodingForm(job=job) if job.delimiter else None
    context = {"form": form, "encoding_form": encoding_form, "job": job, "nav": "imports"}
    return render(request, "contacts/import_mapping.html", context)


@require_POST
def import_encoding(request: HttpRequest, pk: int) -> HttpResponse:
    """Read a CSV file again in the encoding the user chose; back to the column mapping."""
    job = import_job_for_user(request.user, pk, write=True)
    if not _can_remap(job) or not job.delimiter:
        return redirect(job)
    form = ImportEncodingForm(request.POST, job=job)
    if not form.is_valid():
        messages.error(request, _("Choose one of the listed encodings."))
        return redirect("contacts:import-mapping", pk=job.pk)
    try:
        import_services.import_reread(job=job, encoding=form.cleaned_data["encoding"])
    except ImportFileError as exc:
        messages.error(request, _("The file cannot be read that way: %(error)s") % {"error": exc})
    return redirect("contacts:import-mapping", pk=job.pk)


@require_GET
def import_detail(request: HttpRequest, pk: int) -> HttpResponse:
    job = import_job_for_user(request.user, pk)
    if job.state == ImportState.DRAFT and job.owner_id == request.user.pk:
        return redirect("contacts:import-mapping", pk=job.pk)
    errors = []
    if job.state in (ImportState.PREVIEW, ImportState.DONE, ImportState.FAILED):
        errors = list(job.row_errors.only("line", "reason", "values")[:ERRORS_SHOWN])
        for error in errors:  # the row as read, so the reason can be checked against it
            cells = zip(job.headers, error.values, strict=False)
            error.cells = [(header, value) for header, value in cells if str(value).strip()]
    context = {
        "job": job,
        "errors": errors,
        "errors_more": max(0, job.rejected_count - len(errors)),
        "progress": import_services.import_progress(job),
        "can_act": job.owner_id == request.user.pk,
        "can_remap": job.owner_id == request.user.pk and _can_remap(job),
        "duplicate_actions": [
            (import_services.DuplicateAction.SKIP, _("skip")),
            (import_services.DuplicateAction.UPDATE, _("update")),
            (import_services.DuplicateAction.CREATE, _("create anyway")),
        ],
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
    choices: dict[int, str] = {}
    for row in (job.preview or {}).get("duplicate_rows", []):
        value = request.POST.get(f"duplicate_{row['line']}", "")
        if value in import_services.DuplicateAction.ALL:
            choices[row["line"]] = value
    default = request.POST.get("duplicate_default", "")
    import_services.import_confirm(
        job=job,
        duplicate_choices=choices,
        duplicate_default=default if default in import_services.DuplicateAction.ALL else None,
    )
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
    return exports.csv_streaming_response(f"{stem}-errors.csv", [*job.headers, _("reason")], rows(), request=request)
