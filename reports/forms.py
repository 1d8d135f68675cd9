"""Forms of the report builder: saving a report, creating a dashboard, pinning a report."""

from __future__ import annotations

from typing import Any

from django import forms
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from crm.forms import StrictInputMixin
from crm.models import Team, User
from reports.dashboards import dashboards_visible_to, managed_teams
from reports.models import Dashboard


class SavedReportForm(StrictInputMixin, forms.Form):
    name = forms.CharField(label=_("Report name"), max_length=120)
    team = forms.ModelChoiceField(
        label=_("Share with"),
        queryset=Team.objects.none(),
        required=False,
        empty_label=_("Only me"),
        help_text=_("Members and managers of the team can open it; each sees only their own scope."),
    )

    def __init__(self, *args: Any, user: User, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        team_field = self.fields["team"]
        team_field.queryset = Team.objects.filter(pk__in=[t.pk for t in user.visible_teams])

    def clean_name(self) -> str:
        name = self.cleaned_data["name"].strip()
        if not name:
            raise forms.ValidationError(_("Give the report a name."))
        return name


class DashboardForm(StrictInputMixin, forms.Form):
    name = forms.CharField(label=_("Dashboard name"), max_length=120)
    team = forms.ModelChoiceField(
        label=_("For"),
        queryset=Team.objects.none(),
        required=False,
        empty_label=_("Just me"),
        help_text=_("A team dashboard is seen by the team's members and managers."),
    )

    def __init__(self, *args: Any, user: User, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        teams = managed_teams(user)
        self.fields["team"].queryset = Team.objects.filter(pk__in=[t.pk for t in teams])
        if not teams:
            del self.fields["team"]

    def clean_name(self) -> str:
        name = self.cleaned_data["name"].strip()
        if not name:
            raise forms.ValidationError(_("Give the dashboard a name."))
        return name


class PinForm(StrictInputMixin, forms.Form):
    dashboard = forms.ModelChoiceField(label=_("Dashboard"), queryset=Dashboard.objects.none())

    def __init__(self, *args: Any, user: User, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["dashboard"].queryset = pinnable_dashboards(user)


def pinnable_dashboards(user: User):
    """The user's own dashboards and those of the teams they belong to or manage."""
    return dashboards_visible_to(user).filter(Q(user=user) | Q(team__isnull=False)).order_by("team__name", "name")
