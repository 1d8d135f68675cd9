"""The bulk actions of the company and contact lists (``crm.bulk_actions``).

Each action changes one record through ``contacts.services`` (version bump, one history
entry, timeline events) and returns the values it replaced, for undo.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse, QueryDict
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from contacts import services
from contacts.forms import CompanyFilterForm, ContactFilterForm
from contacts.models import Company, Contact, LifecycleStage
from contacts.selectors import company_list, contact_list
from crm.bulk_actions import BulkAction, BulkInputError, BulkKind, ParamField, register_bulk_kind
from crm.models import User, users_visible_to
from crm.params import id_or_none


def _update(record: Company | Contact, user: User, **fields: Any) -> None:
    # Phones are untouched: one stored as typed stays so (the service re-checks every phone).
    if isinstance(record, Company):
        services.company_update(actor=user, company=record, keep_invalid_phone=True, **fields)
    else:
        services.contact_update(actor=user, contact=record, keep_invalid_phone=True, **fields)


def _clean_owner(user: User, data: QueryDict) -> dict[str, Any]:
    owner = users_visible_to(user).filter(pk=id_or_none(data.get("owner")) or 0).first()
    if owner is None:
        raise BulkInputError(_("Choose who the records go to."))
    return {"owner": owner.pk, "owner_name": str(owner)}


def _assign(user: User, record: Any, params: dict[str, Any]) -> dict[str, Any] | None:
    if record.owner_id == params["owner"]:
        return None
    before = {"owner": record.owner_id}
    _update(record, user, owner=User.objects.get(pk=params["owner"]))
    return before


def _assign_undo(user: User, record: Any, previous: dict[str, Any]) -> None:
    owner = User.objects.filter(pk=previous["owner"]).first()
    if owner is not None:
        _update(record, user, owner=owner)


def _clean_tag(user: User, data: QueryDict) -> dict[str, Any]:
    tag = " ".join(str(data.get("tag", "")).replace("\x00", "").split())[:60]
    if not tag or "," in tag:
        raise BulkInputError(_("Type one tag (no commas)."))
    return {"tag": tag}


def _tag_names(record: Any) -> list[str]:
    return list(record.tags.order_by("name").values_list("name", flat=True))


def _add_tag(user: User, record: Any, params: dict[str, Any]) -> dict[str, Any] | None:
    names = _tag_names(record)
    if params["tag"].lower() in {n.lower() for n in names}:
        return None
    _update(record, user, tag_names=[*names, params["tag"]])
    return {"tags": names}


def _remove_tag(user: User, record: Any, params: dict[str, Any]) -> dict[str, Any] | None:
    names = _tag_names(record)
    kept = [n for n in names if n.lower() != params["tag"].lower()]
    if kept == names:
        return None
    _update(record, user, tag_names=kept)
    return {"tags": names}


def _tags_undo(user: User, record: Any, previous: dict[str, Any]) -> None:
    _update(record, user, tag_names=previous["tags"])


def _clean_stage(user: User, data: QueryDict) -> dict[str, Any]:
    stage = data.get("lifecycle_stage", "")
    if stage not in LifecycleStage.values:
        raise BulkInputError(_("Choose the lifecycle stage."))
    return {"lifecycle_stage": stage, "stage_name": str(LifecycleStage(stage).label)}


def _set_stage(user: User, record: Any, params: dict[str, Any]) -> dict[str, Any] | None:
    if record.lifecycle_stage == params["lifecycle_stage"]:
        return None
    before = {"lifecycle_stage": record.lifecycle_stage}
    _update(record, user, lifecycle_stage=params["lifecycle_stage"])
    return before


def _stage_undo(user: User, record: Any, previous: dict[str, Any]) -> None:
    _update(record, user, lifecycle_stage=previous["lifecycle_stage"])


def _archive(user: User, record: Any, params: dict[str, Any]) -> dict[str, Any] | None:
    if record.archived_at is not None:
        return None
    _archive_one(user, record)
    return {"archived": False}


def _archive_one(user: User, record: Any) -> None:
    if isinstance(record, Company):
        services.company_archive(actor=user, company=record)
    else:
        services.contact_archive(actor=user, contact=record)


def _restore_one(user: User, record: Any) -> None:
    if isinstance(record, Company):
        services.company_restore(actor=user, company=record)
    else:
        services.contact_restore(actor=user, contact=record)


def _restore(user: User, record: Any, params: dict[str, Any]) -> dict[str, Any] | None:
    if record.archived_at is None:
        return None
    _restore_one(user, record)
    return {"archived": True}


def _actions() -> dict[str, BulkAction]:
    actions = [
        BulkAction(
            key="assign",
            label=gettext_lazy("Assign to…"),
            apply=_assign,
            undo=_assign_undo,
            # Records given away are taken back by who gave them, unless someone changed the owner since.
            undo_allowed=lambda user, record, previous, params: (
                record.owner_id == params["owner"] and user.can_edit_owner(previous["owner"])
            ),
            params=("owner",),
            clean=_clean_owner,
            describe=lambda p: p.get("owner_name", ""),
        ),
        BulkAction(
            key="add_tag",
            label=gettext_lazy("Add tag"),
            apply=_add_tag,
            undo=_tags_undo,
            params=("tag",),
            clean=_clean_tag,
            describe=lambda p: p.get("tag", ""),
        ),
        BulkAction(
            key="remove_tag",
            label=gettext_lazy("Remove tag"),
            apply=_remove_tag,
            undo=_tags_undo,
            params=("tag",),
            clean=_clean_tag,
            describe=lambda p: p.get("tag", ""),
        ),
        BulkAction(
            key="lifecycle",
            label=gettext_lazy("Change lifecycle stage"),
            apply=_set_stage,
            undo=_stage_undo,
            params=("lifecycle_stage",),
            clean=_clean_stage,
            describe=lambda p: p.get("stage_name", ""),
        ),
        BulkAction(
            key="archive",
            label=gettext_lazy("Archive"),
            apply=_archive,
            undo=lambda user, record, previous: _restore_one(user, record),
        ),
        # Restoring is an admin's call, as on the record's page.
        BulkAction(
            key="restore",
            label=gettext_lazy("Restore"),
            apply=_restore,
            undo=lambda user, record, previous: _archive_one(user, record),
            allowed=lambda user, record: user.is_admin,
        ),
    ]
    return {action.key: action for action in actions}


def _param_fields(user: User) -> list[ParamField]:
    return [
        ParamField("owner", _("New owner"), ("assign",), [(u.pk, str(u)) for u in user.visible_users]),
        ParamField("tag", _("Tag"), ("add_tag", "remove_tag")),
        ParamField("lifecycle_stage", _("Lifecycle stage"), ("lifecycle",), list(LifecycleStage.choices)),
    ]


def _matching(form_class: Any, selector: Any) -> Any:
    def matching(user: User, query: QueryDict) -> Any:
        form = form_class(query, user=user, default_sort="name")
        return selector(user, form.filters())

    return matching


def _export(kind: str) -> Any:
    def export(request: HttpRequest, query: QueryDict, ids: list[int] | None) -> HttpResponse:
        from contacts.views import export_records  # contacts.views is loaded after the app registry

        return export_records(request, kind, query, ids=ids)

    return export


register_bulk_kind(
    BulkKind(
        key="company",
        model=Company,
        list_url_name="contacts:company-list",
        noun=lambda n: ngettext("company", "companies", n),
        matching=_matching(CompanyFilterForm, company_list),
        load=lambda: Company.objects.select_related("owner"),
        actions=_actions(),
        param_fields=_param_fields,
        export=_export("companies"),
    )
)
register_bulk_kind(
    BulkKind(
        key="contact",
        model=Contact,
        list_url_name="contacts:contact-list",
        noun=lambda n: ngettext("contact", "contacts", n),
        matching=_matching(ContactFilterForm, contact_list),
        load=lambda: Contact.objects.select_related("owner", "company"),
        actions=_actions(),
        param_fields=_param_fields,
        export=_export("contacts"),
    )
)
