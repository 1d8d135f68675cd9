"""Case fragments for other apps' pages (``contacts`` never imports ``service``; its
templates load this library): ``{% company_cases company %}``, ``{% contact_cases contact %}``
render the customer's cases the viewer may see, with satisfaction, in two queries."""

from __future__ import annotations

from typing import Any

from django import template
from django.urls import reverse

from contacts.models import Company, Contact
from service.selectors import customer_cases

register = template.Library()


def _context(context: template.Context, kind: str, record_id: int, new_url: str) -> dict[str, Any]:
    request = context["request"]
    return {"figures": customer_cases(request.user, kind, record_id), "new_url": new_url, "request": request}


@register.inclusion_tag("service/partials/customer_cases.html", takes_context=True)
def company_cases(context: template.Context, company: Company) -> dict[str, Any]:
    return _context(context, "company", company.pk, f"{reverse('service:create')}?company={company.pk}")


@register.inclusion_tag("service/partials/customer_cases.html", takes_context=True)
def contact_cases(context: template.Context, contact: Contact) -> dict[str, Any]:
    return _context(context, "contact", contact.pk, f"{reverse('service:create')}?contact={contact.pk}")
