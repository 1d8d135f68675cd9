from django.urls import reverse

from crm.models import Notification
from crm.services import notification_create


def test_a_dedupe_key_makes_a_notification_once(owner):
    first = notification_create(user=owner, text="Call Acme", dedupe_key="reminder:1")
    second = notification_create(user=owner, text="Call Acme", dedupe_key="reminder:1")
    assert first is not None
    assert second is None
    assert Notification.objects.filter(user=owner).count() == 1


def test_the_list_shows_only_my_notifications(owner_client, owner, teammate):
    notification_create(user=owner, text="Mine")
    notification_create(user=teammate, text="Not mine")
    body = owner_client.get(reverse("notification-list")).content.decode()
    assert "Mine" in body
    assert "Not mine" not in body


def test_opening_marks_read_and_follows_the_link(owner_client, owner):
    n = notification_create(user=owner, text="Go", link="/notifications/")
    response = owner_client.get(reverse("notification-open", args=[n.pk]))
    assert response.status_code == 302
    assert response["Location"] == "/notifications/"
    n.refresh_from_db()
    assert n.read_at is not None


def test_a_link_to_another_site_is_not_followed(owner_client, owner):
    n = notification_create(user=owner, text="Phish", link="https://evil.example/")
    response = owner_client.get(reverse("notification-open", args=[n.pk]))
    assert response["Location"] == reverse("notification-list")


def test_someone_elses_notification_is_not_found(teammate_client, owner):
    n = notification_create(user=owner, text="Private")
    assert teammate_client.get(reverse("notification-open", args=[n.pk])).status_code == 404
    assert teammate_client.post(reverse("notification-read", args=[n.pk])).status_code == 404
    n.refresh_from_db()
    assert n.read_at is None


def test_mark_all_read(owner_client, owner, teammate):
    notification_create(user=owner, text="a")
    notification_create(user=owner, text="b")
    other = notification_create(user=teammate, text="c")
    owner_client.post(reverse("notification-read-all"))
    assert not Notification.objects.filter(user=owner, read_at__isnull=True).exists()
    other.refresh_from_db()
    assert other.read_at is None


def test_the_bell_shows_the_unread_count(owner_client, owner):
    notification_create(user=owner, text="a")
    notification_create(user=owner, text="b")
    body = owner_client.get(reverse("notification-bell")).content.decode()
    assert 'data-testid="unread-count">2<' in body


def test_mark_read_is_post_only(owner_client, owner):
    n = notification_create(user=owner, text="a")
    assert owner_client.get(reverse("notification-read", args=[n.pk])).status_code == 405
