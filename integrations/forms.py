from __future__ import annotations

from typing import Any

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from integrations.models import TokenScope


class ApiTokenForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=100, help_text=_("What uses it, e.g. “Billing sync”."))
    scope = forms.ChoiceField(label=_("Access"), choices=TokenScope.choices, initial=TokenScope.READ)
    expires_on = forms.DateField(
        label=_("Expires on"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text=_("Optional. The token stops working at the start of that day (UTC)."),
    )

    def clean_expires_on(self) -> Any:
        value = self.cleaned_data.get("expires_on")
        if value is not None and value <= timezone.now().date():
            raise forms.ValidationError(_("Choose a day after today."))
        if value is not None and value.year > 2999:
            raise forms.ValidationError(_("Choose an earlier day."))
        return value


class EventLinkForm(forms.Form):
    """Which customer an unmatched event is about: a company or a contact the user may see."""

    company = forms.IntegerField(label=_("Company"), required=False, min_value=1, max_value=2**63 - 1)
    contact = forms.IntegerField(label=_("Contact"), required=False, min_value=1, max_value=2**63 - 1)
    same_ref = forms.BooleanField(label=_("Also link the other events for this customer"), required=False)

    def __init__(self, *args: Any, user: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.user = user

    def clean(self) -> dict[str, Any]:
        from contacts.models import Company, Contact

        data = super().clean()
        company = contact = None
        if data.get("company"):
            company = Company.objects.visible_to(self.user).filter(pk=data["company"]).first()
            if company is None:
                self.add_error("company", _("No such company (or not visible to you)."))
        if data.get("contact"):
            contact = Contact.objects.visible_to(self.user).select_related("company").filter(pk=data["contact"]).first()
            if contact is None:
                self.add_error("contact", _("No such contact (or not visible to you)."))
        if not data.get("company") and not data.get("contact"):
            raise forms.ValidationError(_("Enter a company or a contact."))
        if company is not None and contact is not None and contact.company_id != company.pk:
            raise forms.ValidationError(_("The contact does not work at that company: choose one of them."))
        data["company_obj"], data["contact_obj"] = company, contact
        return data


class CompanyFromEventForm(forms.Form):
    """A new company for an unmatched event, prefilled from the customer the sender named."""

    name = forms.CharField(label=_("Name"), max_length=200)
    domain = forms.CharField(label=_("Domain"), max_length=253, required=False)
    email = forms.EmailField(label=_("Email"), required=False)
    external_id = forms.CharField(
        label=_("External id"),
        max_length=100,
        required=False,
        help_text=_("The sender's reference: its next events for this customer match the company."),
    )
    same_ref = forms.BooleanField(label=_("Also link the other events for this customer"), required=False)

    def clean_domain(self) -> str:
        value = self.cleaned_data["domain"].strip().lower().removeprefix("www.")
        if " " in value or "/" in value:
            raise forms.ValidationError(_("Enter a domain like example.com."))
        return value
