"""Two-factor sign-in in real Chromium: enrol from the user menu, then sign in with a code."""

import base64
import re
import time

from playwright.sync_api import Page, expect

from tests.browser.conftest import assert_every_field_has_a_label, login
from tests.browser.stack import DEMO_PASSWORD, Stack

STEP = 30  # seconds: django-otp's TOTP step
MARGIN = 6  # seconds a code must stay valid while the browser submits it


def _code(secret: str, steps_ahead: int = 0) -> str:
    """The app's code, computed early enough in its 30-second step that the server checks it
    in the same step. A code typed a second before the step ends is checked in the next one:
    django-otp accepts it one step late but then records a drift of -1, and a later code
    computed one step ahead falls outside its tolerance (a CI run failed on that)."""
    from django_otp.oath import TOTP

    remaining = STEP - time.time() % STEP
    if remaining < MARGIN:
        time.sleep(remaining + 0.5)
    totp = TOTP(base64.b32decode(secret.replace(" ", "")))
    totp.time = time.time() + STEP * steps_ahead
    return f"{totp.token():06d}"


def test_a_manager_turns_on_two_factor_and_signs_in_with_a_code(page: Page, stack: Stack):
    # erin is used by no other journey: the devices made here are removed at the end.
    try:
        login(page, "erin")
        page.get_by_role("button", name=re.compile("Erin")).click()
        page.get_by_role("link", name="Two-factor sign-in").click()
        page.get_by_role("button", name="Set up two-factor sign-in").click()
        expect(page.get_by_role("img", name="QR code for your authenticator app")).to_be_visible()
        assert_every_field_has_a_label(page)
        secret = page.locator("#totp-secret").inner_text()
        page.get_by_label("Code from the app").fill(_code(secret))
        page.get_by_role("button", name="Turn on").click()
        expect(page.get_by_text("Two-factor sign-in is on.")).to_be_visible()
        expect(page.locator("#recovery-codes li")).to_have_count(10)

        page.get_by_role("button", name=re.compile("Erin")).click()
        page.get_by_role("button", name="Sign out", exact=True).click()
        page.goto("/accounts/login/")
        page.get_by_label("Username").fill("erin")
        page.get_by_label("Password").fill(DEMO_PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        expect(page.get_by_role("heading", name="Enter your code")).to_be_visible()
        assert_every_field_has_a_label(page)
        # The code used to turn it on cannot be used again: the next one is.
        page.get_by_label("Code").fill(_code(secret, steps_ahead=1))
        page.get_by_role("button", name="Verify").click()
        expect(page.get_by_role("heading", name="My day", level=1)).to_be_visible()
    finally:
        stack.manage(
            "shell",
            "-c",
            "from django_otp.plugins.otp_totp.models import TOTPDevice;"
            "from django_otp.plugins.otp_static.models import StaticDevice;"
            "TOTPDevice.objects.filter(user__username='erin').delete();"
            "StaticDevice.objects.filter(user__username='erin').delete()",
        )
