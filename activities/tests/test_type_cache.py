"""The cached list of active activity types (``activities.selectors.active_types``)."""


def test_the_cached_activity_types_follow_every_change(db):
    """``active_types`` is cached; adding, renaming, retiring or deleting a type shows at once."""
    from activities.models import ActivityType
    from activities.selectors import active_types

    before = {t.key for t in active_types()}
    site_visit = ActivityType.objects.create(name="Site visit", key="site-visit")
    assert {t.key for t in active_types()} == before | {"site-visit"}
    site_visit.name = "Visit on site"
    site_visit.save()
    assert [t.name for t in active_types() if t.key == "site-visit"] == ["Visit on site"]
    site_visit.active = False
    site_visit.save()
    assert {t.key for t in active_types()} == before
    site_visit.delete()
    assert {t.key for t in active_types()} == before
