"""Attachment pages: upload onto a record, the preview page, the download and the inline
file the preview shows, and removal. Every one checks access like the record itself
(``contacts.attachments.attachment_for_user``): someone who may not see the record gets 404."""

from __future__ import annotations

from csp.decorators import csp_replace
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.clickjacking import xframe_options_sameorigin
from django.views.decorators.http import require_GET, require_POST

from contacts.attachments import attachment_add, attachment_delete, attachment_for_user, record_for_user
from contacts.models import Attachment


@login_required
@require_POST
def attachment_upload(request: HttpRequest, kind: str, pk: int) -> HttpResponse:
    record = record_for_user(request.user, kind, pk, write=True)
    uploads = request.FILES.getlist("file")
    if not uploads:
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
