from collections.abc import Iterable
from datetime import date, datetime
from typing import Any

from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils.translation import gettext as _

from crm.i18n import time_zone_names
from crm.models import User
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
