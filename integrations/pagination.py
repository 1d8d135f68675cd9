"""Keyset pagination by (updated_at, id): constant cost per page at any depth, and a client
syncing with ``updated_since`` sees each change once, in order."""

from __future__ import annotations

import base64
import binascii
import datetime as dt
from typing import Any

from django.db.models import Q, QuerySet
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.utils.urls import replace_query_param

from crm.params import int_or_none

DEFAULT_LIMIT = 50
MAX_LIMIT = 200


def _bad(name: str, message: str) -> ValidationError:
    return ValidationError({name: [message]})


def parse_limit(request: Request) -> int:
    raw = request.query_params.get("limit", "")
    if not raw:
        return DEFAULT_LIMIT
    limit = int_or_none(raw, minimum=1, maximum=MAX_LIMIT)
    if limit is None:
        raise _bad("limit", _("A whole number from 1 to %(max)s.") % {"max": MAX_LIMIT})
    return limit


def parse_timestamp(raw: str, *, name: str) -> dt.datetime:
    """An ISO 8601 time (a time without offset is UTC)."""
    if "\x00" in raw or len(raw) > 40:
        raise _bad(name, _("Not an ISO 8601 date and time."))
    try:
        value = parse_datetime(raw.strip())
    except ValueError:
        value = None
    if value is None or not 1900 <= value.year <= 2999:
        raise _bad(name, _("Not an ISO 8601 date and time."))
    if timezone.is_naive(value):
        value = timezone.make_aware(value, dt.UTC)
    return value


def encode_cursor(updated_at: dt.datetime, pk: int) -> str:
    return base64.urlsafe_b64encode(f"{updated_at.isoformat()}|{pk}".encode()).decode().rstrip("=")


def decode_cursor(raw: str) -> tuple[dt.datetime, int]:
    try:
        text = base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)).decode("ascii")
        stamp, pk_text = text.split("|")
    except (binascii.Error, UnicodeError, ValueError):
        raise _bad("cursor", _("Not a cursor from this API.")) from None
    pk = int_or_none(pk_text)
    if pk is None:
        raise _bad("cursor", _("Not a cursor from this API."))
    return parse_timestamp(stamp, name="cursor"), pk


def keyset_page(
    request: Request, qs: QuerySet, *, serializer_class: type, context: dict | None = None
) -> dict[str, Any]:
    """One page of ``qs`` after ``?cursor=``, with ``next`` (a URL) and ``next_cursor``."""
    limit = parse_limit(request)
    raw = request.query_params.get("cursor", "")
    if raw:
        stamp, pk = decode_cursor(raw)
        qs = qs.filter(Q(updated_at__gt=stamp) | Q(updated_at=stamp, pk__gt=pk))
    rows = list(qs.order_by("updated_at", "pk")[: limit + 1])
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        next_cursor = encode_cursor(rows[-1].updated_at, rows[-1].pk)
    data = serializer_class(rows, many=True, context=context or {"request": request}).data
    next_url = (
        replace_query_param(request.build_absolute_uri(), "cursor", next_cursor) if next_cursor is not None else None
    )
    return {"results": data, "next": next_url, "next_cursor": next_cursor}
