"""Forms for companies and contacts: they validate and normalise; services write."""

from __future__ import annotations

import functools
import html
from collections.abc import Iterable
from datetime import date
from typing import Any

from django import forms
from django.conf import settings
from django.forms.utils import flatatt
from django.template.defaultfilters import filesizeformat
from django.urls import reverse_lazy
from django.utils.choices import BaseChoiceIterator
from django.utils.safestring import mark_safe
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _
from django_countries import countries
from markupsafe import escape

from contacts.keyset import SortOption
from contacts.merge import default_choices, differing_fields
from contacts.models import (
    Company,
    Contact,
    ImportJob,
    ImportKind,
    LifecycleStage,
    RecordKind,
    Source,
    ValueSegment,
)
from contacts.normalize import (
    BIRTH_DATE_MIN,
    DateTextError,
    birth_date_problem,
    country_code,
    domain_from_website,
    format_phone,
    normalize_email,
    normalize_phone,
    normalize_postcode,
    parse_date_text,
)
from contacts.selectors import BEST_MATCH, COMPANY_SORTS, CONTACT_SORTS, ListFilters
from contacts.services import INVALID_PHONE_MESSAGE, contact_address_defaults
from crm import custom_fields
from crm.custom_fields import CustomFieldsFormMixin
from crm.forms import StrictInputMixin, preload_choices, strict_field
from crm.models import User, teams_visible_to, users_visible_to
from crm.params import id_or_none
from crm.versioning import parse_version


def offer_only_the_chosen_company(form: forms.BaseForm, name: str = "company") -> None:
    """Let a company select render only the chosen company, not every visible one.

    Rendering tens of thousands of <option>s would not scale; the picker above the select
    (``contacts/partials/company_picker.html``, htmx) fills in matches as the user types.
    Validation still runs against the field's full, access-limited queryset.
    """
    field = form.fields[name]
    selected = form.data.get(name) if form.is_bound else form.initial.get(name)
    selected = id_or_none(getattr(selected, "pk", selected))
    choices: list[tuple[Any, str]] = [("", "—")]
    if selected is not None:
        company = field.queryset.filter(pk=selected).only("pk", "name").first()
        if company is not None:
            choices.append((company.pk, company.name))
    field.widget.choices = choices
    field.widget.attrs["class"] = "form-select"


class FastSelect(forms.Select):
    """A <select> rendered in Python: Django's per-option templates take ~0.2 s for the
    250 countries, which would dominate every list and form page. With ``cache_key`` the
    options are built once per language (the country list never changes at run time)."""

    def __init__(self, attrs: dict | None = None, choices: Any = (), cache_key: str = "") -> None:
        super().__init__(attrs, choices)
        self.cache_key = cache_key

    def _options(self) -> str:
        return "".join(
            f'<option value="{html.escape(str(k if k is not None else ""))}">{html.escape(str(label))}</option>'
            for k, label in self.choices
        )

    def render(self, name, value, attrs=None, renderer=None):
        attrs = self.build_attrs(self.attrs, {**(attrs or {}), "name": name})
        if self.cache_key:
            key = (self.cache_key, get_language())
            if key not in _OPTIONS_CACHE:
                _OPTIONS_CACHE[key] = self._options()
            options = _OPTIONS_CACHE[key]
        else:
            options = self._options()
        values = value if isinstance(value, list | tuple) else [value]
        # As Django's Select: no value selects the empty option.
        for selected in {"" if v is None else str(v) for v in values}:
            marker = f'<option value="{html.escape(selected)}">'
            options = options.replace(marker, marker[:-1] + " selected>", 1)
        return mark_safe(f"<select{flatatt(attrs)}>{options}</select>")  # noqa: S308 (every interpolated value is escaped above)


_OPTIONS_CACHE: dict[tuple[str, str | None], str] = {}


def use_fast_select(field: forms.ChoiceField, *, cache_key: str = "") -> None:
    field.widget = FastSelect(attrs=field.widget.attrs, cache_key=cache_key)
    field.widget.choices = field.choices


def _flat_attrs(attrs: dict[str, Any]) -> str:
    """Attributes as ``django/forms/jinja2/django/forms/widgets/attrs.html`` writes them
    (``True``: the bare name; values escaped by MarkupSafe, as Jinja2 does)."""
    return "".join(
        f" {name}" if value is True else f' {name}="{escape(value)}"'
        for name, value in attrs.items()
        if value is not False
    )


class _FastInputMixin:
    """Renders a plain ``<input>`` in Python, with the markup of Django's ``input.html`` as
    the form renderer writes it (``crm.renderers``): the list pages show a dozen of them."""

    def render(self, name, value, attrs=None, renderer=None):
        value = self.format_value(value)
        shown = "" if value is None else f' value="{escape(value)}"'
        attrs = self.build_attrs(self.attrs, attrs)
        return mark_safe(f'<input type="{self.input_type}" name="{escape(name)}"{shown}{_flat_attrs(attrs)}>')  # noqa: S308 (every interpolated value is escaped above)


_FAST_INPUTS = {
    cls: type(f"Fast{cls.__name__}", (_FastInputMixin, cls), {})
    for cls in (forms.TextInput, forms.EmailInput, forms.URLInput, forms.NumberInput, forms.DateInput)
}


def style_plain(form: forms.BaseForm, *, small: bool = False) -> None:
    """Bootstrap classes for forms rendered without crispy (list filters, quick add), whose
    crispy templates would cost more than the rest of a list page; their text, email, number
    and date inputs render in Python (``_FastInputMixin``). ``small``: the ``-sm`` sizes."""
    select, control = (
        ("form-select form-select-sm", "form-control form-control-sm") if small else ("form-select", "form-control")
    )
    for field in form.fields.values():
        widget = field.widget
        if isinstance(widget, forms.CheckboxInput):
            widget.attrs["class"] = "form-check-input"
        elif isinstance(widget, forms.Select):
            widget.attrs["class"] = select
        elif not widget.is_hidden:
            widget.attrs["class"] = control
    use_fast_inputs(form)


def use_fast_inputs(form: forms.BaseForm) -> None:
    """``form``'s text, email, URL, number and date inputs rendered in Python
    (``_FastInputMixin``): the same widgets, without a template each."""
    for field in form.fields.values():
        if type(field.widget) in _FAST_INPUTS:
            field.widget.__class__ = _FAST_INPUTS[type(field.widget)]


TAGS_HELP = _("Separate tags with commas; new tags are created when you save.")
KEEP_PHONE_HELP = _("Save a phone number that does not validate exactly as typed; the record is marked for review.")


def parse_tags(value: str) -> list[str]:
    return [" ".join(part.split()) for part in value.split(",") if part.strip()]


class _CustomerForm(CustomFieldsFormMixin, StrictInputMixin, forms.ModelForm):
    """Shared by both forms: owner choices, tags, email/phone normalisation, custom fields."""

    phone_fields: tuple[str, ...] = ()

    tags = forms.CharField(label=_("Tags"), required=False, max_length=600, help_text=TAGS_HELP)
    keep_phone_as_typed = forms.BooleanField(
        label=_("Keep the phone as typed"), required=False, help_text=KEEP_PHONE_HELP
    )
    # The version the editor loaded: a save on an older one shows what changed instead.
    version = forms.CharField(widget=forms.HiddenInput, required=False)

    def __init__(self, *args: Any, user: User, **kwargs: Any) -> None:
        self.user = user  # before the custom fields are added: a user field offers whom they see
        super().__init__(*args, **kwargs)
        self._read_country_names()
        self.fields["owner"].queryset = users_visible_to(user)
        self.fields["owner"].empty_label = None
        preload_choices(self.fields["owner"], user.visible_users)
        if "owner" in self.fields:
            use_fast_select(self.fields["owner"])
        if "country" in self.fields:
            self.fields["country"].choices = _model_country_choices(get_language(), self.fields["country"].choices)
            use_fast_select(self.fields["country"], cache_key="model-countries")
        if self.instance.pk is None:
            self.fields["owner"].initial = user.pk
        else:
            self.fields["tags"].initial = ", ".join(tag.name for tag in self.instance.tags.all())
            self.fields["keep_phone_as_typed"].initial = self.instance.phone_is_invalid
            self.fields["version"].initial = self.instance.version
        self.fields["tags"].widget.attrs.update(
            {
                "list": "tag-options",
                "autocomplete": "off",
                "hx-get": reverse_lazy("contacts:tag-suggest"),
                "hx-trigger": "input changed delay:250ms",
                "hx-target": "#tag-options",
            }
        )
        for name in self.phone_fields:
            if name in self.fields:
                self.fields[name].help_text = _("Any format; numbers without a country code use the record's country.")

    def _read_country_names(self) -> None:
        """A country posted as a name ("United States", "Россия", "中国") or alpha-3 code is read
        through the import's normaliser into the alpha-2 code the select offers."""
        key = self.add_prefix("country")
        if not self.is_bound or "country" not in self.fields or key not in self.data:
            return
        typed = self.data.get(key, "")
        code = country_code(typed)
        if code and code != typed:
            self.data = self.data.copy()
            self.data[key] = code

    def clean_email(self) -> str:
        return normalize_email(self.cleaned_data.get("email", ""))

    def clean_tags(self) -> list[str]:
        return parse_tags(self.cleaned_data.get("tags", ""))

    def phone_region(self, cleaned: dict[str, Any]) -> str | None:
        country = cleaned.get("country")
        return str(country) if country else None

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        region = self.phone_region(cleaned)
        self.phone_invalid = False
        for name in self.phone_fields:
            if name not in cleaned:
                continue
            result = normalize_phone(cleaned[name], region)
            if result.valid:
                cleaned[name] = result.e164
            elif cleaned.get("keep_phone_as_typed"):
                cleaned[name] = result.e164
                self.phone_invalid = True
            else:
                self.add_error(
                    name, INVALID_PHONE_MESSAGE % {"value": result.e164, "region": region or _("the default region")}
                )
        return cleaned

    @property
    def sections(self) -> list[tuple[str, list[forms.BoundField]]]:
        """The form's fields grouped for display; fields this form lacks are left out."""
        result = []
        for title, names in self.fieldsets:
            fields = [self[name] for name in names if name in self.fields]
            phones = [f for f in fields if f.name in self.phone_fields]
            if phones and self.show_keep_phone:
                fields.insert(fields.index(phones[-1]) + 1, self["keep_phone_as_typed"])
            if fields:
                result.append((title, fields))
        if self.custom_field_names:
            result.append((_("More details"), [self[name] for name in self.custom_field_names]))
        return result

    @property
    def show_keep_phone(self) -> bool:
        """Offer "keep as typed" only once a phone was refused, or for a record already marked."""
        if self.instance.phone_is_invalid:
            return True
        return (
            self.is_bound
            and any(name in self.errors for name in self.phone_fields)
            or bool(self.data.get("keep_phone_as_typed"))
        )

    def service_kwargs(self) -> dict[str, Any]:
        """The cleaned data as keyword arguments of the create/update services."""
        data = {name: self.cleaned_data[name] for name in self._meta.fields}
        data["tag_names"] = self.cleaned_data["tags"]
        data["keep_invalid_phone"] = self.cleaned_data.get("keep_phone_as_typed", False)
        if self.custom_defs:
            data["custom"] = self.custom_values()
        if self.instance.pk:
            data["version"] = parse_version(self.cleaned_data.get("version"))
        return data


class CompanyForm(_CustomerForm):
    custom_model = "contacts.company"
    phone_fields = ("phone",)
    fieldsets = [
        (_("Company"), ["name", "domain", "industry", "size"]),
        (_("Reach"), ["phone", "email"]),
        (_("Address"), ["street", "city", "postal_code", "region", "country"]),
        (_("Sales"), ["lifecycle_stage", "source", "owner", "tags"]),
    ]

    class Meta:
        model = Company
        fields = [
            "name",
            "domain",
            "industry",
            "size",
            "lifecycle_stage",
            "source",
            "owner",
            "phone",
            "email",
            "street",
            "city",
            "postal_code",
            "region",
            "country",
        ]
        labels = {"domain": _("Website or domain")}
        help_texts = {"domain": _("Paste the website address; only the domain (example.com) is kept.")}

    def clean_postal_code(self) -> str:
        return normalize_postcode(self.cleaned_data.get("postal_code", ""))

    def clean_domain(self) -> str:
        try:
            return domain_from_website(self.cleaned_data.get("domain", ""))
        except ValueError:
            raise forms.ValidationError(_("Enter a website or domain such as example.com.")) from None


class BirthDateField(forms.DateField):
    """A birth date typed as ``1980-12-31``, ``31.12.1980`` or an unambiguous ``31/12/1980``
    (the import's parser), from 1900 up to today."""

    widget = forms.DateInput(attrs={"type": "date", "min": BIRTH_DATE_MIN.isoformat()}, format="%Y-%m-%d")

    def to_python(self, value: Any) -> date | None:
        if isinstance(value, date):
            return value
        try:
            return parse_date_text(str(value or ""))
        except DateTextError as exc:
            raise forms.ValidationError(str(exc), code="invalid") from None

    def validate(self, value: date | None) -> None:
        super().validate(value)
        problem = birth_date_problem(value)
        if problem:
            raise forms.ValidationError(problem, code="birth_date")


class ContactForm(_CustomerForm):
    custom_model = "contacts.contact"
    phone_fields = ("phone", "mobile")
    fieldsets = [
        (_("Person"), ["first_name", "last_name", "title", "company", "birth_date"]),
        (_("Reach"), ["email", "secondary_email", "do_not_email", "phone", "mobile", "do_not_call"]),
        (_("Address"), ["street", "street2", "city", "region", "postcode", "country"]),
        (_("Sales"), ["lifecycle_stage", "source", "owner", "tags"]),
    ]

    class Meta:
        model = Contact
        fields = [
            "first_name",
            "last_name",
            "title",
            "company",
            "email",
            "secondary_email",
            "do_not_email",
            "phone",
            "mobile",
            "do_not_call",
            "lifecycle_stage",
            "source",
            "street",
            "street2",
            "city",
            "region",
            "postcode",
            "country",
            "birth_date",
            "owner",
        ]
        field_classes = {"birth_date": BirthDateField}
        labels = {"street2": _("Address line 2"), "region": _("Region / state")}

    def __init__(self, *args: Any, user: User, **kwargs: Any) -> None:
        super().__init__(*args, user=user, **kwargs)
        self.fields["company"].queryset = Company.objects.visible_to(user).active()
        offer_only_the_chosen_company(self)
        if "street" in self.fields and self.instance.pk is None:
            self.fields["street"].help_text = _("Left empty, the address is the company's.")
            self._prefill_address()

    def _prefill_address(self) -> None:
        """A new contact for a company (``?company=``) starts with the company's address."""
        if self.is_bound:
            return
        initial = self.initial.get("company")
        company_id = id_or_none(getattr(initial, "pk", initial))
        if company_id is None:
            return
        company = self.fields["company"].queryset.filter(pk=company_id).first()
        for name, value in contact_address_defaults(company).items():
            if name in self.fields:
                self.initial.setdefault(name, value)

    def clean_secondary_email(self) -> str:
        return normalize_email(self.cleaned_data.get("secondary_email", ""))

    def clean_postcode(self) -> str:
        return normalize_postcode(self.cleaned_data.get("postcode", ""))

    def phone_region(self, cleaned: dict[str, Any]) -> str | None:
        # A local number typed for a contact at a German company is a German number.
        company = cleaned.get("company")
        country = cleaned.get("country") or (company.country if company is not None else None)
        return str(country) if country else None


class CompanyQuickForm(CompanyForm):
    """The few fields of the quick-add row on the companies list."""

    is_quick = True

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        style_plain(self)

    class Meta(CompanyForm.Meta):
        fields = ["name", "domain", "phone", "country", "owner"]


class ContactQuickForm(ContactForm):
    is_quick = True

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        style_plain(self)

    class Meta(ContactForm.Meta):
        fields = ["first_name", "last_name", "email", "phone", "company", "owner"]


# --- List filters -------------------------------------------------------------------------


class _FixedChoices(BaseChoiceIterator):
    """Choices already in normal form: Django normalises a plain list of 250 countries again
    each time a field or widget is given it (~2 ms per list page); an iterator it keeps as is."""

    def __init__(self, choices: list[tuple[str, str]]) -> None:
        self.choices = choices

    def __iter__(self):
        return iter(self.choices)


_MODEL_COUNTRY_CHOICES: dict[str | None, _FixedChoices] = {}


def _model_country_choices(language: str | None, choices: Iterable[tuple[str, Any]]) -> _FixedChoices:
    """The record forms' country choices (``choices``: the model field's, blank first), read
    once per language: each read of Django's lazy choices translates and sorts 250 countries,
    and the select's ``required`` check reads them on every form shown (~0.5 ms per page)."""
    fixed = _MODEL_COUNTRY_CHOICES.get(language)
    if fixed is None:
        fixed = _MODEL_COUNTRY_CHOICES[language] = _FixedChoices([(code, str(name)) for code, name in choices])
    return fixed


@functools.cache
def _country_choices(language: str | None) -> _FixedChoices:
    """The filter's country choices, translated once per language rather than per request."""
    return _FixedChoices([("", str(_("Any country"))), *((code, str(name)) for code, name in countries)])


_ARCHIVED_CHOICES = [("", _("Active")), ("1", _("Archived"))]


class _ListFilterForm(StrictInputMixin, forms.Form):
    """Filters of a list page. Invalid values are dropped, never passed to the ORM."""

    sorts: dict[str, SortOption] = {}
    # A search opens in best-match order (``contacts.selectors.contact_search_tiers``).
    best_match = False

    q = forms.CharField(label=_("Search"), required=False, max_length=100)
    owner = forms.ModelChoiceField(label=_("Owner"), queryset=User.objects.none(), required=False)
    team = forms.ModelChoiceField(label=_("Team"), queryset=User.objects.none(), required=False)
    tag = forms.CharField(label=_("Tag"), required=False, max_length=60)
    stage = forms.ChoiceField(label=_("Stage"), choices=[("", _("Any stage")), *LifecycleStage.choices], required=False)
    country = forms.ChoiceField(label=_("Country"), required=False)
    source = forms.ChoiceField(label=_("Source"), choices=[("", _("Any source")), *Source.choices], required=False)
    created_from = forms.DateField(
        label=_("Created from"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    created_to = forms.DateField(label=_("Created to"), required=False, widget=forms.DateInput(attrs={"type": "date"}))
    archived = forms.ChoiceField(label=_("Status"), choices=_ARCHIVED_CHOICES, required=False)
    missing = forms.ChoiceField(label=_("Missing"), required=False)
    invalid_phone = forms.ChoiceField(
        label=_("Phone"), choices=[("", _("Any phone")), ("1", _("Kept as typed (invalid)"))], required=False
    )
    sort = forms.CharField(required=False)
    missing_choices: list[tuple[str, Any]] = []

    custom_model = ""

    def __init__(self, data: Any, *, user: User, default_sort: str) -> None:
        super().__init__(data)
        self.default_sort = default_sort
        self.custom_filter_names = []
        for name, form_f in custom_fields.filter_form_fields(self.custom_model, user=user).items():
            strict_field(form_f)
            self.fields[name] = form_f
            self.custom_filter_names.append(name)
        # The querysets a submitted owner or team is checked against: built only when one was
        # submitted (~0.5 ms on every list page otherwise); the choices shown are preloaded.
        submitted = data or {}
        if submitted.get("owner"):
            self.fields["owner"].queryset = users_visible_to(user)
        if submitted.get("team"):
            self.fields["team"].queryset = teams_visible_to(user)
        self.fields["owner"].empty_label = _("Any owner")
        self.fields["team"].empty_label = _("Any team")
        preload_choices(self.fields["owner"], user.visible_users)
        preload_choices(self.fields["team"], user.visible_teams)
        self.fields["country"].choices = _country_choices(get_language())
        self.fields["missing"].choices = [("", _("Nothing in particular")), *self.missing_choices]
        use_fast_select(self.fields["owner"])
        use_fast_select(self.fields["team"])
        use_fast_select(self.fields["country"], cache_key="filter-countries")
        for name, field in self.fields.items():  # stage, source, status…: a template per <option> otherwise
            if type(field.widget) is forms.Select:
                # The form's own choices never change: their options built once per language
                # (a custom field's, which an admin may edit, on every page).
                use_fast_select(field, cache_key=f"{type(self).__name__}.{name}" if name in self.base_fields else "")
        style_plain(self)

    def clean_q(self) -> str:
        return self.cleaned_data.get("q", "").strip()

    def clean_sort(self) -> str:
        """The sort asked for, if the list offers it ("" otherwise: ``sort_key`` decides)."""
        value = self.cleaned_data.get("sort", "")
        return value if value in self.sorts or (value == BEST_MATCH and self.best_match) else ""

    def filters(self) -> ListFilters:
        self.is_valid()  # fills cleaned_data with the valid fields only
        data = self.cleaned_data
        team = data.get("team")
        return ListFilters(
            q=data.get("q", ""),
            owner=data.get("owner"),
            team_id=team.pk if team else None,
            tag=data.get("tag", "").strip(),
            stage=data.get("stage", ""),
            country=data.get("country", ""),
            source=data.get("source", ""),
            created_from=data.get("created_from"),
            created_to=data.get("created_to"),
            archived=data.get("archived") == "1",
            missing=data.get("missing", ""),
            invalid_phone=data.get("invalid_phone") == "1",
            custom=custom_fields.filter_values(self.custom_model, data),
        )

    @property
    def custom_filter_fields(self) -> list[forms.BoundField]:
        return [self[name] for name in self.custom_filter_names]

    @property
    def sort_key(self) -> str:
        """The list's order: the one asked for; for a search with none, "best match" where the
        list offers it (``best_match``), else ``default_sort``. Best match with no search is
        ``default_sort``."""
        self.is_valid()
        sort = self.cleaned_data.get("sort") or ""
        if self.best_match and sort in ("", BEST_MATCH):
            return BEST_MATCH if self.cleaned_data.get("q") else self.default_sort
        return sort or self.default_sort

    @property
    def active_count(self) -> int:
        """How many filters (besides search and sort) are set, for the "Filters (n)" button."""
        self.is_valid()
        return sum(1 for name, value in self.cleaned_data.items() if name not in ("q", "sort") and value)


_MISSING_EMAIL = ("email", _("Email"))
_MISSING_PHONE = ("phone", _("Phone"))
_MISSING_OWNER = ("owner", _("Owner (no longer active)"))


class CompanyFilterForm(_ListFilterForm):
    sorts = COMPANY_SORTS
    custom_model = "contacts.company"
    segment = forms.ChoiceField(
        label=_("Customer segment"), choices=[("", _("Any segment")), *ValueSegment.choices], required=False
    )

    def filters(self) -> ListFilters:
        filters = super().filters()
        filters.segment = self.cleaned_data.get("segment", "")
        return filters

    missing_choices = [_MISSING_EMAIL, _MISSING_PHONE, _MISSING_OWNER]


class ContactFilterForm(_ListFilterForm):
    sorts = CONTACT_SORTS
    best_match = True
    custom_model = "contacts.contact"
    missing_choices = [_MISSING_EMAIL, _MISSING_PHONE, ("company", _("Company")), _MISSING_OWNER]
    company = forms.ModelChoiceField(queryset=Company.objects.none(), required=False, widget=forms.HiddenInput)

    def __init__(self, data: Any, *, user: User, default_sort: str) -> None:
        super().__init__(data, user=user, default_sort=default_sort)
        if (data or {}).get("company"):
            self.fields["company"].queryset = Company.objects.visible_to(user)

    def filters(self) -> ListFilters:
        filters = super().filters()
        filters.company = self.cleaned_data.get("company")
        return filters


class ReassignForm(StrictInputMixin, forms.Form):
    """Bulk "Assign to…": records the user may edit, to a user the requester may see."""

    ids = forms.ModelMultipleChoiceField(queryset=Company.objects.none(), widget=forms.MultipleHiddenInput)
    owner = forms.ModelChoiceField(label=_("Assign to"), queryset=User.objects.none(), empty_label=_("Assign to…"))

    def __init__(self, data: Any = None, *, user: User, model: type[Company] | type[Contact]) -> None:
        super().__init__(data)
        self.fields["ids"].queryset = model.objects.editable_by(user)
        self.fields["ids"].error_messages["required"] = _("Tick at least one row first.")
        self.fields["owner"].queryset = users_visible_to(user)

    def clean_ids(self) -> Any:
        ids = self.cleaned_data["ids"]
        if len(ids) > 200:
            raise forms.ValidationError(_("Reassign at most 200 records at a time."))
        return ids


# --- Import -------------------------------------------------------------------------------

IMPORT_EXTENSIONS = (".csv", ".txt", ".tsv", ".xlsx")


class ImportUploadForm(StrictInputMixin, forms.Form):
    kind = forms.ChoiceField(
        label=_("What the file holds"),
        choices=ImportKind.choices,
        initial=ImportKind.CONTACTS,
        widget=forms.RadioSelect,
    )
    file = forms.FileField(
        label=_("CSV or XLSX file"),
        help_text=_(
            "The first row names the columns. CSV in UTF-8 or a Windows, KOI8-R or GBK code page (the "
            "encoding is guessed and can be changed on the next page), separated by commas, semicolons or "
            "tabs; or the first sheet of an Excel workbook."
        ),
        widget=forms.ClearableFileInput(attrs={"accept": ",".join(IMPORT_EXTENSIONS)}),
    )

    def clean_file(self) -> Any:
        upload = self.cleaned_data["file"]
        limit = settings.IMPORT_MAX_BYTES
        if upload.size > limit:
            raise forms.ValidationError(
                _("The file is %(size)s; the largest file you can import is %(limit)s. Split it into smaller files.")
                % {"size": filesizeformat(upload.size), "limit": filesizeformat(limit)}
            )
        if not upload.name.lower().endswith(IMPORT_EXTENSIONS):
            raise forms.ValidationError(_("Upload a .csv or .xlsx file."))
        if upload.size == 0:
            raise forms.ValidationError(_("The file is empty."))
        return upload


class ImportEncodingForm(StrictInputMixin, forms.Form):
    """The encoding a CSV file is read in, when the guess was wrong."""

    encoding = forms.ChoiceField(label=_("Read the file as"))

    def __init__(self, *args: Any, job: ImportJob, **kwargs: Any) -> None:
        from contacts.imports import ENCODING_CHOICES

        super().__init__(*args, **kwargs)
        choices = list(ENCODING_CHOICES)
        current = "utf-8" if job.encoding == "utf-8-sig" else job.encoding
        if current and current not in dict(choices):
            choices.insert(0, (current, current))  # charset-normalizer's rarer guesses
        self.fields["encoding"].choices = choices
        self.fields["encoding"].initial = current
        self.fields["encoding"].widget.attrs.update({"class": "form-select form-select-sm"})


class ImportMappingForm(StrictInputMixin, forms.Form):
    """A select per column of the file (what it is imported into) and the matching options."""

    match_key = forms.ChoiceField(label=_("Find existing records by"))
    mode = forms.ChoiceField(label=_("When a row matches a record"), widget=forms.RadioSelect)
    keep_invalid_phones = forms.BooleanField(
        label=_("Keep phone numbers that do not validate, as typed"),
        required=False,
        help_text=_("Otherwise a row with such a number is rejected with the reason, for you to fix."),
    )

    def __init__(self, *args: Any, job: ImportJob, **kwargs: Any) -> None:
        from contacts.imports import IGNORE, MatchMode, match_keys_for, targets_for

        super().__init__(*args, **kwargs)
        self.job = job
        self.targets = targets_for(job.kind)
        choices = [(IGNORE, _("— do not import —"))] + [(t.name, t.label) for t in self.targets]
        self.column_names: list[str] = []
        for index, header in enumerate(job.headers):
            name = f"col_{index}"
            self.fields[name] = forms.ChoiceField(
                label=header, choices=choices, required=False, initial=job.mapping.get(str(index), IGNORE)
            )
            self.column_names.append(name)
        self.fields["match_key"].choices = match_keys_for(job.kind)
        self.fields["mode"].choices = MatchMode.CHOICES
        options = job.options or {}
        self.fields["match_key"].initial = options.get("match_key")
        self.fields["mode"].initial = options.get("mode", MatchMode.FILL)
        self.fields["keep_invalid_phones"].initial = options.get("keep_invalid_phones", False)
        self.fields["match_key"].widget.attrs["class"] = "form-select"
        self.fields["mode"].widget.attrs["class"] = "form-check-input"
        self.fields["keep_invalid_phones"].widget.attrs["class"] = "form-check-input"

    def columns(self) -> list[dict[str, Any]]:
        """Each column's select with the file's header and a few sample values, for the page."""
        return [
            {"field": self[name], "samples": self.job.samples[i] if i < len(self.job.samples) else []}
            for i, name in enumerate(self.column_names)
        ]

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        mapping = {name.removeprefix("col_"): cleaned.get(name) or "" for name in self.column_names}
        used: dict[str, str] = {}
        labels = {t.name: str(t.label) for t in self.targets}
        for index, target in mapping.items():
            if not target:
                continue
            if target in used:
                self.add_error(
                    f"col_{index}",
                    _("“%(target)s” is already taken by column “%(other)s”.")
                    % {"target": labels[target], "other": self.job.headers[int(used[target])]},
                )
            used.setdefault(target, index)
        if self.job.kind == ImportKind.CONTACTS and not {"last_name", "full_name"} & used.keys():
            raise forms.ValidationError(_("Choose the column with the last name or the full name."))
        if self.job.kind == ImportKind.COMPANIES and "name" not in used:
            raise forms.ValidationError(_("Choose the column with the company name."))
        cleaned["mapping"] = mapping
        return cleaned

    def options(self) -> dict[str, Any]:
        data = self.cleaned_data
        return {
            "match_key": data["match_key"],
            "mode": data["mode"],
            "keep_invalid_phones": bool(data.get("keep_invalid_phones")),
        }


# --- Duplicates and merge -----------------------------------------------------------------


class DuplicateFilterForm(StrictInputMixin, forms.Form):
    kind = forms.ChoiceField(label=_("Records"), choices=RecordKind.choices, required=False)
    owner = forms.ModelChoiceField(label=_("Owner"), queryset=User.objects.none(), required=False)

    def __init__(self, data: Any, *, user: User) -> None:
        data = data.copy()
        if data.get("kind") not in RecordKind.values:
            data["kind"] = RecordKind.CONTACT
        super().__init__(data)
        self.fields["owner"].queryset = users_visible_to(user)
        self.fields["owner"].empty_label = _("Any owner")
        use_fast_select(self.fields["owner"])
        style_plain(self)

    def values(self) -> tuple[str, User | None]:
        self.is_valid()
        return self.cleaned_data["kind"], self.cleaned_data.get("owner")


class MergeForm(StrictInputMixin, forms.Form):
    """One radio per field on which the two records differ: keep this record's value or the other's."""

    def __init__(self, data: Any = None, *, survivor: Company | Contact, loser: Company | Contact) -> None:
        super().__init__(data)
        self.survivor, self.loser = survivor, loser
        defaults = default_choices(survivor, loser)
        for name in differing_fields(survivor, loser):
            model_field = survivor._meta.get_field(name)
            self.fields[name] = forms.ChoiceField(
                label=str(model_field.verbose_name).capitalize(),
                choices=[("survivor", _display_value(survivor, name)), ("loser", _display_value(loser, name))],
                initial=defaults.get(name, "survivor"),
                required=False,
                widget=forms.RadioSelect(attrs={"class": "form-check-input"}),
            )
        self.defaults = defaults

    def choices(self) -> dict[str, str]:
        """The picked side per field; a field left unpicked takes the preselected side."""
        return {name: self.cleaned_data.get(name) or self.defaults.get(name, "survivor") for name in self.fields}

    def versions(self) -> tuple[int | None, int | None]:
        """The survivor's and the loser's versions the merge screen showed (``None``: not sent)."""
        return parse_version(self.data.get("survivor_version")), parse_version(self.data.get("loser_version"))


def _display_value(record: Company | Contact, name: str) -> str:
    """A field's value as the merge screen shows it ("—" for empty)."""
    field = record._meta.get_field(name)
    value = getattr(record, name)
    if field.choices and value:
        value = getattr(record, f"get_{name}_display")()
    elif name == "country" and value:
        value = value.name
    elif isinstance(value, bool):
        value = _("yes") if value else _("no")
    elif name in ("phone", "mobile") and value:
        value = format_phone(value)
    return str(value) if value not in (None, "") else "—"
