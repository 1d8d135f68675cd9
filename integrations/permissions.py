from __future__ import annotations

from django.utils.translation import gettext as _
from rest_framework.permissions import SAFE_METHODS, BasePermission
from rest_framework.request import Request

from integrations.models import ApiToken


class TokenScope(BasePermission):
    """Authenticated by a token (or, for the schema, a session); writes need a read-write token."""

    message = _("This token may only read: create a read-write token to change data.")

    def has_permission(self, request: Request, view: object) -> bool:
        user = request.user
        if user is None or not user.is_authenticated:
            return False
        if request.method in SAFE_METHODS:
            return True
        token = request.auth
        return isinstance(token, ApiToken) and token.can_write
