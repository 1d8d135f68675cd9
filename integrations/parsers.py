from __future__ import annotations

import json
from typing import Any

from django.conf import settings
from django.utils.translation import gettext as _
from rest_framework import status
from rest_framework.exceptions import APIException, ParseError
from rest_framework.parsers import BaseParser


class BodyTooLarge(APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_code = "body_too_large"
    default_detail = _("The request body is too large.")


class LimitedJSONParser(BaseParser):
    """JSON bodies up to ``API_MAX_BODY_BYTES``; a bigger one is refused before it is read in
    full (also when it comes without a Content-Length). Strict JSON: no NaN/Infinity.

    Not a subclass of DRF's ``JSONParser``: DRF reads ``request.body`` in full for those
    (Django then answers an HTML 400 past ``DATA_UPLOAD_MAX_MEMORY_SIZE``); this one gets the
    stream and stops reading at the limit."""

    media_type = "application/json"

    def parse(self, stream: Any, media_type: str | None = None, parser_context: dict | None = None) -> Any:
        limit = settings.API_MAX_BODY_BYTES
        request = (parser_context or {}).get("request")
        try:
            declared = int(request.META.get("CONTENT_LENGTH") or 0) if request is not None else 0
        except ValueError:
            declared = 0
        if declared > limit:
            raise BodyTooLarge
        raw = stream.read(limit + 1) if stream is not None else b""
        if len(raw) > limit:
            raise BodyTooLarge
        try:
            text = raw.decode("utf-8")
            return json.loads(text, parse_constant=_refuse_constant)
        except (UnicodeDecodeError, ValueError) as exc:
            raise ParseError(_("Malformed JSON: %(error)s") % {"error": exc}) from None


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


class MessageTooLarge(BodyTooLarge):
    default_code = "message_too_large"
    default_detail = _("The message is larger than the capture limit.")


class RawEmailParser(BaseParser):
    """A raw RFC 822 message (``message/rfc822``; ``application/octet-stream`` and
    ``text/plain`` for webhooks that send it so), up to ``EMAIL_CAPTURE_MAX_BYTES``, read from
    the stream and returned as bytes; a bigger one is 413 before it is read in full."""

    media_type = "message/rfc822"

    def parse(self, stream: Any, media_type: str | None = None, parser_context: dict | None = None) -> bytes:
        limit = settings.EMAIL_CAPTURE_MAX_BYTES
        request = (parser_context or {}).get("request")
        try:
            declared = int(request.META.get("CONTENT_LENGTH") or 0) if request is not None else 0
        except ValueError:
            declared = 0
        if declared > limit:
            raise MessageTooLarge
        raw = stream.read(limit + 1) if stream is not None else b""
        if len(raw) > limit:
            raise MessageTooLarge
        return raw


class OctetStreamEmailParser(RawEmailParser):
    media_type = "application/octet-stream"


class TextEmailParser(RawEmailParser):
    media_type = "text/plain"
