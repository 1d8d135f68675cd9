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
