from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings
from django.utils.translation import gettext_lazy as _

from campaigns.models import Campaign, LeadForm, MemberStatus, Segment
from campaigns.segments import company_filters
from contacts.models import LifecycleStage, Tag, ValueSegment
from crm.forms import StrictInputMixin
from crm.models import User, teams_visible_to
from deals.forms import currency_choices
from deals.models import Pipeline, Stage


class SegmentForm(StrictInputMixin, forms.ModelForm):
    lifecycle_stages = forms.MultipleChoiceField(
        label=_("Lifecycle stage"), choices=LifecycleStage.choices, required=False, widget=forms.CheckboxSelectMultiple
    )
    value_segments = forms.MultipleChoiceField(
        label=_("Value segment"), choices=ValueSegment.choices, required=False, widget=forms.CheckboxSelectMultiple
    )
    company_filters = forms.MultipleChoiceField(
        label=_("Customer value"), choices=(), required=False, widget=forms.CheckboxSelectMultiple
    )
    tags = forms.ModelMultipleChoiceField(label=_("Tags (any)"), queryset=Tag.objects.none(), required=False)

    class Meta:
        model = Segment
        fields = [
            "name",
            "team",
            "lifecycle_stages",
            "value_segments",
            "company_filters",
            "tags",
            "country",
            "record_owner",
            "record_team",
        ]

    def __init__(self, *args: Any, user: User, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["company_filters"].choices = [(f.key, f.label) for f in company_filters()]
        self.fields["tags"].queryset = Tag.objects.order_by("name")
        teams = teams_visible_to(user)
        self.fields["team"].queryset = teams
        self.fields["record_team"].queryset = teams
        self.fields["record_owner"].queryset = User.objects.filter(pk__in=[u.pk for u in user.visible_users])
        self.fields["team"].help_text = _("Teammates of this team may use the segment too.")
        self.fields["country"].help_text = _("The contact's country, or its company's when the contact has none.")


class CampaignForm(StrictInputMixin, forms.ModelForm):
    class Meta:
        model = Campaign
        fields = [
            "name",
            "goal",
            "channel",
            "segment",
            "starts_on",
            "ends_on",
            "currency",
            "budget",
            "actual_cost",
            "team",
        ]
        widgets = {
            "starts_on": forms.DateInput(attrs={"type": "date"}),
            "ends_on": forms.DateInput(attrs={"type": "date"}),
        }

    def __init__(self, *args: Any, user: User, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["currency"] = forms.ChoiceField(label=_("Currency"), choices=currency_choices())
        if not self.instance.pk:
            self.initial.setdefault("currency", settings.BASE_CURRENCY)
        self.fields["segment"].queryset = Segment.objects.visible_to(user).order_by("name")
        self.fields["team"].queryset = teams_visible_to(user)
        self.fields["team"].help_text = _("The team's members see the campaign and work its members.")
        if not self.instance.pk and len(user.visible_teams) == 1:
            self.initial.setdefault("team", user.visible_teams[0].pk)
        if self.instance.pk and not self.instance.is_draft:
            for name in ("channel", "segment"):
                self.fields[name].disabled = True
                self.fields[name].help_text = _("Fixed once the campaign has started.")

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        starts, ends = data.get("starts_on"), data.get("ends_on")
        if starts and ends and ends < starts:
            self.add_error("ends_on", _("The campaign cannot end before it starts."))
        for name in ("budget", "actual_cost"):
            value = data.get(name)
            if value is not None and value < 0:
                self.add_error(name, _("Enter zero or more."))
        return data


class MemberStatusForm(StrictInputMixin, forms.Form):
    status = forms.ChoiceField(label=_("Response"), choices=MemberStatus.choices)
    note = forms.CharField(label=_("Note"), max_length=300, required=False)


class DealFromMemberForm(StrictInputMixin, forms.Form):
    title = forms.CharField(label=_("Deal title"), max_length=200)
    amount = forms.DecimalField(label=_("Amount"), max_digits=14, decimal_places=2, min_value=0)
    currency = forms.ChoiceField(label=_("Currency"), choices=())
    stage = forms.ModelChoiceField(label=_("Stage"), queryset=Stage.objects.none())
    expected_close_date = forms.DateField(
        label=_("Expected close date"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["currency"].choices = currency_choices()
        self.fields["stage"].queryset = (
            Stage.objects.filter(is_won=False, is_lost=False)
            .select_related("pipeline")
            .order_by("pipeline", "position")
        )
        self.fields["stage"].label_from_instance = lambda s: f"{s.pipeline.name} · {s.name}"
        pipeline = Pipeline.objects.filter(is_default=True).first()
        first = self.fields["stage"].queryset.filter(pipeline=pipeline).first() if pipeline else None
        if first is not None:
            self.initial.setdefault("stage", first.pk)
        self.initial.setdefault("currency", settings.BASE_CURRENCY)


class ResponseImportForm(StrictInputMixin, forms.Form):
    file = forms.FileField(
        label=_("Responses (CSV)"),
        help_text=_(
            "Columns: member_id (as exported) or email, and status "
            "(sent, responded, meeting_booked, unsubscribed, bounced)."
        ),
    )


class LeadFormForm(StrictInputMixin, forms.ModelForm):
    class Meta:
        model = LeadForm
        fields = ["title", "team", "consent_text", "active"]

    def __init__(self, *args: Any, user: User, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["team"].queryset = teams_visible_to(user)
        self.fields["team"].help_text = _("New leads go to this team's members in turn (round robin).")


class LeadCaptureForm(StrictInputMixin, forms.Form):
    """The public form. ``website`` is a honeypot: hidden from people, filled by bots."""

    first_name = forms.CharField(label=_("First name"), max_length=100, required=False)
    last_name = forms.CharField(label=_("Last name"), max_length=100)
    email = forms.EmailField(label=_("Email"), max_length=254)
    phone = forms.CharField(label=_("Phone"), max_length=40, required=False)
    company = forms.CharField(label=_("Company"), max_length=200, required=False)
    message = forms.CharField(label=_("Message"), max_length=2000, required=False, widget=forms.Textarea)
    consent = forms.BooleanField(label=_("Consent"), required=True)
    website = forms.CharField(label=_("Leave this field empty"), required=False, max_length=200)

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        # Markup in a name or company is junk (or an attack), never a person's data.
        for name in ("first_name", "last_name", "company", "phone"):
            value = data.get(name) or ""
            if any(ch in value for ch in "<>{}"):
                self.add_error(name, _("Please enter plain text."))
        return data
