from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from crispy_forms.helper import FormHelper
from crispy_forms.layout import Column, Layout, Row
from django import forms
from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from activities.models import Activity, ActivityType
from contacts.forms import style_plain, use_fast_select
from contacts.models import Contact
from crm.forms import StrictInputMixin, preload_choices
from crm.models import User, users_visible_to
from crm.versioning import parse_version

DATETIME_LOCAL = "%Y-%m-%dT%H:%M"


class DateTimeLocalInput(forms.DateTimeInput):
    input_type = "datetime-local"

    def __init__(self, attrs: dict | None = None) -> None:
        super().__init__(attrs=attrs, format=DATETIME_LOCAL)


REMIND_CHOICES = [
    ("", _("No reminder")),
    ("0", _("At the due time")),
    ("5", _("5 minutes before")),
    ("15", _("15 minutes before")),
    ("30", _("30 minutes before")),
    ("60", _("1 hour before")),
    ("1440", _("1 day before")),
]


def assignable_users(user: User):
    """People ``user`` may hand work to: themselves, or (managers/admins) those they manage."""
    qs = User.objects.filter(is_active=True)
    return qs if user.is_admin else qs.filter(pk__in=user.editable_owner_ids)


class ActivityForm(StrictInputMixin, forms.ModelForm):
    """One form for every type; fields the type does not have are removed."""

    done = forms.BooleanField(label=_("Already done"), required=False)
    remind = forms.TypedChoiceField(
        label=_("Reminder"), choices=REMIND_CHOICES, required=False, coerce=int, empty_value=None
    )
    # The version the editor loaded (edit only): a save on an older one shows what changed.
    version = forms.CharField(widget=forms.HiddenInput, required=False)

    class Meta:
        model = Activity
        fields = [
            "subject",
            "body",
            "due_at",
            "ends_at",
            "duration_minutes",
            "time_spent_minutes",
            "outcome",
            "owner",
            "attendee_users",
            "attendee_contacts",
        ]
        widgets = {
            "body": forms.Textarea(attrs={"rows": 3}),
            "due_at": DateTimeLocalInput(),
            "ends_at": DateTimeLocalInput(),
        }

    def __init__(
        self,
        *args: Any,
        user: User,
        activity_type: ActivityType,
        contacts: Any = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.activity_type = activity_type
        self.fields["owner"].queryset = assignable_users(user)
        self.fields["owner"].required = False
        self.fields["owner"].label = _("Assignee")
        self.fields["owner"].empty_label = _("Me")
        self.fields["subject"].widget.attrs["placeholder"] = activity_type.label
        # Time spent counts in the customer's cost to serve; blank keeps the type's default.
        self.fields["time_spent_minutes"].help_text = _("Blank: the default for this type, %(minutes)s min.") % {
            "minutes": activity_type.default_minutes
        }
        if not self.instance.pk:
            self.fields["time_spent_minutes"].initial = activity_type.default_minutes or None
        if activity_type.has_duration:
            self.fields["due_at"].label = _("Starts")
        if not activity_type.has_due:
            for name in ("due_at", "ends_at", "owner", "remind", "done"):
                self.fields.pop(name, None)
        if not activity_type.has_duration:
            self.fields.pop("ends_at", None)
            self.fields.pop("duration_minutes", None)
        elif activity_type.has_due:
            # With a start and an end, the duration follows from them (see clean()).
            self.fields.pop("duration_minutes", None)
        if not activity_type.has_outcome:
            self.fields.pop("outcome")
        else:
            self._offer_outcomes(activity_type)
        if activity_type.has_attendees:
            self.fields["attendee_users"].queryset = users_visible_to(user)
            self.fields["attendee_contacts"].queryset = (
                contacts if contacts is not None else Contact.objects.visible_to(user)[:0]
            )
        else:
            self.fields.pop("attendee_users")
            self.fields.pop("attendee_contacts")
        if self.instance.pk and "owner" in self.fields:
            self.fields["owner"].required = True
            self.fields["owner"].empty_label = None
        if self.instance.pk:
            self.fields.pop("remind", None)
            self.fields.pop("done", None)
            self.fields["version"].initial = self.instance.version
        else:
            self.fields.pop("version")
        self.helper = self._compact_layout()

    def _offer_outcomes(self, activity_type: ActivityType) -> None:
        """The type's outcomes as a picklist (free text while an admin has defined none); an
        older outcome written by hand stays selectable on its activity."""
        names = list(activity_type.outcomes.filter(active=True).values_list("name", flat=True))
        if not names:
            return
        current = self.instance.outcome if self.instance.pk else ""
        choices = [("", "—"), *((name, name) for name in names)]
        if current and current not in names:
            choices.append((current, current))
        field = self.fields["outcome"]
        self.fields["outcome"] = forms.ChoiceField(
            label=field.label, choices=choices, required=False, help_text=field.help_text
        )

    def _compact_layout(self) -> FormHelper:
        """Related fields side by side, so even a meeting fits in a short form."""
        helper = FormHelper()
        helper.form_tag = False
        groups = [
            ["subject"],
            ["body"],
            ["due_at", "ends_at", "duration_minutes"],
            ["outcome", "owner"],
            ["attendee_users", "attendee_contacts"],
            ["remind", "done", "time_spent_minutes"],
            ["version"],
        ]
        rows = []
        for group in groups:
            present = [name for name in group if name in self.fields]
            if len(present) == 1:
                rows.append(present[0])
            elif present:
                rows.append(Row(*(Column(name, css_class="col-12 col-sm") for name in present)))
        helper.layout = Layout(*rows)
        return helper

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        due_at, ends_at = data.get("due_at"), data.get("ends_at")
        if ends_at and not due_at:
            self.add_error("due_at", _("A meeting with an end needs a start."))
        elif ends_at and due_at and ends_at < due_at:
            self.add_error("ends_at", _("The end is before the start."))
        if data.get("remind") is not None and not due_at:
            self.add_error("remind", _("A reminder needs a due time."))
        if data.get("duration_minutes") is None and due_at and ends_at:
            data["duration_minutes"] = int((ends_at - due_at).total_seconds() // 60)
        return data

    @property
    def is_done(self) -> bool:
        """Types without a due time are records of something that happened: always done."""
        if not self.activity_type.has_due:
            return True
        return bool(self.cleaned_data.get("done"))

    def service_kwargs(self) -> dict[str, Any]:
        data = dict(self.cleaned_data)
        data.pop("done", None)
        remind = data.pop("remind", None)
        version = parse_version(data.pop("version", None))
        kwargs = {name: value for name, value in data.items() if name in self.fields or name == "duration_minutes"}
        if not kwargs.get("owner"):
            kwargs.pop("owner", None)
        if remind is not None and not self.instance.pk:
            kwargs["remind_minutes_before"] = remind
        if self.instance.pk:
            kwargs["version"] = version
        for many in ("attendee_users", "attendee_contacts"):
            if many in kwargs and kwargs[many] is None:
                kwargs[many] = []
        return kwargs


class RescheduleForm(StrictInputMixin, forms.Form):
    due_at = forms.DateTimeField(label=_("New time"), required=False, widget=DateTimeLocalInput())
    shift = forms.ChoiceField(
        required=False,
        choices=[("", ""), ("1h", _("In an hour")), ("tomorrow", _("Tomorrow")), ("next_week", _("Next week"))],
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if not data.get("due_at") and not data.get("shift"):
            raise ValidationError(_("Pick a new time."))
        return data

    def new_due_at(self, current: datetime | None) -> datetime:
        if self.cleaned_data.get("due_at"):
            return self.cleaned_data["due_at"]
        now = timezone.now()
        base = current if current and current > now else now
        shift = self.cleaned_data["shift"]
        if shift == "1h":
            return now + timedelta(hours=1)
        if shift == "tomorrow":
            local = timezone.localtime(base) + timedelta(days=1)
            return local.replace(hour=9, minute=0, second=0, microsecond=0) if current is None else local
        return timezone.localtime(base) + timedelta(days=7)


class ReminderForm(StrictInputMixin, forms.Form):
    remind_at = forms.DateTimeField(label=_("At"), required=False, widget=DateTimeLocalInput())
    minutes_before = forms.IntegerField(
        label=_("or minutes before due"), required=False, min_value=0, max_value=60 * 24 * 30
    )

    def __init__(self, *args: Any, activity: Activity, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.activity = activity

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        remind_at, minutes = data.get("remind_at"), data.get("minutes_before")
        if (remind_at is None) == (minutes is None):
            raise ValidationError(_("Give either a time or a number of minutes before the due time."))
        if minutes is not None and self.activity.due_at is None:
            self.add_error("minutes_before", _("This activity has no due time."))
        # The field has minute precision: "now" typed at 12:05:59 and sent at 12:06:01 is
        # still this reminder's minute, so the minute before the current one is accepted.
        this_minute = timezone.now().replace(second=0, microsecond=0)
        if remind_at is not None and remind_at < this_minute - timedelta(minutes=1):
            self.add_error("remind_at", _("That time has passed."))
        return data


STATUS_CHOICES = [
    ("", _("Any status")),
    ("open", _("Open")),
    ("done", _("Done")),
    # The last three are My day's sections (activities.selectors.day_section_q).
    ("overdue", _("Overdue")),
    ("today", _("Due later today")),
    ("week", _("Due this week (from tomorrow)")),
]
SORT_CHOICES = [("newest", _("Newest first")), ("due", _("By due time"))]


class ActivityFilterForm(StrictInputMixin, forms.Form):
    """List filters. Anything invalid is dropped, never passed to the ORM."""

    type = forms.ModelChoiceField(queryset=ActivityType.objects.all(), required=False, empty_label=_("Any type"))
    owner = forms.ModelChoiceField(queryset=User.objects.none(), required=False, empty_label=_("Anyone"))
    status = forms.ChoiceField(choices=STATUS_CHOICES, required=False)
    company = forms.IntegerField(required=False, widget=forms.HiddenInput)
    date_from = forms.DateField(label=_("From"), required=False, widget=forms.DateInput(attrs={"type": "date"}))
    date_to = forms.DateField(label=_("To"), required=False, widget=forms.DateInput(attrs={"type": "date"}))
    sort = forms.ChoiceField(choices=SORT_CHOICES, required=False)

    def __init__(self, *args: Any, user: User, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["owner"].queryset = users_visible_to(user)
        preload_choices(self.fields["owner"], user.visible_users)
        self.types = list(ActivityType.objects.all())  # the list's rows show them too
        preload_choices(self.fields["type"], self.types)
        for field in self.fields.values():
            if isinstance(field.widget, forms.Select):
                use_fast_select(field)  # Django renders a template per <option>
        style_plain(self, small=True)

    def filters(self) -> dict[str, Any]:
        self.is_valid()
        return {name: value for name, value in self.cleaned_data.items() if value not in (None, "")}
