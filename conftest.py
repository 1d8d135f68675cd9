"""Fixtures shared by every app's tests: the people every access test is written around.

- ``owner``: a rep in team "North" who owns the records under test
- ``teammate``: another rep in "North" (may read the owner's records, not change them)
- ``outsider``: a rep in team "South" (sees nothing of North's: 404)
- ``manager``: manages "North" (reads and changes everything of North)
- ``admin``: sees and changes everything
"""

import pytest
from django.test import Client
from django.utils import translation

from crm.models import Role
from crm.tests.factories import TeamFactory, UserFactory


@pytest.fixture
def north(db):
    return TeamFactory(name="North")


@pytest.fixture
def south(db):
    return TeamFactory(name="South")


@pytest.fixture
def owner(north):
    user = UserFactory(username="owner", first_name="Olga", last_name="Owner")
    north.members.add(user)
    return user


@pytest.fixture
def teammate(north):
    user = UserFactory(username="teammate", first_name="Tom", last_name="Teammate")
    north.members.add(user)
    return user


@pytest.fixture
def outsider(south):
    user = UserFactory(username="outsider", first_name="Oscar", last_name="Outsider")
    south.members.add(user)
    return user


@pytest.fixture
def manager(north):
    user = UserFactory(username="manager", first_name="Mia", last_name="Manager", role=Role.MANAGER)
    north.managers.add(user)
    return user


@pytest.fixture
def admin_user(db):
    return UserFactory(
        username="admin", first_name="Ada", last_name="Admin", role=Role.ADMIN, is_staff=True, is_superuser=True
    )


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    """The real hasher costs ~2 s of CPU per test user; hashing strength is not under test."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _language_reset():
    """A request in Russian or Chinese leaves its language active in the thread (LocaleMiddleware
    activates, nothing deactivates): the next test would read messages in Chinese."""
    yield
    translation.deactivate()


def _client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def owner_client(owner):
    return _client_for(owner)


@pytest.fixture
def teammate_client(teammate):
    return _client_for(teammate)


@pytest.fixture
def outsider_client(outsider):
    return _client_for(outsider)


@pytest.fixture
def manager_client(manager):
    return _client_for(manager)


@pytest.fixture
def admin_client(admin_user):
    return _client_for(admin_user)


@pytest.fixture(autouse=True)
def _no_cached_custom_fields():
    """The custom field definitions are cached in the shared cache; a test's rolled-back
    definitions must not outlive it."""
    from django.core.cache import cache

    from crm.custom_fields import _CACHE_KEY, forget_definitions

    # A test starts with no custom field, as the cache now says (pages' query counts stay as
    # in production, where the definitions are cached); creating one forgets it.
    cache.set(_CACHE_KEY, {}, 3600)
    # The activity types too: a flushed database recreates them with other ids.
    from activities.selectors import forget_active_types
    from campaigns.selectors import forget_acquired_customers
    from deals.money import forget_rates

    forget_active_types()
    forget_rates()  # and the exchange rates (rolled back with the test, or written in bulk)
    forget_acquired_customers()  # and which campaign acquired which customer
    yield
    forget_definitions()
    forget_active_types()
    forget_rates()
    forget_acquired_customers()
