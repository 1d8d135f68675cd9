"""Demo activities: ~3,000 over the last 18 months on the demo customers, plus upcoming tasks,
meetings and reminders for alice, bob and carol (one reminder a few minutes after seeding,
so the bell can be watched ringing)."""

from __future__ import annotations

import random
from datetime import timedelta

from django.db.models import Max, OuterRef, Subquery
from django.utils import timezone

from activities.models import Activity, ActivityType, Reminder, TimelineEvent
from activities.services import activity_types_ensure_builtin
from contacts.models import Company, Contact
from crm.demo import DemoPeople
from deals.models import Deal

HISTORY_PER_REP = 1000
FALLBACK_PREFIX = "Demo (activities) · "
FALLBACK_COMPANIES = ["Northwind Traders", "Globex", "Initech", "Umbrella Logistics", "Stark Components", "Acme Rail"]
FALLBACK_PEOPLE = [("Anna", "Berg"), ("Pavel", "Orlov"), ("Maria", "Lopez"), ("Jon", "Park")]

SUBJECTS = {
    "call": ["Intro call", "Follow-up call", "Pricing question", "Check-in call", "Renewal call", "Left a voicemail"],
    "email": ["Sent proposal", "Sent case study", "Answered questions", "Sent contract draft", "Shared pricing"],
    "meeting": ["Discovery meeting", "Product demo", "Quarterly review", "Negotiation", "On-site workshop"],
    "task": ["Prepare quote", "Send follow-up", "Update forecast", "Book demo", "Review contract", "Call back"],
    "note": ["Budget approved for Q3", "Decision maker is the CFO", "Competitor is cheaper", "Wants a pilot first"],
}
OUTCOMES = ["Interested", "Call back later", "No answer", "Meeting booked", "Not now"]
BODY = "Notes: https://example.com/wiki/account-plan"
# Russian and Chinese customers' activities are written in Russian and Chinese. Each list is as
# long as the English one, so the same random picks (and the rest of the demo) follow.
LOCAL = {
    "RU": {
        "subjects": {
            "call": ["Первый звонок", "Повторный звонок", "Вопрос по цене", "Звонок-проверка", "Звонок о продлении",
                     "Оставил голосовое сообщение"],
            "email": ["Отправил предложение", "Отправил кейс", "Ответил на вопросы", "Отправил проект договора",
                      "Отправил прайс"],
            "meeting": ["Встреча-знакомство", "Демонстрация продукта", "Квартальный обзор", "Переговоры",
                        "Выездной семинар"],
            "task": ["Подготовить КП", "Написать после встречи", "Обновить прогноз", "Назначить демо",
                     "Проверить договор", "Перезвонить"],
            "note": ["Бюджет на III квартал утверждён", "Решение принимает финансовый директор",
                     "Конкурент дешевле", "Сначала хотят пилот"],
        },
        "outcomes": ["Заинтересован", "Перезвонить позже", "Не ответил", "Назначена встреча", "Не сейчас"],
        "body": "Заметки: https://example.com/wiki/account-plan",
    },
    "CN": {
        "subjects": {
            "call": ["初次通话", "跟进电话", "价格咨询", "例行回访", "续约电话", "已留语音留言"],
            "email": ["已发送方案", "已发送案例", "已答复问题", "已发送合同草案", "已发送报价"],
            "meeting": ["需求沟通会", "产品演示", "季度回顾", "商务谈判", "现场培训"],
            "task": ["准备报价", "发送跟进邮件", "更新预测", "预约演示", "审核合同", "回电"],
            "note": ["第三季度预算已批准", "决策人是财务总监", "竞争对手更便宜", "希望先试点"],
        },
        "outcomes": ["有兴趣", "稍后回电", "无人接听", "已约会议", "暂不需要"],
        "body": "备注：https://example.com/wiki/account-plan",
    },
}  # fmt: skip


def _words(company: Company) -> dict:
    local = LOCAL.get(str(company.country))
    if local is None:
        return {"subjects": SUBJECTS, "outcomes": OUTCOMES, "body": BODY}
    return local


TYPE_WEIGHTS = {"call": 30, "email": 28, "meeting": 10, "task": 17, "note": 15}


def _customers(people: DemoPeople) -> list[tuple[Company, list[Contact], list[Deal]]]:
    companies = list(Company.objects.filter(owner__in=people.reps).order_by("id")[:300])
    if not companies:
        companies = []
        for i, name in enumerate(FALLBACK_COMPANIES):
            company, _created = Company.objects.get_or_create(
                name=FALLBACK_PREFIX + name, defaults={"owner": people.reps[i % 3]}
            )
            companies.append(company)
            for first, last in FALLBACK_PEOPLE[: 2 + i % 3]:
                Contact.objects.get_or_create(
                    first_name=first, last_name=last, company=company, defaults={"owner": company.owner}
                )
    contacts: dict[int, list[Contact]] = {}
    for contact in Contact.objects.filter(company__in=companies).order_by("id"):
        contacts.setdefault(contact.company_id, []).append(contact)
    deals: dict[int, list[Deal]] = {}
    for deal in Deal.objects.filter(company__in=companies).order_by("id"):
        deals.setdefault(deal.company_id, []).append(deal)
    return [(c, contacts.get(c.pk, []), deals.get(c.pk, [])) for c in companies]


def _quiet_after(rng: random.Random, customers: list, now) -> dict[int, object]:
    """Customers nobody has talked to since a few weeks after their last deal closed (no open
    deal, last close over four months ago): most of them, so the dormant list has entries."""
    quiet = {}
    for company, _contacts, deals in customers:
        if not deals or any(deal.closed_at is None for deal in deals):
            continue
        last = max(deal.closed_at for deal in deals)
        if last < now - timedelta(days=120) and rng.random() < 0.6:
            quiet[company.pk] = last + timedelta(days=rng.uniform(7, 30))
    return quiet


def seed(*, people: DemoPeople) -> None:
    if Activity.objects.filter(owner__in=people.reps).exists():
        return
    rng = random.Random(42)
    now = timezone.now()
    activity_types_ensure_builtin()
    types = {t.key: t for t in ActivityType.objects.filter(key__in=TYPE_WEIGHTS)}
    customers = _customers(people)
    by_owner: dict[int, list] = {}
    for row in customers:
        by_owner.setdefault(row[0].owner_id, []).append(row)

    quiet_after = _quiet_after(rng, customers, now)
    activities: list[Activity] = []
    for rep in people.reps:
        mine = by_owner.get(rep.pk) or customers
        for _i in range(HISTORY_PER_REP):
            key = rng.choices(list(TYPE_WEIGHTS), weights=list(TYPE_WEIGHTS.values()))[0]
            company, contacts, deals = rng.choice(mine)
            at = now - timedelta(days=rng.uniform(1, 548), minutes=rng.randint(0, 600))
            if company.pk in quiet_after and at > quiet_after[company.pk]:
                at = quiet_after[company.pk] - timedelta(days=rng.uniform(0, 90))
            # A few old tasks were never done: they show up as overdue.
            done = not (key == "task" and rng.random() < 0.01)
            words = _words(company)
            activities.append(
                Activity(
                    type=types[key],
                    subject=rng.choice(words["subjects"][key]),
                    body="" if rng.random() < 0.6 else words["body"],
                    owner=rep,
                    created_by=rep,
                    company=company,
                    contact=rng.choice(contacts) if contacts and rng.random() < 0.7 else None,
                    deal=rng.choice(deals) if deals and rng.random() < 0.5 else None,
                    due_at=at if key in ("task", "meeting") else None,
                    ends_at=at + timedelta(minutes=45) if key == "meeting" else None,
                    duration_minutes=rng.choice([5, 10, 15, 30])
                    if key == "call"
                    else (45 if key == "meeting" else None),
                    outcome=rng.choice(words["outcomes"]) if key in ("call", "meeting") else "",
                    done_at=at if done else None,
                    created_at=at,
                )
            )
        # Upcoming work: a few overdue, some today, the rest over the next two weeks.
        talking_to = [row for row in mine if row[0].pk not in quiet_after] or mine
        for j in range(18):
            key = "meeting" if j % 5 == 0 else "task"
            company, contacts, deals = rng.choice(talking_to)
            offset = [-2 * 24 * 60, -26 * 60, -90, 45, 120, 240][j] if j < 6 else rng.randint(24 * 60, 14 * 24 * 60)
            due = (now + timedelta(minutes=offset)).replace(second=0, microsecond=0)
            if j >= 6:  # later work lands in office hours
                due = due.replace(hour=rng.randint(8, 17), minute=rng.choice([0, 15, 30, 45]))
            activities.append(
                Activity(
                    type=types[key],
                    subject=rng.choice(_words(company)["subjects"][key]),
                    owner=rep,
                    created_by=rep,
                    company=company,
                    contact=rng.choice(contacts) if contacts else None,
                    deal=rng.choice(deals) if deals else None,
                    due_at=due,
                    ends_at=due + timedelta(minutes=30) if key == "meeting" else None,
                    duration_minutes=30 if key == "meeting" else None,
                    created_at=now - timedelta(days=rng.randint(1, 10)),
                )
            )
    if people.dmitry is not None:
        activities += _russian_rep_activities(people.dmitry, types, now)
    created = Activity.objects.bulk_create(activities, batch_size=1000)

    TimelineEvent.objects.bulk_create(
        [
            TimelineEvent(
                kind="activity",
                title=a.subject,
                occurred_at=a.occurred_at,
                actor_id=a.owner_id,
                company_id=a.company_id,
                contact_id=a.contact_id,
                deal_id=a.deal_id,
                activity=a,
            )
            for a in created
        ],
        batch_size=1000,
    )

    reminders = [
        Reminder(activity=a, minutes_before=15, remind_at=a.due_at - timedelta(minutes=15))
        for a in created
        if a.done_at is None and a.due_at and a.due_at > now + timedelta(minutes=15)
    ]
    alice_next = Activity.objects.create(
        type=types["task"],
        subject="Call back Northwind about the pilot",
        owner=people.alice,
        created_by=people.alice,
        company=customers[0][0],
        due_at=now + timedelta(minutes=10),
    )
    TimelineEvent.objects.create(
        kind="activity",
        title=alice_next.subject,
        occurred_at=alice_next.due_at,
        actor=people.alice,
        company=alice_next.company,
        activity=alice_next,
    )
    # Rings a few minutes after seeding: the demo of reminders arriving while the page is open.
    reminders.append(Reminder(activity=alice_next, remind_at=now + timedelta(minutes=3)))
    Reminder.objects.bulk_create(reminders)

    latest = Activity.objects.filter(deal=OuterRef("pk"), done_at__isnull=False).values("deal")
    Deal.objects.filter(pk__in=Activity.objects.filter(deal__isnull=False).values("deal_id")).update(
        last_activity_at=Subquery(latest.annotate(m=Max("done_at")).values("m")[:1])
    )


# Dmitry's week (his customers come from deals.demo): done calls and meetings, one overdue task,
# work due today and tomorrow; no random picks, so the rest of the demo stays as it was.
RUSSIAN_REP_WORK = [
    # type, subject, minutes from now (negative: in the past), done, outcome
    ("call", "Первый звонок: обсудили сроки внедрения", -9 * 24 * 60, True, "Заинтересован"),
    ("meeting", "Демонстрация продукта для отдела закупок", -5 * 24 * 60, True, "Назначена встреча"),
    ("email", "Отправил коммерческое предложение", -3 * 24 * 60, True, ""),
    ("task", "Согласовать скидку с руководителем", -26 * 60, False, ""),
    ("task", "Перезвонить по договору", 90, False, ""),
    ("meeting", "Встреча с финансовым директором", 4 * 60, False, ""),
    ("task", "Подготовить КП на продление", 26 * 60, False, ""),
]


def _russian_rep_activities(dmitry, types: dict, now) -> list[Activity]:
    deals = list(Deal.objects.filter(owner=dmitry).select_related("company").order_by("id"))
    if not deals:
        return []
    rows = []
    for i, (key, subject, minutes, done, outcome) in enumerate(RUSSIAN_REP_WORK):
        deal = deals[i % len(deals)]
        at = (now + timedelta(minutes=minutes)).replace(second=0, microsecond=0)
        rows.append(
            Activity(
                type=types[key],
                subject=subject,
                owner=dmitry,
                created_by=dmitry,
                company=deal.company,
                contact=deal.contacts.order_by("id").first(),
                deal=deal,
                due_at=at if key in ("task", "meeting") else None,
                ends_at=at + timedelta(minutes=45) if key == "meeting" else None,
                duration_minutes=15 if key == "call" else (45 if key == "meeting" else None),
                outcome=outcome,
                done_at=at if done else None,
                created_at=min(at, now) - timedelta(days=1),
            )
        )
    return rows
