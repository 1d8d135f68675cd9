from __future__ import annotations

from typing import Any

from django import forms
from django.db.models import Q, QuerySet
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from activities.models import ActivityType
from contacts.forms import offer_only_the_chosen_company, use_fast_inputs, use_fast_select
from contacts.models import Company, Contact
from crm import custom_fields
from crm.custom_fields import CustomFieldsFormMixin
from crm.forms import StrictInputMixin, preload_choices, strict_field
from crm.models import Team, User
from crm.params import id_or_none
from service.models import Case, CasePriority, CaseStatus
from service.selectors import queue_members, queues_for


class CaseForm(CustomFieldsFormMixin, StrictInputMixin, forms.ModelForm):
    """Open or edit a case. The queue is one of the user's teams (admins: any); the assignee
    a member or manager of a queue the user works in; the customer a visible company/contact."""

    custom_model = "service.case"
    version = forms.CharField(widget=forms.HiddenInput, required=False)

    class Meta:
        model = Case
        fields = [
            "subject",
            "company",
            "contact",
            "team",
            "assignee",
            "priority",
            "channel",
            "time_spent_minutes",
            "description",
        ]
        widgets = {"description": forms.Textarea(attrs={"rows": 5})}

    def __init__(self, *args: Any, user: User, **kwargs: Any) -> None:
        self.user = user  # before the custom fields are added: a user field offers whom they see
        super().__init__(*args, **kwargs)
        instance: Case = self.instance
        self.fields["company"].queryset = Company.objects.visible_to(user).filter(
            Q(archived_at__isnull=True) | Q(pk=instance.company_id or 0)
        )
        self.fields["contact"].queryset = self._contact_choices()
        self.fields["contact"].help_text = _("Contacts of the chosen company.")
        teams = Team.objects.filter(Q(pk__in=queues_for(user).values("pk")) | Q(pk=instance.team_id or 0))
        self.fields["team"].queryset = teams.order_by("name")
        self.fields["team"].empty_label = None
        self.fields["assignee"].queryset = queue_members(self.fields["team"].queryset)
        self.fields["assignee"].empty_label = _("Unassigned")
        self.fields["time_spent_minutes"].required = False  # blank: none logged yet
        self.fields["time_spent_minutes"].help_text = _(
            "Work on the case so far; counts in the customer's cost to serve."
        )
        offer_only_the_chosen_company(self)
        self.fields["company"].widget.attrs.update(
            {
                # A different company brings its own contacts into the contact list.
                "hx-get": reverse("service:contact-options"),
                "hx-target": "#id_contact",
                "hx-trigger": "change",
                "hx-swap": "innerHTML",
            }
        )
        if instance.pk:
            self.fields["version"].initial = instance.version

    def _contact_choices(self) -> QuerySet[Contact]:
        company_id = self.data.get("company") if self.is_bound else self.initial.get("company")
        company_id = id_or_none(getattr(company_id, "pk", company_id))
        wanted = Q(pk=self.instance.contact_id or 0)
        initial = self.initial.get("contact")
        if initial is not None:
            wanted |= Q(pk=getattr(initial, "pk", initial))
        if company_id is not None:
            wanted |= Q(company_id=company_id)
        if self.is_bound:
            wanted |= Q(pk=id_or_none(self.data.get("contact")) or 0)
        return Contact.objects.visible_to(self.user).filter(wanted).order_by("last_name", "first_name", "id")

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        if not cleaned.get("company") and not cleaned.get("contact"):
            raise forms.ValidationError(_("A case needs a customer: a company, a contact or both."))
        team, assignee = cleaned.get("team"), cleaned.get("assignee")
        if team and assignee and not queue_members(Team.objects.filter(pk=team.pk)).filter(pk=assignee.pk).exists():
            self.add_error("assignee", _("The assignee must be in the queue's team."))
        return cleaned

    def clean_time_spent_minutes(self) -> int:
        return self.cleaned_data.get("time_spent_minutes") or 0

    def service_kwargs(self) -> dict[str, Any]:
        data = {name: self.cleaned_data[name] for name in self.Meta.fields}
        if self.custom_defs:
            data["custom"] = self.custom_values()
        return data


class CaseFilterForm(StrictInputMixin, forms.Form):
    """List filters; a malformed or unknown value is dropped, never passed to the ORM."""

    q = forms.CharField(label=_("Subject"), required=False, max_length=100)
    team = forms.ModelChoiceField(queryset=Team.objects.none(), required=False, label=_("Queue"))
    status = forms.ChoiceField(
        choices=[("", _("Active (new, open, waiting)")), ("all", _("Any status")), *CaseStatus.choices],
        required=False,
        label=_("Status"),
    )
    priority = forms.ChoiceField(
        choices=[("", _("Any priority")), *CasePriority.choices], required=False, label=_("Priority")
    )
    assignee = forms.ChoiceField(required=False, label=_("Assignee"))
    breached = forms.BooleanField(required=False, label=_("SLA breached"))

    def __init__(self, *args: Any, user: User, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["team"].queryset = queues_for(user)
        self.fields["team"].empty_label = _("All my queues")
        self.fields["assignee"].choices = [
            ("", _("Anyone")),
            ("me", _("Me")),
            ("none", _("Unassigned")),
        ]
        for name, form_f in custom_fields.filter_form_fields("service.case", user=user).items():
            strict_field(form_f)
            self.fields[name] = form_f
        for name, field in self.fields.items():
            if name == "breached":
                field.widget.attrs["class"] = "form-check-input"
            elif isinstance(field.widget, forms.Select):
                field.widget.attrs["class"] = "form-select form-select-sm"
            else:
                field.widget.attrs["class"] = "form-control form-control-sm"
        # Rendered in Python (Django renders a template per <option>): the queues from the
        # user's teams, loaded with the user (no query); the form's own fixed choices built
        # once per language, a custom field's (an admin may edit them) on every page.
        preload_choices(self.fields["team"], sorted(user.visible_teams, key=lambda team: (team.name, team.pk)))
        for name, field in self.fields.items():
            if type(field.widget) is forms.Select:
                fixed = name in self.base_fields and name != "team"
                use_fast_select(field, cache_key=f"{type(self).__name__}.{name}" if fixed else "")
        use_fast_inputs(self)

    def apply(self, qs: QuerySet[Case], user: User) -> QuerySet[Case]:
        if not self.is_valid():
            return qs.filter(status__in=["new", "open", "waiting"])
        f = self.cleaned_data
        if f.get("q"):
            qs = qs.filter(subject__icontains=f["q"])
        if f.get("team"):
            qs = qs.filter(team=f["team"])
        status = f.get("status")
        if not status:
            qs = qs.filter(status__in=["new", "open", "waiting"])
        elif status != "all":
            qs = qs.filter(status=status)
        if f.get("priority"):
            qs = qs.filter(priority=f["priority"])
        if f.get("assignee") == "me":
            qs = qs.filter(assignee=user)
        elif f.get("assignee") == "none":
            qs = qs.filter(assignee__isnull=True)
        if f.get("breached"):
            qs = qs.filter(sla_breached=True)
        return custom_fields.apply_filters(qs, custom_fields.filter_values("service.case", f))


# A case leaves "new" for good: its first move out of it is its first response.
WORKFLOW_STATUSES = [(value, label) for value, label in CaseStatus.choices if value != CaseStatus.NEW]


class StatusForm(StrictInputMixin, forms.Form):
    status = forms.ChoiceField(choices=WORKFLOW_STATUSES)


class AssignForm(StrictInputMixin, forms.Form):
    assignee = forms.ModelChoiceField(queryset=User.objects.none(), required=False)

    def __init__(self, *args: Any, case: Case, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["assignee"].queryset = queue_members(Team.objects.filter(pk=case.team_id))


class ReplyForm(StrictInputMixin, forms.Form):
    """A note, email or call on the case's conversation."""

    type = forms.ChoiceField(label=_("Kind"))
    subject = forms.CharField(label=_("Subject"), max_length=200)
    body = forms.CharField(label=_("Text"), required=False, widget=forms.Textarea(attrs={"rows": 3}))

    def __init__(self, *args: Any, types: list[ActivityType], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.types = {t.key: t for t in types}
        self.fields["type"].choices = [(t.key, t.name) for t in types]

    def clean_type(self) -> ActivityType:
        return self.types[self.cleaned_data["type"]]


class SurveyForm(StrictInputMixin, forms.Form):
    score = forms.TypedChoiceField(
        label=_("How satisfied are you with how we handled your request?"),
        choices=[(str(n), str(n)) for n in range(1, 6)],
        coerce=int,
        widget=forms.RadioSelect,
    )
    comment = forms.CharField(
        label=_("Anything you would like to tell us? (optional)"),
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 4}),
    )


class WebCaseForm(StrictInputMixin, forms.Form):
    """The public form. ``website`` is a honeypot: hidden from people, filled by bots."""

    name = forms.CharField(label=_("Your name"), max_length=100)
    email = forms.EmailField(label=_("Your email"), max_length=254)
    subject = forms.CharField(label=_("Subject"), max_length=200)
    description = forms.CharField(
        label=_("How can we help?"), max_length=5000, required=False, widget=forms.Textarea(attrs={"rows": 6})
    )
    website = forms.CharField(label=_("Leave this field empty"), required=False, max_length=200)
