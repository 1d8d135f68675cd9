from crm.models import users_visible_to


def test_a_rep_reads_own_and_team_records(owner, teammate, outsider):
    assert owner.visible_owner_ids == {owner.pk, teammate.pk}
    assert outsider.pk not in owner.visible_owner_ids


def test_a_rep_changes_only_own_records(owner, teammate):
    assert owner.editable_owner_ids == {owner.pk}
    assert owner.can_read_owner(teammate.pk)
    assert not owner.can_edit_owner(teammate.pk)


def test_a_manager_reads_and_changes_the_team(manager, owner, teammate, outsider):
    assert manager.editable_owner_ids == {manager.pk, owner.pk, teammate.pk}
    assert manager.can_edit_owner(owner.pk)
    assert not manager.can_read_owner(outsider.pk)


def test_an_admin_reaches_everyone(admin_user, outsider):
    assert admin_user.can_read_owner(outsider.pk)
    assert admin_user.can_edit_owner(outsider.pk)


def test_user_choices_are_limited_to_visible_people(owner, teammate, outsider, manager):
    assert set(users_visible_to(owner)) == {owner, teammate}
    assert outsider not in users_visible_to(manager)
