"""Two-factor sign-in: enrolment, the code step, recovery codes, turning it off, enforcement."""

import re
import time

from django.test import Client
from django.urls import reverse
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp.oath import TOTP
from django_otp.plugins.otp_static.models import StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from crm.models import SecurityEvent, SecurityEventKind
from crm.security import recovery_codes_create

PASSWORD = "pass-for-tests"


def code_for(device: TOTPDevice, steps_ahead: int = 0) -> str:
    """The app's code now (or ``steps_ahead`` 30-second steps later: a code is accepted once),
    computed at least two seconds before its step ends, so the server checks it in that step."""
    remaining = device.step - (time.time() - device.t0) % device.step
    if remaining < 2:
        time.sleep(remaining + 0.2)
    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    totp.time = time.time() + steps_ahead * device.step
    return f"{totp.token():06d}"


def enrol(user) -> tuple[TOTPDevice, list[str]]:
    device = TOTPDevice.objects.create(user=user, name="app", confirmed=True)
    return device, recovery_codes_create(user=user)


def signed_in(client: Client) -> bool:
    return client.get(reverse("home")).status_code == 200


def password_step(client: Client, username: str, password: str = PASSWORD):
    return client.post(reverse("login"), {"username": username, "password": password})


# --- Enrolment ----------------------------------------------------------------------------


def test_enrolment_shows_a_qr_code_and_the_secret_then_ten_recovery_codes_once(owner_client, owner):
    page = owner_client.get(reverse("two-factor")).content.decode()
    assert "Set up two-factor sign-in" in page
    owner_client.post(reverse("two-factor-setup"))
    device = TOTPDevice.objects.get(user=owner)
    assert device.confirmed is False
    page = owner_client.get(reverse("two-factor")).content.decode()
    assert "<svg" in page
    secret = re.search(r'id="totp-secret">([A-Z2-7 ]+)<', page).group(1)
    import base64

    assert base64.b32decode(secret.replace(" ", "")) == device.bin_key
    assert "<script>" not in page and "<script " not in page.split("vendor/bootstrap")[0]

    response = owner_client.post(reverse("two-factor-confirm"), {"code": "000000"})
    device.refresh_from_db()
    assert device.confirmed is False
    assert "That code is not right" in owner_client.get(response["Location"]).content.decode()

    time.sleep(1.1)  # django-otp throttles a device after a wrong code: 1 s, then 2, 4…
    owner_client.post(reverse("two-factor-confirm"), {"code": code_for(device)})
    device.refresh_from_db()
    assert device.confirmed is True
    page = owner_client.get(reverse("two-factor")).content.decode()
    codes = re.findall(r"<li>([a-z2-7]{8})</li>", page)
    assert len(codes) == 10
    assert set(codes) == set(StaticToken.objects.filter(device__user=owner).values_list("token", flat=True))
    again = owner_client.get(reverse("two-factor")).content.decode()
    assert codes[0] not in again
    assert "10 recovery codes left" in again
    assert SecurityEvent.objects.filter(kind=SecurityEventKind.TWO_FACTOR_ENABLED, user=owner).count() == 1


def test_turning_it_on_ends_the_users_other_sessions(owner_client, owner):
    elsewhere = Client()
    elsewhere.force_login(owner)
    owner_client.post(reverse("two-factor-setup"))
    device = TOTPDevice.objects.get(user=owner)
    owner_client.post(reverse("two-factor-confirm"), {"code": code_for(device)})
    assert signed_in(owner_client)
    assert not signed_in(elsewhere)


def test_the_preferences_page_links_to_it(owner_client):
    body = owner_client.get(reverse("preferences")).content.decode()
    assert reverse("two-factor") in body
    assert "Sign out everywhere" in body


# --- Signing in ---------------------------------------------------------------------------


def test_a_user_with_two_factor_signs_in_with_password_then_code(client, owner):
    device, _ = enrol(owner)
    response = password_step(client, "owner")
    assert response["Location"] == reverse("login-code")
    assert not signed_in(client)
    assert not SecurityEvent.objects.filter(kind=SecurityEventKind.LOGIN_SUCCEEDED).exists()

    response = client.post(reverse("login-code"), {"code": code_for(device)})
    assert response["Location"] == reverse("home")
    assert signed_in(client)
    assert client.session[DEVICE_ID_SESSION_KEY] == device.persistent_id
    event = SecurityEvent.objects.get(kind=SecurityEventKind.LOGIN_SUCCEEDED)
    assert (event.user, event.detail) == (owner, {"second_factor": "totp"})


def test_a_wrong_code_is_refused_and_counted_towards_the_lockout(client, owner, settings):
    settings.AXES_FAILURE_LIMIT = 3
    enrol(owner)
    password_step(client, "owner")
    response = client.post(reverse("login-code"), {"code": "123456"})
    assert response.status_code == 200
    assert "That code is not right" in response.content.decode()
    assert not signed_in(client)
    failure = SecurityEvent.objects.filter(kind=SecurityEventKind.LOGIN_FAILED).last()
    assert (failure.user, failure.detail) == (owner, {"step": "code"})
    client.post(reverse("login-code"), {"code": "not a code"})
    response = client.post(reverse("login-code"), {"code": "654321"})
    assert response.status_code == 429
    assert "Too many failed sign-in attempts" in response.content.decode()


def test_a_code_step_without_the_password_step_goes_back_to_sign_in(client, owner):
    enrol(owner)
    response = client.post(reverse("login-code"), {"code": "123456"})
    assert response["Location"] == reverse("login")


def test_a_recovery_code_signs_in_once(owner):
    _, codes = enrol(owner)
    first = Client()
    password_step(first, "owner")
    response = first.post(reverse("login-code"), {"code": codes[0].upper()})
    assert response.status_code == 302
    assert signed_in(first)
    event = SecurityEvent.objects.get(kind=SecurityEventKind.RECOVERY_CODE_USED)
    assert (event.user, event.detail) == (owner, {"remaining": 9})

    second = Client()
    password_step(second, "owner")
    response = second.post(reverse("login-code"), {"code": codes[0]})
    assert response.status_code == 200
    assert not signed_in(second)
    # Another, unused one works (after django-otp's 1 s throttle that followed the wrong code).
    time.sleep(1.1)
    assert second.post(reverse("login-code"), {"code": codes[1]}).status_code == 302


def test_a_user_without_two_factor_signs_in_with_the_password_alone(client, owner):
    assert password_step(client, "owner")["Location"] == reverse("home")
    assert signed_in(client)


def test_the_admin_sign_in_form_is_the_crms(client, admin_user):
    response = client.get("/admin/login/?next=/admin/")
    assert response.status_code == 302
    assert response["Location"] == reverse("login") + "?next=/admin/"


# --- Turning it off -----------------------------------------------------------------------


def test_turning_it_off_needs_the_password_or_a_code(owner_client, owner):
    device, _ = enrol(owner)
    owner_client.post(reverse("two-factor-disable"), {"secret": "wrong"})
    assert TOTPDevice.objects.filter(user=owner).exists()
    owner_client.post(reverse("two-factor-disable"), {"secret": PASSWORD})
    assert not TOTPDevice.objects.filter(user=owner).exists()
    assert not StaticToken.objects.filter(device__user=owner).exists()
    assert SecurityEvent.objects.filter(kind=SecurityEventKind.TWO_FACTOR_DISABLED, user=owner).count() == 1


def test_turning_it_off_with_a_code(owner_client, owner):
    device, _ = enrol(owner)
    owner_client.post(reverse("two-factor-disable"), {"secret": code_for(device)})
    assert not TOTPDevice.objects.filter(user=owner).exists()


def test_someone_elses_devices_are_untouched(owner_client, owner, teammate):
    enrol(teammate)
    owner_client.post(reverse("two-factor-disable"), {"secret": PASSWORD})
    assert TOTPDevice.objects.filter(user=teammate).exists()


# --- Enforcement --------------------------------------------------------------------------


def test_two_factor_is_not_required_by_default(manager_client, admin_client):
    assert signed_in(manager_client)
    assert admin_client.get("/admin/").status_code == 200


def test_an_enforced_role_without_a_device_is_sent_to_enrolment(settings, manager_client, owner_client):
    settings.REQUIRE_2FA_FOR = ["manager"]
    response = manager_client.get(reverse("contacts:company-list"))
    assert response.status_code == 302
    assert response["Location"] == reverse("two-factor")
    page = manager_client.get(reverse("two-factor")).content.decode()
    assert "must use two-factor sign-in" in page
    assert signed_in(owner_client)  # reps are not enforced


def test_an_enforced_user_can_use_the_app_once_enrolled(settings, manager_client, manager):
    settings.REQUIRE_2FA_FOR = ["manager"]
    manager_client.post(reverse("two-factor-setup"))
    device = TOTPDevice.objects.get(user=manager)
    manager_client.post(reverse("two-factor-confirm"), {"code": code_for(device)})
    assert signed_in(manager_client)
    # ...and cannot turn it off.
    manager_client.post(reverse("two-factor-disable"), {"secret": PASSWORD})
    assert TOTPDevice.objects.filter(user=manager, confirmed=True).exists()


def test_django_admin_needs_a_verified_session_for_an_enforced_admin(settings, admin_client, admin_user):
    settings.REQUIRE_2FA_FOR = ["admin"]
    response = admin_client.get("/admin/")
    assert response.status_code == 302
    assert response["Location"] == reverse("two-factor")
    device, _ = enrol(admin_user)
    # A session opened before the device existed must still be verified with a code.
    assert admin_client.get("/admin/").status_code == 302
    admin_client.post(reverse("two-factor-verify"), {"code": code_for(device)})
    assert admin_client.get("/admin/").status_code == 200


def test_an_admin_can_require_it_for_one_user(owner_client, owner, teammate_client):
    owner.two_factor_required = True
    owner.save(update_fields=["two_factor_required"])
    assert owner_client.get(reverse("home"))["Location"] == reverse("two-factor")
    assert signed_in(teammate_client)


def test_an_enforced_user_may_still_sign_out(settings, manager_client):
    settings.REQUIRE_2FA_FOR = ["manager"]
    assert manager_client.post(reverse("logout")).status_code == 302
    assert not signed_in(manager_client)


def test_an_enforced_verified_users_pages_cost_no_extra_query(
    settings, manager_client, manager, django_assert_max_num_queries
):
    settings.REQUIRE_2FA_FOR = ["manager"]
    device, _ = enrol(manager)
    manager_client.post(reverse("two-factor-verify"), {"code": code_for(device)})
    manager_client.get(reverse("home"))
    with django_assert_max_num_queries(9):  # the same budget as test_shell's manager home
        assert manager_client.get(reverse("home")).status_code == 200


def test_new_recovery_codes_replace_the_old_ones(owner):
    device, old_codes = enrol(owner)
    client = Client()
    password_step(client, "owner")
    client.post(reverse("login-code"), {"code": code_for(device)})
    client.post(reverse("two-factor-recovery-codes"))
    page = client.get(reverse("two-factor")).content.decode()
    new_codes = re.findall(r"<li>([a-z2-7]{8})</li>", page)
    assert len(new_codes) == 10
    assert not set(new_codes) & set(old_codes)
    assert set(StaticToken.objects.filter(device__user=owner).values_list("token", flat=True)) == set(new_codes)
    assert SecurityEvent.objects.filter(kind=SecurityEventKind.RECOVERY_CODES_REPLACED, user=owner).exists()
