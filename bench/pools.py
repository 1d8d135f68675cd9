"""Static vocabularies the dataset generator combines into realistic rows.

Person names come from Faker's per-locale word lists (read once, no Faker instance), which is
what makes a million names cheap: the generator only picks from pre-built pools.
"""

from __future__ import annotations

import importlib
import unicodedata
from dataclasses import dataclass
from functools import cache

from pypinyin import lazy_pinyin

from contacts.matching import name_norm
from crm.l10n import is_cjk


@dataclass(frozen=True)
class Country:
    code: str
    weight: int
    locale: str
    currency: str
    calling_code: str
    # National significant number: a leading prefix (area or mobile code) + random digits.
    landline_prefixes: tuple[str, ...]
    mobile_prefixes: tuple[str, ...]
    national_digits: int
    cities: tuple[tuple[str, str, str], ...]  # (city, region, postal code pattern with '#' for digits)
    tld: str


COUNTRIES: tuple[Country, ...] = (
    Country(
        "US",
        44,
        "en_US",
        "USD",
        "1",
        ("212", "312", "415", "617", "512", "206", "303", "404"),
        ("917", "646", "628"),
        10,
        (
            ("New York", "NY", "100##"),
            ("Chicago", "IL", "606##"),
            ("San Francisco", "CA", "941##"),
            ("Boston", "MA", "021##"),
            ("Austin", "TX", "787##"),
            ("Seattle", "WA", "981##"),
            ("Denver", "CO", "802##"),
            ("Atlanta", "GA", "303##"),
        ),
        "com",
    ),
    Country(
        "CA",
        5,
        "en_US",
        "USD",
        "1",
        ("416", "604", "514"),
        ("647", "778"),
        10,
        (("Toronto", "ON", "M5V ###"), ("Vancouver", "BC", "V6B ###"), ("Montreal", "QC", "H2Y ###")),
        "ca",
    ),
    Country(
        "GB",
        10,
        "en_GB",
        "USD",
        "44",
        ("20", "161", "131", "117"),
        ("7700", "7911", "7400"),
        10,
        (
            ("London", "England", "EC1A #AA"),
            ("Manchester", "England", "M1 #AE"),
            ("Edinburgh", "Scotland", "EH1 #YZ"),
            ("Bristol", "England", "BS1 #QA"),
        ),
        "co.uk",
    ),
    Country(
        "DE",
        10,
        "de_DE",
        "EUR",
        "49",
        ("30", "40", "89", "221", "69"),
        ("151", "160", "171"),
        11,
        (
            ("Berlin", "Berlin", "10###"),
            ("Hamburg", "Hamburg", "20###"),
            ("München", "Bayern", "80###"),
            ("Köln", "Nordrhein-Westfalen", "50###"),
            ("Frankfurt am Main", "Hessen", "60###"),
        ),
        "de",
    ),
    Country(
        "FR",
        7,
        "fr_FR",
        "EUR",
        "33",
        ("1", "4", "5"),
        ("6", "7"),
        9,
        (
            ("Paris", "Île-de-France", "750##"),
            ("Lyon", "Auvergne-Rhône-Alpes", "690##"),
            ("Marseille", "Provence-Alpes-Côte d'Azur", "130##"),
            ("Bordeaux", "Nouvelle-Aquitaine", "330##"),
        ),
        "fr",
    ),
    Country(
        "ES",
        5,
        "es_ES",
        "EUR",
        "34",
        ("91", "93"),
        ("6", "7"),
        9,
        (("Madrid", "Madrid", "280##"), ("Barcelona", "Cataluña", "080##"), ("Valencia", "Valencia", "460##")),
        "es",
    ),
    Country(
        "IT",
        4,
        "it_IT",
        "EUR",
        "39",
        ("02", "06"),
        ("3",),
        10,
        (("Milano", "Lombardia", "201##"), ("Roma", "Lazio", "001##"), ("Torino", "Piemonte", "101##")),
        "it",
    ),
    Country(
        "NL",
        4,
        "nl_NL",
        "EUR",
        "31",
        ("20", "10", "30"),
        ("6",),
        9,
        (
            ("Amsterdam", "Noord-Holland", "10## AB"),
            ("Rotterdam", "Zuid-Holland", "30## CD"),
            ("Utrecht", "Utrecht", "35## EF"),
        ),
        "nl",
    ),
    Country(
        "SE",
        2,
        "sv_SE",
        "EUR",
        "46",
        ("8", "31"),
        ("70", "73"),
        9,
        (("Stockholm", "Stockholm", "111 ##"), ("Göteborg", "Västra Götaland", "411 ##")),
        "se",
    ),
    Country(
        "BR",
        3,
        "pt_BR",
        "USD",
        "55",
        ("11", "21"),
        ("119", "219"),
        11,
        (("São Paulo", "SP", "01###-000"), ("Rio de Janeiro", "RJ", "20###-000")),
        "com.br",
    ),
    # Russian and Chinese customers, so the benchmark's searches and sorts meet Cyrillic (with
    # ё written both ways) and Chinese names at scale, as the CRM's users do.
    Country(
        "RU",
        4,
        "ru_RU",
        "USD",
        "7",
        ("495", "499", "812"),
        ("916", "903", "926"),
        10,
        (
            ("Москва", "Москва", "10####"),
            ("Санкт-Петербург", "Санкт-Петербург", "19####"),
            ("Новосибирск", "Новосибирская область", "630###"),
        ),
        "ru",
    ),
    Country(
        "CN",
        3,
        "zh_CN",
        "USD",
        "86",
        ("139", "186"),
        ("138", "159"),
        11,
        (("上海", "上海", "200###"), ("北京", "北京", "100###"), ("广州", "广东", "510###")),
        "cn",
    ),
)

INDUSTRIES = (
    "Software",
    "Manufacturing",
    "Retail",
    "Healthcare",
    "Financial services",
    "Logistics",
    "Construction",
    "Education",
    "Energy",
    "Telecommunications",
    "Media",
    "Hospitality",
    "Real estate",
    "Automotive",
    "Pharmaceuticals",
    "Agriculture",
    "Consulting",
    "Insurance",
    "Government",
    "Non-profit",
)

# Company names as Russian and Chinese customers write them: ООО «Соколов», 华信科技有限公司.
RU_COMPANY_FORMS = ("ООО «{}»", "АО «{}»", "{} и партнёры", "ИП {}")
CN_COMPANY_WORDS = ("华信", "中科", "东方", "新华", "恒通", "长城", "金桥", "天成", "海润", "联创", "博远", "瑞丰")
CN_COMPANY_NOUNS = ("科技", "贸易", "电子", "软件", "物流", "实业", "信息技术", "机械")
CN_COMPANY_SUFFIXES = ("有限公司", "股份有限公司", "集团")

# Faker's Russian surnames are spelt with е where many people write ё; the generator writes
# these with ё a third of the time (Королёв, Фёдоров), so a search typed either way is measured.
RU_YO_SPELLINGS = {
    name: yo
    for plain, yo in (
        ("Соловьев", "Соловьёв"),
        ("Воробьев", "Воробьёв"),
        ("Федоров", "Фёдоров"),
        ("Киселев", "Киселёв"),
        ("Ковалев", "Ковалёв"),
        ("Королев", "Королёв"),
        ("Пономарев", "Пономарёв"),
        ("Журавлев", "Журавлёв"),
        ("Семенов", "Семёнов"),
    )
    for name, yo in ((plain, yo), (plain + "а", yo + "а"))
}

COMPANY_SUFFIXES = ("Inc", "LLC", "Group", "Ltd", "GmbH", "SA", "BV", "AB", "Holdings", "Partners", "& Co")
COMPANY_WORDS = (
    "Advanced",
    "Applied",
    "Blue",
    "Bright",
    "Central",
    "Clear",
    "Digital",
    "Global",
    "Green",
    "Integrated",
    "Modern",
    "North",
    "Nova",
    "Pacific",
    "Pioneer",
    "Prime",
    "Quantum",
    "Rapid",
    "Silver",
    "Smart",
    "Summit",
    "United",
    "Vertex",
    "West",
    "Alpine",
    "Atlas",
    "Crown",
    "Delta",
    "Eagle",
    "Harbor",
)
COMPANY_NOUNS = (
    "Analytics",
    "Systems",
    "Logistics",
    "Foods",
    "Robotics",
    "Energy",
    "Health",
    "Labs",
    "Networks",
    "Solutions",
    "Dynamics",
    "Materials",
    "Media",
    "Motors",
    "Pharma",
    "Software",
    "Supply",
    "Textiles",
    "Ventures",
    "Works",
    "Devices",
    "Farms",
    "Capital",
    "Builders",
    "Airlines",
    "Retail",
    "Studios",
    "Technologies",
    "Tools",
    "Water",
)

JOB_TITLES = (
    "CEO",
    "CFO",
    "CTO",
    "COO",
    "VP Sales",
    "VP Marketing",
    "Head of Procurement",
    "Purchasing Manager",
    "IT Manager",
    "Operations Manager",
    "Office Manager",
    "Finance Director",
    "Sales Director",
    "Account Manager",
    "Project Manager",
    "Product Manager",
    "Marketing Manager",
    "HR Manager",
    "Engineer",
    "Analyst",
    "Consultant",
    "Buyer",
    "Founder",
    "Managing Director",
    "Assistant",
)

STREET_NAMES = (
    "Main",
    "Oak",
    "Park",
    "Station",
    "Market",
    "Church",
    "High",
    "Mill",
    "River",
    "Lake",
    "King",
    "Queen",
    "Victoria",
    "Bridge",
    "Elm",
    "Maple",
    "Cedar",
    "Hill",
    "Garden",
    "Harbour",
)
STREET_KINDS = ("Street", "Road", "Avenue", "Lane", "Way", "Boulevard")

PERSONAL_EMAIL_DOMAINS = ("gmail.com", "outlook.com", "yahoo.com", "proton.me", "icloud.com", "gmx.de")

TAGS = (
    "VIP",
    "Newsletter",
    "Webinar 2025",
    "Trade show",
    "Partner",
    "Reseller",
    "Key account",
    "Churn risk",
    "Upsell",
    "Decision maker",
    "Influencer",
    "Champion",
    "Technical",
    "Budget holder",
    "Event lead",
    "Referral",
    "Inbound",
    "Outbound",
    "Beta tester",
    "Case study",
    "Reference customer",
    "Do not contact",
    "Enterprise",
    "SMB",
    "Public sector",
    "EMEA",
    "Americas",
    "Q1 campaign",
    "Q3 campaign",
    "Onboarding",
)

TEAMS = (
    "North America East",
    "North America West",
    "UK & Ireland",
    "DACH",
    "France & Benelux",
    "Southern Europe",
    "Nordics",
    "Latin America",
)

PIPELINES = (
    # (name, is_default, stages as (name, probability, is_won, is_lost))
    (
        "New business",
        True,
        (
            ("Lead", 10, False, False),
            ("Qualified", 25, False, False),
            ("Demo", 40, False, False),
            ("Proposal", 60, False, False),
            ("Negotiation", 80, False, False),
            ("Won", 100, True, False),
            ("Lost", 0, False, True),
        ),
    ),
    (
        "Renewals",
        False,
        (
            ("Upcoming", 40, False, False),
            ("In discussion", 60, False, False),
            ("Committed", 90, False, False),
            ("Renewed", 100, True, False),
            ("Churned", 0, False, True),
        ),
    ),
)

LOST_REASONS = ("Price", "Competitor", "No budget", "Timing", "No decision", "Missing feature", "Went silent")

PRODUCTS = (
    # (name, sku, price in USD)
    ("CRM Seat — Starter", "SEAT-ST", "29.00"),
    ("CRM Seat — Professional", "SEAT-PRO", "59.00"),
    ("CRM Seat — Enterprise", "SEAT-ENT", "99.00"),
    ("Onboarding package", "SRV-ONB", "2500.00"),
    ("Data migration", "SRV-MIG", "4000.00"),
    ("Training day", "SRV-TRN", "1200.00"),
    ("Premium support (year)", "SUP-PREM", "6000.00"),
    ("API add-on", "ADD-API", "1500.00"),
    ("Reporting add-on", "ADD-REP", "900.00"),
    ("Telephony add-on", "ADD-TEL", "1100.00"),
    ("Custom integration", "SRV-INT", "8000.00"),
    ("Sandbox environment", "ADD-SBX", "700.00"),
)

# Approximate US-dollar value of one unit, the anchor of the monthly exchange-rate random walk.
USD_VALUE = {"USD": 1.0, "EUR": 1.08, "GBP": 1.27}

# A surname that no locale pool contains, planted on a handful of contacts so that "a rare
# search term" has a known, tiny result set at every scale.
RARE_LAST_NAME = "Quixleigh"
# The most frequent surname of the weighted en_US pool: "a common search term".
COMMON_LAST_NAME = "Smith"
# A frequent first name of the weighted en_US pool that is no surname in any pool (7,683 of
# 1,000,000 contacts at the large preset): a common search word that the global search's
# surname-first lookup cannot answer, so it reads all the matches (contacts.search).
COMMON_FIRST_NAME = "Jennifer"
# The same for the Russian and Chinese customers: a surname typed without ё that finds both
# spellings (Королев → Королёв, Королева), and the most common Chinese family name, one
# character, which no trigram can answer.
CYRILLIC_TERM = "Королев"
CJK_TERM = "王"
# A word that many Chinese company names share (华信科技有限公司), for the global search.
CJK_COMPANY_TERM = "华信"


def ascii_slug(value: str) -> str:
    """``"Müller & Söhne"`` → ``"mullersohne"``, ``"Королёв"`` → ``"korolev"``, ``"王伟"`` →
    ``"wangwei"``: for e-mail local parts and domains."""
    if is_cjk(value):
        value = "".join(lazy_pinyin(value))
    elif any("\u0400" <= ch <= "\u04ff" for ch in value):
        value = name_norm(value)  # transliterated: Королёв → korolev
    folded = unicodedata.normalize("NFKD", value).encode("ascii", "ignore").decode()
    return "".join(ch for ch in folded.lower() if ch.isalnum())


@dataclass(frozen=True)
class NamePool:
    first_names: tuple[str, ...]
    first_cum_weights: tuple[float, ...] | None
    last_names: tuple[str, ...]
    last_cum_weights: tuple[float, ...] | None


def _pool(values: object) -> tuple[tuple[str, ...], tuple[float, ...] | None]:
    if isinstance(values, dict):
        names = tuple(values)
        total = 0.0
        cum = []
        for weight in values.values():
            total += float(weight)
            cum.append(total)
        return names, tuple(cum)
    return tuple(values), None  # type: ignore[arg-type]


def _clean(names: tuple[str, ...]) -> tuple[str, ...]:
    # Keep names that need no quoting in COPY text format and look like real names.
    return tuple(n for n in names if n and "\t" not in n and "\\" not in n and not n.startswith("'"))


@cache
def name_pool(locale: str) -> NamePool:
    provider = importlib.import_module(f"faker.providers.person.{locale}").Provider
    firsts = getattr(provider, "first_names", None) or (
        tuple(provider.first_names_female) + tuple(provider.first_names_male)
    )
    first_names, first_cum = _pool(firsts)
    last_names, last_cum = _pool(provider.last_names)
    if first_cum is None:
        first_names = _clean(first_names)
    if last_cum is None:
        last_names = _clean(last_names)
    return NamePool(first_names, first_cum, last_names, last_cum)


CASE_SUBJECTS = (
    "Cannot sign in",
    "Invoice shows the wrong amount",
    "Export times out",
    "Request for a refund",
    "Seat licence not applied",
    "Integration stopped syncing",
    "Password reset email not received",
    "Question about the contract",
    "Slow dashboard",
    "Data missing after import",
    "Add users to our account",
    "Onboarding session request",
)
