from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.core import mail
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from activities.models import TimelineEvent
from crm.models import Outbox
from service import services, tasks
from service.models import SurveyToken
from service.tests.factories import make_case

pytestmark = pytest.mark.django_db


def _run_outbox() -> None:
    """What the outbox relay and a worker do after the commit: run each queued task once."""
    for row in Outbox.objects.filter(task="service.tasks.send_survey", sent_at__isnull=True):
        tasks.send_survey(*row.args, **row.kwargs)
        Outbox.objects.filter(pk=row.pk).update(sent_at=timezone.now())


def _resolve_and_get_link(case, actor, django_capture_on_commit_callbacks) -> str:
    services.case_set_status(case=case, actor=actor, status="resolved")
    assert mail.outbox == []  # nothing before the commit: the outbox row commits with the resolve
    _run_outbox()
    assert len(mail.outbox) == 1
    match = re.search(r"https?://\S+/cases/survey/(\S+)/", mail.outbox[0].body)
    assert match, mail.outbox[0].body
    return reverse("service:survey", args=[match.group(1)])


def test_resolving_emails_a_one_time_survey_link_to_the_contact(north, owner, django_capture_on_commit_callbacks):
    case = make_case(team=north, owner=owner)
    url = _resolve_and_get_link(case, owner, django_capture_on_commit_callbacks)
    assert mail.outbox[0].to == ["pat@customer.example"]
    token = url.rstrip("/").rsplit("/", 1)[1]
    # Only a hash of the token is stored.
    row = SurveyToken.objects.get(case=case)
    assert row.token_hash == SurveyToken.hash(token) and token not in row.token_hash


def test_the_customer_rates_without_signing_in_and_the_score_lands_on_case_and_timeline(
    north, owner, django_capture_on_commit_callbacks
):
    case = make_case(team=north, owner=owner)
    url = _resolve_and_get_link(case, owner, django_capture_on_commit_callbacks)
    client = Client()
    page = client.get(url)
    assert page.status_code == 200 and "How did we do?" in page.content.decode()
    answer = client.post(url, {"score": "4", "comment": "Quick and friendly"})
    assert answer.status_code == 200 and "Thank you" in answer.content.decode()
    case.refresh_from_db()
    assert (case.csat_score, case.csat_comment) == (4, "Quick and friendly")
    event = TimelineEvent.objects.get(kind="case_csat")
    assert event.company_id == case.company_id and event.data["score"] == 4 and "4/5" in event.title


def test_a_link_works_once(north, owner, django_capture_on_commit_callbacks):
    case = make_case(team=north, owner=owner)
    url = _resolve_and_get_link(case, owner, django_capture_on_commit_callbacks)
    client = Client()
    assert client.post(url, {"score": "5"}).status_code == 200
    assert client.get(url).status_code == 404
    assert client.post(url, {"score": "1"}).status_code == 404
    case.refresh_from_db()
    assert case.csat_score == 5


def test_an_expired_link_is_refused(north, owner, django_capture_on_commit_callbacks):
    case = make_case(team=north, owner=owner)
    url = _resolve_and_get_link(case, owner, django_capture_on_commit_callbacks)
    SurveyToken.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    assert Client().get(url).status_code == 404
    assert Client().post(url, {"score": "3"}).status_code == 404
    case.refresh_from_db()
    assert case.csat_score is None


@pytest.mark.parametrize("token", ["nope", "x" * 101, "a%00b"])
def test_a_bad_token_is_404(db, token):
    assert Client().get(f"/cases/survey/{token}/").status_code == 404


def test_a_bad_score_is_a_form_error_and_keeps_the_link(north, owner, django_capture_on_commit_callbacks):
    case = make_case(team=north, owner=owner)
    url = _resolve_and_get_link(case, owner, django_capture_on_commit_callbacks)
    for bad in ("0", "6", "²", "", "1e3"):
        assert Client().post(url, {"score": bad}).status_code == 200
    assert SurveyToken.objects.get(case=case).used_at is None


def test_no_survey_without_a_contact_email(north, owner):
    case = make_case(team=north, owner=owner, contact_email="")
    services.case_set_status(case=case, actor=owner, status="resolved")
    _run_outbox()
    assert mail.outbox == [] and not SurveyToken.objects.exists()


def test_a_redelivered_task_sends_no_second_survey(north, owner):
    case = make_case(team=north, owner=owner)
    services.case_set_status(case=case, actor=owner, status="resolved")
    row = Outbox.objects.get(task="service.tasks.send_survey")
    assert tasks.send_survey(*row.args, **row.kwargs) is True
    assert tasks.send_survey(*row.args, **row.kwargs) is False  # at-least-once delivery of the task
    assert len(mail.outbox) == 1 and SurveyToken.objects.count() == 1


def test_a_case_reopened_before_the_task_runs_sends_no_survey(north, owner):
    case = make_case(team=north, owner=owner)
    services.case_set_status(case=case, actor=owner, status="resolved")
    services.case_set_status(case=case, actor=owner, status="open")
    _run_outbox()
    assert mail.outbox == [] and not SurveyToken.objects.exists()


def test_the_survey_page_has_no_inline_script(north, owner, django_capture_on_commit_callbacks):
    case = make_case(team=north, owner=owner)
    url = _resolve_and_get_link(case, owner, django_capture_on_commit_callbacks)
    html = Client().get(url).content.decode()
    assert "<script>" not in html and " onclick=" not in html
