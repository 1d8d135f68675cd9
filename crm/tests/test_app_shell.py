"""The app shell (crm.templatetags.crm_shell, Jinja2): navigation, search box, bell, user menu."""

import re

import pytest
from django.test import Client
from django.urls import reverse

from crm import services
from crm.tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def _active_links(body: str) -> list[str]:
    return re.findall(r'<a class="nav-link active" href="([^"]*)"', body)


def test_the_navigation_marks_the_section_of_the_page(owner_client):
    assert _active_links(owner_client.get(reverse("home")).content.decode()) == [reverse("home")]
    assert _active_links(owner_client.get(reverse("contacts:contact-list")).content.decode()) == [
        reverse("contacts:contact-list")
    ]
    assert _active_links(owner_client.get(reverse("deals:list")).content.decode()) == [reverse("deals:list")]
    assert _active_links(owner_client.get(reverse("reports:index")).content.decode()) == [reverse("reports:index")]


def test_admin_links_are_for_those_allowed_to_follow_them(owner_client, admin_client):
    rep_page = owner_client.get(reverse("home")).content.decode()
    admin_page = admin_client.get(reverse("home")).content.decode()
    assert f'href="{reverse("admin:index")}"' not in rep_page
    assert f'href="{reverse("custom-field-list")}"' not in rep_page
    assert f'href="{reverse("admin:index")}"' in admin_page
    assert f'href="{reverse("custom-field-list")}"' in admin_page


def test_the_search_box_keeps_the_query_escaped(owner_client):
    body = owner_client.get(reverse("search"), {"q": '"><b>x'}).content.decode()
    assert 'name="q" value="&#34;&gt;&lt;b&gt;x"' in body


def test_the_user_menu_escapes_the_users_name_and_posts_sign_out_with_a_token(north):
    user = UserFactory(username="mallory", first_name="<script>alert(1)</script>", last_name="M")
    north.members.add(user)
    client = Client()
    client.force_login(user)
    body = client.get(reverse("home")).content.decode()
    assert "<script>alert(1)</script>" not in body
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in body
    sign_out = re.search(rf'<form method="post" action="{reverse("logout")}">(.*?)</form>', body).group(1)
    assert re.search(r'name="csrfmiddlewaretoken" value="\w{32,}"', sign_out)


def test_the_bell_counts_unread_notifications_in_the_users_language(owner, owner_client):
    body = owner_client.get(reverse("home")).content.decode()
    assert 'aria-label="0 unread notifications"' in body
    assert 'data-testid="unread-count"' not in body
    services.notification_create(user=owner, text="Call Acme")
    bell = owner_client.get(reverse("notification-bell")).content.decode()
    assert 'aria-label="1 unread notification"' in bell
    assert re.search(r'data-testid="unread-count">1</span>', bell)
    owner.language = "ru"
    owner.save(update_fields=["language"])
    assert "1 непрочитанное уведомление" in owner_client.get(reverse("notification-bell")).content.decode()
