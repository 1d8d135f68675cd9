import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import override_settings

from crm.models import Role, Team, User


def test_seed_demo_is_idempotent(db, settings):
    settings.DEBUG = True
    call_command("seed_demo")
    first = User.objects.count(), Team.objects.count()
    call_command("seed_demo")
    assert (User.objects.count(), Team.objects.count()) == first
    assert User.objects.get(username="admin").is_staff
    assert User.objects.get(username="manager").role == Role.MANAGER
    assert User.objects.get(username="alice").check_password(settings.DEMO_PASSWORD)
    inside = Team.objects.get(name="Inside Sales")
    assert set(inside.members.values_list("username", flat=True)) == {"alice", "bob", "dmitry"}
    assert set(inside.managers.values_list("username", flat=True)) == {"manager", "wei"}


def test_demo_users_read_the_crm_in_their_languages(db, settings):
    settings.DEBUG = True
    call_command("seed_demo")
    languages = dict(User.objects.values_list("username", "language"))
    assert languages["dmitry"] == "ru" and languages["wei"] == "zh-hans"
    # The journeys' users keep following their browser (English in the browser tests).
    assert {languages[name] for name in ("admin", "manager", "alice", "bob", "carol", "erin")} == {""}


@override_settings(DEBUG=False)
def test_seed_demo_refuses_without_debug(db):
    with pytest.raises(CommandError):
        call_command("seed_demo")
    assert not User.objects.filter(username="admin").exists()
