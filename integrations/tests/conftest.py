import pytest
from rest_framework.test import APIClient

from integrations.models import TokenScope
from integrations.services import api_token_create


def token_client(user, scope=TokenScope.READ_WRITE, **kwargs) -> APIClient:
    created = api_token_create(user=user, name="test", scope=scope, **kwargs)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {created.secret}")
    client.token = created.token
    client.secret = created.secret
    return client


@pytest.fixture
def api_clients(owner, teammate, outsider, admin_user):
    """Read-write token clients for the four people of the access matrix."""
    return {
        "owner": token_client(owner),
        "teammate": token_client(teammate),
        "outsider": token_client(outsider),
        "admin": token_client(admin_user),
    }


@pytest.fixture(autouse=True)
def _no_throttle_leftovers(settings):
    """Throttle counts live in the shared cache; each test counts from a clean slate."""
    from django.core.cache import cache

    keys = list(cache._cache.get_client().scan_iter(f"{settings.CACHES['default']['KEY_PREFIX']}:*throttle:*"))
    keys += list(cache._cache.get_client().scan_iter(f"{settings.CACHES['default']['KEY_PREFIX']}:*api-auth-fail:*"))
    if keys:
        cache._cache.get_client().delete(*keys)
    yield


@pytest.fixture(autouse=True)
def _no_cached_timeline_types():
    """The business event types and sources timelines cache outlive a test's rolled-back rows."""
    from django.core.cache import cache

    from integrations.events import TIMELINE_CACHE_KEY

    cache.delete(TIMELINE_CACHE_KEY)
    yield
