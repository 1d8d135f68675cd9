import pytest

from activities.services import activity_types_ensure_builtin


@pytest.fixture(autouse=True)
def fast_password_hasher(settings):
    """The personas are created with passwords; a slow hasher costs a second per test."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def builtin_activity_types(request):
    """The built-in types come from a data migration, which a transactional test's flush
    empties; put them back for every activities test that touches the database."""
    if "django_db_setup" in request.fixturenames or request.node.get_closest_marker("django_db"):
        request.getfixturevalue("_django_db_helper")
        activity_types_ensure_builtin()
