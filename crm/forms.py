from collections.abc import Iterable

from django import forms
from django.db import models

from crm.models import User


class PreferencesForm(forms.ModelForm):
    class Meta:
        model = User
        fields = ["first_name", "last_name", "email", "email_reminders", "daily_digest"]


def preload_choices(field: forms.ModelChoiceField, rows: Iterable[models.Model]) -> None:
    """Give a model choice field fixed choices built from ``rows`` already loaded for this
    request (``user.visible_users``, ``user.visible_teams``), so rendering the select costs no
    query; the field's queryset still validates a submitted value."""
    empty = [("", field.empty_label)] if field.empty_label is not None else []
    field.choices = [*empty, *((row.pk, field.label_from_instance(row)) for row in rows)]
