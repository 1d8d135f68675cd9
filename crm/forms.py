import re
from collections.abc import Iterable
from datetime import date, datetime
from typing import Any

from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils.text import slugify
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from crm.i18n import time_zone_names
from crm.models import CustomField, CustomFieldType, SavedViewList, Team, User, teams_visible_to
from crm.params import MAX_DATE, MAX_ID, MIN_DATE


def _no_nul(value: Any) -> None:
    """No NUL character in a value or any item of it (PostgreSQL refuses them in text)."""
    items = value if isinstance(value, list | tuple) else [value]
    if any(isinstance(item, str) and "\x00" in item for item in items):
        raise ValidationError(_("Null characters are not allowed."), code="null_characters_not_allowed")


def _supported_date(value: date | datetime | None) -> None:
    day = value.date() if isinstance(value, datetime) else value
    if day is not None and not MIN_DATE <= day <= MAX_DATE:
        raise ValidationError(
            _("Enter a date between %(first)s and %(last)s.") % {"first": MIN_DATE.year, "last": MAX_DATE.year},
            code="date_out_of_range",
        )


def strict_field(field: forms.Field) -> None:
    """What every CRM form field checks besides its own rules: no NUL character (Django's
    CharField does, not every field), dates within the supported years (so views and reports
    can step a day or a month either way), whole numbers within a PostgreSQL bigint."""
    extra: list[Any] = [_no_nul]
    if isinstance(field, forms.DateField | forms.DateTimeField):
        extra.append(_supported_date)
    if isinstance(field, forms.IntegerField):
        if field.max_value is None:
            extra.append(MaxValueValidator(MAX_ID))
        if field.min_value is None:
            extra.append(MinValueValidator(-MAX_ID))
    field.validators = [*field.validators, *extra]


class StrictInputMixin:
    """Mixed into every CRM form (before ``forms.Form``/``forms.ModelForm``): see ``strict_field``."""

    fields: dict[str, forms.Field]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            strict_field(field)


class PreferencesForm(StrictInputMixin, forms.ModelForm):
    class Meta:
        model = User
        fields = ["first_name", "last_name", "email", "language", "time_zone", "email_reminders", "daily_digest"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["language"].choices = [("", _("As my browser asks")), *settings.LANGUAGES]
        self.fields["time_zone"] = forms.ChoiceField(
            label=_("Time zone"),
            required=False,
            choices=[("", _("Server time zone (%(name)s)") % {"name": settings.TIME_ZONE})]
            + [(name, name) for name in time_zone_names()],
            help_text=_("Dates and times are shown in this time zone."),
        )
        strict_field(self.fields["time_zone"])


def preload_choices(field: forms.ModelChoiceField, rows: Iterable[models.Model]) -> None:
    """Give a model choice field fixed choices built from ``rows`` already loaded for this
    request (``user.visible_users``, ``user.visible_teams``), so rendering the select costs no
    query; the field's queryset still validates a submitted value."""
    empty = [("", field.empty_label)] if field.empty_label is not None else []
    field.choices = [*empty, *((row.pk, field.label_from_instance(row)) for row in rows)]


class CustomFieldForm(StrictInputMixin, forms.ModelForm):
    """A custom field's definition (Django admin and Settings → Custom fields): choices typed
    one per line; the key is fixed once the field exists (stored values are keyed by it)."""

    choices_text = forms.CharField(
        label=gettext_lazy("Choices"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text=gettext_lazy("For “one choice” and “several choices”: the options, one per line."),
    )

    class Meta:
        model = CustomField
        fields = ["model", "label", "key", "field_type", "help_text", "required", "position", "is_active"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["key"].required = False
        self.fields["key"].help_text = gettext_lazy(
            "Used in the API, imports and exports; made from the label when left empty. Cannot change later."
        )
        if self.instance.pk:
            self.fields["choices_text"].initial = "\n".join(self.instance.choices or [])
            for name in ("key", "model", "field_type"):
                self.fields[name].disabled = True

    def clean_key(self) -> str:
        if self.instance.pk:
            return self.instance.key
        key = self.cleaned_data.get("key") or slugify(self.cleaned_data.get("label", ""))
        key = key.replace("-", "_").lower()
        if not key or not key[0].isascii() or not key[0].isalpha():
            key = f"f_{key}" if key else ""
        if not re.fullmatch(r"[a-z][a-z0-9_]{0,39}", key):
            raise ValidationError(_("Use lowercase letters, digits and underscores, starting with a letter."))
        return key

    def clean_choices_text(self) -> list[str]:
        seen: list[str] = []
        for line in self.cleaned_data.get("choices_text", "").splitlines():
            line = " ".join(line.split())[:100]
            if line and line not in seen:
                seen.append(line)
        return seen

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        kind = cleaned.get("field_type")
        choices = cleaned.get("choices_text") or []
        if kind in (CustomFieldType.CHOICE, CustomFieldType.MULTI_CHOICE) and not choices:
            self.add_error("choices_text", _("List at least one choice, one per line."))
        model, key = cleaned.get("model"), cleaned.get("key")
        if model and key and not self.instance.pk and CustomField.objects.filter(model=model, key=key).exists():
            self.add_error("key", _("This record already has a field with this key."))
        return cleaned

    def save(self, commit: bool = True) -> CustomField:
        kind = self.cleaned_data.get("field_type") or self.instance.field_type
        is_choice = kind in (CustomFieldType.CHOICE, CustomFieldType.MULTI_CHOICE)
        self.instance.choices = self.cleaned_data.get("choices_text", []) if is_choice else []
        return super().save(commit=commit)


class SavedViewForm(StrictInputMixin, forms.Form):
    """Save a list's current filters, sort and columns under a name, privately or for a team."""

    list_name = forms.ChoiceField(choices=SavedViewList.choices, widget=forms.HiddenInput)
    name = forms.CharField(label=gettext_lazy("Name"), max_length=80)
    query = forms.CharField(required=False, max_length=2000, widget=forms.HiddenInput)
    columns = forms.CharField(required=False, max_length=2000, widget=forms.HiddenInput)
    team = forms.ModelChoiceField(
        label=gettext_lazy("Share with"),
        queryset=Team.objects.none(),
        required=False,
        empty_label=gettext_lazy("Only me"),
    )

    def __init__(self, *args: Any, user: User, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # A team the user belongs to or manages (admins: any team), as the list's menu offers.
        self.fields["team"].queryset = teams_visible_to(user)

    def clean_name(self) -> str:
        return " ".join(self.cleaned_data["name"].split())

    def clean_columns(self) -> list[str]:
        raw = self.cleaned_data.get("columns", "")
        return [part for part in raw.split(",") if re.fullmatch(r"[a-z][a-z0-9_]{0,60}", part)][:40]
