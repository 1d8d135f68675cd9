"""A tiny generated dataset for the benchmark's tests."""

import datetime as dt
import io

import pytest
from django.core.management import call_command

AS_OF = dt.date(2026, 6, 15)
TINY = {"companies": 30, "contacts": 240, "deals": 90, "activities": 600, "campaigns": 6, "campaign_members": 100}


@pytest.fixture
def generate(db, settings):
    settings.DEBUG = True  # the command refuses to run in production
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

    def run(**options):
        call_command("generate_dataset", as_of=AS_OF, stdout=io.StringIO(), **{**TINY, **options})

    return run
