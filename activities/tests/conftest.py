import pytest

from activities.services import activity_types_ensure_builtin


@pytest.fixture(autouse=True)
def builtin_activity_types(request):
    """The built-in types come from a data migration, which a transactional test's flush
    empties; put them back for every activities test that touches the database."""
    if "django_db_setup" in request.fixturenames or request.node.get_closest_marker("django_db"):
        request.getfixturevalue("_django_db_helper")
        activity_types_ensure_builtin()
