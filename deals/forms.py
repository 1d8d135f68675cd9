from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from django import forms
from django.conf import settings
from django.db.models import Q, QuerySet
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

import contacts.lookups  # noqa: F401 - registers trgm_icontains
from contacts.forms import offer_only_the_chosen_company, use_fast_inputs, use_fast_select
from contacts.models import Company, Contact, Source
from contacts.selectors import text_contains_q
from crm import custom_fields, request_memo
from crm.compiled import CompiledQuery
from crm.custom_fields import CustomFieldsFormMixin
from crm.forms import StrictInputMixin, preload_choices, strict_field
from crm.models import Team, User, teams_visible_to, users_visible_to
from crm.params import id_or_none
from deals.models import Deal, DealStatus, ExchangeRate, LineItem, LostReason, Pipeline, Product, Stage


def currency_choices() -> list[tuple[str, str]]:
    """The base currency and every currency that has an exchange rate (others cannot be summed)."""
    known = set(ExchangeRate.objects.values_list("currency", flat=True).distinct())
    return [(code, code) for code in sorted(known | {settings.BASE_CURRENCY})]


def _compact(form: forms.Form) -> None:
    """Small Bootstrap controls for filter bars (rendered by hand, not by crispy)."""
    for field in form.fields.values():
        is_select = isinstance(field.widget, forms.Select)
        field.widget.attrs["class"] = "form-select form-select-sm" if is_select else "form-control form-control-sm"


def owners_for(user: User) -> QuerySet[User]:
    """Whom ``user`` may make the owner of a deal: people whose records they may change."""
    qs = users_visible_to(user)
    return qs if user.is_admin else qs.filter(pk__in=user.editable_owner_ids)


class StageChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Stage) -> str:
        return f"{obj.pipeline.name} › {obj.name} ({obj.probability}%)"


class DealForm(CustomFieldsFormMixin, StrictInputMixin, forms.ModelForm):
    custom_model = "deals.deal"
    version = forms.CharField(widget=forms.HiddenInput, required=False)
    probability = forms.IntegerField(
        label=_("Probability %"),
        min_value=0,
        max_value=100,
        required=False,
        help_text=_("Leave empty to use the stage's probability. A value you type is kept as manual."),
    )
    stage = StageChoiceField(queryset=Stage.objects.none(), label=_("Stage"))

    class Meta:
        model = Deal
        fields = [
            "title",
            "company",
            "contacts",
            "owner",
            "pipeline",
            "stage",
            "amount",
            "currency",
            "amount_from_line_items",
            "probability",
            "expected_close_date",
            "source",
            "lost_reason",
            "lost_note",
        ]
        widgets = {
            "expected_close_date": forms.DateInput(attrs={"type": "date"}),
            "lost_note": forms.Textarea(attrs={"rows": 2}),
            "contacts": forms.SelectMultiple(attrs={"size": 5}),
        }

    def __init__(self, *args: Any, user: User, **kwargs: Any) -> None:
        self.user = user  # before the custom fields are added: a user field offers whom they see
        super().__init__(*args, **kwargs)
        instance: Deal = self.instance
        self.fields["company"].queryset = Company.objects.visible_to(user).filter(
            Q(archived_at__isnull=True) | Q(pk=instance.company_id or 0)
        )
        self.fields["owner"].queryset = owners_for(user)
        self.fields["pipeline"].queryset = Pipeline.objects.all()
        self.fields["stage"].queryset = _stages_in_order()
        self.fields["lost_reason"].queryset = LostReason.objects.filter(
            Q(active=True) | Q(pk=instance.lost_reason_id or 0)
        )
        self.fields["currency"] = forms.ChoiceField(label=_("Currency"), choices=currency_choices())
        self.fields["contacts"].queryset = self._contact_choices()
        self.fields["contacts"].help_text = _("Contacts of the chosen company, and those already on the deal.")
        # static/js/multi-picker.js turns the list into a filter box and checkboxes.
        self.fields["contacts"].widget.attrs.update(
            {
                "data-multi-picker": "",
                "data-filter-label": _("Filter contacts"),
                "data-empty-text": _("No contact matches."),
            }
        )
        offer_only_the_chosen_company(self)
        self.fields["company"].widget.attrs.update(
            {
                # A different company brings its own contacts into the contacts list.
                "hx-get": reverse("deals:contact-options"),
                "hx-target": "#id_contacts",
                "hx-trigger": "change",
                "hx-swap": "innerHTML",
            }
        )
        if instance.pk and instance.stage_id:
            self.fields["probability"].widget.attrs["placeholder"] = _("%(p)s%% from the stage") % {
                "p": instance.stage.probability
            }
        if instance.pk:
            self.fields["version"].initial = instance.version
            self.initial["probability"] = instance.probability if instance.probability_is_manual else None
        if instance.pk and instance.amount_from_line_items:
            self.fields["amount"].disabled = True
            self.fields["amount"].help_text = _("The sum of the line items.")

    def _contact_choices(self) -> QuerySet[Contact]:
        # Offering every visible contact does not scale; the company's contacts are the ones
        # a rep picks, plus any already linked or preselected.
        company_id = self.data.get("company") if self.is_bound else self.initial.get("company")
        company_id = getattr(company_id, "pk", company_id)
        linked = list(self.instance.contacts.values_list("pk", flat=True)) if self.instance.pk else []
        preselected = [getattr(c, "pk", c) for c in self.initial.get("contacts", [])]
        wanted = Q(pk__in=[*linked, *preselected])
        company_id = id_or_none(company_id)
        if company_id is not None:
            wanted |= Q(company_id=company_id)
        if self.is_bound:
            submitted = [pk for pk in map(id_or_none, self.data.getlist("contacts")) if pk is not None]
            wanted |= Q(pk__in=submitted)
        return Contact.objects.visible_to(self.user).filter(wanted).order_by("last_name", "first_name", "id")

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        pipeline, stage = cleaned.get("pipeline"), cleaned.get("stage")
        if pipeline and stage and stage.pipeline_id != pipeline.pk:
            self.add_error("stage", _("That stage belongs to another pipeline."))
        if stage and stage.is_lost and not cleaned.get("lost_reason"):
            self.add_error("lost_reason", _("Say why the deal was lost."))
        cleaned["probability_is_manual"] = cleaned.get("probability") is not None
        if cleaned.get("probability") is None and stage:
            cleaned["probability"] = stage.probability
        return cleaned

    def service_data(self) -> dict[str, Any]:
        """The cleaned fields in the shape ``deal_update`` takes."""
        data = {name: self.cleaned_data[name] for name in self.Meta.fields if name in self.cleaned_data}
        data["probability_is_manual"] = self.cleaned_data["probability_is_manual"]
        if self.fields["amount"].disabled:
            data.pop("amount", None)
        if self.custom_defs:
            data["custom"] = self.custom_values()
        return data

    def save(self, commit: bool = True) -> Deal:
        if self.custom_defs:
            self.instance.custom = self.custom_values()
        return super().save(commit=commit)


class MoveForm(StrictInputMixin, forms.Form):
    stage = forms.ModelChoiceField(queryset=Stage.objects.none(), label=_("Move to"))
    expected_stage = forms.ModelChoiceField(queryset=Stage.objects.none(), required=False, widget=forms.HiddenInput)
    lost_reason = forms.ModelChoiceField(
        queryset=LostReason.objects.filter(active=True), required=False, label=_("Why was it lost?")
    )
    lost_note = forms.CharField(
        label=_("Details"), required=False, widget=forms.Textarea(attrs={"rows": 3}), max_length=2000
    )
    next = forms.CharField(required=False, widget=forms.HiddenInput)

    def __init__(self, *args: Any, deal: Deal, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        stages = Stage.objects.filter(pipeline_id=deal.pipeline_id).order_by("position", "id")
        self.fields["stage"].queryset = stages
        self.fields["expected_stage"].queryset = stages

    def needs_reason(self) -> bool:
        """A lost stage was chosen but no reason given yet: ask for it instead of failing."""
        stage = self.cleaned_data.get("stage") if hasattr(self, "cleaned_data") else None
        return bool(stage and stage.is_lost and not self.cleaned_data.get("lost_reason"))


class LineItemForm(StrictInputMixin, forms.ModelForm):
    unit_price = forms.DecimalField(
        label=_("Unit price"),
        max_digits=14,
        decimal_places=2,
        min_value=Decimal("0"),
        required=False,
        widget=forms.NumberInput(attrs={"placeholder": _("Catalogue price"), "class": "form-control"}),
        help_text=_("Empty: the product's price in the deal's currency."),
    )

    # The version the editor loaded (edit only): a save on an older one shows what changed.
    version = forms.CharField(widget=forms.HiddenInput, required=False)

    class Meta:
        model = LineItem
        fields = ["product", "quantity", "unit_price", "discount_percent"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        current = self.instance.product_id if self.instance.pk else 0
        self.fields["product"].queryset = Product.objects.filter(Q(active=True) | Q(pk=current or 0))
        if self.instance.pk:
            self.fields["product"].disabled = True
            self.fields["unit_price"].required = True
            self.fields["version"].initial = self.instance.version
        else:
            self.fields.pop("version")


class LineItemAddForm(LineItemForm):
    """The deal page's "add a line item" row: the same fields, rendered without crispy (its
    templates cost ~3 ms a field on every deal page) and with the product select as one string;
    ``deals/partials/line_items.html`` writes the labels and wrappers crispy would."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        use_fast_select(self.fields["product"])
        self.fields["product"].widget.attrs["class"] = "select form-select"
        for name in ("quantity", "discount_percent"):
            self.fields[name].widget.attrs["class"] = "numberinput form-control"
        use_fast_inputs(self)


SORTS = {
    "newest": ("-created_at", "-id"),
    "oldest": ("created_at", "id"),
    "amount": ("amount", "id"),
    "-amount": ("-amount", "-id"),
    "close": ("expected_close_date", "id"),
    "-close": ("-expected_close_date", "-id"),
    "title": ("title", "id"),
}


def _stages_in_order(_key: tuple = ()) -> QuerySet[Stage]:
    return Stage.objects.select_related("pipeline").order_by("pipeline__position", "pipeline__name", "position", "id")


# The deal list's pipelines and stages (filter choices, the rows' stage and pipeline), on every
# deal list page: built and compiled once per process.
_PIPELINES = CompiledQuery(lambda _key: Pipeline.objects.all())
_STAGES = CompiledQuery(_stages_in_order)


def stages_in_order() -> list[Stage]:
    """Every stage with its pipeline, by pipeline and position (one compiled query, read once
    per request: the deal list's filter form and its bulk bar's "Move to stage" both list them)."""
    return request_memo.remember("deals.stages_in_order", _STAGES.fetch)


class DealFilterForm(StrictInputMixin, forms.Form):
    """List filters; a malformed or unknown value is dropped, never passed to the ORM."""

    q = forms.CharField(label=_("Title"), required=False, max_length=100)
    pipeline = forms.ModelChoiceField(queryset=Pipeline.objects.all(), required=False, label=_("Pipeline"))
    stage = StageChoiceField(queryset=Stage.objects.none(), required=False, label=_("Stage"))
    owner = forms.ModelChoiceField(queryset=User.objects.none(), required=False, label=_("Owner"))
    team = forms.ModelChoiceField(queryset=Team.objects.none(), required=False, label=_("Team"))
    status = forms.ChoiceField(choices=[("", _("Any status")), *DealStatus.choices], required=False, label=_("Status"))
    close_from = forms.DateField(
        required=False, label=_("Closing from"), widget=forms.DateInput(attrs={"type": "date"})
    )
    close_to = forms.DateField(required=False, label=_("Closing to"), widget=forms.DateInput(attrs={"type": "date"}))
    # Closed and created days: the report builder's drill-down opens a cell's deals with them.
    closed_from = forms.DateField(
        required=False, label=_("Closed from"), widget=forms.DateInput(attrs={"type": "date"})
    )
    closed_to = forms.DateField(required=False, label=_("Closed to"), widget=forms.DateInput(attrs={"type": "date"}))
    created_from = forms.DateField(
        required=False, label=_("Created from"), widget=forms.DateInput(attrs={"type": "date"})
    )
    created_to = forms.DateField(required=False, label=_("Created to"), widget=forms.DateInput(attrs={"type": "date"}))
    source = forms.ChoiceField(choices=[("", _("Any source")), *Source.choices], required=False, label=_("Source"))
    amount_min = forms.DecimalField(required=False, label=_("Amount from"), min_value=0, max_digits=14)
    amount_max = forms.DecimalField(required=False, label=_("Amount to"), min_value=0, max_digits=14)
    company = forms.IntegerField(required=False, widget=forms.HiddenInput)
    contact = forms.IntegerField(required=False, widget=forms.HiddenInput)
    sort = forms.ChoiceField(
        choices=[
            ("newest", _("Newest")),
            ("oldest", _("Oldest")),
            ("-amount", _("Largest amount")),
            ("amount", _("Smallest amount")),
            ("close", _("Closing soonest")),
            ("-close", _("Closing latest")),
            ("title", _("Title")),
        ],
        required=False,
        label=_("Sort"),
    )

    def __init__(self, *args: Any, user: User, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.is_bound:
            # What a submitted value is checked against; the choices shown are preloaded below
            # (building these querysets cost ~0.5 ms on every list page, bound or not).
            self.fields["stage"].queryset = _stages_in_order()
            self.fields["owner"].queryset = users_visible_to(user)
            self.fields["team"].queryset = teams_visible_to(user)
        self.fields["pipeline"].empty_label = _("Any pipeline")
        self.fields["stage"].empty_label = _("Any stage")
        self.fields["owner"].empty_label = _("Anyone")
        self.fields["team"].empty_label = _("Any team")
        # Loaded once: the page's pipeline links (``pipelines``) share the list.
        self.pipelines = _PIPELINES.fetch()
        preload_choices(self.fields["pipeline"], self.pipelines)
        # Loaded once as well: the list's rows take their stage and pipeline from here.
        self.stages = stages_in_order()
        preload_choices(self.fields["stage"], self.stages)
        preload_choices(self.fields["owner"], user.visible_users)
        preload_choices(self.fields["team"], user.visible_teams)
        for name in ("pipeline", "stage", "owner", "team", "status", "source", "sort"):
            use_fast_select(self.fields[name])  # Django renders a template per <option>
        for name, form_f in custom_fields.filter_form_fields("deals.deal", user=user).items():
            strict_field(form_f)
            self.fields[name] = form_f
        _compact(self)

    def custom_filters(self) -> list[tuple[Any, str, Any]]:
        self.is_valid()
        return custom_fields.filter_values("deals.deal", getattr(self, "cleaned_data", {}))

    def filters(self) -> dict[str, Any]:
        self.is_valid()
        return {key: value for key, value in getattr(self, "cleaned_data", {}).items() if value not in (None, "")}

    def is_unfiltered(self) -> bool:
        """No filter set (a sort alone does not filter)."""
        return set(self.filters()) <= {"sort"} and not self.custom_filters()

    def order(self) -> tuple[str, ...]:
        """The rows' ``order_by``, as ``apply`` sorts them."""
        return SORTS[self.filters().get("sort", "newest")]

    def _dimensions(self, f: dict[str, Any]) -> Q:
        """The filters over ``DealTotal``'s dimensions (owner, team, pipeline, stage, status)."""
        where = Q()
        for key in ("pipeline", "stage", "owner", "status"):
            if key in f:
                where &= Q(**{key: f[key]})
        if "team" in f:
            where &= Q(owner__in=f["team"].members.all())
        return where

    def totals_where(self) -> Q | None:
        """The filters as a ``Q`` the stored totals can answer, or None when a filter on
        anything else is set (the totals then sum the matching rows)."""
        f = self.filters()
        if any(key in f for key in ROW_FILTERS) or self.custom_filters():
            return None
        return self._dimensions(f)

    def apply(self, qs: QuerySet[Deal]) -> QuerySet[Deal]:
        f = self.filters()
        if "q" in f:
            qs = qs.filter(text_contains_q("title", f["q"]))  # ILIKE, answered by the trigram index
        qs = custom_fields.apply_filters(qs, self.custom_filters())
        qs = qs.filter(self._dimensions(f))
        if "close_from" in f:
            qs = qs.filter(expected_close_date__gte=f["close_from"])
        if "close_to" in f:
            qs = qs.filter(expected_close_date__lte=f["close_to"])
        tz = timezone.get_current_timezone()
        for key, field, lookup in (
            ("closed_from", "closed_at", "gte"),
            ("closed_to", "closed_at", "lt"),
            ("created_from", "created_at", "gte"),
            ("created_to", "created_at", "lt"),
        ):
            if key in f:
                day = f[key] + dt.timedelta(days=1) if lookup == "lt" else f[key]
                qs = qs.filter(**{f"{field}__{lookup}": dt.datetime.combine(day, dt.time.min, tzinfo=tz)})
        if "source" in f:
            qs = qs.filter(source=f["source"])
        if "amount_min" in f:
            qs = qs.filter(amount__gte=f["amount_min"])
        if "amount_max" in f:
            qs = qs.filter(amount__lte=f["amount_max"])
        if "company" in f:
            qs = qs.filter(company_id=f["company"])
        if "contact" in f:
            qs = qs.filter(contacts__id=f["contact"])
        return qs.order_by(*self.order())


# Filters on columns the stored totals (``DealTotal``) do not have.
ROW_FILTERS = (
    "q",
    "close_from",
    "close_to",
    "closed_from",
    "closed_to",
    "created_from",
    "created_to",
    "source",
    "amount_min",
    "amount_max",
    "company",
    "contact",
)


class BoardFilterForm(StrictInputMixin, forms.Form):
    owner = forms.ModelChoiceField(queryset=User.objects.none(), required=False, label=_("Owner"))
    team = forms.ModelChoiceField(queryset=Team.objects.none(), required=False, label=_("Team"))

    def __init__(self, *args: Any, user: User, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["owner"].queryset = users_visible_to(user)
        self.fields["team"].queryset = teams_visible_to(user)
        self.fields["owner"].empty_label = _("All owners")
        self.fields["team"].empty_label = _("All teams")
        preload_choices(self.fields["owner"], user.visible_users)
        preload_choices(self.fields["team"], user.visible_teams)
        use_fast_select(self.fields["owner"])
        use_fast_select(self.fields["team"])
        _compact(self)

    def where(self) -> Q:
        """The owner/team filters, as a ``Q`` that works on deals and on ``DealTotal``."""
        self.is_valid()
        cleaned = getattr(self, "cleaned_data", {})
        where = Q()
        if cleaned.get("owner"):
            where &= Q(owner=cleaned["owner"])
        if cleaned.get("team"):
            where &= Q(owner__in=cleaned["team"].members.all())
        return where

    def apply(self, qs: QuerySet[Deal]) -> QuerySet[Deal]:
        return qs.filter(self.where())

    def querystring(self) -> str:
        self.is_valid()
        cleaned = getattr(self, "cleaned_data", {})
        parts = [f"{key}={cleaned[key].pk}" for key in ("owner", "team") if cleaned.get(key)]
        return "&".join(parts)


class StageForm(forms.Form):
    """A stage's name, probability and rotting days (the pipeline editor's row and "Add")."""

    name = forms.CharField(
        label=_("Name"), max_length=100, widget=forms.TextInput(attrs={"class": "form-control form-control-sm"})
    )
    probability = forms.IntegerField(
        label=_("Probability %"),
        min_value=0,
        max_value=100,
        widget=forms.NumberInput(attrs={"class": "form-control form-control-sm"}),
    )
    rotting_days = forms.IntegerField(
        label=_("Rotting days"),
        min_value=1,
        max_value=3650,
        required=False,
        widget=forms.NumberInput(attrs={"class": "form-control form-control-sm"}),
    )

    def clean_name(self) -> str:
        name = self.cleaned_data["name"].strip()
        if not name or "\x00" in name:
            raise forms.ValidationError(_("Enter a name."))
        return name


class StageAddForm(StageForm):
    kind = forms.ChoiceField(
        label=_("Kind"),
        choices=[("open", _("Open")), ("won", _("Won")), ("lost", _("Lost"))],
        initial="open",
        widget=forms.Select(attrs={"class": "form-select form-select-sm"}),
    )


class StageDeleteForm(forms.Form):
    move_to = forms.ModelChoiceField(queryset=Stage.objects.none(), label=_("Move its deals to"), required=False)

    def __init__(self, *args: Any, targets: list[Stage], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["move_to"].queryset = Stage.objects.filter(pk__in=[s.pk for s in targets]).order_by("position")
