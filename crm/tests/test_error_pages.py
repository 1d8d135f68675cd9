"""The 400/403/404/500 pages are the CRM's own and keep the user inside the app."""

import pytest
from django.test import Client, RequestFactory
from django.urls import reverse
from django.views.defaults import server_error

from deals.tests.factories import DealFactory

pytestmark = pytest.mark.django_db


def _client(user=None) -> Client:
    client = Client(raise_request_exception=False)
    if user is not None:
        client.force_login(user)
    return client


def test_a_bad_request_keeps_the_navigation_and_names_the_parameter(owner):
    response = _client(owner).get(reverse("search"), {"q": "a\x00b"})
    body = response.content.decode()
    assert response.status_code == 400
    assert "That request could not be understood" in body
    assert "Check “q”." in body
    assert 'id="mainNav"' in body  # the signed-in user's navigation
    assert "Traceback" not in body


def test_a_missing_page_is_our_404_for_users_and_anonymous(owner):
    for client in (_client(owner), _client()):
        response = client.get("/no-such-page/")
        body = response.content.decode()
        assert response.status_code == 404
        assert "Nothing here" in body
        assert f'href="{reverse("home")}"' in body


def test_an_outsiders_404_looks_like_any_other(owner, outsider):
    deal = DealFactory(owner=owner)
    response = _client(outsider).get(deal.get_absolute_url())
    assert response.status_code == 404
    assert "Nothing here" in response.content.decode()


def test_a_forbidden_action_is_our_403(owner, teammate):
    deal = DealFactory(owner=owner)
    response = _client(teammate).get(reverse("deals:edit", args=[deal.pk]))
    assert response.status_code == 403
    body = response.content.decode()
    assert "You cannot do that here" in body
    assert 'id="mainNav"' in body


def test_the_500_page_needs_no_database_and_no_request_context(django_assert_num_queries):
    with django_assert_num_queries(0):
        response = server_error(RequestFactory().get("/"))
    body = response.content.decode()
    assert response.status_code == 500
    assert "Something went wrong on our side" in body
    assert f'href="{reverse("home")}"' in body
    assert "/static/css/crm.css" in body  # the app's layout, not Django's bare page
