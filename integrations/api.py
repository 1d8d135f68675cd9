"""The REST API (``/api/v1/``): function views over the same selectors and services as the UI.

A token acts as its user: lists use each model's ``visible_to``, single records the model's
access helper (``company_for_user`` …): an outsider's record is 404, a teammate's can be read
but not changed (403, as in the UI). Writes go through the apps' services with their
validation; a stale ``version`` is 409 with the current record, a likely duplicate on create
is 409 with the candidates unless ``"force": true``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django import forms
from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import QuerySet
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.decorators import api_view, parser_classes
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.serializers import as_serializer_error

from activities import services as activity_services
from activities.models import Activity
from activities.selectors import activity_for_user
from contacts import services as contact_services
from contacts.duplicates import Duplicate, company_duplicates, contact_duplicates
from contacts.models import Company, Contact, LifecycleStage
from contacts.normalize import normalize_phone
from contacts.selectors import company_for_user, company_search_q, contact_for_user, visible_contacts_matching
from crm import custom_fields
from crm.forms import strict_field
from crm.models import User
from crm.params import MAX_ID, id_or_none
from crm.versioning import VersionConflict
from deals import services as deal_services
from deals.models import Deal, DealStatus, Pipeline, Stage
from deals.selectors import deal_for_user
from integrations import serializers as s
from integrations.email_capture import CaptureError, email_capture
from integrations.events import events_ingest
from integrations.models import EventType
from integrations.pagination import keyset_page, parse_timestamp
from integrations.parsers import OctetStreamEmailParser, RawEmailParser, TextEmailParser
from reports import selectors as report_selectors

NOTE_TYPE = "note"

# --- Shared pieces --------------------------------------------------------------------------


def api_endpoint(methods: list[str]) -> Callable:
    """A DRF function view that skips the session sign-in redirect (tokens authenticate it)."""

    def wrap(view: Callable) -> Callable:
        return login_not_required(api_view(methods)(view))

    return wrap


def _pk(pk: int) -> int:
    if not 1 <= pk <= MAX_ID:
        raise NotFound(_("Not found."))
    return pk


def _validated(serializer_class: type, request: Request, *, partial: bool = False) -> dict[str, Any]:
    serializer = serializer_class(data=request.data, partial=partial, context={"request": request})
    serializer.is_valid(raise_exception=True)
    return dict(serializer.validated_data)


def _custom(data: dict[str, Any], model: Any, user: User, current: dict | None) -> dict | None:
    """The record's new custom field values from the request's ``custom`` object, validated as
    the forms validate them (``current`` None: a new record, whose required fields must come);
    None when an update sends no ``custom``."""
    raw = data.pop("custom", None)
    if raw is None and current is not None:
        return None
    try:
        return custom_fields.clean_values(model, raw or {}, user=user, current=current)
    except DjangoValidationError as exc:
        raise ValidationError({"custom": exc.message_dict}) from None


def _conflict(exc: VersionConflict, current: Any, serializer_class: type, request: Request) -> Response:
    return Response(
        {
            "error": "version_conflict",
            "detail": _("The record changed since the version you sent; nothing was saved."),
            "current": serializer_class(current, context={"request": request}).data,
            "changes": [
                {"field": c.field, "label": c.label, "yours": c.yours, "theirs": c.theirs} for c in exc.changes
            ],
        },
        status=status.HTTP_409_CONFLICT,
    )


def _duplicates_response(found: list[Duplicate]) -> Response:
    return Response(
        {
            "error": "possible_duplicate",
            "detail": _('Likely duplicates exist. Send "force": true to create the record anyway.'),
            "candidates": [
                {"id": d.record.pk, "name": str(d.record), "reasons": [str(r) for r in d.reasons], "score": d.score}
                for d in found
            ],
        },
        status=status.HTTP_409_CONFLICT,
    )


def _param_id(request: Request, name: str) -> int | None:
    raw = request.query_params.get(name, "")
    if not raw:
        return None
    pk = id_or_none(raw)
    if pk is None:
        raise ValidationError({name: [_("Not an id.")]})
    return pk


def _param_choice(request: Request, name: str, choices: list[str]) -> str | None:
    raw = request.query_params.get(name, "")
    if not raw:
        return None
    if raw not in choices:
        raise ValidationError({name: [_("One of: %(choices)s.") % {"choices": ", ".join(choices)}]})
    return raw


def _param_text(request: Request, name: str, max_length: int = 100) -> str:
    raw = request.query_params.get(name, "")
    if "\x00" in raw:
        raise ValidationError({name: [_("Contains a NUL character.")]})
    return raw.strip()[:max_length]


def _filter_common(request: Request, qs: QuerySet, *, id_filters: tuple[str, ...] = ()) -> QuerySet:
    """``owner``, ``updated_since`` and the id filters every list of this kind accepts."""
    for name in ("owner", *id_filters):
        value = _param_id(request, name)
        if value is not None:
            qs = qs.filter(**{f"{name}_id": value})
    since = request.query_params.get("updated_since", "")
    if since:
        qs = qs.filter(updated_at__gte=parse_timestamp(since, name="updated_since"))
    return qs


def _filter_custom(request: Request, qs: QuerySet, model: Any) -> QuerySet:
    """The custom field filters of the lists, with the same parameters: ``cf_<key>`` (a value;
    for several choices, one of them) and ``cf_<key>_from`` / ``cf_<key>_to`` (numbers, money,
    dates). Values are checked as the list's filter form checks them; an unknown ``cf_``
    parameter is a 400, so a misspelt filter never returns every record."""
    fields = custom_fields.filter_form_fields(model, user=request.user)
    sent = [name for name in request.query_params if name.startswith(custom_fields.FIELD_PREFIX)]
    unknown = [name for name in sent if name not in fields]
    if unknown:
        raise ValidationError({name: [_("No custom field filter of this name.")] for name in unknown})
    if not sent:
        return qs
    for form_f in fields.values():
        strict_field(form_f)
    form = forms.Form({name: request.query_params.get(name) for name in sent})
    form.fields = fields
    if not form.is_valid():
        raise ValidationError({name: list(errors) for name, errors in form.errors.items()})
    return custom_fields.apply_filters(qs, custom_fields.filter_values(model, form.cleaned_data))


def _filter_archived(request: Request, qs: QuerySet) -> QuerySet:
    archived = _param_choice(request, "archived", ["exclude", "include", "only"]) or "exclude"
    if archived == "exclude":
        return qs.filter(archived_at__isnull=True)
    if archived == "only":
        return qs.filter(archived_at__isnull=False)
    return qs


def _region_of(data: dict[str, Any], company: Company | None = None) -> str | None:
    country = data.get("country") or (company.country.code if company is not None and company.country else "")
    return country or None


LIST_PARAMS = [
    OpenApiParameter("cursor", str, description="The next_cursor of the previous page."),
    OpenApiParameter("limit", int, description="Rows per page, 1–200 (default 50)."),
    OpenApiParameter("owner", int),
    OpenApiParameter("updated_since", OpenApiTypes.DATETIME, description="Only records changed at or after this."),
    OpenApiParameter("q", str, description="Search."),
]
CUSTOMER_LIST_PARAMS = [
    *LIST_PARAMS,
    OpenApiParameter("lifecycle_stage", str, enum=LifecycleStage.values),
    OpenApiParameter("archived", str, enum=["exclude", "include", "only"], description="Default: exclude."),
]
ERRORS = {
    400: s.ErrorSerializer,
    401: s.ErrorSerializer,
    403: s.ErrorSerializer,
    404: s.ErrorSerializer,
    413: s.ErrorSerializer,
    429: s.ErrorSerializer,
}


def _page_serializer(name: str, item: type) -> Any:
    return inline_serializer(
        name=name,
        fields={
            "results": item(many=True),
            "next": serializers.URLField(allow_null=True),
            "next_cursor": serializers.CharField(allow_null=True),
        },
    )


def _conflict_serializer(name: str, item: type) -> Any:
    return inline_serializer(
        name=name,
        fields={
            "error": serializers.CharField(),
            "detail": serializers.CharField(),
            "current": item(),
            "changes": s.FieldChangeSerializer(many=True),
        },
    )


# --- Companies ----------------------------------------------------------------------------


def _company(user: User, pk: int, *, write: bool = False) -> Company:
    return company_for_user(user, _pk(pk), write=write)


def _company_out(request: Request, pk: int, *, code: int = 200) -> Response:
    company = Company.objects.prefetch_related("tags").get(pk=pk)
    return Response(s.CompanySerializer(company).data, status=code)


@extend_schema(
    methods=["GET"],
    summary="List companies",
    operation_id="companies_list",
    parameters=[*CUSTOMER_LIST_PARAMS],
    responses={200: _page_serializer("CompanyPage", s.CompanySerializer), **ERRORS},
)
@extend_schema(
    methods=["POST"],
    summary="Create a company",
    request=s.CompanyCreateSerializer,
    responses={201: s.CompanySerializer, 409: s.DuplicateErrorSerializer, **ERRORS},
)
@api_endpoint(["GET", "POST"])
def companies(request: Request) -> Response:
    user = request.user
    if request.method == "GET":
        qs = s.with_tag_names(Company.objects.visible_to(user))
        qs = _filter_custom(request, _filter_archived(request, _filter_common(request, qs)), Company)
        stage = _param_choice(request, "lifecycle_stage", LifecycleStage.values)
        if stage:
            qs = qs.filter(lifecycle_stage=stage)
        if q := _param_text(request, "q"):
            qs = qs.filter(company_search_q(q))
        return Response(keyset_page(request, qs, serializer_class=s.CompanySerializer))
    data = _validated(s.CompanyCreateSerializer, request)
    data["custom"] = _custom(data, Company, user, None)
    if not data.pop("force", False):
        found = company_duplicates(
            user,
            name=data["name"],
            domain=data.get("domain", ""),
            phone=normalize_phone(data.get("phone", ""), _region_of(data)).e164,
            email=data.get("email", ""),
        )
        if found:
            return _duplicates_response(found)
    company = contact_services.company_create(
        actor=user,
        owner=data.pop("owner", user),
        name=data.pop("name"),
        tag_names=data.pop("tags", []),
        keep_invalid_phone=data.pop("keep_invalid_phone", False),
        **data,
    )
    return _company_out(request, company.pk, code=status.HTTP_201_CREATED)


@extend_schema(methods=["GET"], summary="Get a company", responses={200: s.CompanySerializer, **ERRORS})
@extend_schema(
    methods=["PATCH"],
    summary="Change a company",
    request=s.CompanyUpdateSerializer,
    responses={200: s.CompanySerializer, 409: _conflict_serializer("CompanyConflict", s.CompanySerializer), **ERRORS},
)
@api_endpoint(["GET", "PATCH"])
def company(request: Request, pk: int) -> Response:
    if request.method == "GET":
        return _company_out(request, _company(request.user, pk).pk)
    record = _company(request.user, pk, write=True)
    data = _validated(s.CompanyUpdateSerializer, request, partial=True)
    version = data.pop("version", None)
    if version is None:
        raise ValidationError({"version": [_("Send the version you read.")]})
    if (custom := _custom(data, Company, request.user, record.custom or {})) is not None:
        data["custom"] = custom
    tags = data.pop("tags", None)
    try:
        contact_services.company_update(
            actor=request.user,
            company=record,
            version=version,
            tag_names=tags,
            keep_invalid_phone=data.pop("keep_invalid_phone", False),
            **data,
        )
    except VersionConflict as exc:
        return _conflict(exc, Company.objects.prefetch_related("tags").get(pk=record.pk), s.CompanySerializer, request)
    return _company_out(request, record.pk)


@extend_schema(
    summary="A company's profitability",
    description="Revenue, gross margin, cost to serve, acquisition cost and profit per period, as the "
    "nightly customer-value job (and its refresh after changes) computed them; empty periods before the "
    "first run or for a company that is not a customer.",
    responses={200: s.CompanyProfitabilityResponseSerializer, **ERRORS},
)
@api_endpoint(["GET"])
def company_profitability(request: Request, pk: int) -> Response:
    record = _company(request.user, pk)
    run = report_selectors.value_run()
    rows = sorted(report_selectors.company_profits(record.pk).values(), key=lambda row: row.period != "12m")
    periods = [
        {
            "period": row.period,
            "currency": settings.BASE_CURRENCY,
            **{
                name: getattr(row, name)
                for name in s.CompanyProfitabilitySerializer().fields
                if name not in ("period", "currency")
            },
        }
        for row in rows
    ]
    data = {"company": record.pk, "computed_at": run.computed_at if run else None, "periods": periods}
    return Response(s.CompanyProfitabilityResponseSerializer(data).data)


@extend_schema(summary="Archive a company", request=None, responses={200: s.CompanySerializer, **ERRORS})
@api_endpoint(["POST"])
def company_archive(request: Request, pk: int) -> Response:
    record = _company(request.user, pk, write=True)
    contact_services.company_archive(actor=request.user, company=record)
    return _company_out(request, record.pk)


@extend_schema(summary="Restore an archived company", request=None, responses={200: s.CompanySerializer, **ERRORS})
@api_endpoint(["POST"])
def company_restore(request: Request, pk: int) -> Response:
    record = _company(request.user, pk, write=True)
    contact_services.company_restore(actor=request.user, company=record)
    return _company_out(request, record.pk)


# --- Contacts -----------------------------------------------------------------------------


def _contact(user: User, pk: int, *, write: bool = False) -> Contact:
    return contact_for_user(user, _pk(pk), write=write)


def _contact_out(request: Request, pk: int, *, code: int = 200) -> Response:
    contact = Contact.objects.prefetch_related("tags").get(pk=pk)
    return Response(s.ContactSerializer(contact).data, status=code)


@extend_schema(
    methods=["GET"],
    summary="List contacts",
    operation_id="contacts_list",
    parameters=[*CUSTOMER_LIST_PARAMS, OpenApiParameter("company", int)],
    responses={200: _page_serializer("ContactPage", s.ContactSerializer), **ERRORS},
)
@extend_schema(
    methods=["POST"],
    summary="Create a contact",
    request=s.ContactCreateSerializer,
    responses={201: s.ContactSerializer, 409: s.DuplicateErrorSerializer, **ERRORS},
)
@api_endpoint(["GET", "POST"])
def contacts(request: Request) -> Response:
    user = request.user
    if request.method == "GET":
        # Read access: visible_contacts_matching (with ``q``, the search's own owner condition).
        qs = visible_contacts_matching(user, _param_text(request, "q"), s.with_tag_names(Contact.objects.all()))
        qs = _filter_archived(request, _filter_common(request, qs, id_filters=("company",)))
        qs = _filter_custom(request, qs, Contact)
        stage = _param_choice(request, "lifecycle_stage", LifecycleStage.values)
        if stage:
            qs = qs.filter(lifecycle_stage=stage)
        return Response(keyset_page(request, qs, serializer_class=s.ContactSerializer))
    data = _validated(s.ContactCreateSerializer, request)
    data["custom"] = _custom(data, Contact, user, None)
    if not data.pop("force", False):
        region = _region_of(data, data.get("company"))
        found = contact_duplicates(
            user,
            first_name=data.get("first_name", ""),
            last_name=data["last_name"],
            emails=[data.get("email", ""), data.get("secondary_email", "")],
            phones=[normalize_phone(data.get(name, ""), region).e164 for name in ("phone", "mobile")],
            company=data.get("company"),
        )
        if found:
            return _duplicates_response(found)
    contact = contact_services.contact_create(
        actor=user,
        owner=data.pop("owner", user),
        last_name=data.pop("last_name"),
        tag_names=data.pop("tags", []),
        keep_invalid_phone=data.pop("keep_invalid_phone", False),
        **data,
    )
    return _contact_out(request, contact.pk, code=status.HTTP_201_CREATED)


@extend_schema(methods=["GET"], summary="Get a contact", responses={200: s.ContactSerializer, **ERRORS})
@extend_schema(
    methods=["PATCH"],
    summary="Change a contact",
    request=s.ContactUpdateSerializer,
    responses={200: s.ContactSerializer, 409: _conflict_serializer("ContactConflict", s.ContactSerializer), **ERRORS},
)
@api_endpoint(["GET", "PATCH"])
def contact(request: Request, pk: int) -> Response:
    if request.method == "GET":
        return _contact_out(request, _contact(request.user, pk).pk)
    record = _contact(request.user, pk, write=True)
    data = _validated(s.ContactUpdateSerializer, request, partial=True)
    version = data.pop("version", None)
    if version is None:
        raise ValidationError({"version": [_("Send the version you read.")]})
    if (custom := _custom(data, Contact, request.user, record.custom or {})) is not None:
        data["custom"] = custom
    tags = data.pop("tags", None)
    try:
        contact_services.contact_update(
            actor=request.user,
            contact=record,
            version=version,
            tag_names=tags,
            keep_invalid_phone=data.pop("keep_invalid_phone", False),
            **data,
        )
    except VersionConflict as exc:
        return _conflict(exc, Contact.objects.prefetch_related("tags").get(pk=record.pk), s.ContactSerializer, request)
    return _contact_out(request, record.pk)


@extend_schema(summary="Archive a contact", request=None, responses={200: s.ContactSerializer, **ERRORS})
@api_endpoint(["POST"])
def contact_archive(request: Request, pk: int) -> Response:
    record = _contact(request.user, pk, write=True)
    contact_services.contact_archive(actor=request.user, contact=record)
    return _contact_out(request, record.pk)


@extend_schema(summary="Restore an archived contact", request=None, responses={200: s.ContactSerializer, **ERRORS})
@api_endpoint(["POST"])
def contact_restore(request: Request, pk: int) -> Response:
    record = _contact(request.user, pk, write=True)
    contact_services.contact_restore(actor=request.user, contact=record)
    return _contact_out(request, record.pk)


# --- Deals --------------------------------------------------------------------------------


def _deal_out(request: Request, pk: int, *, code: int = 200) -> Response:
    deal = Deal.objects.select_related("stage").prefetch_related("contacts").get(pk=pk)
    return Response(s.DealSerializer(deal).data, status=code)


def _deal_fields(data: dict[str, Any]) -> dict[str, Any]:
    """Serializer output as ``deal_update``'s fields: a probability sent is a manual one."""
    if "probability" in data:
        probability = data.pop("probability")
        data["probability_is_manual"] = probability is not None
        if probability is not None:
            data["probability"] = probability
    return data


@extend_schema(
    methods=["GET"],
    summary="List deals",
    operation_id="deals_list",
    parameters=[
        *LIST_PARAMS,
        OpenApiParameter("company", int),
        OpenApiParameter("pipeline", int),
        OpenApiParameter("stage", int),
        OpenApiParameter("status", str, enum=DealStatus.values),
    ],
    responses={200: _page_serializer("DealPage", s.DealSerializer), **ERRORS},
)
@extend_schema(
    methods=["POST"],
    summary="Create a deal",
    request=s.DealWriteSerializer,
    responses={201: s.DealSerializer, **ERRORS},
)
@api_endpoint(["GET", "POST"])
def deals(request: Request) -> Response:
    user = request.user
    if request.method == "GET":
        qs = s.with_contact_ids(Deal.objects.visible_to(user).select_related("stage"))
        qs = _filter_custom(request, _filter_common(request, qs, id_filters=("company", "pipeline", "stage")), Deal)
        if deal_status := _param_choice(request, "status", DealStatus.values):
            qs = qs.filter(status=deal_status)
        if q := _param_text(request, "q"):
            qs = qs.filter(title__icontains=q)
        return Response(keyset_page(request, qs, serializer_class=s.DealSerializer))
    data = _deal_fields(_validated(s.DealWriteSerializer, request))
    data["custom"] = _custom(data, Deal, user, None)
    pipeline = data.pop("pipeline", None) or (
        Pipeline.objects.filter(is_default=True).first() or Pipeline.objects.order_by("position", "pk").first()
    )
    if pipeline is None:
        raise ValidationError({"pipeline": [_("No pipeline exists; an admin can add one.")]})
    stage = data.pop("stage", None) or (
        Stage.objects.filter(pipeline=pipeline, is_won=False, is_lost=False).order_by("position", "pk").first()
    )
    if stage is None:
        raise ValidationError({"stage": [_("The pipeline has no open stage.")]})
    contacts_ = data.pop("contacts", [])
    deal = Deal(owner=data.pop("owner", user), pipeline=pipeline, stage=stage, **data)
    if not deal.probability_is_manual:
        deal.probability = stage.probability
    deal = deal_services.deal_create(deal=deal, actor=user, contacts=contacts_)
    return _deal_out(request, deal.pk, code=status.HTTP_201_CREATED)


@extend_schema(methods=["GET"], summary="Get a deal", responses={200: s.DealSerializer, **ERRORS})
@extend_schema(
    methods=["PATCH"],
    summary="Change a deal",
    request=s.DealUpdateSerializer,
    responses={200: s.DealSerializer, 409: _conflict_serializer("DealConflict", s.DealSerializer), **ERRORS},
)
@api_endpoint(["GET", "PATCH"])
def deal(request: Request, pk: int) -> Response:
    if request.method == "GET":
        return _deal_out(request, deal_for_user(request.user, _pk(pk)).pk)
    record = deal_for_user(request.user, _pk(pk), write=True)
    data = _deal_fields(_validated(s.DealUpdateSerializer, request, partial=True))
    version = data.pop("version", None)
    if version is None:
        raise ValidationError({"version": [_("Send the version you read.")]})
    if (custom := _custom(data, Deal, request.user, record.custom or {})) is not None:
        data["custom"] = custom
    try:
        deal_services.deal_update(deal=record, actor=request.user, version=version, data=data)
    except VersionConflict as exc:
        return _conflict(exc, _current_deal(record.pk), s.DealSerializer, request)
    return _deal_out(request, record.pk)


def _current_deal(pk: int) -> Deal:
    return Deal.objects.select_related("stage").prefetch_related("contacts").get(pk=pk)


@extend_schema(
    summary="Move a deal to a stage (won and lost stages close it; lost needs lost_reason)",
    request=s.DealMoveSerializer,
    responses={200: s.DealSerializer, 409: _conflict_serializer("DealMoveConflict", s.DealSerializer), **ERRORS},
)
@api_endpoint(["POST"])
def deal_move(request: Request, pk: int) -> Response:
    record = deal_for_user(request.user, _pk(pk), write=True)
    data = _validated(s.DealMoveSerializer, request)
    try:
        # The version is compared with the locked row inside the service (as the UI's
        # expected stage is), not with the copy read here: a move committed in between is a 409.
        deal_services.deal_move_stage(
            deal=record,
            stage=data["stage"],
            actor=request.user,
            lost_reason=data.get("lost_reason"),
            lost_note=data.get("lost_note", ""),
            version=data.get("version"),
        )
    except VersionConflict as exc:
        return _conflict(exc, _current_deal(record.pk), s.DealSerializer, request)
    return _deal_out(request, record.pk)


# --- Activities and notes -----------------------------------------------------------------


def _activity_out(request: Request, pk: int, *, code: int = 200) -> Response:
    return Response(s.ActivitySerializer(Activity.objects.select_related("type").get(pk=pk)).data, status=code)


def _activity(user: User, pk: int, *, write: bool = False, note: bool = False) -> Activity:
    record = activity_for_user(user, _pk(pk), write=write)
    if note and record.type.key != NOTE_TYPE:
        raise NotFound(_("Not found."))
    return record


def _check_times(data: dict[str, Any], record: Activity | None = None) -> None:
    due = data.get("due_at", record.due_at if record else None)
    ends = data.get("ends_at", record.ends_at if record else None)
    if ends is not None and (due is None or ends < due):
        raise ValidationError({"ends_at": [_("The end must be after the start (due_at).")]})


def _activity_list(request: Request, *, note: bool) -> Response:
    qs = Activity.objects.visible_to(request.user).select_related("type")
    qs = _filter_common(request, qs, id_filters=("company", "contact", "deal"))
    if note:
        qs = qs.filter(type__key=NOTE_TYPE)
    elif kind := _param_text(request, "type", 50):
        qs = qs.filter(type__key=kind)
    done = _param_choice(request, "done", ["true", "false"])
    if done is not None:
        qs = qs.filter(done_at__isnull=done == "false")
    if q := _param_text(request, "q"):
        qs = qs.filter(subject__icontains=q)
    return Response(keyset_page(request, qs, serializer_class=s.ActivitySerializer))


ACTIVITY_LIST_PARAMS = [
    *LIST_PARAMS,
    OpenApiParameter("company", int),
    OpenApiParameter("contact", int),
    OpenApiParameter("deal", int),
    OpenApiParameter("done", str, enum=["true", "false"]),
]


@extend_schema(
    methods=["GET"],
    summary="List activities",
    operation_id="activities_list",
    parameters=[*ACTIVITY_LIST_PARAMS, OpenApiParameter("type", str, description="An activity type key, e.g. call.")],
    responses={200: _page_serializer("ActivityPage", s.ActivitySerializer), **ERRORS},
)
@extend_schema(
    methods=["POST"],
    summary="Log or plan an activity",
    request=s.ActivityWriteSerializer,
    responses={201: s.ActivitySerializer, **ERRORS},
)
@api_endpoint(["GET", "POST"])
def activities(request: Request) -> Response:
    if request.method == "GET":
        return _activity_list(request, note=False)
    data = _validated(s.ActivityWriteSerializer, request)
    _check_times(data)
    record = activity_services.activity_create(actor=request.user, **data)
    return _activity_out(request, record.pk, code=status.HTTP_201_CREATED)


def _activity_patch(request: Request, record: Activity, serializer_class: type) -> Response:
    data = _validated(serializer_class, request, partial=True)
    version = data.pop("version", None)
    if version is None:
        raise ValidationError({"version": [_("Send the version you read.")]})
    done = data.pop("done", None)
    _check_times(data, record)
    try:
        updated = activity_services.activity_update(activity=record, actor=request.user, version=version, **data)
    except VersionConflict as exc:
        current = Activity.objects.select_related("type").get(pk=record.pk)
        return _conflict(exc, current, s.ActivitySerializer, request)
    if done is not None and done != (updated.done_at is not None):
        activity_services.activity_set_done(activity=updated, actor=request.user, done=done)
    return _activity_out(request, record.pk)


@extend_schema(methods=["GET"], summary="Get an activity", responses={200: s.ActivitySerializer, **ERRORS})
@extend_schema(
    methods=["PATCH"],
    summary="Change an activity (done: true completes it)",
    request=s.ActivityUpdateSerializer,
    responses={
        200: s.ActivitySerializer,
        409: _conflict_serializer("ActivityConflict", s.ActivitySerializer),
        **ERRORS,
    },
)
@extend_schema(methods=["DELETE"], summary="Delete an activity (as the UI does)", responses={204: None, **ERRORS})
@api_endpoint(["GET", "PATCH", "DELETE"])
def activity(request: Request, pk: int) -> Response:
    if request.method == "GET":
        return _activity_out(request, _activity(request.user, pk).pk)
    record = _activity(request.user, pk, write=True)
    if request.method == "DELETE":
        activity_services.activity_delete(activity=record, actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)
    return _activity_patch(request, record, s.ActivityUpdateSerializer)


@extend_schema(
    methods=["GET"],
    summary="List notes",
    operation_id="notes_list",
    parameters=ACTIVITY_LIST_PARAMS,
    responses={200: _page_serializer("NotePage", s.ActivitySerializer), **ERRORS},
)
@extend_schema(
    methods=["POST"],
    summary="Add a note",
    request=s.NoteWriteSerializer,
    responses={201: s.ActivitySerializer, **ERRORS},
)
@api_endpoint(["GET", "POST"])
def notes(request: Request) -> Response:
    if request.method == "GET":
        return _activity_list(request, note=True)
    data = _validated(s.NoteWriteSerializer, request)
    note_type = s.ActivityType.objects.get(key=NOTE_TYPE)
    record = activity_services.activity_create(actor=request.user, type=note_type, done=True, **data)
    return _activity_out(request, record.pk, code=status.HTTP_201_CREATED)


@extend_schema(methods=["GET"], summary="Get a note", responses={200: s.ActivitySerializer, **ERRORS})
@extend_schema(
    methods=["PATCH"],
    summary="Change a note",
    request=s.NoteUpdateSerializer,
    responses={200: s.ActivitySerializer, 409: _conflict_serializer("NoteConflict", s.ActivitySerializer), **ERRORS},
)
@extend_schema(methods=["DELETE"], summary="Delete a note", responses={204: None, **ERRORS})
@api_endpoint(["GET", "PATCH", "DELETE"])
def note(request: Request, pk: int) -> Response:
    if request.method == "GET":
        return _activity_out(request, _activity(request.user, pk, note=True).pk)
    record = _activity(request.user, pk, write=True, note=True)
    if request.method == "DELETE":
        activity_services.activity_delete(activity=record, actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)
    return _activity_patch(request, record, s.NoteUpdateSerializer)


# --- Inbound business events ----------------------------------------------------------------


@extend_schema(
    summary='Send business events (one, or a batch of up to 1,000 as {"events": [...]})',
    description=(
        "Idempotent by (source, external_id): an event sent again answers with the same id and "
        '"status": "duplicate". A batch answers 200 with one result per event, in order; an '
        "invalid event is reported and not stored, the others are."
    ),
    request=s.EventBatchSerializer,
    responses={
        200: inline_serializer("EventBatchResult", {"results": s.EventResultSerializer(many=True)}),
        201: s.EventResultSerializer,
        **ERRORS,
    },
)
@api_endpoint(["POST"])
def events(request: Request) -> Response:
    body = request.data
    single = isinstance(body, dict) and "events" not in body
    if single:
        items = [body]
    else:
        batch = _validated(s.EventBatchSerializer, request)
        items = batch["events"]
        if not items:
            raise ValidationError({"events": [_("Send at least one event.")]})
    context = {"request": request, "event_types": set(EventType.objects.values_list("key", flat=True))}
    validated: list[dict[str, Any]] = []
    invalid: dict[int, dict] = {}
    # One serializer validates every item: building its fields (a deep copy of each declared
    # field, the nested customer's too) per item took most of a 500-event batch's time.
    serializer = s.EventInSerializer(context=context)
    for index, item in enumerate(items):
        try:
            validated.append(dict(serializer.run_validation(item)))
        except ValidationError as exc:
            invalid[index] = as_serializer_error(exc)
            validated.append({})
    if single and invalid:
        raise ValidationError(invalid[0])
    results = events_ingest(user=request.user, items=validated, invalid=invalid)
    if single:
        result = results[0]
        code = status.HTTP_201_CREATED if result.status == "created" else status.HTTP_200_OK
        return Response(result.as_dict(), status=code)
    return Response({"results": [r.as_dict() for r in results]})


# --- Email capture --------------------------------------------------------------------------


@extend_schema(
    summary="Capture an email (a raw RFC 822 message, for an inbound-mail webhook)",
    description=(
        "The body is the message itself (Content-Type: message/rfc822, application/octet-stream "
        "or text/plain), up to EMAIL_CAPTURE_MAX_BYTES. The capturing user is the owner of the "
        "capture address among ?recipient= (the envelope recipient; repeatable), Delivered-To, "
        "X-Original-To, To, Cc and Bcc: an admin's token delivers for everyone, another token "
        "only to its own address (or, with no capture address in the message, for itself). "
        "Idempotent by Message-ID: the same message again answers 200 with the same id and "
        '"status": "duplicate". Errors: message_too_large (413), not_rfc822, no_capture_address '
        "(400), unknown_capture_address (404), capture_user_inactive (403)."
    ),
    parameters=[OpenApiParameter("recipient", OpenApiTypes.STR, many=True, required=False)],
    request={
        "message/rfc822": OpenApiTypes.BINARY,
        "application/octet-stream": OpenApiTypes.BINARY,
        "text/plain": OpenApiTypes.BINARY,
    },
    responses={200: s.EmailCaptureResultSerializer, 201: s.EmailCaptureResultSerializer, **ERRORS},
)
@api_endpoint(["POST"])
@parser_classes([RawEmailParser, OctetStreamEmailParser, TextEmailParser])
def email_inbound(request: Request) -> Response:
    recipients = []
    for raw in request.query_params.getlist("recipient")[:10]:
        if "\x00" in raw or len(raw) > 320:
            raise ValidationError({"recipient": [_("Not an email address.")]})
        recipients.append(raw.strip())
    body = request.data
    if not isinstance(body, bytes):  # DRF skips the parser for an empty body
        body = b""
    try:
        result = email_capture(raw=body, envelope_recipients=recipients, api_user=request.user)
    except CaptureError as exc:
        return Response(exc.as_dict(), status=exc.status)
    code = status.HTTP_201_CREATED if result.status == "created" else status.HTTP_200_OK
    return Response(result.as_dict(), status=code)
