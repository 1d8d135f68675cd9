"""The built-in activity types read in the reader's language; a renamed or added type as entered."""

import pytest
from django.urls import reverse
from django.utils import translation

from activities.models import ActivityType
from activities.services import activity_types_ensure_builtin

pytestmark = pytest.mark.django_db


def test_a_built_in_type_is_translated_until_an_admin_renames_it():
    activity_types_ensure_builtin()
    call = ActivityType.objects.get(key="call")
    with translation.override("ru"):
        assert call.label == "Звонок" and str(call) == "Звонок"
    with translation.override("zh-hans"):
        assert call.label == "电话"
    assert call.label == "Call"
    call.name = "Phone call"
    with translation.override("ru"):
        assert call.label == "Phone call"
    site_visit = ActivityType(key="site-visit", name="Site visit")
    with translation.override("ru"):
        assert site_visit.label == "Site visit"


def test_the_log_form_names_the_types_in_russian(owner, owner_client):
    from contacts.tests.factories import CompanyFactory

    activity_types_ensure_builtin()
    owner.language = "ru"
    owner.save(update_fields=["language"])
    company = CompanyFactory(owner=owner)
    body = owner_client.get(reverse("contacts:company-detail", args=[company.pk])).content.decode()
    assert "Звонок" in body and "Заметка" in body
    assert ">Call<" not in body.replace(" ", "").replace("\n", "")


def test_the_rows_name_each_type_in_the_readers_language(owner, owner_client):
    """My day, the activity list and the timeline translate each type's name once per render
    (``activities.templatetags.activity_rows.TypeLabels``): every row still shows its own
    type, built-in ones in the reader's language, an added one as entered."""
    import datetime as dt

    from django.utils import timezone

    from activities.services import activity_create
    from activities.tests.factories import CompanyFactory, activity_type

    activity_types_ensure_builtin()
    site_visit = ActivityType.objects.create(key="site-visit", name="Site visit", has_due=True)
    owner.language = "ru"
    owner.save(update_fields=["language"])
    company = CompanyFactory(owner=owner)
    due = timezone.now() + dt.timedelta(hours=1)
    for kind in (activity_type("call"), site_visit, activity_type("call"), activity_type("meeting")):
        # Through the service: it writes the timeline event the company page shows.
        activity_create(actor=owner, type=kind, company=company, subject=f"Do {kind.key}", due_at=due)
    pages = {
        "my day": owner_client.get(reverse("activities:my-day")).content.decode(),
        "list": owner_client.get(reverse("activities:list")).content.decode(),
        "timeline": owner_client.get(reverse("contacts:company-detail", args=[company.pk])).content.decode(),
    }
    for page, body in pages.items():
        named = body.count('title="Звонок"') + body.count('<span class="visually-hidden">Звонок</span>')
        assert named == 2, page
        assert body.count('title="Site visit"') + body.count('<span class="visually-hidden">Site visit</span>') == 1
        assert 'title="Встреча"' in body or '<span class="visually-hidden">Встреча</span>' in body, page
        assert 'title="Call"' not in body and '<span class="visually-hidden">Call</span>' not in body, page
