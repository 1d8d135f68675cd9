"""The security log: each kind of event written, admins only, append-only, retention."""

from datetime import timedelta

import pytest
from django.db import DatabaseError, connection, transaction
from django.test import RequestFactory
from django.urls import reverse
from django.utils import timezone
from simple_history.models import HistoricalRecords

from contacts import services as contact_services
from contacts.merge import merge_undo, records_merge
from crm.models import Role, SecurityEvent, SecurityEventKind
from crm.security import security_event_record, security_events_purge
from crm.tasks import purge_security_events


def events(kind: str):
    return SecurityEvent.objects.filter(kind=kind).order_by("id")


@pytest.fixture
def as_request_of(db):
    """Run code as if inside a request by ``user`` (what simple-history's middleware records)."""

    def enter(user):
        request = RequestFactory().get("/admin/", REMOTE_ADDR="10.5.5.5", HTTP_USER_AGENT="AdminBrowser")
        request.user = user
        HistoricalRecords.context.request = request
        return request

    yield enter
    if hasattr(HistoricalRecords.context, "request"):
        del HistoricalRecords.context.request


# --- Role and team changes ----------------------------------------------------------------


def test_a_role_change_is_logged_with_who_made_it(owner, admin_user, as_request_of):
    as_request_of(admin_user)
    owner.role = Role.MANAGER
    owner.save()
    event = events(SecurityEventKind.ROLE_CHANGED).get()
    assert (event.user, event.actor, event.ip_address) == (owner, admin_user, "10.5.5.5")
    assert event.detail == {"role": ["rep", "manager"]}


def test_a_save_that_changes_no_role_logs_nothing(owner):
    owner.first_name = "Olya"
    owner.save()
    owner.save(update_fields=["last_login"])
    assert not events(SecurityEventKind.ROLE_CHANGED).exists()


def test_team_membership_changes_are_logged_both_ways(owner, outsider, north, south, admin_user, as_request_of):
    as_request_of(admin_user)
    south.members.add(owner)
    north.managers.add(outsider)
    owner.teams.remove(south)
    north.members.clear()
    changes = [
        (e.user.username, e.detail["team"], e.detail["as"], e.detail["change"], e.actor)
        for e in events(SecurityEventKind.TEAM_CHANGED).filter(actor=admin_user)
    ]
    assert changes == [
        ("owner", "South", "member", "added", admin_user),
        ("outsider", "North", "manager", "added", admin_user),
        ("owner", "South", "member", "removed", admin_user),
        ("owner", "North", "member", "removed", admin_user),
    ]


def test_a_membership_added_in_the_user_admins_inline_is_logged(admin_client, admin_user, owner, north, south):
    url = reverse("admin:crm_user_change", args=[owner.pk])
    page = admin_client.get(url)
    formset = page.context["inline_admin_formsets"][0].formset
    existing = formset.queryset.get()
    prefix = formset.prefix
    data = {
        "username": owner.username,
        "first_name": owner.first_name,
        "last_name": owner.last_name,
        "email": owner.email,
        "is_active": "on",
        "role": "rep",
        "email_reminders": "on",
        "date_joined_0": "2026-01-01",
        "date_joined_1": "00:00:00",
        f"{prefix}-TOTAL_FORMS": "2",
        f"{prefix}-INITIAL_FORMS": "1",
        f"{prefix}-MIN_NUM_FORMS": "0",
        f"{prefix}-MAX_NUM_FORMS": "1000",
        f"{prefix}-0-id": str(existing.pk),
        f"{prefix}-0-user": str(owner.pk),
        f"{prefix}-0-team": str(north.pk),
        f"{prefix}-0-DELETE": "on",
        f"{prefix}-1-user": str(owner.pk),
        f"{prefix}-1-team": str(south.pk),
    }
    response = admin_client.post(url, data)
    assert response.status_code == 302, response.context["errors"] if response.context else response
    assert list(owner.teams.values_list("name", flat=True)) == ["South"]
    changes = [
        (e.detail["team"], e.detail["change"], e.actor)
        for e in events(SecurityEventKind.TEAM_CHANGED).filter(user=owner, actor__isnull=False)
    ]
    assert sorted(changes, key=str) == sorted(
        [("South", "added", admin_user), ("North", "removed", admin_user)], key=str
    )


def test_a_role_change_in_the_user_admin_is_logged(admin_client, admin_user, owner):
    url = reverse("admin:crm_user_change", args=[owner.pk])
    page = admin_client.get(url)
    prefix = page.context["inline_admin_formsets"][0].formset.prefix
    data = {
        "username": owner.username,
        "is_active": "on",
        "role": "manager",
        "date_joined_0": "2026-01-01",
        "date_joined_1": "00:00:00",
        f"{prefix}-TOTAL_FORMS": "0",
        f"{prefix}-INITIAL_FORMS": "0",
        f"{prefix}-MIN_NUM_FORMS": "0",
        f"{prefix}-MAX_NUM_FORMS": "1000",
    }
    # The existing membership stays: the inline is submitted without forms only when it had none.
    owner.teams.clear()
    assert admin_client.post(url, data).status_code == 302
    event = events(SecurityEventKind.ROLE_CHANGED).get()
    assert (event.user, event.actor, event.detail) == (owner, admin_user, {"role": ["rep", "manager"]})


# --- Exports, merges, bulk changes --------------------------------------------------------


def test_a_list_export_is_logged_with_its_row_count(owner_client, owner):
    for name in ("Acme", "Globex", "Initech"):
        contact_services.company_create(actor=owner, owner=owner, name=name)
    response = owner_client.get(reverse("contacts:company-export", args=["csv"]))
    b"".join(response.streaming_content)
    event = events(SecurityEventKind.EXPORT).get()
    assert event.user == owner
    assert event.detail["rows"] == 3
    assert event.detail["complete"] is True
    assert event.detail["file"].startswith("companies-")


def test_an_xlsx_export_is_logged(owner_client, owner):
    contact_services.company_create(actor=owner, owner=owner, name="Acme")
    owner_client.get(reverse("contacts:company-export", args=["xlsx"]))
    assert events(SecurityEventKind.EXPORT).get().detail["rows"] == 1


def test_a_report_export_is_logged(manager_client, manager):
    response = manager_client.get(reverse("reports:funnel-csv"))
    assert response.status_code == 200
    event = events(SecurityEventKind.EXPORT).get()
    assert (event.user, event.detail["file"]) == (manager, "funnel.csv")


def test_a_merge_and_its_undo_are_logged(owner):
    kept = contact_services.company_create(actor=owner, owner=owner, name="Northwind")
    dupe = contact_services.company_create(actor=owner, owner=owner, name="Northwind Inc")
    record = records_merge(actor=owner, survivor=kept, loser=dupe, choices={})
    merge_undo(actor=owner, record=record)
    logged = [(e.user, e.detail["kept_id"], e.detail["merged_id"], e.detail["undo"]) for e in events("merge")]
    assert logged == [(owner, kept.pk, dupe.pk, False), (owner, kept.pk, dupe.pk, True)]


def test_a_bulk_reassign_is_logged_with_its_count(owner, manager, teammate):
    from contacts.models import Company

    for name in ("A", "B"):
        contact_services.company_create(actor=manager, owner=owner, name=name)
    contact_services.companies_reassign(actor=manager, companies=Company.objects.all(), owner=teammate)
    event = events(SecurityEventKind.BULK_CHANGE).get()
    assert (event.user, event.detail) == (
        manager,
        {"action": "reassign", "model": "company", "rows": 2, "to": "teammate"},
    )


# --- Admin: visible to admins, read-only --------------------------------------------------


@pytest.fixture
def logged(owner, admin_user):
    for kind in (SecurityEventKind.LOGIN_SUCCEEDED, SecurityEventKind.LOGIN_FAILED, SecurityEventKind.EXPORT):
        security_event_record(kind=kind, user=owner, detail={"n": 1})
    return SecurityEvent.objects.filter(user=owner).first()


def test_admins_see_the_log_with_filters_and_search(admin_client, logged, django_assert_max_num_queries):
    url = reverse("admin:crm_securityevent_changelist")
    with django_assert_max_num_queries(12):
        response = admin_client.get(url)
    assert response.status_code == 200
    body = response.content.decode()
    assert "Sign-in failed" in body and "By kind" in body and "By user" in body
    filtered = admin_client.get(url, {"kind__exact": "export", "q": "owner"})
    assert filtered.context["cl"].result_count == 1


@pytest.mark.parametrize("who", ["owner_client", "manager_client"])
def test_others_cannot_open_the_log(request, who, logged):
    client = request.getfixturevalue(who)
    response = client.get(reverse("admin:crm_securityevent_changelist"))
    assert response.status_code == 302
    assert "/login" in response["Location"]


def test_an_event_cannot_be_changed_added_or_deleted_in_admin(admin_client, logged):
    change_url = reverse("admin:crm_securityevent_change", args=[logged.pk])
    page = admin_client.get(change_url)
    assert page.status_code == 200
    assert 'name="_save"' not in page.content.decode()
    assert admin_client.post(change_url, {"kind": "export", "username": "x"}).status_code == 403
    assert admin_client.get(reverse("admin:crm_securityevent_add")).status_code == 403
    assert (
        admin_client.post(reverse("admin:crm_securityevent_delete", args=[logged.pk]), {"post": "yes"}).status_code
        == 403
    )
    before = logged.kind
    logged.refresh_from_db()
    assert (logged.kind, logged.username) == (before, "owner")


def test_the_model_refuses_updates_and_deletes(logged):
    with pytest.raises(TypeError):
        logged.save()
    with pytest.raises(TypeError):
        logged.delete()
    with pytest.raises(TypeError):
        SecurityEvent.objects.update(username="x")
    with pytest.raises(TypeError):
        SecurityEvent.objects.all().delete()


@pytest.mark.parametrize(
    "sql",
    ["UPDATE crm_securityevent SET username = 'x'", "DELETE FROM crm_securityevent"],
)
def test_the_database_refuses_updates_and_deletes(logged, sql):
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(sql)
    assert SecurityEvent.objects.filter(pk=logged.pk, username="owner").exists()


# --- Retention ----------------------------------------------------------------------------


def test_the_retention_sweep_deletes_only_rows_older_than_the_setting(owner, settings):
    settings.SECURITY_LOG_RETENTION_DAYS = 30
    old = SecurityEvent.objects.create(kind="export", user=owner, at=timezone.now() - timedelta(days=31))
    recent = SecurityEvent.objects.create(kind="export", user=owner, at=timezone.now() - timedelta(days=29))
    assert purge_security_events() >= 1
    assert not SecurityEvent.objects.filter(pk=old.pk).exists()
    assert SecurityEvent.objects.filter(pk=recent.pk).exists()
    assert security_events_purge() == 0


def test_the_retention_sweep_runs_nightly():
    from django.conf import settings

    assert settings.CELERY_BEAT_SCHEDULE["crm-purge-security-events"]["task"] == "crm.tasks.purge_security_events"


def test_events_outlive_a_deleted_user_and_still_open_in_admin(admin_client, db):
    from crm.tests.factories import UserFactory

    gone = UserFactory(username="gone")
    event = security_event_record(kind=SecurityEventKind.EXPORT, user=gone, detail={"rows": 1})
    gone.delete()
    assert admin_client.get(reverse("admin:crm_securityevent_change", args=[event.pk])).status_code == 200
    assert admin_client.get(reverse("admin:crm_securityevent_changelist")).status_code == 200
    assert SecurityEvent.objects.get(pk=event.pk).username == "gone"


def test_a_password_an_admin_sets_is_logged_and_ends_the_users_sessions(admin_client, admin_user, owner, owner_client):
    url = reverse("admin:auth_user_password_change", args=[owner.pk])
    response = admin_client.post(url, {"password1": "N3w-pass-4-tests", "password2": "N3w-pass-4-tests"})
    assert response.status_code == 302
    event = events(SecurityEventKind.PASSWORD_CHANGED).get()
    assert (event.user, event.actor, event.detail) == (owner, admin_user, {"set_by": "admin"})
    assert owner_client.get(reverse("home")).status_code == 302
