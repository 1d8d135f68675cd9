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
    assert set(Team.objects.get(name="Inside Sales").members.values_list("username", flat=True)) == {"alice", "bob"}


@override_settings(DEBUG=False)
def test_seed_demo_refuses_without_debug(db):
    with pytest.raises(CommandError):
        call_command("seed_demo")
    assert not User.objects.filter(username="admin").exists()
