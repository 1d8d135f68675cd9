from __future__ import annotations

from django.conf import settings
from rest_framework.request import Request
from rest_framework.throttling import SimpleRateThrottle

from integrations.models import ApiToken


class TokenRateThrottle(SimpleRateThrottle):
    """Requests per token, counted in the shared cache (Redis) so every web process agrees.

    The rate is read from settings on each request (``API_THROTTLE_RATE``) rather than once at
    import, so it can be changed per deployment and in tests.
    """

    scope = "api_token"

    def get_rate(self) -> str:
        return settings.API_THROTTLE_RATE

    def allow_request(self, request: Request, view: object) -> bool:
        self.rate = self.get_rate()
        self.num_requests, self.duration = self.parse_rate(self.rate)
        return super().allow_request(request, view)

    def get_cache_key(self, request: Request, view: object) -> str | None:
        if isinstance(request.auth, ApiToken):
            # The random prefix as well as the id: ids repeat when a database is recreated
            # (a restore, a test run) while Redis still holds the old counts.
            return f"throttle:{self.scope}:{request.auth.pk}:{request.auth.prefix}"
        if request.user is not None and request.user.is_authenticated:
            return f"throttle:{self.scope}:user:{request.user.pk}"
        return None
