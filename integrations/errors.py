"""Every API error as JSON: ``{"error": <code>, "detail": <message>, "fields": {…}}``.

DRF's own errors (parse errors, validation, authentication, throttling) and the project's
(``Http404``, ``PermissionDenied``, a Django ``ValidationError`` raised by a service, a
``BadParameter``) all come out in this shape; nothing a client sends reaches a 500.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import BadRequest
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from django.utils.translation import gettext as _
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler


def _codes(detail: Any) -> Any:
    if isinstance(detail, dict):
        return {key: _codes(value) for key, value in detail.items()}
    if isinstance(detail, list):
        return [_codes(item) for item in detail]
    return str(detail)


def django_validation_fields(exc: DjangoValidationError) -> dict[str, list[str]]:
    if hasattr(exc, "error_dict"):
        return {("non_field_errors" if k == "__all__" else k): [str(m) for m in v] for k, v in exc.message_dict.items()}
    return {"non_field_errors": [str(m) for m in exc.messages]}


def api_exception_handler(exc: Exception, context: dict) -> Response | None:
    if isinstance(exc, DjangoValidationError):
        return Response(
            {"error": "invalid", "detail": _("Invalid input."), "fields": django_validation_fields(exc)},
            status=status.HTTP_400_BAD_REQUEST,
        )
    if isinstance(exc, BadRequest):
        return Response({"error": "bad_request", "detail": str(exc)}, status=status.HTTP_400_BAD_REQUEST)
    if isinstance(exc, Http404):
        exc = exceptions.NotFound(_("Not found."))
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied(_("You may read this record but not change it."))
    response = exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, exceptions.ValidationError):
        detail = exc.detail
        fields = detail if isinstance(detail, dict) else {"non_field_errors": detail}
        response.data = {"error": "invalid", "detail": _("Invalid input."), "fields": _codes(fields)}
    elif isinstance(exc, exceptions.APIException):
        detail = exc.detail
        codes = exc.get_codes()
        response.data = {
            "error": codes if isinstance(codes, str) else "error",
            "detail": str(detail) if not isinstance(detail, dict | list) else _codes(detail),
        }
        if isinstance(exc, exceptions.Throttled) and exc.wait is not None:
            response.data["retry_after"] = int(exc.wait) + (1 if exc.wait % 1 else 0)
    return response
