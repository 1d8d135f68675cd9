from __future__ import annotations

from decimal import Decimal
from typing import Any

from campaigns import services
from campaigns.models import Campaign, Segment
from contacts.models import Company, Contact
from crm.models import User


def contact(owner: User, last_name: str, *, company: Company | None = None, **fields: Any) -> Contact:
    fields.setdefault("email", f"{last_name.lower()}@example.com")
    fields.setdefault("phone", "+4930901820")
    return Contact.objects.create(first_name="Kim", last_name=last_name, owner=owner, company=company, **fields)


def segment(owner: User, **criteria: Any) -> Segment:
    return Segment.objects.create(name="Target", owner=owner, **criteria)


def campaign(owner: User, *, channel: str = "call", seg: Segment | None = None, **fields: Any) -> Campaign:
    fields.setdefault("currency", "USD")
    fields.setdefault("actual_cost", Decimal("1000"))
    return services.campaign_create(
        campaign=Campaign(name="Spring push", channel=channel, owner=owner, segment=seg or segment(owner), **fields),
        actor=owner,
    )
