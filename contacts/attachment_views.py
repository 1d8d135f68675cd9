"""Attachment pages: upload onto a record, the preview page, the download and the inline
file the preview shows, and removal. Every one checks access like the record itself
(``contacts.attachments.attachment_for_user``): someone who may not see the record gets 404."""

from __future__ import annotations

from csp.decorators import csp_replace
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.db.models import Model
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.clickjacking import xframe_options_sameorigin
from django.views.decorators.csrf import csrf_exempt, csrf_protect
from django.views.decorators.http import require_GET, require_POST

from contacts.attachments import (
    AttachmentSizeLimit,
    attachment_add,
    attachment_delete,
    attachment_for_user,
    record_for_user,
    too_large_message,
)
from contacts.models import Attachment


@login_required
@require_POST
@csrf_exempt  # checked by _attachment_upload once the size limit is in place (the check reads the body)
def attachment_upload(request: HttpRequest, kind: str, pk: int) -> HttpResponse:
    # The record first: someone who may not change it gets 404/403 before a byte is parsed.
    record = record_for_user(request.user, kind, pk, write=True)
    limit = AttachmentSizeLimit(request)
    request.upload_handlers.insert(0, limit)
    return _attachment_upload(request, record=record, limit=limit)


@csrf_protect
def _attachment_upload(request: HttpRequest, *, record: Model, limit: AttachmentSizeLimit) -> HttpResponse:
    uploads = request.FILES.getlist("file")
    for name in limit.refused:
        messages.error(request, f"{name}: {too_large_message()}")
    if not uploads and not limit.refused:
        messages.error(request, _("Choose a file to attach."))
    added = 0
    for upload in uploads:
        try:
            attachment_add(record=record, upload=upload, actor=request.user)
        except ValidationError as exc:
            messages.error(request, f"{upload.name}: {' '.join(exc.messages)}")
        else:
            added += 1
    if added:
        messages.success(request, ngettext("%(n)s file attached.", "%(n)s files attached.", added) % {"n": added})
    return redirect(f"{record.get_absolute_url()}#attachments")


@login_required
@require_GET
def attachment_view(request: HttpRequest, pk: int) -> HttpResponse:
    attachment, record = attachment_for_user(request.user, pk)
    return render(request, "contacts/attachment_detail.html", {"attachment": attachment, "record": record})


def _file_response(attachment: Attachment, *, inline: bool) -> FileResponse:
    try:
        handle = attachment.file.open("rb")
    except FileNotFoundError:
        raise Http404 from None
    response = FileResponse(
        handle, as_attachment=not inline, filename=attachment.name, content_type=attachment.mime_type
    )
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "private, no-store"
    return response


@login_required
@require_GET
def attachment_download(request: HttpRequest, pk: int) -> FileResponse:
    attachment, _record = attachment_for_user(request.user, pk)
    return _file_response(attachment, inline=False)


@login_required
@require_GET
@xframe_options_sameorigin
@csp_replace({"default-src": ["'none'"], "img-src": ["'self'"], "frame-ancestors": ["'self'"]})
def attachment_inline(request: HttpRequest, pk: int) -> FileResponse:
    """The file itself for the preview page's image or frame: images and PDF only, and with a
    policy that runs nothing even if a browser were to render it as a page."""
    attachment, _record = attachment_for_user(request.user, pk)
    if not attachment.previewable:
        raise Http404
    return _file_response(attachment, inline=True)


@login_required
@require_POST
def attachment_remove(request: HttpRequest, pk: int) -> HttpResponse:
    attachment, record = attachment_for_user(request.user, pk, write=True)
    attachment_delete(attachment=attachment, actor=request.user)
    messages.success(request, _("Attachment removed."))
    return redirect(f"{record.get_absolute_url()}#attachments")
