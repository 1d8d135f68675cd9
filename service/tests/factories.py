from __future__ import annotations

from datetime import datetime

from contacts.models import Company, Contact
from crm.models import Team, User
from service import services
from service.models import Case, SlaPolicy


def policy(*, priority: str = "normal", first: int = 60, resolution: int = 480, warning: int = 15, team=None):
    return SlaPolicy.objects.create(
        team=team,
        priority=priority,
        first_response_minutes=first,
        resolution_minutes=resolution,
        warning_minutes=warning,
    )


def make_case(
    *,
    team: Team,
    owner: User,
    assignee: User | None = None,
    subject: str = "Printer on fire",
    priority: str = "normal",
    now: datetime | None = None,
    contact_email: str = "pat@customer.example",
) -> Case:
    company = Company.objects.create(name=f"Customer of {subject}", owner=owner)
    contact = Contact.objects.create(
        first_name="Pat", last_name="Customer", email=contact_email, company=company, owner=owner
    )
    return services.case_create(
        actor=owner,
        subject=subject,
        team=team,
        company=company,
        contact=contact,
        priority=priority,
        assignee=assignee,
        now=now,
    )
