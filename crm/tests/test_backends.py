"""``RequestUserBackend`` loads, in the one query of the signed-in user, what pages ask of
them: access ids, the unread count, and the people and teams of the owner/team menus."""

import pytest

from crm.backends import RequestUserBackend
from crm.models import Notification, teams_visible_to, users_visible_to
from crm.tests.factories import TeamFactory, UserFactory


@pytest.fixture
def world(owner, teammate, outsider, manager, admin_user, north, south):
    retired = UserFactory(username="retired", is_active=False)
    north.members.add(retired)  # inactive people are never offered
    TeamFactory(name="East")  # nobody's team here: only admins see it
    return {"owner": owner, "teammate": teammate, "outsider": outsider, "manager": manager, "admin": admin_user}


@pytest.mark.parametrize("who", ["owner", "teammate", "outsider", "manager", "admin"])
def test_the_preloaded_people_and_teams_are_those_of_the_access_rules(world, who, django_assert_num_queries):
    with django_assert_num_queries(1):
        user = RequestUserBackend().get_user(world[who].pk)
    with django_assert_num_queries(0):
        people = [(p.pk, str(p)) for p in user.visible_users]
        teams = [(t.pk, t.name) for t in user.visible_teams]

    assert people == [(p.pk, str(p)) for p in users_visible_to(world[who])]
    assert teams == [(t.pk, t.name) for t in teams_visible_to(world[who])]
    assert people  # everyone sees at least themselves


def test_a_preloaded_person_loads_other_fields_on_access(world, django_assert_num_queries):
    user = RequestUserBackend().get_user(world["owner"].pk)
    teammate = next(p for p in user.visible_users if p.pk == world["teammate"].pk)
    with django_assert_num_queries(1):
        assert teammate.email == world["teammate"].email


def test_an_unknown_or_inactive_user_is_nobody(world):
    world["teammate"].is_active = False
    world["teammate"].save()

    assert RequestUserBackend().get_user(987654321) is None
    assert RequestUserBackend().get_user(world["teammate"].pk) is None
    assert RequestUserBackend().get_user(world["owner"].pk) == world["owner"]


def test_access_ids_and_unread_count_come_with_the_user(world, django_assert_num_queries):
    Notification.objects.create(user=world["manager"], text="one")
    Notification.objects.create(user=world["manager"], text="read", read_at="2026-11-01T00:00:00Z")
    with django_assert_num_queries(1):
        manager = RequestUserBackend().get_user(world["manager"].pk)
        ids = (manager.visible_owner_ids, manager.editable_owner_ids, manager.unread_notification_count)

    north = {world["owner"].pk, world["teammate"].pk, world["manager"].pk}
    assert ids[0] >= north and world["outsider"].pk not in ids[0]
    assert ids[1] >= {world["owner"].pk, world["teammate"].pk}
    assert ids[2] == 1
