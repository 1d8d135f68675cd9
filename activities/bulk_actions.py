"""The bulk actions of the activity list (``crm.bulk_actions``): mark done, assign, delete.

Each activity changes through ``activities.services`` (version bump, timeline, reminders).
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse, QueryDict
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from activities import services
from activities.forms import ActivityFilterForm
from activities.models import Activity
from activities.selectors import activity_list_queryset
from crm.bulk_actions import BulkAction, BulkInputError, BulkKind, ParamField, register_bulk_kind
from crm.exports import csv_streaming_response
from crm.models import User, users_visible_to
from crm.params import id_or_none


def _done(user: User, activity: Activity, params: dict[str, Any]) -> dict[str, Any] | None:
    if activity.done_at is not None:
        return None
    services.activity_set_done(activity=activity, actor=user, done=True)
    return {"done": False}


def _done_undo(user: User, activity: Activity, previous: dict[str, Any]) -> None:
    services.activity_set_done(activity=activity, actor=user, done=False)


def _clean_owner(user: User, data: QueryDict) -> dict[str, Any]:
    owner = users_visible_to(user).filter(pk=id_or_none(data.get("owner")) or 0).first()
    if owner is None:
        raise BulkInputError(_("Choose who the activities go to."))
    return {"owner": owner.pk, "owner_name": str(owner)}


def _assign(user: User, activity: Activity, params: dict[str, Any]) -> dict[str, Any] | None:
    if activity.owner_id == params["owner"]:
        return None
    before = {"owner": activity.owner_id}
    services.activity_update(activity=activity, actor=user, owner=User.objects.get(pk=params["owner"]))
    return before


def _assign_undo(user: User, activity: Activity, previous: dict[str, Any]) -> None:
    owner = User.objects.filter(pk=previous["owner"]).first()
    if owner is not None:
        services.activity_update(activity=activity, actor=user, owner=owner)


def _delete(user: User, activity: Activity, params: dict[str, Any]) -> dict[str, Any] | None:
    services.activity_delete(activity=activity, actor=user)
    return {"deleted": True}


def _matching(user: User, query: QueryDict) -> Any:
    form = ActivityFilterForm(query or None, user=user)
    qs, _company, _by_due = activity_list_queryset(user, form, bool(query))
    return qs


def _export_header() -> list[str]:
    return [
        *(_("Type"), _("Subject"), _("Assignee"), _("Company"), _("Contact"), _("Deal"), _("Due")),
        *(_("Done"), _("Outcome"), _("Logged"), _("Notes")),
    ]


def _local(value: Any) -> Any:
    return timezone.localtime(value) if value is not None else None


def _export(request: HttpRequest, query: QueryDict, ids: list[int] | None) -> HttpResponse:
    """The list as filtered (``ids``: only those rows) as CSV, one row per activity."""
    qs = _matching(request.user, query)
    if ids is not None:
        qs = qs.filter(pk__in=ids)
    qs = qs.select_related("type", "owner", "company", "contact", "deal").order_by("-created_at", "-id")

    def rows():
        for activity in qs.iterator(chunk_size=2000):
            yield (
                activity.type.name,
                activity.subject,
                str(activity.owner or ""),
                activity.company.name if activity.company else "",
                activity.contact.full_name if activity.contact else "",
                activity.deal.title if activity.deal else "",
                _local(activity.due_at),
                _local(activity.done_at),
                activity.outcome,
                _local(activity.created_at),
                activity.body,
            )

    filename = f"activities-{timezone.localdate().isoformat()}.csv"
    return csv_streaming_response(filename, _export_header(), rows(), request=request)


register_bulk_kind(
    BulkKind(
        key="activity",
        model=Activity,
        list_url_name="activities:list",
        noun=lambda n: ngettext("activity", "activities", n),
        matching=_matching,
        load=lambda: Activity.objects.select_related("owner", "type"),
        actions={
            "done": BulkAction(key="done", label=gettext_lazy("Mark done"), apply=_done, undo=_done_undo),
            "assign": BulkAction(
                key="assign",
                label=gettext_lazy("Assign to…"),
                apply=_assign,
                undo=_assign_undo,
                undo_allowed=lambda user, activity, previous, params: (
                    activity.owner_id == params["owner"] and user.can_edit_owner(previous["owner"])
                ),
                params=("owner",),
                clean=_clean_owner,
                describe=lambda p: p.get("owner_name", ""),
            ),
            # Deleting cannot be undone: it is always confirmed first, even for ticked rows.
            "delete": BulkAction(key="delete", label=gettext_lazy("Delete"), apply=_delete, always_confirm=True),
        },
        param_fields=lambda user: [
            ParamField("owner", _("New assignee"), ("assign",), [(u.pk, str(u)) for u in user.visible_users])
        ],
        export=_export,
    )
)
