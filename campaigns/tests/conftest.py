import pytest

from activities.services import activity_types_ensure_builtin


@pytest.fixture(autouse=True)
def builtin_activity_types(request):
    """The built-in activity types (a data migration, emptied by a transactional test's flush)."""
    if "django_db_setup" in request.fixturenames or request.node.get_closest_marker("django_db"):
        request.getfixturevalue("_django_db_helper")
        activity_types_ensure_builtin()
