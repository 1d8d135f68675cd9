"""A hostile-input walk over every URL pattern of the project, as every persona.

Each URL pattern found in the resolver (the CRM's own and Django admin's) is requested with
its path converters filled with real ids of North's records, and with hostile path values
(unknown ids, overflowing ids, malformed strings). A first plain request per URL and method
records which query/form parameters the view reads; then every value of a hostile corpus goes
into all of them at once, and the corpus's first values into each one alone. The assertions:
no response is a server error (a 5xx other than /healthz's 503), and the outsider never gets a 200
on one of North's object URLs. Each section (one app's URLs) is a test of its own, so
``pytest -n`` spreads them over the workers.

Every request runs inside a savepoint that is rolled back, so a POST that archives, merges
or deletes does not change the world for the next request.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import uuid
from collections.abc import Iterator
from decimal import Decimal
from http.cookies import SimpleCookie
from pathlib import Path
from typing import Any, NamedTuple

import pytest
from django.contrib import admin
from django.contrib.contenttypes.models import ContentType
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction
from django.http import HttpResponse, QueryDict
from django.test import Client
from django.urls import NoReverseMatch, URLPattern, URLResolver, get_resolver, reverse
from django.utils import timezone
from django.utils.datastructures import MultiValueDict

from activities.models import Activity, ActivityType, CalendarFeed, Reminder
from campaigns import services as campaign_services
from campaigns.models import LeadForm
from campaigns.tests import factories as campaign_factories
from contacts.attachments import attachment_add
from contacts.models import (
    Attachment,
    CandidateStatus,
    Company,
    Contact,
    DuplicateCandidate,
    ImportJob,
    MergeRecord,
    RecordKind,
    Tag,
)
from crm.bulk_actions import bulk_job_create, bulk_job_run, bulk_kind
from crm.models import CustomField, CustomFieldType, Notification, SavedView, User
from deals import quotes
from deals.models import LineItem
from deals.tests.factories import DealFactory, ProductFactory, make_pipeline
from integrations.models import WebhookDelivery, WebhookEndpoint
from reports import builder
from reports import services as report_services
from service import services as service_services
from service.models import CaseWebForm

pytestmark = [pytest.mark.slow, pytest.mark.django_db]

# The whole corpus goes into every parameter a view reads at once; the first values also go
# into each parameter alone, so an early 400 on one parameter cannot hide a 500 on another.
HOSTILE_VALUES: list[str] = [
    "²",
    "99999999999999999999",
    "-1",
    "a\x00b",
    "9999-12-31",
    "0001-01-01",
    "9999-12",
    "0001-01",
    "x" * 5000,
    "0",
    "1e309",
    "NaN",
    "\x00",
    "../../etc/passwd",
    "Ünïcødé 名前 🙂",
    "",
    " ",
    "<script>alert(1)</script>",
    "x",
    "2025-02-30",
    "1,2",
]
ALONE = 9  # how many of HOSTILE_VALUES go into each parameter alone
# Values sent as a repeated parameter (?a=1&a=2).
HOSTILE_LISTS: list[list[str]] = [["1", "2"], ["²", "\x00"], ["99999999999999999999", "-1"]]


class Route(NamedTuple):
    name: str
    path: str
    real: bool  # path values of existing records (False: unknown, overflowing or malformed)


HUGE_ID = "99999999999999999999"
UNKNOWN_ID = "987654321"


# --- The world: North's records (owned by ``owner``) ---------------------------------------


PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + b"\x00" * 64


@pytest.fixture
def attachment_storage(tmp_path, monkeypatch) -> Iterator[Path]:
    """The world's attachment files go to the test's own folder, not var/attachments."""
    storage = Attachment._meta.get_field("file").storage
    monkeypatch.setattr(storage, "_location", str(tmp_path))
    for name in ("base_location", "location"):
        storage.__dict__.pop(name, None)
    yield tmp_path
    for name in ("base_location", "location"):
        storage.__dict__.pop(name, None)


@pytest.fixture
def world(owner, teammate, outsider, manager, admin_user, north, south, attachment_storage) -> dict[str, Any]:
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
    # Django admin's webhook pages get a real endpoint and delivery (integrations).
    endpoint = WebhookEndpoint.objects.create(url="https://hooks.example/crm", event_kinds=["deal.won"], secret="s")
    WebhookDelivery.objects.create(endpoint=endpoint, event_id=uuid.uuid4(), kind="deal.won", payload={"id": "x"})
    case = service_services.case_create(
        actor=owner, subject="North case", team=north, company=company, contact=contact, assignee=owner
    )
    survey_token = service_services.survey_issue(case=case, email="anna@example.com")
    case_web_form = CaseWebForm.objects.create(team=north)
    # A bulk action of the owner's on the companies list (tags the second company), undoable.
    spec = bulk_kind("company")
    action = spec.actions["add_tag"]
    bulk_job = bulk_job_create(
        user=owner, kind=spec, action=action, params=action.clean(owner, QueryDict("tag=north-bulk")), ids=[company2.pk]
    )
    bulk_job = bulk_job_run(job_id=bulk_job.pk)
    custom_field = CustomField.objects.create(
        model="contacts.company", key="north_size", label="Size", field_type=CustomFieldType.NUMBER
    )
    saved_view = SavedView.objects.create(owner=owner, list_name="companies", name="North view", query="q=North")
    attachment = attachment_add(
        record=company, upload=SimpleUploadedFile("logo.png", PNG, content_type="image/png"), actor=owner
    )
    quote = quotes.quote_create(deal=deal, actor=owner)
    # A running email campaign of the owner's: its member is a contact of North with an address.
    campaign_factories.contact(owner, "Member", company=company)
    campaign = campaign_factories.campaign(owner, channel="email")
    campaign = campaign_services.campaign_start(campaign=campaign, actor=owner)
    member = campaign.members.get()
    lead_form = LeadForm.objects.create(campaign=campaign, team=north, title="North webinar")
    report_spec = builder.parse_spec(QueryDict("dataset=deals&dim1=source&measure=sum_amount_base"))
    saved_report = report_services.saved_report_create(
        owner=owner, name="North deals by source", spec=dict(report_spec.params().lists()), team=north
    )
    dashboard = report_services.dashboard_create(name="North board", team=north)
    dashboard_item = report_services.dashboard_pin(dashboard=dashboard, report=saved_report, actor=owner)
    return {
        "bulk_job": bulk_job,
        "custom_field": custom_field,
        "saved_view": saved_view,
        "attachment": attachment,
        "quote": quote,
        "campaign": campaign,
        "member": member,
        "segment": campaign.segment,
        "lead_form": lead_form,
        "saved_report": saved_report,
        "dashboard": dashboard,
        "dashboard_item": dashboard_item,
        "case": case,
        "survey_token": survey_token,
        "case_web_form": case_web_form,
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
    pipeline, stage = world["pipeline"].pk, world["stage"].pk
    attachment, quote, campaign = world["attachment"].pk, world["quote"].pk, world["campaign"].pk
    member, report, dashboard = world["member"].pk, world["saved_report"].pk, world["dashboard"].pk
    return {
        "notification-open": {"pk": world["notification"].pk},
        "notification-read": {"pk": world["notification"].pk},
        "bulk-apply": {"kind": "company"},
        "bulk-status": {"pk": world["bulk_job"].pk},
        "bulk-undo": {"pk": world["bulk_job"].pk},
        "custom-field-edit": {"pk": world["custom_field"].pk},
        "saved-view-delete": {"pk": world["saved_view"].pk},
        "contacts:company-detail": {"pk": c},
        "contacts:company-edit": {"pk": c},
        "contacts:company-archive": {"pk": c},
        "contacts:company-restore": {"pk": c},
        "contacts:contact-detail": {"pk": ct},
        "contacts:contact-edit": {"pk": ct},
        "contacts:contact-archive": {"pk": ct},
        "contacts:contact-restore": {"pk": ct},
        "contacts:company-inline": {"pk": c, "field": "phone"},
        "contacts:contact-inline": {"pk": ct, "field": "email"},
        "contacts:attachment-upload": {"kind": "company", "pk": c},
        "contacts:attachment-view": {"pk": attachment},
        "contacts:attachment-download": {"pk": attachment},
        "contacts:attachment-inline": {"pk": attachment},
        "contacts:attachment-remove": {"pk": attachment},
        "contacts:company-export": {"fmt": "csv"},
        "contacts:contact-export": {"fmt": "xlsx"},
        "contacts:import-detail": {"pk": world["job"].pk},
        "contacts:import-mapping": {"pk": world["job"].pk},
        "contacts:import-progress": {"pk": world["job"].pk},
        "contacts:import-confirm": {"pk": world["job"].pk},
        "contacts:import-errors": {"pk": world["job"].pk},
        "contacts:import-encoding": {"pk": world["job"].pk},
        "contacts:import-retry": {"pk": world["job"].pk},
        "contacts:duplicate-dismiss": {"pk": world["candidate"].pk},
        "contacts:company-merge": {"pk": c, "other": world["company2"].pk},
        "contacts:contact-merge": {"pk": ct, "other": world["contact2"].pk},
        "contacts:merge-undo": {"pk": world["merge"].pk},
        "deals:pipeline-editor": {"pipeline_pk": pipeline},
        "deals:stage-add": {"pipeline_pk": pipeline},
        "deals:stage-reorder": {"pipeline_pk": pipeline},
        "deals:stage-edit": {"pipeline_pk": pipeline, "pk": stage},
        "deals:stage-shift": {"pipeline_pk": pipeline, "pk": stage},
        "deals:stage-delete": {"pipeline_pk": pipeline, "pk": stage},
        "deals:board": {"pipeline_pk": pipeline},
        "deals:board-column": {"pipeline_pk": pipeline, "stage_pk": stage},
        "deals:detail": {"pk": d},
        "deals:card": {"pk": d},
        "deals:edit": {"pk": d},
        "deals:move": {"pk": d},
        "deals:line-item-add": {"pk": d},
        "deals:line-item-edit": {"pk": d, "item_pk": world["item"].pk},
        "deals:line-item-remove": {"pk": d, "item_pk": world["item"].pk},
        "deals:inline": {"pk": d, "field": "amount"},
        "deals:quote-create": {"pk": d},
        "deals:quote-detail": {"pk": quote},
        "deals:quote-pdf": {"pk": quote},
        "deals:quote-edit": {"pk": quote},
        "deals:quote-emails": {"pk": quote},
        "deals:quote-send": {"pk": quote},
        "deals:quote-answer": {"pk": quote},
        "campaigns:detail": {"pk": campaign},
        "campaigns:edit": {"pk": campaign},
        "campaigns:start": {"pk": campaign},
        "campaigns:finish": {"pk": campaign},
        "campaigns:tasks": {"pk": campaign},
        "campaigns:export": {"pk": campaign},
        "campaigns:import": {"pk": campaign},
        "campaigns:lead-form-create": {"pk": campaign},
        "campaigns:member": {"pk": member},
        "campaigns:member-status": {"pk": member},
        "campaigns:member-deal": {"pk": member},
        "campaigns:segment-edit": {"pk": world["segment"].pk},
        "campaigns:lead-form": {"key": world["lead_form"].key},
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
        "reports:saved": {"pk": report},
        "reports:saved-delete": {"pk": report},
        "reports:saved-subscribe": {"pk": report},
        "reports:saved-pin": {"pk": report},
        "reports:dashboard": {"pk": dashboard},
        "reports:dashboard-default": {"pk": dashboard},
        "reports:dashboard-unpin": {"item_id": world["dashboard_item"].pk},
        "service:detail": {"pk": world["case"].pk},
        "service:edit": {"pk": world["case"].pk},
        "service:status": {"pk": world["case"].pk},
        "service:assign": {"pk": world["case"].pk},
        "service:reply": {"pk": world["case"].pk},
        "service:survey": {"token": world["survey_token"]},
        "service:web-form": {"key": world["case_web_form"].key},
        # The REST API (token-authenticated: a session gets 401 JSON) and the token/event pages.
        "api:company": {"pk": c},
        "api:company-profitability": {"pk": c},
        "api:company-archive": {"pk": c},
        "api:company-restore": {"pk": c},
        "api:contact": {"pk": ct},
        "api:contact-archive": {"pk": ct},
        "api:contact-restore": {"pk": ct},
        "api:deal": {"pk": d},
        "api:deal-move": {"pk": d},
        "api:activity": {"pk": world["activity"].pk},
        "api:note": {"pk": world["activity"].pk},
        "integrations:token-revoke": {"pk": 1},
        "events:unmatched-link": {"pk": 1},
        "events:unmatched-email-link": {"pk": 1},
        "events:unmatched-create-company": {"pk": 1},
        # Django's own views: a password-reset link with a junk token.
        "password_reset_confirm": {"uidb64": "MQ", "token": "set-password"},
    }


# URLs of North's records: the outsider must never read them.
NORTH_OBJECT_URLS = {
    "notification-open",
    "bulk-status",
    "contacts:company-detail",
    "contacts:company-edit",
    "contacts:contact-detail",
    "contacts:contact-edit",
    "contacts:company-inline",
    "contacts:contact-inline",
    "contacts:attachment-view",
    "contacts:attachment-download",
    "contacts:attachment-inline",
    "contacts:import-detail",
    "contacts:import-mapping",
    "contacts:import-progress",
    "contacts:import-errors",
    "contacts:import-encoding",
    "contacts:import-retry",
    "contacts:company-merge",
    "contacts:contact-merge",
    "deals:detail",
    "deals:card",
    "deals:edit",
    "deals:move",
    "deals:line-item-edit",
    "deals:inline",
    "deals:quote-detail",
    "deals:quote-pdf",
    "deals:quote-edit",
    "deals:quote-emails",
    "campaigns:detail",
    "campaigns:edit",
    "campaigns:export",
    "campaigns:import",
    "campaigns:member",
    "campaigns:member-deal",
    "campaigns:segment-edit",
    "reports:saved",
    "reports:dashboard",
    "activities:timeline",
    "activities:detail",
    "activities:edit",
    "service:detail",
    "service:edit",
    "service:status",
    "service:assign",
    "service:reply",
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
        return {"id": User.objects.order_by("pk").first().pk}
    if name == "admin:app_list":
        return {"app_label": "contacts"}
    if name == "admin:view_on_site":
        company = Company.objects.first()
        return {"content_type_id": ContentType.objects.get_for_model(Company).pk, "object_id": company.pk}
    for model, _model_admin in admin.site._registry.items():
        base = f"admin:{model._meta.app_label}_{model._meta.model_name}_"
        if name.startswith(base):
            obj = model._default_manager.order_by("pk").first()
            return {"object_id": obj.pk if obj else UNKNOWN_ID}
    return None


def _history_urls(name: str) -> list[Route]:
    for model in admin.site._registry:
        if name == f"admin:{model._meta.app_label}_{model._meta.model_name}_simple_history":
            obj = model._default_manager.order_by("pk").first()
            record = obj.history.order_by("pk").first() if obj is not None else None
            if record is None:
                return [Route(name, reverse(name, args=[UNKNOWN_ID, UNKNOWN_ID]), real=False)]
            return [
                Route(name, reverse(name, args=[obj.pk, record.history_id]), real=True),
                Route(name, reverse(name, args=[obj.pk, HUGE_ID]), real=False),
                Route(name, reverse(name, args=["x²", "a\x00b"]), real=False),
            ]
    raise AssertionError(f"unknown history URL {name}")


def _urls(world: dict[str, Any]) -> list[Route]:
    """Every named URL pattern with real path values, plus hostile path variants."""
    known = _object_kwargs(world)
    out: list[Route] = []
    missing = []
    for name, pattern in _walk(get_resolver().url_patterns):
        converters = getattr(pattern.pattern, "converters", {})
        if name.endswith("_simple_history"):  # django-simple-history: positional object and history ids
            out.extend(_history_urls(name))
            continue
        if not converters and not pattern.pattern.regex.groups:
            out.append(Route(name, reverse(name), real=True))
            continue
        kwargs = known.get(name) or (_admin_kwargs(name) if name.startswith("admin:") else None)
        if kwargs is not None and name.startswith("admin:") and set(converters) == {"pk"} and "pk" not in kwargs:
            kwargs = {"pk": next(iter(kwargs.values()))}  # a model admin's own views (django-otp's config, QR)
        if kwargs is None:
            missing.append(name)
            continue
        out.append(Route(name, reverse(name, kwargs=kwargs), real=True))
        for key, value in kwargs.items():
            numeric = str(value).isascii() and str(value).isdigit()
            for bad in [UNKNOWN_ID, HUGE_ID, "0"] if numeric else ["x²", "a\x00b", "..%2F"]:
                with contextlib.suppress(NoReverseMatch):  # a converter that refuses the value: not routable
                    out.append(Route(name, reverse(name, kwargs={**kwargs, key: bad}), real=False))
    assert not missing, f"URL patterns without path values in the fuzz test: {missing}"
    return out


# --- Recording which parameters a view reads ------------------------------------------------


@contextlib.contextmanager
def _recording() -> Iterator[set[str]]:
    """The keys read from any QueryDict (request.GET/POST) while the block runs."""
    names: set[str] = set()
    originals = {attr: getattr(MultiValueDict, attr) for attr in ("get", "__getitem__", "getlist", "__contains__")}

    def wrap(original):
        def recorded(self, key, *args, **kwargs):
            if isinstance(self, QueryDict) and isinstance(key, str):
                names.add(key)
            return original(self, key, *args, **kwargs)

        return recorded

    try:
        for attr, original in originals.items():
            setattr(MultiValueDict, attr, wrap(original))
        yield names
    finally:
        for attr, original in originals.items():
            setattr(MultiValueDict, attr, original)


def _request(client: Client, method: str, path: str, data: dict | None = None) -> HttpResponse:
    """One request in a savepoint rolled back afterwards: POSTs leave the world as it was
    (and the client's cookies too, so a POST to the logout URL does not sign the persona out)."""
    cookies = SimpleCookie(client.cookies)
    with transaction.atomic():
        response = client.get(path, data or {}) if method == "GET" else client.post(path, data or {})
        transaction.set_rollback(True)
    client.cookies = cookies
    return response


def _client(user=None) -> Client:
    # raise_request_exception=False: a view's exception comes back as the 500 a user would get.
    client = Client(raise_request_exception=False)
    if user is not None:
        client.force_login(user)
    return client


class Findings:
    def __init__(self) -> None:
        self.errors: list[str] = []
        self.requests = 0

    def request(self, client: Client, who: str, method: str, path: str, data: dict | None = None) -> HttpResponse:
        response = _request(client, method, path, data)
        self.requests += 1
        # 503 is /healthz telling a dependency is down (no Celery worker in the tests): not an error.
        if response.status_code >= 500 and response.status_code != 503:
            self.errors.append(f"{who} {method} {path} {data!r:.160} -> {response.status_code}")
        return response

    def check(self) -> None:
        report = os.environ.get("FUZZ_REPORT")
        if report:
            with Path(report).open("a") as out:
                out.write("\n".join(self.errors) + "\n")
        assert not self.errors, f"{len(self.errors)} server errors in {self.requests} requests:\n" + "\n".join(
            self.errors[:100]
        )


# Never a view's own input: the CSRF token and the admin's changelist flags Django reads itself.
IGNORED = {"csrfmiddlewaretoken"}


def _hostile(findings: Findings, client: Client, who: str, method: str, path: str) -> None:
    """The plain request, then the corpus in each parameter the view read."""
    with _recording() as names:
        response = findings.request(client, who, method, path)
    if response.status_code in (404, 405):
        return
    params = sorted(names - IGNORED)
    if not params:
        return
    for value in HOSTILE_VALUES:
        findings.request(client, who, method, path, dict.fromkeys(params, value))
    for values in HOSTILE_LISTS:
        findings.request(client, who, method, path, dict.fromkeys(params, values))
    if len(params) > 1:
        for name in params:
            for value in HOSTILE_VALUES[:ALONE]:
                findings.request(client, who, method, path, {name: value})


SECTIONS = ["", "contacts", "deals", "activities", "service", "campaigns", "reports", "api", "integrations", "events"]


def _section(name: str) -> str:
    return name.split(":", 1)[0] if ":" in name else ""


@pytest.mark.parametrize("section", SECTIONS)
def test_no_page_answers_500_to_hostile_parameters(section, world, owner, manager, admin_user):
    """Every URL of the section, as the owner (and a manager: the team and owner filters take
    other paths), GET and POST, each parameter the view reads filled with the corpus."""
    findings = Findings()
    clients = {"owner": _client(owner), "manager": _client(manager), "admin": _client(admin_user)}
    for route in _urls(world):
        if _section(route.name) != section or route.name.startswith("admin:"):
            continue
        for method in ("GET", "POST"):
            if not route.real:
                findings.request(clients["owner"], "owner", method, route.path)
                continue
            _hostile(findings, clients["owner"], "owner", method, route.path)
            # A CSV export reads the same scope as its page: the manager's pass on the page covers it.
            if (section in ("reports", "activities") or route.name == "home") and not route.path.endswith(".csv"):
                _hostile(findings, clients["manager"], "manager", method, route.path)
            # Reps get 403 from the pipeline editor and non-admins from the custom field pages,
            # before any parameter is read: a manager's and an admin's pass read them.
            if route.name.startswith(("deals:pipeline-editor", "deals:stage-")):
                _hostile(findings, clients["manager"], "manager", method, route.path)
            if route.name.startswith("custom-field-"):
                _hostile(findings, clients["admin"], "admin", method, route.path)
    findings.check()


def test_every_persona_gets_no_500_and_the_outsider_nothing_of_north(
    world, owner, teammate, outsider, manager, admin_user
):
    findings = Findings()
    leaks = []
    personas = {
        "anonymous": _client(),
        "teammate": _client(teammate),
        "outsider": _client(outsider),
        "admin": _client(admin_user),
    }
    for route in _urls(world):
        if route.name.startswith("admin:") or not route.real:
            continue
        for who, client in personas.items():
            for method in ("GET", "POST"):
                response = findings.request(client, who, method, route.path)
                if who == "outsider" and route.name in NORTH_OBJECT_URLS and response.status_code == 200:
                    leaks.append(f"{method} {route.path} -> 200")
    findings.check()
    assert not leaks, "the outsider read North's records:\n" + "\n".join(leaks)


# What Django admin's changelists read from the query string themselves.
ADMIN_LIST_PARAMS = [
    "q",
    "o",
    "p",
    "e",
    "all",
    "_popup",
    "_to_field",
    "id__exact",
    "owner__id__exact",
    "created_at__gte",
]


def test_admin_pages_answer_no_500_to_hostile_input(world, admin_user, owner):
    """Django admin as the admin (and anonymous, and a rep without staff access)."""
    findings = Findings()
    admin_client, rep, anonymous = _client(admin_user), _client(owner), _client()
    for route in _urls(world):
        if not route.name.startswith("admin:"):
            continue
        findings.request(anonymous, "anonymous", "GET", route.path)
        findings.request(rep, "owner", "GET", route.path)
        findings.request(admin_client, "admin", "GET", route.path)
        if not route.real:
            continue
        findings.request(admin_client, "admin", "POST", route.path, {"name": "a\x00b", "owner": "²"})
        if route.name.endswith("_changelist"):
            for value in HOSTILE_VALUES[:ALONE]:
                for param in ADMIN_LIST_PARAMS:
                    findings.request(admin_client, "admin", "GET", route.path, {param: value})
    findings.check()
