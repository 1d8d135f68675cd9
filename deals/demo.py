"""Demo deals for ``manage.py seed_demo``: two pipelines, about 600 deals over the past 18 months
with realistic stage histories (skipped stages, a few steps back, won, lost with reasons, and
open deals in every stage), products with line items, and USD/EUR with a rate per month.

Every deal's company is one its owner may see. A few customers follow a story so the customer
value pages have something to show: repeat buyers, customers who lapsed long ago, big spenders
who went quiet, and product bundles bought together (seats + onboarding, API + migration).

Idempotent: once the demo reps own deals, a second run adds nothing.
"""

from __future__ import annotations

import datetime as dt
import random
from decimal import Decimal

from django.conf import settings
from django.utils import timezone
from simple_history.utils import bulk_create_with_history

from contacts.models import Company, Contact, LifecycleStage, Source
from crm.demo import DemoPeople
from deals.models import (
    Deal,
    DealStatus,
    ExchangeRate,
    LineItem,
    LostReason,
    Pipeline,
    Product,
    ProductCost,
    Stage,
    StageChange,
)
from deals.money import forget_rates

DEAL_COUNT = 600
MONTHS = 18

ENTERPRISE_STAGES = [
    ("Discovery", 10, False, False),
    ("Solution design", 30, False, False),
    ("Proposal", 50, False, False),
    ("Contract", 80, False, False),
    ("Won", 100, True, False),
    ("Lost", 0, False, True),
]
SALES_STAGES = [
    ("Lead", 10, False, False),
    ("Qualified", 25, False, False),
    ("Proposal", 50, False, False),
    ("Negotiation", 75, False, False),
    ("Won", 100, True, False),
    ("Lost", 0, False, True),
]
LOST_REASONS = ["Price too high", "Chose a competitor", "No budget", "No decision", "Bad timing", "Other"]
PRODUCTS = [
    # sku, name, price, currency
    ("DEMO-SEAT", "CRM seat (annual)", "480.00", "USD"),
    ("DEMO-SEAT-EU", "CRM seat (annual, EU)", "450.00", "EUR"),
    ("DEMO-ONBOARD", "Onboarding package", "2500.00", "USD"),
    ("DEMO-ONBOARD-EU", "Onboarding package (EU)", "2300.00", "EUR"),
    ("DEMO-SUPPORT", "Premium support", "1200.00", "USD"),
    ("DEMO-API", "API access add-on", "900.00", "USD"),
    ("DEMO-TRAIN-EU", "On-site training day (EU)", "1400.00", "EUR"),
    ("DEMO-MIGRATE", "Data migration", "3800.00", "USD"),
    ("DEMO-HW", "Hardware bundle (resold)", "25000.00", "USD"),
]
# Cost prices (share of the price) since two years ago, and a price rise of the supplier six
# months ago for some: the line items keep the cost of the day they were sold.
COST_SHARES = {
    "DEMO-SEAT": ("0.20", "0.25"),
    "DEMO-SEAT-EU": ("0.20", "0.25"),
    "DEMO-ONBOARD": ("0.55", "0.55"),
    "DEMO-ONBOARD-EU": ("0.55", "0.60"),
    "DEMO-SUPPORT": ("0.35", "0.35"),
    "DEMO-API": ("0.10", "0.10"),
    "DEMO-TRAIN-EU": ("0.50", "0.50"),
    "DEMO-MIGRATE": ("0.60", "0.65"),
    "DEMO-HW": ("0.93", "0.95"),
}
PIPELINE_MARGINS = {"Sales": Decimal("45"), "Enterprise": Decimal("35")}
# The customer whose revenue is big and whose profit is not: it buys resold hardware at a thin
# margin (and, in service's demo, opens many long cases).
WHALE_SKU = "DEMO-HW"
DEMO_COMPANIES = [
    "Northwind Traders",
    "Globex",
    "Initech",
    "Umbrella Logistics",
    "Stark Components",
    "Wayne Freight",
    "Hooli Cloud",
    "Vandelay Imports",
    "Soylent Foods",
    "Tyrell Robotics",
    "Cyberdyne Systems",
    "Massive Dynamic",
    "Wonka Confections",
    "Acme Tools",
    "Oceanic Air",
    "Pied Piper",
    "Gringotts Finance",
    "Monarch Solutions",
    "Nakatomi Trading",
    "Blue Sun",
]
TITLE_WORDS = ["rollout", "renewal", "expansion", "pilot", "upgrade", "migration", "seats", "support plan"]
LOST_NOTES = ["", "", "Went with the incumbent.", "Budget moved to next year."]
# Russian and Chinese customers' deals are titled in Russian and Chinese (lists as long as the
# English ones: the same random picks follow).
LOCAL_TITLE_WORDS = {
    "RU": ["внедрение", "продление", "расширение", "пилот", "обновление", "миграция", "лицензии", "поддержка"],
    "CN": ["部署", "续约", "扩容", "试点", "升级", "迁移", "席位", "支持计划"],
}
LOCAL_LOST_NOTES = {
    "RU": ["", "", "Остались с текущим поставщиком.", "Бюджет перенесли на следующий год."],
    "CN": ["", "", "继续使用现有供应商。", "预算推迟到明年。"],
}


def _title(rng: random.Random, company: Company) -> str:
    """``Вектор — продление``, ``华信科技 续约``, ``Acme renewal``."""
    name = company.name.removeprefix("[Demo] ")
    word = rng.choice(LOCAL_TITLE_WORDS.get(str(company.country), TITLE_WORDS))
    if str(company.country) == "RU":
        return f"{name}: {word}"
    return f"{name} {word}"


# Product bundles (SKUs) and how often a deal with products carries each: clear co-purchase
# patterns for the cross-sell report.
BUNDLES = {
    "USD": [
        (("DEMO-SEAT", "DEMO-ONBOARD"), 30),
        (("DEMO-SEAT", "DEMO-ONBOARD", "DEMO-SUPPORT"), 15),
        (("DEMO-API", "DEMO-MIGRATE"), 15),
        (("DEMO-SEAT", "DEMO-SUPPORT"), 10),
        (("DEMO-SEAT",), 15),
        (("DEMO-API",), 5),
        (("DEMO-MIGRATE",), 5),
    ],
    "EUR": [
        (("DEMO-SEAT-EU", "DEMO-ONBOARD-EU"), 40),
        (("DEMO-SEAT-EU", "DEMO-TRAIN-EU"), 30),
        (("DEMO-SEAT-EU",), 30),
    ],
}
# Customer stories: (count, won deals, days ago of the newest .. oldest purchase, amount factor).
STORIES = {
    "repeat": (12, (4, 7), (5, 540), 1.0),
    "lapsed": (8, (1, 2), (420, 660), 0.8),
    "big_quiet": (6, (4, 6), (200, 480), 3.0),
}
# Mean days a deal spends in each open stage before it moves on.
STAGE_DAYS = [16, 24, 30, 24]


def _stages(name: str, spec: list[tuple[str, int, bool, bool]], *, default: bool, position: int) -> list[Stage]:
    pipeline, created = Pipeline.objects.get_or_create(
        name=name, defaults={"is_default": default and not Pipeline.objects.filter(is_default=True).exists()}
    )
    if created or not pipeline.stages.exists():
        pipeline.position = position
        pipeline.save(update_fields=["position"])
        Stage.objects.bulk_create(
            Stage(pipeline=pipeline, name=n, position=i, probability=p, is_won=w, is_lost=lost)
            for i, (n, p, w, lost) in enumerate(spec)
        )
    return list(pipeline.stages.order_by("position", "id"))


def _rates(rng: random.Random, today: dt.date) -> None:
    """A EUR rate (to the base currency) on the first of each month; USD when EUR is the base."""
    other = "EUR" if settings.BASE_CURRENCY != "EUR" else "USD"
    base_rate = 1.08 if other == "EUR" else 0.92
    rows = []
    month = today.replace(day=1)
    for _i in range(MONTHS + 2):
        drift = Decimal(str(round(base_rate + rng.uniform(-0.04, 0.04), 4)))
        rows.append(ExchangeRate(currency=other, date=month, rate=drift))
        month = (month - dt.timedelta(days=1)).replace(day=1)
    ExchangeRate.objects.bulk_create(rows, ignore_conflicts=True)
    forget_rates()  # bulk_create sends no post_save


def _companies(people: DemoPeople) -> list[Company]:
    companies = list(Company.objects.filter(archived_at__isnull=True).order_by("id")[:300])
    if companies:
        return companies
    # contacts.demo has not run (or has nothing yet): a few companies of the deals demo's own.
    owners = [*people.reps, people.alice]
    for i, name in enumerate(DEMO_COMPANIES):
        Company.objects.get_or_create(
            name=f"[Demo] {name}",
            defaults={
                "owner": owners[i % len(owners)],
                "lifecycle_stage": LifecycleStage.PROSPECT,
                "source": Source.OTHER,
            },
        )
    return list(Company.objects.filter(name__startswith="[Demo] ").order_by("id"))


def _path(
    rng: random.Random, stages: list[Stage], start: dt.datetime, now: dt.datetime
) -> list[tuple[Stage, dt.datetime]]:
    """Where a deal went and when: forward mostly, sometimes skipping or stepping back; then won or lost."""
    open_stages = [s for s in stages if not s.is_closed]
    won = next(s for s in stages if s.is_won)
    lost = next(s for s in stages if s.is_lost)
    index = 0 if rng.random() < 0.85 else 1
    at = start
    path = [(open_stages[index], at)]
    while True:
        at = at + dt.timedelta(days=rng.expovariate(1 / STAGE_DAYS[min(index, 3)]), hours=rng.uniform(0, 8))
        if at >= now:
            return path  # still open in its current stage
        roll = rng.random()
        if roll < 0.10 + 0.03 * index:
            path.append((lost, at))
            return path
        if index == len(open_stages) - 1 and roll < 0.75:
            path.append((won, at))
            return path
        if roll > 0.95 and index > 0:
            index -= 1  # back a step: the customer reopened the requirements
        elif roll > 0.85 and index < len(open_stages) - 2:
            index += 2  # skipped a stage
        else:
            index = min(index + 1, len(open_stages) - 1)
        path.append((open_stages[index], at))


def _expected_close(rng: random.Random, status: str, created: dt.datetime, entered: dt.datetime) -> dt.date:
    if status != DealStatus.OPEN:
        return entered.date()
    return (created + dt.timedelta(days=rng.randint(30, 150))).date()


def _line_items(rng: random.Random, catalogue: list[Product], *, share: float = 0.5) -> list[LineItem]:
    """Products for ``share`` of deals, as one of the currency's bundles, priced in the deal's currency."""
    if not catalogue or rng.random() >= share:
        return []
    by_sku = {product.sku: product for product in catalogue}
    bundles = BUNDLES.get(catalogue[0].currency, [])
    if bundles:
        skus = rng.choices([skus for skus, _w in bundles], weights=[w for _s, w in bundles])[0]
        chosen = [by_sku[sku] for sku in skus if sku in by_sku]
    else:
        chosen = rng.sample(catalogue, k=min(len(catalogue), rng.randint(1, 3)))
    return [
        LineItem(
            product=product,
            quantity=Decimal(rng.choice([1, 1, 2, 5, 10, 25])),
            unit_price=product.price,
            discount_percent=Decimal(rng.choice([0, 0, 5, 10, 15])),
            position=position,
        )
        for position, product in enumerate(chosen, start=1)
    ]


def _story_deals(
    rng: random.Random, companies: list[Company], stages: list[Stage], products: dict[str, list[Product]], now
) -> list[tuple[Deal, list[tuple[Stage, dt.datetime]], list[LineItem]]]:
    """Won deals of the story customers (owned by the company's owner, in the base currency)."""
    open_stages = [stage for stage in stages if not stage.is_closed]
    won = next(stage for stage in stages if stage.is_won)
    catalogue = products.get(settings.BASE_CURRENCY) or []
    rows = []
    remaining = list(companies)
    for story, (count, (fewest, most), (newest, oldest), factor) in STORIES.items():
        for company in remaining[:count]:
            purchases = rng.randint(fewest, most)
            days = sorted((rng.uniform(newest, oldest) for _i in range(purchases - 1)), reverse=True)
            days.append(newest + rng.uniform(0, 30))  # the newest purchase
            for ago in days:
                closed = now - dt.timedelta(days=ago, hours=rng.uniform(0, 8))
                created = closed - dt.timedelta(days=rng.uniform(20, 60))
                step = (closed - created) / len(open_stages)
                path = [(stage, created + step * i) for i, stage in enumerate(open_stages)] + [(won, closed)]
                amount = Decimal(round(rng.lognormvariate(9.5, 0.5) * factor, -2)).quantize(Decimal("0.01"))
                deal = Deal(
                    title=_title(rng, company),
                    company=company,
                    owner_id=company.owner_id,
                    pipeline_id=won.pipeline_id,
                    stage=won,
                    amount=max(amount, Decimal("500.00")),
                    currency=settings.BASE_CURRENCY,
                    probability=won.probability,
                    expected_close_date=closed.date(),
                    status=DealStatus.WON,
                    source=rng.choice(Source.values),
                    closed_at=closed,
                    stage_entered_at=closed,
                    created_at=created,
                    version=len(path),
                )
                # Big spenders mostly buy custom work; a few catalogue items on some of their deals.
                planned = _line_items(rng, catalogue, share=0.3 if story == "big_quiet" else 0.8)
                if planned and story != "big_quiet":
                    deal.amount = sum((item.total for item in planned), Decimal("0"))
                    deal.amount_from_line_items = True
                rows.append((deal, path, planned))
        stage = LifecycleStage.FORMER_CUSTOMER if story == "lapsed" else LifecycleStage.CUSTOMER
        Company.objects.filter(pk__in=[company.pk for company in remaining[:count]]).update(lifecycle_stage=stage)
        remaining = remaining[count:]
    return rows


def seed(*, people: DemoPeople) -> None:
    rng = random.Random(42)
    now = timezone.now()
    today = timezone.localdate()
    sales = _stages("Sales", SALES_STAGES, default=True, position=0)
    enterprise = _stages("Enterprise", ENTERPRISE_STAGES, default=False, position=1)
    for name in LOST_REASONS:
        LostReason.objects.get_or_create(name=name)
    _rates(rng, today)
    Product.objects.bulk_create(
        [Product(sku=sku, name=name, price=Decimal(price), currency=cur) for sku, name, price, cur in PRODUCTS],
        ignore_conflicts=True,
    )
    _costs(today)
    owners = [people.alice, people.bob, people.carol, people.manager, people.erin]
    if Deal.objects.filter(owner__in=owners).exists():
        return

    companies = _companies(people)
    reasons = list(LostReason.objects.filter(active=True))
    products = {cur: list(Product.objects.filter(sku__startswith="DEMO-", currency=cur)) for cur in ("USD", "EUR")}
    other_currency = "EUR" if settings.BASE_CURRENCY != "EUR" else "USD"
    contacts_by_company: dict[int, list[int]] = {}
    for contact_id, company_id in Contact.objects.filter(company__in=companies).values_list("id", "company_id"):
        contacts_by_company.setdefault(company_id, []).append(contact_id)

    # Some customers are kept for the stories below; the others get the random deals.
    story_companies = rng.sample(companies, k=min(len(companies) // 4, sum(n for n, *_r in STORIES.values())))
    story_ids = {company.pk for company in story_companies}
    pool = [company for company in companies if company.pk not in story_ids] or companies
    # A deal's company is one its owner may see (their own or a teammate's; managers: their teams').
    visible = {owner.pk: [c for c in pool if owner.can_read_owner(c.owner_id)] or pool for owner in owners}
    own = {owner.pk: [c for c in pool if c.owner_id == owner.pk] for owner in owners}

    deals: list[Deal] = []
    paths: list[list[tuple[Stage, dt.datetime]]] = []
    planned_items: list[list[LineItem]] = []
    for _i in range(DEAL_COUNT):
        stages = enterprise if rng.random() < 0.3 else sales
        # More deals recently (a growing team), so the board has a realistic open pipeline.
        created = now - dt.timedelta(days=MONTHS * 30.4 * rng.random() ** 1.6, hours=rng.uniform(0, 23))
        path = _path(rng, stages, created, now)
        stage, entered = path[-1]
        owner = rng.choices(owners, weights=[5, 5, 5, 1, 1])[0]
        company = rng.choice(own[owner.pk] if own[owner.pk] and rng.random() < 0.75 else visible[owner.pk])
        currency = other_currency if rng.random() < 0.25 else settings.BASE_CURRENCY
        amount = Decimal(round(rng.lognormvariate(9.3, 0.8), -2)).quantize(Decimal("0.01"))
        status = DealStatus.WON if stage.is_won else DealStatus.LOST if stage.is_lost else DealStatus.OPEN
        manual = status == DealStatus.OPEN and rng.random() < 0.1
        deals.append(
            Deal(
                title=_title(rng, company),
                company=company,
                owner=owner,
                pipeline_id=stage.pipeline_id,
                stage=stage,
                amount=max(amount, Decimal("500.00")),
                currency=currency,
                probability=rng.choice([20, 40, 60, 90]) if manual else stage.probability,
                probability_is_manual=manual,
                expected_close_date=_expected_close(rng, status, created, entered),
                status=status,
                lost_reason=rng.choice(reasons) if stage.is_lost else None,
                lost_note=rng.choice(LOCAL_LOST_NOTES.get(str(company.country), LOST_NOTES)) if stage.is_lost else "",
                source=rng.choice(Source.values),
                closed_at=entered if status != DealStatus.OPEN else None,
                stage_entered_at=entered,
                created_at=created,
                version=len(path),
            )
        )
        planned = _line_items(rng, products.get(currency) or [])
        if planned:
            deals[-1].amount = sum((item.total for item in planned), Decimal("0"))
            deals[-1].amount_from_line_items = True
        paths.append(path)
        planned_items.append(planned)
    for deal, path, planned in _story_deals(rng, story_companies, sales, products, now):
        deals.append(deal)
        paths.append(path)
        planned_items.append(planned)
    deals = bulk_create_with_history(deals, Deal, batch_size=500, default_change_reason="Demo data")

    changes = []
    items = []
    links = []
    for deal, path, planned in zip(deals, paths, planned_items, strict=True):
        previous = None
        for stage, at in path:
            changes.append(
                StageChange(
                    deal=deal,
                    from_stage=previous,
                    to_stage=stage,
                    actor=deal.owner,
                    at=at,
                    lost_reason=deal.lost_reason if stage.is_lost else None,
                    note=deal.lost_note if stage.is_lost else "",
                )
            )
            previous = stage
        for item in planned:
            item.deal = deal
            items.append(item)
        known = contacts_by_company.get(deal.company_id, [])
        if known:
            for contact_id in rng.sample(known, k=min(len(known), rng.randint(1, 2))):
                links.append(Deal.contacts.through(deal_id=deal.pk, contact_id=contact_id))
    StageChange.objects.bulk_create(changes, batch_size=2000)
    LineItem.objects.bulk_create(items, batch_size=2000)
    Deal.contacts.through.objects.bulk_create(links, batch_size=2000, ignore_conflicts=True)
    _whale(story_companies[sum(n for n, *_r in list(STORIES.values())[:2]) :])
    _snapshot_demo_costs()
    if people.dmitry is not None:
        _russian_rep_story(people.dmitry, sales, now)


def _costs(today: dt.date) -> None:
    """Pipelines' default margins and the products' cost history (idempotent)."""
    for name, percent in PIPELINE_MARGINS.items():
        Pipeline.objects.filter(name=name, default_margin_percent=100).update(default_margin_percent=percent)
    for product in Product.objects.filter(sku__in=COST_SHARES):
        old, new = (Decimal(share) for share in COST_SHARES[product.sku])
        for since, share in ((today - dt.timedelta(days=730 + 365), old), (today - dt.timedelta(days=180), new)):
            ProductCost.objects.get_or_create(
                product=product,
                valid_from=since,
                defaults={"cost": (product.price * share).quantize(Decimal("0.01")), "currency": product.currency},
            )


def _whale(big_customers: list[Company]) -> None:
    """One big customer's won deals become resold hardware at a thin margin (one line item each)."""
    english = [company for company in big_customers if company.country not in ("RU", "CN")] or big_customers
    if not english:
        return
    whale = english[0]
    product = Product.objects.get(sku=WHALE_SKU)
    deals = list(Deal.objects.filter(company=whale, status=DealStatus.WON))
    LineItem.objects.filter(deal__in=deals).delete()
    LineItem.objects.bulk_create(
        [
            LineItem(deal=deal, product=product, quantity=Decimal("1"), unit_price=deal.amount, position=1)
            for deal in deals
        ]
    )
    Deal.objects.filter(pk__in=[deal.pk for deal in deals]).update(amount_from_line_items=True)


def _snapshot_demo_costs() -> None:
    """The cost at sale of the demo's line items (written in bulk, without the services): the
    product's cost price on the close date (today for open deals) in the deal's currency; the
    whale's hardware at its share of the price paid."""
    from deals.services import line_items_snapshot_cost

    for deal in Deal.objects.filter(line_items__isnull=False).distinct():
        on = timezone.localdate(deal.closed_at) if deal.closed_at else timezone.localdate()
        line_items_snapshot_cost(deal=deal, on=on)
    for item in LineItem.objects.filter(product__sku=WHALE_SKU).select_related("deal"):
        share = Decimal(
            COST_SHARES[WHALE_SKU][
                0 if item.deal.closed_at and item.deal.closed_at < timezone.now() - dt.timedelta(days=180) else 1
            ]
        )
        LineItem.objects.filter(pk=item.pk).update(unit_cost=(item.unit_price * share).quantize(Decimal("0.01")))


# Dmitry (the demo rep who reads the CRM in Russian) and his own customers, in roubles. Written
# after the random deals without the random generator, so the rest of the demo stays as it was.
RUSSIAN_STORY = [
    # company, city, contacts (first, last, title), deal word, amount ₽, stage index (Sales), days in
    ("ООО «Ромашка»", "Москва", [("Ольга", "Фёдорова", "Генеральный директор"), ("Пётр", "Семёнов", "Инженер")],
     "внедрение", "1250000.00", 2, 12),
    ("АО «Северный поток»", "Санкт-Петербург", [("Анна", "Ёлкина", "Руководитель закупок")],
     "продление", "480000.00", 3, 5),
    ("ООО «Ёлки-Палки»", "Казань", [("Игорь", "Кузнецов", "Финансовый директор"), ("Мария", "Попова", "")],
     "пилот", "320000.00", 0, 3),
    ("ИП Фёдоров", "Екатеринбург", [("Сергей", "Фёдоров", "Владелец")], "лицензии", "95000.00", 1, 20),
]  # fmt: skip
RUB_PER_USD = Decimal("0.0110")


def _russian_rep_story(dmitry, sales: list[Stage], now: dt.datetime) -> None:
    if Deal.objects.filter(owner=dmitry).exists():
        return
    month = timezone.localdate().replace(day=1)
    rates = []
    for _i in range(MONTHS + 2):
        rates.append(ExchangeRate(currency="RUB", date=month, rate=RUB_PER_USD))
        month = (month - dt.timedelta(days=1)).replace(day=1)
    if settings.BASE_CURRENCY != "RUB":
        ExchangeRate.objects.bulk_create(rates, ignore_conflicts=True)
        forget_rates()
    open_stages = [stage for stage in sales if not stage.is_closed]
    for number, (name, city, people, word, amount, stage_index, days) in enumerate(RUSSIAN_STORY, start=1):
        created = now - dt.timedelta(days=days + 10 * (stage_index + 1))
        company = Company(
            name=name,
            city=city,
            country="RU",
            industry="Производство",
            owner=dmitry,
            lifecycle_stage=LifecycleStage.PROSPECT,
            source=Source.REFERRAL,
            external_id=f"demo-ru{number}",
            created_at=created,
        )
        company.completeness = company.compute_completeness()
        company.save()
        contacts = []
        for first, last, title in people:
            contact = Contact(
                first_name=first, last_name=last, title=title, company=company, owner=dmitry, country="RU",
                created_at=created,
            )  # fmt: skip
            contact.completeness = contact.compute_completeness()
            contact.save()
            contacts.append(contact)
        stage = open_stages[stage_index]
        path = [(open_stages[i], created + dt.timedelta(days=10 * i)) for i in range(stage_index + 1)]
        deal = Deal.objects.create(
            title=f"{name}: {word}",
            company=company,
            owner=dmitry,
            pipeline_id=stage.pipeline_id,
            stage=stage,
            amount=Decimal(amount),
            currency="RUB",
            probability=stage.probability,
            expected_close_date=(now + dt.timedelta(days=30 + 15 * number)).date(),
            source=Source.REFERRAL,
            stage_entered_at=path[-1][1],
            created_at=created,
            version=len(path),
        )
        deal.contacts.set(contacts)
        previous = None
        for step, at in path:
            StageChange.objects.create(deal=deal, from_stage=previous, to_stage=step, actor=dmitry, at=at)
            previous = step
