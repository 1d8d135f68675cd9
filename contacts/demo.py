"""Demo companies and contacts for ``manage.py seed_demo``.

About 200 companies and 1,000 contacts in Russia, China, the US, Germany and the UK, with
phones typed the way people type them locally (normalised through ``contacts.normalize``,
exactly as the forms do), some incomplete records, a few near-duplicates and tags.
"""

from __future__ import annotations

import random
from datetime import timedelta

from django.utils import timezone
from simple_history.utils import bulk_create_with_history

from contacts.duplicates import duplicates_refresh
from contacts.models import Company, CompanySize, Contact, LifecycleStage, Source, Tag
from contacts.normalize import domain_from_website, normalize_email, normalize_phone
from crm.demo import DemoPeople
from crm.l10n import is_cjk
from crm.models import CustomField, CustomFieldModel, CustomFieldType

DEMO_PREFIX = "demo-"
TAGS = ["vip", "partner", "newsletter", "trade-show-2026", "enterprise", "smb", "churn-risk", "reseller"]
INDUSTRIES = ["Manufacturing", "Logistics", "Retail", "Software", "Banking", "Energy", "Healthcare", "Education", ""]
TITLES = ["CEO", "CFO", "Head of Procurement", "Sales Manager", "Engineer", "Office Manager", "", ""]
# Data is written in its own language: Russian and Chinese records in Russian and Chinese. Each
# list is as long as the English one, so the same random picks (and the rest of the demo) follow.
LOCAL_WORDS = {
    "RU": {
        "industries": [
            "Производство",
            "Логистика",
            "Розничная торговля",
            "Программное обеспечение",
            "Банки",
            "Энергетика",
            "Здравоохранение",
            "Образование",
            "",
        ],
        "titles": [
            "Генеральный директор",
            "Финансовый директор",
            "Руководитель закупок",
            "Менеджер по продажам",
            "Инженер",
            "Офис-менеджер",
            "",
            "",
        ],
    },
    "CN": {
        "industries": ["制造业", "物流", "零售", "软件", "银行", "能源", "医疗", "教育", ""],
        "titles": ["总经理", "财务总监", "采购主管", "销售经理", "工程师", "行政主管", "", ""],
    },
}
# Latin slugs of the Chinese names for their domains and e-mail addresses (huaxin.cn, not firma.cn).
PINYIN = {
    "华信科技": "huaxin", "东方物流": "dongfang", "长城电子": "changcheng", "海天贸易": "haitian",
    "金龙贸易": "jinlong", "中太平洋": "zhongtaipingyang", "伟": "wei", "芳": "fang", "小明": "xiaoming",
    "静": "jing", "丽娜": "lina", "慧": "hui", "敏": "min", "王": "wang", "李": "li", "张": "zhang", "陈": "chen",
    "杨": "yang", "黄": "huang", "欧阳": "ouyang", "北京": "beijing", "上海": "shanghai",
}  # fmt: skip

# Per country: company name parts, people's names, and phone formats as typed locally
# ("#" is a random digit; the first digit after the area code is never 0 or 1).
COUNTRIES = {
    "RU": {
        "companies": [
            "Вектор",
            "Северсталь Трейд",
            "Техносила",
            "Уралмаш Сервис",
            "Балтика Логистик",
            "Ростелеком Бизнес",
            "Сибирь Энерго",
            "Волга Агро",
            "Nordline",
            "Kamaz Parts",
            "Yarmarka",
            "Pulse Digital",
        ],
        "suffixes": ["ООО", "АО", "LLC", ""],
        "tld": "ru",
        "first": ["Анна", "Дмитрий", "Елена", "Игорь", "Мария", "Сергей", "Ольга", "Alexei", "Natalia", "Pavel"],
        "last": [
            "Петрова",
            "Иванов",
            "Смирнова",
            "Кузнецов",
            "Соколова",
            "Попов",
            "Волкова",
            "Orlov",
            "Fedorova",
            "Morozov",
        ],
        "phones": ["+7 (495) 2##-##-##", "8 916 ###-##-##", "8 (812) 3## ## ##", "+7 903 ### ## ##", "89##5######"],
        "cities": ["Москва", "Санкт-Петербург", "Екатеринбург", "Казань", "Новосибирск"],
    },
    "CN": {
        "companies": [
            "华信科技",
            "东方物流",
            "长城电子",
            "金龙贸易",
            "Shenzhen Brightway",
            "海天贸易",
            "中太平洋",
            "Jade River Foods",
        ],
        "suffixes": ["有限公司", "Co., Ltd.", ""],
        "tld": "cn",
        "first": ["伟", "芳", "小明", "静", "Wei", "丽娜", "慧", "敏"],
        "last": ["王", "李", "张", "陈", "Liu", "杨", "黄", "欧阳"],
        "phones": ["+86 138 #### ####", "139########", "010 6### ####", "+86 21 6### ####", "(0755) 8###-####"],
        "cities": ["北京", "上海", "Shenzhen", "Guangzhou", "Hangzhou"],
    },
    "US": {
        "companies": [
            "Acme",
            "Blue Ridge Analytics",
            "Summit Health",
            "Pioneer Freight",
            "Lakeside Foods",
            "Redwood Software",
            "Atlas Energy",
            "Granite Bank",
            "Harbor Retail",
        ],
        "suffixes": ["Inc.", "LLC", "Corp.", "Group"],
        "tld": "com",
        "first": ["John", "Emily", "Michael", "Sarah", "David", "Jessica", "Robert", "Ashley", "James", "Megan"],
        "last": ["Smith", "Johnson", "Williams", "Brown", "Jones", "Miller", "Davis", "Wilson", "Taylor", "Clark"],
        "phones": ["(415) 2##-####", "212.3##.####", "+1 617 4## ####", "1-312-5##-####", "646 7## ####"],
        "cities": ["San Francisco", "New York", "Boston", "Chicago", "Austin"],
    },
    "DE": {
        "companies": [
            "Müller Maschinenbau",
            "Schmidt Logistik",
            "Bergmann Software",
            "Rheinland Energie",
            "Nordsee Fisch",
            "Bayern Werkzeuge",
            "Weber Medizintechnik",
        ],
        "suffixes": ["GmbH", "AG", "GmbH & Co. KG"],
        "tld": "de",
        "first": ["Lukas", "Anna", "Jonas", "Laura", "Felix", "Sophie", "Maximilian", "Lea"],
        "last": ["Müller", "Schmidt", "Schneider", "Fischer", "Weber", "Meyer", "Wagner", "Becker"],
        "phones": ["030 2#######", "+49 89 3######", "0171 #######", "+49 (0)40 4#######", "0221/5######"],
        "cities": ["Berlin", "München", "Hamburg", "Köln", "Frankfurt am Main"],
    },
    "GB": {
        "companies": [
            "Thames Consulting",
            "Pennine Foods",
            "Albion Components",
            "Highland Energy",
            "Kingsway Retail",
            "Oxford Biotech",
        ],
        "suffixes": ["Ltd", "PLC", "Ltd."],
        "tld": "co.uk",
        "first": ["Oliver", "Amelia", "Harry", "Isla", "George", "Emily", "Jack", "Sophie"],
        "last": ["Brown", "Taylor", "Evans", "Thomas", "Roberts", "Walker", "Wright", "Hughes"],
        "phones": ["020 7### ####", "+44 161 4## ####", "07### ######", "0113 2## ####", "+44 (0)131 3## ####"],
        "cities": ["London", "Manchester", "Leeds", "Edinburgh", "Bristol"],
    },
}
TRANSLIT = str.maketrans(
    {
        **dict(zip("абвгдеёзийклмнопрстуфхцыэ", "abvgdeeziiklmnoprstufhcye", strict=True)),
        **{"ж": "zh", "ч": "ch", "ш": "sh", "щ": "sch", "ю": "yu", "я": "ya", "ъ": "", "ь": ""},
        **{"ä": "ae", "ö": "oe", "ü": "ue", "ß": "ss"},
    }
)


def _slug(text: str) -> str:
    for chinese, latin in PINYIN.items():
        text = text.replace(chinese, latin)
    ascii_text = text.lower().translate(TRANSLIT)
    slug = "".join(ch for ch in ascii_text if ch.isascii() and ch.isalnum())
    return slug or "firma"


def _phone(rng: random.Random, country: str) -> str:
    """A valid-looking local number typed in one of the country's formats."""
    for _attempt in range(30):
        pattern = rng.choice(COUNTRIES[country]["phones"])
        raw = "".join(str(rng.randint(0, 9)) if ch == "#" else ch for ch in pattern)
        if normalize_phone(raw, country).valid:
            return raw
    return raw


def seed(*, people: DemoPeople) -> None:
    _seed_records(people=people)
    _seed_custom_fields()


# The custom fields issue #19 asks for, as an admin would define them (crm.custom_fields).
DEMO_REGIONS = {"RU": "EMEA", "DE": "EMEA", "GB": "EMEA", "US": "Americas", "CN": "APAC"}


def _seed_custom_fields() -> None:
    """ "Region" (one choice) and "Contract renewal date" on companies, filled in on the demo
    companies that have no value yet: running it again changes nothing."""
    region, _created = CustomField.objects.get_or_create(
        model=CustomFieldModel.COMPANY,
        key="region",
        defaults={
            "label": "Region",
            "field_type": CustomFieldType.CHOICE,
            "choices": ["EMEA", "Americas", "APAC"],
            "help_text": "The sales region that covers the company.",
            "position": 1,
        },
    )
    CustomField.objects.get_or_create(
        model=CustomFieldModel.COMPANY,
        key="contract_renewal_date",
        defaults={
            "label": "Contract renewal date",
            "field_type": CustomFieldType.DATE,
            "help_text": "When the current contract is up for renewal.",
            "position": 2,
        },
    )
    today = timezone.localdate()
    changed = []
    for company in Company.objects.filter(external_id__startswith=DEMO_PREFIX).exclude(custom__has_key="region"):
        custom = dict(company.custom or {})
        custom["region"] = DEMO_REGIONS.get(str(company.country), "EMEA")
        if company.lifecycle_stage == LifecycleStage.CUSTOMER:
            # Spread over the coming year, the same dates on every run for the same company.
            custom["contract_renewal_date"] = (today + timedelta(days=(company.pk * 37) % 365)).isoformat()
        company.custom = custom
        changed.append(company)
    Company.objects.bulk_update(changed, ["custom"], batch_size=500)


def _seed_records(*, people: DemoPeople) -> None:
    if Company.objects.filter(external_id__startswith=DEMO_PREFIX).exists():
        return
    rng = random.Random(42)
    now = timezone.now()
    owners = [people.alice, people.bob, people.carol, people.manager, people.erin]
    weights = [30, 25, 25, 10, 10]
    tags = {tag.name: tag for tag in Tag.objects.filter(name__in=TAGS)}
    Tag.objects.bulk_create([Tag(name=name) for name in TAGS if name not in tags], ignore_conflicts=True)
    tags = {tag.name: tag for tag in Tag.objects.filter(name__in=TAGS)}

    companies: list[Company] = []
    used_names: set[str] = set()
    while len(companies) < 200:
        country = rng.choice(["RU", "RU", "CN", "US", "US", "DE", "GB"])
        info = COUNTRIES[country]
        base = rng.choice(info["companies"])
        suffix = rng.choice(info["suffixes"])
        city = rng.choice(info["cities"])
        repeat = base in used_names
        name = f"{base} {city}" if repeat else base
        if name in used_names:
            continue
        used_names.add(name)
        full_name = f"{name} {suffix}".strip() if country != "RU" or not suffix else f"{suffix} «{name}»"
        if is_cjk(base[-1:]):
            # Chinese writes the city first and no spaces: 上海华信科技有限公司.
            local = f"{city}{base}" if repeat and is_cjk(city) else name
            full_name = f"{local}{suffix}" if is_cjk(suffix) and is_cjk(local[-1]) else f"{local} {suffix}".strip()
        incomplete = rng.random() < 0.12
        domain = "" if incomplete else domain_from_website(f"https://www.{_slug(name)}.{info['tld']}/")
        phone = normalize_phone("" if incomplete else _phone(rng, country), country)
        company = Company(
            name=full_name,
            domain=domain,
            industry=rng.choice(LOCAL_WORDS.get(country, {}).get("industries", INDUSTRIES)),
            size=rng.choice([*CompanySize.values, ""]),
            phone=phone.e164,
            phone_is_invalid=not phone.valid,
            email=normalize_email(f"info@{domain}") if domain and rng.random() < 0.6 else "",
            city="" if incomplete else city,
            country=country,
            owner=rng.choices(owners, weights)[0],
            lifecycle_stage=rng.choices(LifecycleStage.values, [40, 30, 25, 5])[0],
            source=rng.choice(Source.values),
            external_id=f"{DEMO_PREFIX}c{len(companies) + 1}",
            created_at=now - timedelta(days=rng.randint(0, 720), minutes=rng.randint(0, 1440)),
        )
        companies.append(company)
    # Near-duplicates a data-quality pass should find: same domain, different spelling.
    for original in companies[:3]:
        if original.domain:
            companies.append(
                Company(
                    name=original.name.upper().replace(" ", "  ", 1),
                    domain=original.domain,
                    country=original.country,
                    owner=original.owner,
                    source=Source.IMPORT,
                    external_id=f"{DEMO_PREFIX}c{len(companies) + 1}",
                    created_at=now - timedelta(days=rng.randint(0, 30)),
                )
            )
    # An invalid number kept as typed, as a rep would after ticking "keep as typed".
    companies[5].phone, companies[5].phone_is_invalid = "ext. 204, ask for Oleg", True
    for company in companies:
        company.completeness = company.compute_completeness()
        company._history_date = company.created_at
        company._history_user = company.owner
    companies = bulk_create_with_history(companies, Company, batch_size=500)

    contacts: list[Contact] = []
    for company in companies:
        info = COUNTRIES[str(company.country)]
        for _n in range(rng.choices([0, 2, 4, 6, 8], [5, 30, 35, 20, 10])[0]):
            contacts.append(_contact(rng, info, str(company.country), company, company.owner, now, len(contacts)))
    while len(contacts) < 1000:
        country = rng.choice(list(COUNTRIES))
        owner = rng.choices(owners, weights)[0]
        contacts.append(_contact(rng, COUNTRIES[country], country, None, owner, now, len(contacts)))
    # Near-duplicates: a typo in the name, and the same email typed in another case.
    for original in contacts[:4]:
        twin = _contact(
            rng,
            COUNTRIES[str(original.country)],
            str(original.country),
            original.company,
            original.owner,
            now,
            len(contacts),
        )
        twin.first_name, twin.last_name = original.first_name, original.last_name[:-1] + original.last_name[-1:] * 2
        twin.email = normalize_email(original.email.upper())
        twin.completeness = twin.compute_completeness()
        contacts.append(twin)
    # Harder near-duplicates the Duplicates page finds: the same phone typed by another rep
    # with the names swapped, and a second record without the e-mail but at the same company.
    for offset, original in enumerate(o for o in contacts[10:60] if o.phone and o.first_name and o.company):
        if offset >= 3:
            break
        twin = _contact(
            rng, COUNTRIES[str(original.country)], str(original.country), None, original.owner, now, len(contacts)
        )
        if offset == 0:
            twin.first_name, twin.last_name, twin.phone = original.last_name, original.first_name, original.phone
        else:
            twin.first_name, twin.last_name, twin.company = original.first_name, original.last_name, original.company
            twin.email, twin.phone = "", original.phone
        twin.completeness = twin.compute_completeness()
        contacts.append(twin)
    for contact in contacts:
        contact._history_date = contact.created_at
        contact._history_user = contact.owner
    contacts = bulk_create_with_history(contacts, Contact, batch_size=500)

    _tag(rng, Company, companies, tags, rate=0.4)
    _tag(rng, Contact, contacts, tags, rate=0.25)
    # The Duplicates page starts with what the nightly job would have found.
    duplicates_refresh()


# Russian surnames agree with the person: Волкова is a woman, Волков a man.
_RU_WOMEN = {"Анна", "Елена", "Мария", "Ольга", "Natalia"}
_RU_SURNAME_FORMS = [
    ("Петров", "Петрова"), ("Иванов", "Иванова"), ("Смирнов", "Смирнова"), ("Кузнецов", "Кузнецова"),
    ("Соколов", "Соколова"), ("Попов", "Попова"), ("Волков", "Волкова"), ("Orlov", "Orlova"),
    ("Fedorov", "Fedorova"), ("Morozov", "Morozova"),
]  # fmt: skip
_RU_SURNAME = {form: pair for pair in _RU_SURNAME_FORMS for form in pair}


def _surname_for(first: str, last: str) -> str:
    """``last`` in the form that agrees with ``first`` (Russian surnames have a man's and a
    woman's form); other surnames as they are."""
    pair = _RU_SURNAME.get(last)
    return last if pair is None else pair[first in _RU_WOMEN]


def _contact(rng: random.Random, info: dict, country: str, company: Company | None, owner, now, index: int) -> Contact:
    first = rng.choice(info["first"])
    last = _surname_for(first, rng.choice(info["last"]))
    incomplete = rng.random() < 0.15
    domain = (
        company.domain
        if company is not None and company.domain
        else rng.choice(["gmail.com", "mail.ru", "outlook.com", "qq.com"])
    )
    local = _slug(f"{first}.{last}") or f"user{index}"
    email = "" if incomplete and rng.random() < 0.5 else normalize_email(f"{local}{index}@{domain}")
    phone = normalize_phone("" if incomplete else _phone(rng, country), country)
    mobile = normalize_phone(_phone(rng, country) if rng.random() < 0.3 else "", country)
    contact = Contact(
        first_name="" if incomplete and rng.random() < 0.3 else first,
        last_name=last,
        title=rng.choice(LOCAL_WORDS.get(country, {}).get("titles", TITLES)),
        email=email,
        phone=phone.e164,
        mobile=mobile.e164,
        phone_is_invalid=not (phone.valid and mobile.valid),
        company=company,
        owner=owner,
        lifecycle_stage=company.lifecycle_stage if company is not None else rng.choice(LifecycleStage.values),
        source=rng.choice(Source.values),
        country=country,
        do_not_call=rng.random() < 0.08,
        do_not_email=rng.random() < 0.06,
        external_id=f"{DEMO_PREFIX}p{index + 1}",
        created_at=(company.created_at if company is not None else now - timedelta(days=720))
        + timedelta(days=rng.randint(0, 60)),
    )
    contact.created_at = min(contact.created_at, now)
    contact.completeness = contact.compute_completeness()
    return contact


def _tag(
    rng: random.Random, model: type[Company] | type[Contact], objs: list, tags: dict[str, Tag], *, rate: float
) -> None:
    """Tag a share of ``objs`` and copy the tags into their creation history record, so the
    first real change does not read as "tags removed"."""
    through = model.tags.through
    fk = model._meta.model_name
    rows = []
    for obj in objs:
        if rng.random() < rate:
            for name in rng.sample(TAGS, rng.randint(1, 2)):
                rows.append(through(**{f"{fk}_id": obj.pk, "tag_id": tags[name].pk}))
    through.objects.bulk_create(rows)
    history_model = model.history.model
    history_ids = dict(history_model.objects.filter(id__in=[o.pk for o in objs]).values_list("id", "history_id"))
    m2m_history = next(
        rel.related_model
        for rel in history_model._meta.related_objects
        if rel.related_model._meta.object_name == f"{history_model._meta.object_name}_tags"
    )
    m2m_history.objects.bulk_create(
        [
            m2m_history(
                id=row.pk,
                **{
                    f"{fk}_id": getattr(row, f"{fk}_id"),
                    "tag_id": row.tag_id,
                    "history_id": history_ids[getattr(row, f"{fk}_id")],
                },
            )
            for row in rows
        ]
    )
