"""Demo service desk for ``manage.py seed_demo``: the two demo teams as queues with
calendars, SLA policies for every priority, and cases in every state — a few breached,
a few resolved with a satisfaction score. Safe to run again: it adds nothing twice."""

from __future__ import annotations

import datetime as dt

from django.utils import timezone

from activities.models import ActivityType
from contacts.models import Company, Contact
from crm.demo import DemoPeople
from service import services
from service.models import Case, CasePriority, SlaPolicy, TeamCalendar

POLICIES = [
    # priority, first response, resolution, warning (business minutes)
    (CasePriority.URGENT, 30, 4 * 60, 10),
    (CasePriority.HIGH, 60, 8 * 60, 15),
    (CasePriority.NORMAL, 4 * 60, 24 * 60, 30),
    (CasePriority.LOW, 8 * 60, 5 * 24 * 60, 60),
]

CASES = [
    # subject, priority, channel, hours ago, what happens
    ("Cannot log in to the customer portal", CasePriority.URGENT, "web", 30, "breached"),
    ("Invoice shows the wrong VAT rate", CasePriority.HIGH, "email", 50, "breached"),
    ("Delivery arrived damaged", CasePriority.NORMAL, "phone", 2, "open"),
    ("Question about the annual plan", CasePriority.LOW, "email", 1, "new"),
    ("Export to Excel fails for large reports", CasePriority.HIGH, "api", 6, "waiting"),
    ("Replacement part for the pump", CasePriority.NORMAL, "phone", 120, "resolved:5"),
    ("Training session for new staff", CasePriority.LOW, "email", 200, "resolved:4"),
    ("Repeated outage last week", CasePriority.URGENT, "phone", 90, "resolved:2"),
]


def seed(*, people: DemoPeople) -> None:
    for priority, first, resolution, warning in POLICIES:
        SlaPolicy.objects.get_or_create(
            team=None,
            priority=priority,
            defaults={"first_response_minutes": first, "resolution_minutes": resolution, "warning_minutes": warning},
        )
    TeamCalendar.objects.get_or_create(
        team=people.inside_sales,
        defaults={"time_zone": "Europe/Berlin", "weekdays": "12345", "start": "08:00", "end": "18:00"},
    )
    TeamCalendar.objects.get_or_create(team=people.enterprise, defaults={"around_the_clock": True})
    _whale_cases(people)
    if Case.objects.filter(subject=CASES[0][0]).exists():
        return
    # The cases are written in English: they go to English-speaking customers (the Russian and
    # Chinese ones keep a history in their own language, contacts/tests/test_demo_languages.py).
    english = Company.objects.filter(owner__in=people.reps).exclude(country__in=["RU", "CN"])
    companies = list(english.order_by("id")[: len(CASES)])
    if not companies:
        return
    email, call = ActivityType.objects.get(key="email"), ActivityType.objects.get(key="call")
    now = timezone.now()
    for i, (subject, priority, channel, hours, fate) in enumerate(CASES):
        company = companies[i % len(companies)]
        contact = Contact.objects.filter(company=company).order_by("id").first()
        team = people.enterprise if i % 3 == 2 else people.inside_sales
        assignee = people.carol if team == people.enterprise else (people.alice, people.bob)[i % 2]
        opened = now - dt.timedelta(hours=hours)
        case = services.case_create(
            actor=assignee,
            subject=subject,
            team=team,
            company=company,
            contact=contact,
            priority=priority,
            channel=channel,
            assignee=assignee,
            now=opened,
        )
        if fate in ("open", "waiting") or fate.startswith("resolved"):
            services.case_log_activity(
                case=case,
                actor=assignee,
                type=email if channel == "email" else call,
                subject=f"Re: {subject}",
                body="Thanks for reaching out, we are looking into it.",
                now=opened + dt.timedelta(minutes=20),
            )
        if fate == "waiting":
            services.case_set_status(case=case, actor=assignee, status="waiting")
        if fate.startswith("resolved"):
            case = services.case_set_status(case=case, actor=assignee, status="resolved")
            token = services.survey_issue(case=case, email=contact.email if contact else "")
            services.survey_answer(token=token, score=int(fate.split(":")[1]), comment="Demo rating.")
    # The breached cases' warnings and escalations (beat does this every minute).
    services.sla_sweep()


# The demo's big-revenue-but-unprofitable customer (deals' demo: resold hardware at a thin
# margin) also keeps the service desk busy: long cases over the last two years.
WHALE_CASES = [
    "Hardware arrived with a faulty power supply",
    "Firmware update bricked two units",
    "On-site visit: rack installation",
    "Replacement shipment tracking",
    "Warranty claim for a failed disk",
    "Integration with the customer's monitoring",
]


def _whale_cases(people: DemoPeople) -> None:
    from deals.demo import WHALE_SKU

    whale = Company.objects.filter(deals__line_items__product__sku=WHALE_SKU).distinct().first()
    if whale is None or Case.objects.filter(company=whale, subject__startswith=WHALE_CASES[0]).exists():
        return
    now = timezone.now()
    contact = Contact.objects.filter(company=whale).order_by("id").first()
    for i in range(36):
        assignee = (people.alice, people.bob, people.carol)[i % 3]
        opened = now - dt.timedelta(days=10 + i * 19, hours=i)
        case = services.case_create(
            actor=assignee,
            subject=f"{WHALE_CASES[i % len(WHALE_CASES)]} (#{i + 1})",
            team=people.enterprise if assignee == people.carol else people.inside_sales,
            company=whale,
            contact=contact,
            priority=CasePriority.HIGH if i % 4 == 0 else CasePriority.NORMAL,
            channel="phone",
            assignee=assignee,
            now=opened,
        )
        case = services.case_update(case=case, actor=assignee, time_spent_minutes=240 + (i % 5) * 90)
        services.case_set_status(case=case, actor=assignee, status="resolved", now=opened + dt.timedelta(days=2))
