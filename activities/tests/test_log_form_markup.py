"""The "Log an activity" card's fields written by Jinja2 (crm.templatetags.crispy_fast) are the
markup ``{% crispy form %}`` writes, for every activity type, with and without errors."""

from __future__ import annotations

import re

import pytest
from django.template import Context, Template
from django.utils import timezone, translation

from activities.forms import ActivityForm
from activities.models import ActivityType
from activities.tests.factories import ActivityFactory

pytestmark = pytest.mark.django_db

TOKEN = "x" * 64


def _squash(html: str) -> str:
    """Whitespace between and around tags is not markup (crispy's templates are indented)."""
    return re.sub(r"\s+", " ", re.sub(r"\s*(<|>)\s*", r"\1", html)).strip()


def _both(make_form) -> tuple[str, str]:
    context = {"csrf_token": TOKEN}
    crispy = Template("{% load crispy_forms_tags %}{% crispy form %}").render(Context({**context, "form": make_form()}))
    fast = Template("{% load crispy_fast %}{% crispy_fast form %}").render(Context({**context, "form": make_form()}))
    return _squash(crispy), _squash(fast)


@pytest.mark.parametrize("language", ["en", "ru"])
def test_every_types_form_is_written_as_crispy_writes_it(owner, language):
    types = list(ActivityType.objects.filter(active=True))
    assert {t.key for t in types} >= {"call", "meeting", "email", "task", "note"}
    with translation.override(language):
        for activity_type in types:
            crispy, fast = _both(lambda t=activity_type: ActivityForm(user=owner, activity_type=t))
            assert fast == crispy, activity_type.key
            assert 'name="csrfmiddlewaretoken"' in fast and 'id="id_subject"' in fast


def test_a_form_with_errors_is_written_as_crispy_writes_it(owner):
    meeting = ActivityType.objects.get(key="meeting")
    data = {"subject": "", "due_at": "not a date", "ends_at": "2026-01-01T10:00", "done": "on", "remind": "x"}
    crispy, fast = _both(lambda: ActivityForm(data, user=owner, activity_type=meeting))
    assert fast == crispy
    assert "is-invalid" in fast and 'class="invalid-feedback"' in fast and "This field is required." in fast


def test_an_edit_form_keeps_its_version_and_its_layout(owner):
    task = ActivityType.objects.get(key="task")
    activity = ActivityFactory(owner=owner, type=task, due_at=timezone.now())
    crispy, fast = _both(lambda: ActivityForm(instance=activity, user=owner, activity_type=task))
    assert fast == crispy and 'name="version"' in fast
