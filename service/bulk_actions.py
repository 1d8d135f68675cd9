"""The bulk actions of the case list (``crm.bulk_actions``): assign, status, priority, queue, export.

Each case changes through ``service.services`` (version bump, SLA clocks re-aimed, the
satisfaction survey on resolving), one at a time, with the rights of the case page
(``selectors.can_edit_case``). Cases keep no field history table: each changed case, and
each undo, gets one ``case_changed`` entry on its customer's timeline.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse, QueryDict
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from crm.bulk_actions import BulkAction, BulkInputError, BulkKind, ParamField, register_bulk_kind
from crm.exports import csv_streaming_response
from crm.models import Team, User
from crm.params import id_or_none
from service import services
from service.forms import WORKFLOW_STATUSES, CaseFilterForm
from service.models import Case, CasePriority, CaseStatus
from service.selectors import can_edit_case, queue_members, queues_for

UNASSIGNED = "none"


def _person(user_id: int | None) -> str:
    user = User.objects.filter(pk=user_id).first() if user_id else None
    return str(user) if user else ""


def _in_queue(team_id: int, user_id: int | None) -> bool:
    return user_id is None or queue_members(Team.objects.filter(pk=team_id)).filter(pk=user_id).exists()


def _note(user: User, case: Case, field: str, old: str, new: str) -> None:
    services.case_change_record(case=case, actor=user, field=field, old=old, new=new)


# --- Assign -------------------------------------------------------------------------------------


def _clean_assignee(user: User, data: QueryDict) -> dict[str, Any]:
    if data.get("assignee") == UNASSIGNED:
        return {"assignee": None, "assignee_name": _("Unassigned")}
    assignee = next((u for u in user.visible_users if u.pk == id_or_none(data.get("assignee"))), None)
    if assignee is None:
        raise BulkInputError(_("Choose who the cases go to."))
    return {"assignee": assignee.pk, "assignee_name": str(assignee)}


def _assign(user: User, case: Case, params: dict[str, Any]) -> dict[str, Any] | None:
    if case.assignee_id == params["assignee"]:
        return None
    before = {"assignee": case.assignee_id}
    old = str(case.assignee or "")
    assignee = User.objects.get(pk=params["assignee"]) if params["assignee"] else None
    services.case_assign(case=case, actor=user, assignee=assignee)
    _note(user, case, _("assignee"), old, str(assignee or ""))
    return before


def _assign_undo(user: User, case: Case, previous: dict[str, Any]) -> None:
    if not _in_queue(case.team_id, previous["assignee"]):
        return  # left the queue's team since: the case stays where it is
    old = str(case.assignee or "")
    assignee = User.objects.filter(pk=previous["assignee"], is_active=True).first() if previous["assignee"] else None
    if previous["assignee"] and assignee is None:
        return
    services.case_assign(case=case, actor=user, assignee=assignee)
    _note(user, case, _("assignee"), old, str(assignee or ""))


# --- Status and priority ------------------------------------------------------------------------


def _clean_choice(name: str, choices: list[tuple[str, Any]], message: Any) -> Any:
    labels = dict(choices)

    def clean(user: User, data: QueryDict) -> dict[str, Any]:
        value = data.get(name, "")
        if value not in labels:
            raise BulkInputError(str(message))
        return {name: value, f"{name}_name": str(labels[value])}

    return clean


def _set_status(user: User, case: Case, params: dict[str, Any]) -> dict[str, Any] | None:
    if case.status == params["status"]:
        return None
    before = {"status": case.status}
    old = case.get_status_display()
    services.case_set_status(case=case, actor=user, status=params["status"])
    _note(user, case, _("status"), old, case.get_status_display())
    return before


def _status_undo(user: User, case: Case, previous: dict[str, Any]) -> None:
    old = case.get_status_display()
    services.case_set_status(case=case, actor=user, status=previous["status"])
    _note(user, case, _("status"), old, case.get_status_display())


def _set_priority(user: User, case: Case, params: dict[str, Any]) -> dict[str, Any] | None:
    if case.priority == params["priority"]:
        return None
    before = {"priority": case.priority}
    old = case.get_priority_display()
    services.case_update(case=case, actor=user, priority=params["priority"])
    _note(user, case, _("priority"), old, case.get_priority_display())
    return before


def _priority_undo(user: User, case: Case, previous: dict[str, Any]) -> None:
    old = case.get_priority_display()
    services.case_update(case=case, actor=user, priority=previous["priority"])
    _note(user, case, _("priority"), old, case.get_priority_display())


# --- Queue --------------------------------------------------------------------------------------


def _clean_queue(user: User, data: QueryDict) -> dict[str, Any]:
    team = queues_for(user).filter(pk=id_or_none(data.get("queue")) or 0).first()
    if team is None:
        raise BulkInputError(_("Choose a queue you work in."))
    return {"queue": team.pk, "queue_name": team.name}


def _move_queue(user: User, case: Case, params: dict[str, Any]) -> dict[str, Any] | None:
    """To another queue; an assignee outside the new queue's team leaves the case unassigned
    there (the case form refuses that pair)."""
    if case.team_id == params["queue"]:
        return None
    before = {"queue": case.team_id, "assignee": case.assignee_id}
    old = case.team.name
    team = Team.objects.get(pk=params["queue"])
    fields: dict[str, Any] = {"team": team}
    if not _in_queue(team.pk, case.assignee_id):
        fields["assignee"] = None
    services.case_update(case=case, actor=user, **fields)
    _note(user, case, _("queue"), old, team.name)
    return before


def _queue_undo(user: User, case: Case, previous: dict[str, Any]) -> None:
    team = Team.objects.filter(pk=previous["queue"]).first()
    if team is None:
        return
    old = case.team.name
    fields: dict[str, Any] = {"team": team}
    if case.assignee_id is None and previous["assignee"] and _in_queue(team.pk, previous["assignee"]):
        fields["assignee"] = User.objects.get(pk=previous["assignee"])
    elif not _in_queue(team.pk, case.assignee_id):
        fields["assignee"] = None
    services.case_update(case=case, actor=user, **fields)
    _note(user, case, _("queue"), old, team.name)


# --- The list -----------------------------------------------------------------------------------


def _param_fields(user: User) -> list[ParamField]:
    # The people and teams the request already loaded (no query); ``clean`` and the per-case
    # check decide what is allowed.
    return [
        ParamField(
            "assignee",
            _("New assignee"),
            ("assign",),
            [(UNASSIGNED, _("Unassigned")), *((u.pk, str(u)) for u in user.visible_users)],
        ),
        ParamField("status", _("New status"), ("status",), list(WORKFLOW_STATUSES)),
        ParamField("priority", _("New priority"), ("priority",), list(CasePriority.choices)),
        ParamField("queue", _("New queue"), ("queue",), [(t.pk, t.name) for t in user.visible_teams]),
    ]


def _matching(user: User, query: QueryDict) -> Any:
    form = CaseFilterForm(query or None, user=user)
    return form.apply(Case.objects.visible_to(user), user)


def _export_header() -> list[str]:
    return [
        *(_("ID"), _("Subject"), _("Company"), _("Contact"), _("Queue"), _("Assignee"), _("Priority")),
        *(_("Status"), _("Channel"), _("Opened"), _("First response due"), _("Resolution due"), _("Resolved")),
        _("SLA breached"),
    ]


def _export(request: HttpRequest, query: QueryDict, ids: list[int] | None) -> HttpResponse:
    qs = _matching(request.user, query)
    if ids is not None:
        qs = qs.filter(pk__in=ids)
    qs = qs.select_related("company", "contact", "team", "assignee").order_by("-created_at", "-id")
    priorities, statuses = dict(CasePriority.choices), dict(CaseStatus.choices)

    def rows():
        for case in qs.iterator(chunk_size=2000):
            yield (
                case.pk,
                case.subject,
                case.company.name if case.company else "",
                case.contact.full_name if case.contact else "",
                case.team.name,
                str(case.assignee or ""),
                str(priorities.get(case.priority, case.priority)),
                str(statuses.get(case.status, case.status)),
                case.get_channel_display(),
                timezone.localtime(case.created_at),
                timezone.localtime(case.first_response_due_at) if case.first_response_due_at else None,
                timezone.localtime(case.resolution_due_at) if case.resolution_due_at else None,
                timezone.localtime(case.resolved_at) if case.resolved_at else None,
                case.sla_breached,
            )

    filename = f"cases-{timezone.localdate().isoformat()}.csv"
    return csv_streaming_response(filename, _export_header(), rows(), request=request)


def _editable_in(key: str) -> Any:
    """``can_edit_case`` and the case still showing the job's value (undo)."""

    def allowed(user: User, case: Case, previous: dict[str, Any], params: dict[str, Any]) -> bool:
        current = case.team_id if key == "queue" else getattr(case, f"{key}_id" if key == "assignee" else key)
        return current == params[key] and can_edit_case(user, case)

    return allowed


register_bulk_kind(
    BulkKind(
        key="case",
        model=Case,
        list_url_name="service:list",
        noun=lambda n: ngettext("case", "cases", n),
        matching=_matching,
        load=lambda: Case.objects.select_related("team", "assignee", "company", "contact"),
        actions={
            "assign": BulkAction(
                key="assign",
                label=gettext_lazy("Assign to…"),
                apply=_assign,
                undo=_assign_undo,
                # The new assignee works in the case's own queue; others are skipped and counted.
                allowed_with=lambda user, case, params: (
                    can_edit_case(user, case) and _in_queue(case.team_id, params["assignee"])
                ),
                undo_allowed=_editable_in("assignee"),
                params=("assignee",),
                clean=_clean_assignee,
                describe=lambda p: p.get("assignee_name", ""),
            ),
            "status": BulkAction(
                key="status",
                label=gettext_lazy("Change status"),
                apply=_set_status,
                undo=_status_undo,
                allowed=can_edit_case,
                undo_allowed=_editable_in("status"),
                params=("status",),
                clean=_clean_choice("status", WORKFLOW_STATUSES, gettext_lazy("Choose the new status.")),
                describe=lambda p: p.get("status_name", ""),
            ),
            "priority": BulkAction(
                key="priority",
                label=gettext_lazy("Change priority"),
                apply=_set_priority,
                undo=_priority_undo,
                allowed=can_edit_case,
                undo_allowed=_editable_in("priority"),
                params=("priority",),
                clean=_clean_choice("priority", list(CasePriority.choices), gettext_lazy("Choose the new priority.")),
                describe=lambda p: p.get("priority_name", ""),
            ),
            "queue": BulkAction(
                key="queue",
                label=gettext_lazy("Move to queue"),
                apply=_move_queue,
                undo=_queue_undo,
                allowed=can_edit_case,
                undo_allowed=_editable_in("queue"),
                params=("queue",),
                clean=_clean_queue,
                describe=lambda p: p.get("queue_name", ""),
            ),
        },
        param_fields=_param_fields,
        export=_export,
    )
)
