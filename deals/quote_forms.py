"""Forms of the quote pages (deals.quote_views)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django import forms
from django.core.validators import MaxValueValidator, MinValueValidator, validate_email
from django.utils.translation import gettext_lazy as _

from deals.models import QuoteVersion
from deals.quotes import LineInput

PERCENT = {
    "max_digits": 5,
    "decimal_places": 2,
    "validators": [MinValueValidator(Decimal("0")), MaxValueValidator(Decimal("100"))],
}


class QuoteEditForm(forms.Form):
    """Valid-until date, terms, and each line's discount and tax; saving writes a new version."""

    version = forms.IntegerField(widget=forms.HiddenInput, min_value=1)
    valid_until = forms.DateField(label=_("Valid until"), widget=forms.DateInput(attrs={"type": "date"}))
    terms = forms.CharField(label=_("Terms"), required=False, max_length=5000, widget=forms.Textarea(attrs={"rows": 4}))

    def __init__(self, *args: Any, current: QuoteVersion, **kwargs: Any) -> None:
        kwargs.setdefault(
            "initial",
            {"version": current.quote.version, "valid_until": current.valid_until, "terms": current.terms},
        )
        super().__init__(*args, **kwargs)
        self.current_lines = list(current.lines.all())
        self.line_rows = []
        for i, line in enumerate(self.current_lines):
            self.fields[f"discount_{i}"] = forms.DecimalField(
                label=_("Discount %% for %(item)s") % {"item": line.description},
                initial=line.discount_percent,
                **PERCENT,
            )
            self.fields[f"tax_{i}"] = forms.DecimalField(
                label=_("Tax %% for %(item)s") % {"item": line.description}, initial=line.tax_percent, **PERCENT
            )
        for field in self.fields.values():
            field.widget.attrs.setdefault("class", "form-control form-control-sm")

    def rows(self) -> list[tuple[Any, Any, Any]]:
        """(line, discount field, tax field) for the template's table."""
        return [(line, self[f"discount_{i}"], self[f"tax_{i}"]) for i, line in enumerate(self.current_lines)]

    def lines(self) -> list[LineInput]:
        return [
            LineInput(
                description=line.description,
                sku=line.sku,
                quantity=line.quantity,
                unit_price=line.unit_price,
                discount_percent=self.cleaned_data[f"discount_{i}"],
                tax_percent=self.cleaned_data[f"tax_{i}"],
            )
            for i, line in enumerate(self.current_lines)
        ]


class QuoteSendForm(forms.Form):
    to = forms.CharField(
        label=_("To"), max_length=1000, help_text=_("One or more email addresses, separated by commas.")
    )
    subject = forms.CharField(label=_("Subject"), max_length=200)
    message = forms.CharField(label=_("Message"), max_length=10000, widget=forms.Textarea(attrs={"rows": 5}))

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            field.widget.attrs.setdefault("class", "form-control")

    def clean_to(self) -> list[str]:
        addresses = [a.strip() for a in self.cleaned_data["to"].replace(";", ",").split(",") if a.strip()]
        if not addresses:
            raise forms.ValidationError(_("Give at least one email address."))
        if len(addresses) > 20:
            raise forms.ValidationError(_("At most 20 addresses."))
        for address in addresses:
            try:
                validate_email(address)
            except forms.ValidationError:
                raise forms.ValidationError(_("%(address)s is not an email address.") % {"address": address}) from None
        return addresses
