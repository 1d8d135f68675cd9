"""Admin › two-factor devices: admins list and delete a user's authenticators (a lost phone),
nobody sees a secret, and odd ids or dates are a 404 or an ignored filter, never a 500."""

import pytest
from django.urls import reverse
from django_otp.plugins.otp_totp.models import TOTPDevice

pytestmark = pytest.mark.django_db


@pytest.fixture
def device(owner):
    return TOTPDevice.objects.create(user=owner, name="Phone", confirmed=True)


def test_an_admin_sees_a_users_authenticator_without_its_secret(admin_client, device):
    body = admin_client.get(reverse("admin:otp_totp_totpdevice_change", args=[device.pk])).content.decode()
    assert "Phone" in body
    assert device.key not in body
    assert "qrcode" not in body


def test_an_admin_removes_a_lost_authenticator(admin_client, device):
    response = admin_client.post(reverse("admin:otp_totp_totpdevice_delete", args=[device.pk]), {"post": "yes"})
    assert response.status_code == 302
    assert not TOTPDevice.objects.filter(pk=device.pk).exists()


def test_a_manager_cannot_see_authenticators(manager, device):
    from django.test import Client

    manager.is_staff = True
    manager.save(update_fields=["is_staff"])
    client = Client()
    client.force_login(manager)
    assert client.get(reverse("admin:otp_totp_totpdevice_changelist")).status_code == 403
    assert client.get(reverse("admin:otp_totp_totpdevice_change", args=[device.pk])).status_code in (302, 403)


@pytest.mark.parametrize("path", ["987654321/change/", "99999999999999999999/change/", "x%C2%B2/change/"])
def test_odd_ids_are_not_found(admin_client, path):
    response = admin_client.get(reverse("admin:otp_totp_totpdevice_changelist") + path)
    assert response.status_code in (302, 404)


def test_far_off_dates_in_the_list_are_not_a_server_error(admin_client, device):
    for value in ("9999-12-31", "0001-01-01"):
        response = admin_client.get(reverse("admin:otp_totp_totpdevice_changelist"), {"created_at__gte": value})
        assert response.status_code in (200, 302)
