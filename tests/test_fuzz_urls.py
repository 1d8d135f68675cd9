"""A hostile-input walk over every URL pattern of the project, as every persona.

Each URL pattern found in the resolver (the CRM's own and Django admin's) is requested with
its path converters filled with real ids of North's records, and with hostile path values
(unknown ids, overflowing ids). A first plain request per URL and method records which
query/form parameters the view reads; each of those is then sent alone with every value of
a hostile corpus (and all of them at once). The assertions: no response is a server error,
and the outsider never gets a 200 on one of North's object URLs.

Every request runs inside a savepoint that is rolled back, so a POST that archives, merges
or deletes does not change the world for the next request.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from django.contrib import admin
from django.db import transaction
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.utils import timezone
from django.utils.datastructures import MultiValueDict

from activities.models import Activity, ActivityType, CalendarFeed, Reminder
from contacts.models import (
    CandidateStatus,
    Company,
    Contact,
    DuplicateCandidate,
    ImportJob,
    MergeRecord,
    RecordKind,
    Tag,
)
from crm.models import Notification
from deals.models import LineItem
from deals.tests.factories import DealFactory, ProductFactory, make_pipeline

pytestmark = [pytest.mark.slow]

HOSTILE_VALUES: list[str] = [
    "²",
    "-1",
    "0",
    "99999999999999999999",
    "1e309",
    "NaN",
    "a\x00b",
    "\x00",
    "9999-12-31",
    "0001-01-01",
    "9999-12",
    "0001-01",
    "x" * 5000,
    "../../etc/passwd",
    "Ünïcødé 名前 🙂",
    "",
    " ",
    "<script>alert(1)</script>",
    "x",
    "2025-02-30",
    "1,2",
]
# Values sent as a repeated parameter (?a=1&a=2).
HOSTILE_LISTS: list[list[str]] = [["1", "2"], ["²", "\x00"], ["99999999999999999999", "-1"]]

HUGE_ID = "99999999999999999999"
UNKNOWN_ID = "987654321"


# --- The world: North's records (owned by ``owner``) ---------------------------------------


@pytest.fixture
def world(owner, teammate, outsider, manager, admin_user, north, south) -> dict[str, Any]:
    tag = Tag.objects.create(name="north-secret")
    company = Company.objects.create(name="North Co", owner=owner)
    company.tags.add(tag)
    company2 = Company.objects.create(name="North Co Two", owner=owner)
    contact = Contact.objects.create(first_name="Anna", last_name="North", owner=owner, company=company)
    contact2 = Contact.objects.create(first_name="Anne", last_name="North", owner=owner, company=company)
    pipeline = make_pipeline()
    deal = DealFactory(owner=owner, company=company, pipeline=pipeline)
    product = ProductFactory()
    item = LineItem.objects.create(deal=deal, product=product, quantity=Decimal("1"), unit_price=Decimal("10"))
    activity = Activity.objects.create(
        type=ActivityType.objects.get(key="task"),
        subject="Call North",
        owner=owner,
        created_by=owner,
        company=company,
        due_at=timezone.now() + dt.timedelta(hours=2),
    )
    reminder = Reminder.objects.create(activity=activity, remind_at=timezone.now() + dt.timedelta(hours=1))
    job = ImportJob.objects.create(owner=owner, kind="companies", file_name="a.csv", file_data=b"name\nAcme\n")
    candidate = DuplicateCandidate.objects.create(
        kind=RecordKind.COMPANY, company_a=company, company_b=company2, score=90, status=CandidateStatus.OPEN
    )
    merge = MergeRecord.objects.create(
        kind=RecordKind.CONTACT, survivor_contact=contact, loser_contact=contact2, actor=owner, loser_name="Anne"
    )
    notification = Notification.objects.create(user=owner, text="Hello", link="/")
    feed = CalendarFeed.objects.create(user=owner)
    return {
        "company": company,
        "company2": company2,
        "contact": contact,
        "contact2": contact2,
        "deal": deal,
        "item": item,
        "pipeline": pipeline,
        "stage": deal.stage,
        "activity": activity,
        "reminder": reminder,
        "job": job,
        "candidate": candidate,
        "merge": merge,
        "notification": notification,
        "feed": feed,
        "north": north,
    }


def _object_kwargs(world: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Real path values per URL name. A new URL pattern with converters needs an entry here."""
    c, ct, d = world["company"].pk, world["contact"].pk, world["deal"].pk
    return {
        "notification-open": {"pk": world["notification"].pk},
        "notification-read": {"pk": world["notification"].pk},
        "contacts:company-detail": {"pk": c},
        "contacts:company-edit": {"pk": c},
        "contacts:company-archive": {"pk": c},
        "contacts:company-restore": {"pk": c},
        "contacts:contact-detail": {"pk": ct},
        "contacts:contact-edit": {"pk": ct},
        "contacts:contact-archive": {"pk": ct},
        "contacts:contact-restore": {"pk": ct},
        "contacts:company-export": {"fmt": "csv"},
        "contacts:contact-export": {"fmt": "xlsx"},
        "contacts:import-detail": {"pk": world["job"].pk},
        "contacts:import-mapping": {"pk": world["job"].pk},
        "contacts:import-progress": {"pk": world["job"].pk},
        "contacts:import-confirm": {"pk": world["job"].pk},
        "contacts:import-errors": {"pk": world["job"].pk},
        "contacts:duplicate-dismiss": {"pk": world["candidate"].pk},
        "contacts:company-merge": {"pk": c, "other": world["company2"].pk},
        "contacts:contact-merge": {"pk": ct, "other": world["contact2"].pk},
        "contacts:merge-undo": {"pk": world["merge"].pk},
        "deals:board": {"pipeline_pk": world["pipeline"].pk},
        "deals:board-column": {"pipeline_pk": world["pipeline"].pk, "stage_pk": world["stage"].pk},
        "deals:detail": {"pk": d},
        "deals:edit": {"pk": d},
        "deals:move": {"pk": d},
        "deals:line-item-add": {"pk": d},
        "deals:line-item-edit": {"pk": d, "item_pk": world["item"].pk},
        "deals:line-item-remove": {"pk": d, "item_pk": world["item"].pk},
        "activities:ics": {"token": world["feed"].token},
        "activities:timeline": {"kind": "company", "pk": c},
        "activities:detail": {"pk": world["activity"].pk},
        "activities:edit": {"pk": world["activity"].pk},
        "activities:delete": {"pk": world["activity"].pk},
        "activities:toggle-done": {"pk": world["activity"].pk},
        "activities:reschedule": {"pk": world["activity"].pk},
        "activities:reminder-add": {"pk": world["activity"].pk},
        "activities:reminder-cancel": {"pk": world["reminder"].pk},
        "reports:subscription-toggle": {"team_id": world["north"].pk},
        # Django's own views: a password-reset link with a junk token.
        "password_reset_confirm": {"uidb64": "MQ", "token": "set-password"},
    }


# URLs of North's records: the outsider must never read them.
NORTH_OBJECT_URLS = {
    "notification-open",
    "contacts:company-detail",
    "contacts:company-edit",
    "contacts:contact-detail",
    "contacts:contact-edit",
    "contacts:import-detail",
    "contacts:import-mapping",
    "contacts:import-progress",
    "contacts:import-errors",
    "contacts:company-merge",
    "contacts:contact-merge",
    "deals:detail",
    "deals:edit",
    "deals:move",
    "deals:line-item-edit",
    "activities:timeline",
    "activities:detail",
    "activities:edit",
}


def _walk(patterns, prefix: str = "", namespace: str = "") -> Iterator[tuple[str, Any]]:
    """Yield (full name, pattern) for every named pattern in the resolver."""
    for entry in patterns:
        if isinstance(entry, URLResolver):
            ns = entry.namespace
            child_ns = f"{namespace}:{ns}" if namespace and ns else (ns or namespace)
            yield from _walk(entry.url_patterns, prefix + str(entry.pattern), child_ns)
        elif isinstance(entry, URLPattern) and entry.name:
            yield (f"{namespace}:{entry.name}" if namespace else entry.name), entry


def _admin_kwargs(name: str) -> dict[str, Any] | None:
    """Path values for Django admin URLs: an existing object of the model, or the app label."""
    if name == "admin:auth_user_password_change":
        from crm.models import User

        return {"id": User.objects.order_by("pk").first().pk}
    if name == "admin:app_list":
        return {"app_label": "contacts"}
    if name == "admin:view_on_site":
        ct = __import__("django.contrib.contenttypes.models", fromlist=["ContentType"]).ContentType
        company = Company.objects.first()
        return {"content_type_id": ct.objects.get_for_model(Company).pk, "object_id": company.pk}
    for model, _model_admin in admin.site._registry.items():
        base = f"admin:{model._meta.app_label}_{model._meta.model_name}_"
        if name.startswith(base):
            obj = model._default_manager.order_by("pk").first()
            return {"object_id": obj.pk if obj else UNKNOWN_ID}
    return None


def _history_urls(name: str) -> list[tuple[str, str, bool]]:
    for model in admin.site._registry:
        if name == f"admin:{model._meta.app_label}_{model._meta.model_name}_simple_history":
            obj = model._default_manager.order_by("pk").first()
            record = obj.history.order_by("pk").first() if obj is not None else None
            if record is None:
                return [(name, reverse(name, args=[UNKNOWN_ID, UNKNOWN_ID]), False)]
            return [
                (name, reverse(name, args=[obj.pk, record.history_id]), True),
                (name, reverse(name, args=[obj.pk, HUGE_ID]), False),
                (name, reverse(name, args=["x²", "a\x00b"]), False),
            ]
    raise AssertionError(f"unknown history URL {name}")


def _urls(world: dict[str, Any]) -> list[tuple[str, str, bool]]:
    """(name, path, is_real_object) for every URL pattern, plus hostile path variants."""
    known = _object_kwargs(world)
    out: list[tuple[str, str, bool]] = []
    missing = []
    for name, pattern in _walk(get_resolver().url_patterns):
        converters = getattr(pattern.pattern, "converters", {})
        if name.endswith("_simple_history"):  # django-simple-history: positional object and history ids
            out.extend(_history_urls(name))
            continue
        if not converters and not pattern.pattern.regex.groups:
            out.append((name, reverse(name), False))
            continue
        kwargs = known.get(name) or (_admin_kwargs(name) if name.startswith("admin:") else None)
        if kwargs is None:
            missing.append(name)
            continue
        out.append((name, reverse(name, kwargs=kwargs), True))
        for key, value in kwargs.items():
            hostile = [UNKNOWN_ID, HUGE_ID, "0"] if str(value).isascii() and str(value).isdigit() else ["x²", "a\x00b"]
            for bad in hostile:
                with contextlib.suppress(Exception):  # a converter that refuses the value: not routable
                    out.append((name, reverse(name, kwargs={**kwargs, key: bad}), False))
    assert not missing, f"URL patterns without path values in the fuzz test: {missing}"
    return out


# --- Recording which parameters a view reads ------------------------------------------------


class _Recorder:
    def __init__(self) -> None:
        self.names: set[str] = set()
        self.active = False


RECORDER = _Recorder()


@contextlib.contextmanager
def _recording() -> Iterator[set[str]]:
    originals = {
        attr: getattr(MultiValueDict, attr) for attr in ("get", "__getitem__", "getlist", "__contains__", "pop")
    }

    def wrap(attr):
        original = originals[attr]

        def recorded(self, key, *args, **kwargs):
            if isinstance(key, str):
                RECORDER.names.add(key)
            return original(self, key, *args, **kwargs)

        return recorded

    RECORDER.names = set()
    try:
        for attr in originals:
            setattr(MultiValueDict, attr, wrap(attr))
        yield RECORDER.names
    finally:
        for attr, original in originals.items():
            setattr(MultiValueDict, attr, original)


# Names that are never the view's input (cookies, CSRF, the test client's own).
IGNORED = {"csrfmiddlewaretoken", "HTTP_HX_REQUEST", "sessionid", "csrftoken"}


def _request(client: Client, method: str, path: str, data: dict | None = None):
    with transaction.atomic():
        response = client.get(path, data or {}) if method == "GET" else client.post(path, data or {})
        transaction.set_rollback(True)
    return response


def _client(user=None) -> Client:
    client = Client(raise_request_exception=False)
    if user is not None:
        client.force_login(user)
    return client


def _check(failures: list[str], who: str, method: str, path: str, data: Any, response) -> None:
    if response.status_code >= 500:
        failures.append(f"{who} {method} {path} {data!r:.200} -> {response.status_code}")


@pytest.mark.django_db
def test_no_url_answers_500_to_hostile_input_for_any_persona(world, owner, teammate, outsider, manager, admin_user):
    urls = _urls(world)
    personas = {
        "anonymous": _client(),
        "owner": _client(owner),
        "teammate": _client(teammate),
        "outsider": _client(outsider),
        "manager": _client(manager),
        "admin": _client(admin_user),
    }
    failures: list[str] = []
    leaks: list[str] = []
    deep = {"owner", "admin"}  # personas whose every parameter gets the whole corpus
    for name, path, real in urls:
        is_admin = name.startswith("admin:")
        for who, client in personas.items():
            if is_admin and who not in ("anonymous", "owner", "admin"):
                continue
            for method in ("GET", "POST"):
                with _recording() as names:
                    response = _request(client, method, path)
                _check(failures, who, method, path, None, response)
                if who == "outsider" and real and name in NORTH_OBJECT_URLS and response.status_code == 200:
                    leaks.append(f"{method} {path} -> 200")
                if who not in deep or response.status_code in (404, 405):
                    continue
                params = sorted(n for n in names if n not in IGNORED)
                for value in HOSTILE_VALUES:
                    if params:
                        data = dict.fromkeys(params, value)
                        _check(failures, who, method, path, data, _request(client, method, path, data))
                    if is_admin:
                        continue
                    for param in params:
                        data = {param: value}
                        _check(failures, who, method, path, data, _request(client, method, path, data))
                for values in HOSTILE_LISTS:
                    data = dict.fromkeys(params, values)
                    if data:
                        _check(failures, who, method, path, data, _request(client, method, path, data))
    report = os.environ.get("FUZZ_REPORT")
    if report:
        Path(report).write_text("\n".join(failures + leaks) + "\n")
    assert not failures, f"{len(failures)} server errors:\n" + "\n".join(failures[:200])
    assert not leaks, "outsider read North's records:\n" + "\n".join(leaks)
