"""What the API reads and writes. Input serializers are strict: an unknown field, a wrong
type, a NUL byte or an id out of range is a 400 naming the field; ids of related records
resolve only to records the token's user may see (anything else reads as "no such record")."""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable
from typing import Any, ClassVar

from django.contrib.postgres.expressions import ArraySubquery
from django.core.exceptions import ImproperlyConfigured
from django.db.models import Manager, OuterRef, QuerySet
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django_countries import countries
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers
from rest_framework.settings import api_settings

from activities.forms import assignable_users
from activities.models import Activity, ActivityType
from contacts.models import Company, CompanySize, Contact, LifecycleStage, Source
from crm import custom_fields
from crm.models import User, users_visible_to
from crm.params import MAX_ID
from deals.models import Deal, LostReason, Pipeline, Stage

# --- Building blocks ----------------------------------------------------------------------


class StrictSerializer(serializers.Serializer):
    """Refuses fields it does not know (a typo must not be silently ignored)."""

    def to_internal_value(self, data: Any) -> Any:
        if not isinstance(data, dict):
            raise serializers.ValidationError({"non_field_errors": [_("Send a JSON object.")]})
        unknown = sorted(set(data) - {name for name, field in self.fields.items() if not field.read_only})
        if unknown:
            raise serializers.ValidationError({name: [_("Unknown field.")] for name in unknown})
        return super().to_internal_value(data)


CUSTOM_HELP = gettext_lazy(
    'Custom fields by key (see Settings → Custom fields): text, numbers, "YYYY-MM-DD" dates, true/false, '
    "a choice, a list of choices, a user id or username, a URL; null clears a value."
)


class CustomValuesField(serializers.DictField):
    """The ``custom`` object of a write: keys and raw values, validated against the definitions
    by ``crm.custom_fields.clean_values`` (in the view, which knows the record)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(required=False, help_text=CUSTOM_HELP, **kwargs)


class CustomFieldsMixin(serializers.Serializer):
    """The ``custom`` object of a read: every active custom field of the model, null when empty."""

    custom = serializers.SerializerMethodField(help_text=CUSTOM_HELP)

    @extend_schema_field(serializers.DictField())
    def get_custom(self, obj: Any) -> dict[str, Any]:
        stored = obj.custom or {}
        return {defn.key: stored.get(defn.key) for defn in custom_fields.fields_for(obj)}


class RecordField(serializers.IntegerField):
    """An id of a record the request's user may see, returned as the record."""

    default_error_messages = {
        **serializers.IntegerField.default_error_messages,
        "missing": gettext_lazy("No such record (or not visible to you)."),
    }

    def __init__(self, *, queryset_for: Callable[[User], QuerySet], **kwargs: Any) -> None:
        self.queryset_for = queryset_for
        super().__init__(**kwargs)

    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, bool) or not isinstance(data, int | str):
            self.fail("invalid")
        pk = super().to_internal_value(data)
        if not 1 <= pk <= MAX_ID:
            self.fail("missing")
        record = self.queryset_for(self.context["request"].user).filter(pk=pk).first()
        if record is None:
            self.fail("missing")
        return record

    def to_representation(self, value: Any) -> Any:
        return getattr(value, "pk", value)


def _text(max_length: int, **kwargs: Any) -> serializers.CharField:
    # DRF's CharField refuses NUL characters (ProhibitNullCharactersValidator).
    return serializers.CharField(max_length=max_length, required=False, allow_blank=True, **kwargs)


def _choice(choices: Any, **kwargs: Any) -> serializers.ChoiceField:
    return serializers.ChoiceField(choices=choices, required=False, **kwargs)


COUNTRY_CODES = [code for code, _name in countries]
VERSION_HELP = gettext_lazy("The version you read; a stale one is answered 409 with the current record.")
FORCE_HELP = gettext_lazy("Create even when likely duplicates exist (otherwise they are answered 409).")


def _version_field(required: bool) -> serializers.IntegerField:
    return serializers.IntegerField(min_value=1, max_value=2**31 - 1, required=required, help_text=VERSION_HELP)


class TagsField(serializers.ListField):
    child = serializers.CharField(max_length=60)

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(max_length=50, required=False, **kwargs)


def _owners(user: User) -> QuerySet:
    return users_visible_to(user)


# --- Reading lists ------------------------------------------------------------------------

# DRF fields whose ``to_representation`` gives back a model field's own value as read from the
# database (``str``/``int``/``bool`` as they are; a choice's stored value): read as attributes.
_AS_STORED = (
    serializers.CharField.to_representation,
    serializers.IntegerField.to_representation,
    serializers.BooleanField.to_representation,
    serializers.ChoiceField.to_representation,
)
# Fields that read nothing but their value and their own options (no context, no parent): kept
# once per serializer class, unbound from the request that built them.
_CONTEXT_FREE = (
    serializers.CharField,
    serializers.IntegerField,
    serializers.BooleanField,
    serializers.ChoiceField,
    serializers.DateTimeField,
    serializers.DateField,
    serializers.DecimalField,
)
_ATTRIBUTE, _METHOD, _FIELD = range(3)


def _stored_as_is(field: serializers.Field) -> bool:
    to_representation = type(field).to_representation
    if to_representation is serializers.BigIntegerField.to_representation:
        return not getattr(field, "coerce_to_string", api_settings.COERCE_BIGINT_TO_STRING)
    return to_representation in _AS_STORED


def _read_step(model: Any, field: serializers.Field) -> tuple[str, int, Any]:
    """How a list reads one field of each record: an attribute, the serializer's method, or
    the DRF field itself (``get_attribute``, then ``to_representation`` unless ``None``)."""
    name = field.field_name
    if isinstance(field, serializers.SerializerMethodField):
        return name, _METHOD, field.method_name
    if len(field.source_attrs) == 1:
        model_field = next((f for f in model._meta.concrete_fields if f.name == field.source), None)
        if model_field is not None:
            if model_field.is_relation:
                if isinstance(field, serializers.PrimaryKeyRelatedField) and field.pk_field is None:
                    return name, _ATTRIBUTE, model_field.attname  # what use_pk_only_optimization reads
            elif _stored_as_is(field):
                return name, _ATTRIBUTE, model_field.attname
    if isinstance(field, _CONTEXT_FREE) and not isinstance(field, serializers.RelatedField):
        unbound = copy.deepcopy(field)  # DRF re-creates a field from its arguments, unbound
        unbound.bind(name, serializers.Serializer())
        return name, _FIELD, unbound
    raise ImproperlyConfigured(f"{type(field).__name__} {name!r}: ReadListSerializer cannot read it")


class ReadListSerializer(serializers.ListSerializer):
    """``many=True`` for the API's read serializers: the same data as the child serializer's
    own ``to_representation`` of each record, with each field's reading decided once per
    serializer class instead of once per record and field. DRF's generic path (building the
    child's fields per request, then ``get_attribute`` and ``to_representation`` through each
    field per record) was most of a 50-contact page's CPU time."""

    _plans: ClassVar[dict[type, tuple[tuple[str, int, Any], ...]]] = {}

    def _plan(self) -> tuple[tuple[str, int, Any], ...]:
        child = self.child
        plan = self._plans.get(type(child))
        if plan is None:
            model = child.Meta.model
            plan = self._plans[type(child)] = tuple(_read_step(model, field) for field in child._readable_fields)
        return plan

    def to_representation(self, data: Iterable[Any]) -> list[dict[str, Any]]:
        rows = data.all() if isinstance(data, Manager) else data
        steps = [(name, kind, getattr(self.child, how) if kind == _METHOD else how) for name, kind, how in self._plan()]
        out = []
        for instance in rows:
            item: dict[str, Any] = {}
            for name, kind, how in steps:
                if kind == _ATTRIBUTE:
                    item[name] = getattr(instance, how)
                elif kind == _METHOD:
                    item[name] = how(instance)
                else:
                    try:
                        value = how.get_attribute(instance)
                    except serializers.SkipField:
                        continue
                    item[name] = None if value is None else how.to_representation(value)
            out.append(item)
        return out


# --- Errors (for the schema) --------------------------------------------------------------


class ErrorSerializer(serializers.Serializer):
    error = serializers.CharField(help_text=gettext_lazy("A machine-readable code, e.g. invalid, not_found."))
    detail = serializers.JSONField()
    fields = serializers.DictField(child=serializers.ListField(child=serializers.CharField()), required=False)


class FieldChangeSerializer(serializers.Serializer):
    field = serializers.CharField()
    label = serializers.CharField()
    yours = serializers.CharField()
    theirs = serializers.CharField()


class CandidateSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    reasons = serializers.ListField(child=serializers.CharField())
    score = serializers.IntegerField()


class DuplicateErrorSerializer(ErrorSerializer):
    candidates = CandidateSerializer(many=True)


# --- Companies ----------------------------------------------------------------------------


class CompanySerializer(CustomFieldsMixin, serializers.ModelSerializer):
    country = serializers.SerializerMethodField()
    tags = serializers.SerializerMethodField()

    class Meta:
        model = Company
        list_serializer_class = ReadListSerializer
        fields = [
            "id",
            "name",
            "domain",
            "industry",
            "size",
            "phone",
            "phone_is_invalid",
            "email",
            "street",
            "city",
            "postal_code",
            "region",
            "country",
            "owner",
            "lifecycle_stage",
            "source",
            "tags",
            "external_id",
            "completeness",
            "created_at",
            "updated_at",
            "archived_at",
            "version",
            "custom",
        ]
        read_only_fields = fields

    def get_country(self, obj: Company) -> str:
        return obj.country.code or ""

    @extend_schema_field(serializers.ListField(child=serializers.CharField()))
    def get_tags(self, obj: Company | Contact) -> list[str]:
        names = getattr(obj, "tag_names", None)  # the lists' annotation (with_tag_names)
        return sorted(tag.name for tag in obj.tags.all()) if names is None else sorted(names)


def with_tag_names(qs: QuerySet) -> QuerySet:
    """Companies or contacts with ``tag_names``, their tags' names in one array column: what
    ``get_tags`` reads on a list page instead of a tag prefetch (a related manager and a
    ``Tag`` instance per record and tag)."""
    through = qs.model.tags.through
    linked = through.objects.filter(**{qs.model._meta.model_name: OuterRef("pk")}).values("tag__name")
    return qs.annotate(tag_names=ArraySubquery(linked))


class CompanyWriteSerializer(StrictSerializer):
    name = serializers.CharField(max_length=200)
    domain = _text(253)
    industry = _text(100)
    size = _choice(CompanySize.choices, allow_blank=True)
    phone = _text(40)
    email = serializers.EmailField(required=False, allow_blank=True)
    street = _text(200)
    city = _text(100)
    postal_code = _text(20)
    region = _text(100)
    country = _choice(COUNTRY_CODES, allow_blank=True)
    owner = RecordField(queryset_for=_owners, required=False)
    lifecycle_stage = _choice(LifecycleStage.choices)
    source = _choice(Source.choices, allow_blank=True)
    tags = TagsField()
    external_id = _text(100)
    keep_invalid_phone = serializers.BooleanField(required=False)
    custom = CustomValuesField()


class CompanyCreateSerializer(CompanyWriteSerializer):
    force = serializers.BooleanField(required=False, help_text=FORCE_HELP)


class CompanyUpdateSerializer(CompanyWriteSerializer):
    version = _version_field(required=True)


# --- Contacts -----------------------------------------------------------------------------


class ContactSerializer(CompanySerializer):
    class Meta:
        model = Contact
        list_serializer_class = ReadListSerializer
        fields = [
            "id",
            "first_name",
            "last_name",
            "title",
            "email",
            "secondary_email",
            "phone",
            "mobile",
            "phone_is_invalid",
            "company",
            "owner",
            "lifecycle_stage",
            "source",
            "street",
            "street2",
            "city",
            "region",
            "postcode",
            "country",
            "birth_date",
            "do_not_call",
            "do_not_email",
            "tags",
            "external_id",
            "completeness",
            "created_at",
            "updated_at",
            "archived_at",
            "version",
            "custom",
        ]
        read_only_fields = fields


class ContactWriteSerializer(StrictSerializer):
    first_name = _text(100)
    last_name = serializers.CharField(max_length=100)
    title = _text(120)
    email = serializers.EmailField(required=False, allow_blank=True)
    secondary_email = serializers.EmailField(required=False, allow_blank=True)
    phone = _text(40)
    mobile = _text(40)
    company = RecordField(queryset_for=lambda user: Company.objects.visible_to(user).active(), required=False)
    owner = RecordField(queryset_for=_owners, required=False)
    lifecycle_stage = _choice(LifecycleStage.choices)
    source = _choice(Source.choices, allow_blank=True)
    street = _text(200)
    street2 = _text(200)
    city = _text(100)
    region = _text(100)
    postcode = _text(20)
    country = _choice(COUNTRY_CODES, allow_blank=True)
    birth_date = serializers.DateField(required=False, allow_null=True)
    do_not_call = serializers.BooleanField(required=False)
    do_not_email = serializers.BooleanField(required=False)
    tags = TagsField()
    external_id = _text(100)
    keep_invalid_phone = serializers.BooleanField(required=False)
    custom = CustomValuesField()


class ContactCreateSerializer(ContactWriteSerializer):
    force = serializers.BooleanField(required=False, help_text=FORCE_HELP)


class ContactUpdateSerializer(ContactWriteSerializer):
    version = _version_field(required=True)


# --- Deals --------------------------------------------------------------------------------


class DealSerializer(CustomFieldsMixin, serializers.ModelSerializer):
    contacts = serializers.SerializerMethodField()
    stage_name = serializers.CharField(source="stage.name", read_only=True)

    class Meta:
        model = Deal
        list_serializer_class = ReadListSerializer
        fields = [
            "id",
            "title",
            "company",
            "contacts",
            "owner",
            "pipeline",
            "stage",
            "stage_name",
            "status",
            "amount",
            "currency",
            "probability",
            "probability_is_manual",
            "expected_close_date",
            "source",
            "lost_reason",
            "lost_note",
            "closed_at",
            "created_at",
            "updated_at",
            "version",
            "custom",
        ]
        read_only_fields = fields

    @extend_schema_field(serializers.ListField(child=serializers.IntegerField()))
    def get_contacts(self, obj: Deal) -> list[int]:
        ids = getattr(obj, "contact_ids", None)  # the list's annotation (with_contact_ids)
        return sorted(contact.pk for contact in obj.contacts.all()) if ids is None else sorted(ids)


def with_contact_ids(qs: QuerySet) -> QuerySet:
    """Deals with ``contact_ids``, their contacts' ids in one array column (``get_contacts``
    on a list page; ``with_tag_names``' reasons)."""
    linked = Deal.contacts.through.objects.filter(deal=OuterRef("pk")).values("contact_id")
    return qs.annotate(contact_ids=ArraySubquery(linked))


def _visible_contacts(user: User) -> QuerySet:
    return Contact.objects.visible_to(user)


class DealWriteSerializer(StrictSerializer):
    title = serializers.CharField(max_length=200)
    company = RecordField(queryset_for=lambda user: Company.objects.visible_to(user), required=False, allow_null=True)
    contacts = serializers.ListField(child=RecordField(queryset_for=_visible_contacts), max_length=100, required=False)
    owner = RecordField(queryset_for=_owners, required=False)
    pipeline = RecordField(queryset_for=lambda user: Pipeline.objects.all(), required=False)
    stage = RecordField(queryset_for=lambda user: Stage.objects.all(), required=False)
    amount = serializers.DecimalField(max_digits=14, decimal_places=2, min_value=0, required=False)
    currency = serializers.RegexField(r"^[A-Z]{3}$", required=False)
    probability = serializers.IntegerField(
        min_value=0,
        max_value=100,
        required=False,
        allow_null=True,
        help_text=gettext_lazy("Set by hand; null goes back to the stage's probability."),
    )
    expected_close_date = serializers.DateField(required=False, allow_null=True)
    source = _choice(Source.choices, allow_blank=True)
    lost_reason = RecordField(queryset_for=lambda user: LostReason.objects.all(), required=False, allow_null=True)
    lost_note = _text(2000)
    custom = CustomValuesField()


class DealUpdateSerializer(DealWriteSerializer):
    version = _version_field(required=True)


class DealMoveSerializer(StrictSerializer):
    stage = RecordField(queryset_for=lambda user: Stage.objects.all())
    lost_reason = RecordField(queryset_for=lambda user: LostReason.objects.all(), required=False, allow_null=True)
    lost_note = _text(2000)
    version = _version_field(required=False)


# --- Activities and notes -----------------------------------------------------------------


class ActivitySerializer(serializers.ModelSerializer):
    type = serializers.CharField(source="type.key", read_only=True)
    done = serializers.SerializerMethodField()

    class Meta:
        model = Activity
        list_serializer_class = ReadListSerializer
        fields = [
            "id",
            "type",
            "subject",
            "body",
            "owner",
            "company",
            "contact",
            "deal",
            "due_at",
            "ends_at",
            "duration_minutes",
            "outcome",
            "done",
            "done_at",
            "created_at",
            "updated_at",
            "version",
        ]
        read_only_fields = fields

    def get_done(self, obj: Activity) -> bool:
        return obj.done_at is not None


def _activity_types(user: User) -> QuerySet:
    return ActivityType.objects.filter(active=True)


class ActivityTypeField(serializers.SlugRelatedField):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(slug_field="key", queryset=ActivityType.objects.filter(active=True), **kwargs)

    def to_internal_value(self, data: Any) -> Any:
        if not isinstance(data, str) or len(data) > 50:
            self.fail("invalid")
        return super().to_internal_value(data)


class _LinksMixin(StrictSerializer):
    company = RecordField(queryset_for=lambda user: Company.objects.visible_to(user), required=False, allow_null=True)
    contact = RecordField(queryset_for=lambda user: Contact.objects.visible_to(user), required=False, allow_null=True)
    deal = RecordField(queryset_for=lambda user: Deal.objects.visible_to(user), required=False, allow_null=True)


class ActivityWriteSerializer(_LinksMixin):
    type = ActivityTypeField(required=True)
    subject = serializers.CharField(max_length=200)
    body = _text(20000)
    owner = RecordField(queryset_for=assignable_users, required=False)
    due_at = serializers.DateTimeField(required=False, allow_null=True)
    ends_at = serializers.DateTimeField(required=False, allow_null=True)
    duration_minutes = serializers.IntegerField(min_value=0, max_value=100_000, required=False, allow_null=True)
    outcome = _text(200)
    done = serializers.BooleanField(required=False)


class ActivityUpdateSerializer(ActivityWriteSerializer):
    version = _version_field(required=True)


class NoteWriteSerializer(_LinksMixin):
    subject = serializers.CharField(max_length=200)
    body = _text(20000)


class NoteUpdateSerializer(NoteWriteSerializer):
    version = _version_field(required=True)


# --- Business events ----------------------------------------------------------------------


class CustomerRefSerializer(StrictSerializer):
    id = serializers.IntegerField(min_value=1, max_value=MAX_ID, required=False, help_text="A company id.")
    domain = serializers.CharField(max_length=253, required=False)
    email = serializers.EmailField(required=False)
    external_ref = serializers.CharField(max_length=100, required=False)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if not attrs:
            raise serializers.ValidationError(_("Name the customer by id, domain, email or external_ref."))
        return attrs


class EventInSerializer(StrictSerializer):
    source = serializers.RegexField(r"^[A-Za-z0-9_.:-]{1,40}$", help_text="The sending system, e.g. erp.")
    external_id = serializers.CharField(max_length=200)
    type = serializers.CharField(max_length=50, help_text="An event type key defined by an admin.")
    occurred_at = serializers.DateTimeField()
    customer = CustomerRefSerializer()
    title = serializers.CharField(max_length=300)
    amount = serializers.DecimalField(max_digits=14, decimal_places=2, required=False, allow_null=True)
    currency = serializers.RegexField(r"^[A-Z]{3}$", required=False)
    data = serializers.DictField(required=False)

    def validate_type(self, value: str) -> str:
        if value not in self.context["event_types"]:
            raise serializers.ValidationError(_("Unknown event type."))
        return value

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if attrs.get("amount") is not None and not attrs.get("currency"):
            raise serializers.ValidationError({"currency": [_("An amount needs its currency.")]})
        return attrs


class EventBatchSerializer(StrictSerializer):
    events = serializers.ListField(child=serializers.DictField(), max_length=1000)


class EventResultSerializer(serializers.Serializer):
    index = serializers.IntegerField()
    status = serializers.ChoiceField(choices=["created", "duplicate", "invalid"])
    id = serializers.IntegerField(required=False)
    matched = serializers.BooleanField(required=False)
    errors = serializers.DictField(required=False)


class EmailCaptureResultSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=["created", "duplicate"])
    id = serializers.IntegerField(help_text=gettext_lazy("The captured email (the same id for a duplicate)."))
    matched = serializers.BooleanField(help_text=gettext_lazy("False: it waits on the Unmatched page."))
    direction = serializers.ChoiceField(choices=["inbound", "outbound"], required=False)
    activities = serializers.ListField(child=serializers.IntegerField(), required=False)
    contacts = serializers.ListField(child=serializers.IntegerField(), required=False)


class CompanyProfitabilitySerializer(serializers.Serializer):
    """One period of a customer's profitability (docs/customer-value.md), in the base currency."""

    period = serializers.CharField(help_text="12m (the last 365 days) or all (all time).")
    currency = serializers.CharField()
    revenue = serializers.DecimalField(max_digits=16, decimal_places=2)
    cost_of_sales = serializers.DecimalField(max_digits=16, decimal_places=2)
    estimated_cost = serializers.DecimalField(
        max_digits=16, decimal_places=2, help_text="Of cost_of_sales: assumed from pipelines' default margins."
    )
    gross_margin = serializers.DecimalField(max_digits=16, decimal_places=2)
    service_minutes = serializers.IntegerField()
    activity_cost = serializers.DecimalField(max_digits=16, decimal_places=2)
    case_cost = serializers.DecimalField(max_digits=16, decimal_places=2)
    external_cost = serializers.DecimalField(max_digits=16, decimal_places=2)
    service_cost = serializers.DecimalField(max_digits=16, decimal_places=2)
    acquisition_cost = serializers.DecimalField(max_digits=16, decimal_places=2)
    profit = serializers.DecimalField(max_digits=16, decimal_places=2)
    profit_rank = serializers.IntegerField(help_text="1 = the most profitable customer (as of the last full run).")
    group = serializers.CharField(help_text="unprofitable_large, profitable_small or empty.")


class CompanyProfitabilityResponseSerializer(serializers.Serializer):
    company = serializers.IntegerField()
    computed_at = serializers.DateTimeField(allow_null=True)
    periods = CompanyProfitabilitySerializer(many=True)
