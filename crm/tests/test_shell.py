from django.urls import reverse

from crm.services import notification_create


def test_home_is_my_day_with_the_other_apps_panels(owner_client, owner):
    response = owner_client.get(reverse("home"))
    assert response.status_code == 200
    body = response.content.decode()
    assert "My day" in body
    assert "At a glance" in body
    assert 'href="/static/vendor/bootstrap/bootstrap.min.css"' in body


def test_home_makes_a_constant_number_of_queries(owner_client, owner, django_assert_max_num_queries):
    for i in range(20):
        notification_create(user=owner, text=f"n{i}")
    with django_assert_max_num_queries(7):
        owner_client.get(reverse("home"))


def test_sign_in_with_a_password(client, owner):
    response = client.post(reverse("login"), {"username": "owner", "password": "pass-for-tests"})
    assert response.status_code == 302
    assert response["Location"] == reverse("home")


def test_a_wrong_password_is_refused_with_a_message(client, owner):
    response = client.post(reverse("login"), {"username": "owner", "password": "nope"})
    assert response.status_code == 200
    assert "Please enter a correct username and password" in response.content.decode()


def test_password_reset_sends_an_email(client, owner, mailoutbox, tasks_run_in_process):
    response = client.post(reverse("password_reset"), {"email": owner.email})
    assert response.status_code == 302
    assert len(mailoutbox) == 1
    assert owner.email in mailoutbox[0].to


def test_search_needs_two_characters(owner_client):
    response = owner_client.get(reverse("search"), {"q": "a"})
    assert "Type at least two characters" in response.content.decode()


def test_preferences_are_saved(owner_client, owner):
    response = owner_client.post(
        reverse("preferences"),
        {"first_name": "Olga", "last_name": "Owner", "email": "olga@example.com", "daily_digest": "on"},
    )
    assert response.status_code == 302
    owner.refresh_from_db()
    assert owner.daily_digest is True
    assert owner.email_reminders is False


def test_bad_email_in_preferences_shows_a_field_error(owner_client, owner):
    response = owner_client.post(reverse("preferences"), {"first_name": "O", "last_name": "O", "email": "nope"})
    assert response.status_code == 200
    assert "Enter a valid email address" in response.content.decode()
    owner.refresh_from_db()
    assert owner.email == "owner@example.com"


def test_a_managers_home_makes_a_constant_number_of_queries(manager_client, manager, django_assert_max_num_queries):
    for i in range(20):
        notification_create(user=manager, text=f"n{i}")
    with django_assert_max_num_queries(9):
        response = manager_client.get(reverse("home"))
    assert response.context["unread_notifications"] == 20
