"""The contact matcher (contacts.linkage): normalisation, comparison levels, EM, weights."""

import math
import random
from collections import Counter
from dataclasses import replace
from datetime import date, timedelta

import pytest

from contacts import linkage
from contacts.linkage import COMPARISONS, DEFAULT_PARAMETERS, compare, person, probability

FIELDS = [c.name for c in COMPARISONS]


def levels(a: dict, b: dict) -> dict[str, str | None]:
    gamma = compare(person(a), person(b))
    return {name: (None if gamma[i] is None else COMPARISONS[i].levels[gamma[i]]) for i, name in enumerate(FIELDS)}


def test_names_are_romanised_from_cyrillic_and_chinese():
    assert linkage.romanise("Jürgen O'Neil") == "jurgen o neil"
    assert linkage.romanise("Александр") == "aleksandr"
    assert linkage.romanise("张伟") == "zhang wei"


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("Alexander", "Aleksandr"),
        ("Александр", "Alexander"),
        ("Александр", "Саша"),
        ("Sasha", "Alexandra"),
        ("William", "Bill"),
        ("Юлия", "Yuliya"),
        ("Tatyana", "Tatiana"),
    ],
)
def test_nicknames_and_transliterations_are_one_first_name(a, b):
    assert levels({"first_name": a, "last_name": "X"}, {"first_name": b, "last_name": "X"})["first_name"] in (
        "variant",
        "exact",
    )


def test_first_name_levels_go_from_exact_to_different():
    def first(a, b):
        return levels({"first_name": a, "last_name": "Smith"}, {"first_name": b, "last_name": "Smith"})["first_name"]

    assert first("Margaret", "Margaret") == "exact"
    assert first("Margaret", "Margarte") == "jw92"
    assert first("Jonathon", "Jonatan") == "jw92"
    assert first("M.", "Margaret") == "initial"
    assert first("Margaret", "Susan") == "different"
    assert first("", "Susan") is None  # a missing value is no evidence


def test_chinese_names_compare_by_pinyin_in_either_order():
    result = levels({"first_name": "伟", "last_name": "张"}, {"first_name": "Zhang", "last_name": "Wei"})
    assert result["first_name"] == "exact" and result["last_name"] == "exact"
    gamma = compare(
        person({"first_name": "伟", "last_name": "张"}), person({"first_name": "Zhang", "last_name": "Wei"})
    )
    assert gamma[linkage.SWAPPED] == 1
    # One pinyin letter apart is another character: 刘 (liu) is not 璐 (lu).
    assert levels({"first_name": "丽", "last_name": "刘"}, {"first_name": "丽", "last_name": "璐"})["last_name"] == (
        "different"
    )


def test_swapped_first_and_last_names_are_recognised():
    gamma = compare(
        person({"first_name": "Petrova", "last_name": "Anna"}), person({"first_name": "Anna", "last_name": "Petrova"})
    )
    assert gamma[0] == 5 and gamma[1] == 4 and gamma[linkage.SWAPPED] == 1


def test_a_surname_alone_is_matched_against_the_other_records_first_name_too():
    # "Liu Yang" typed family name first into the first and last name fields; 刘 alone.
    gamma = compare(person({"first_name": "Liu", "last_name": "Yang"}), person({"first_name": "", "last_name": "刘"}))
    assert gamma[0] is None and gamma[1] == 4 and gamma[linkage.SWAPPED] == 1
    gamma = compare(person({"first_name": "", "last_name": "刘"}), person({"first_name": "刘", "last_name": "洋"}))
    assert gamma[0] is None and gamma[1] == 4 and gamma[linkage.SWAPPED] == 1
    # The surname that matches in place is kept; another surname stays another surname.
    gamma = compare(
        person({"first_name": "", "last_name": "Smith"}), person({"first_name": "Anna", "last_name": "Smith"})
    )
    assert gamma[1] == 4 and gamma[linkage.SWAPPED] == 0
    gamma = compare(person({"first_name": "", "last_name": "刘"}), person({"first_name": "丽", "last_name": "王"}))
    assert gamma[1] == 0 and gamma[linkage.SWAPPED] == 0
    # A single name in the first name field, the surname of the other record.
    gamma = compare(person({"first_name": "Li", "last_name": ""}), person({"first_name": "欣", "last_name": "李"}))
    assert gamma[0] is None and gamma[1] == 4 and gamma[linkage.SWAPPED] == 1


def test_birth_dates_typos_and_swapped_day_and_month():
    def birth(a, b):
        return levels({"birth_date": a}, {"birth_date": b})["birth_date"]

    assert birth(date(1980, 4, 6), date(1980, 4, 6)) == "exact"
    assert birth(date(1980, 4, 6), date(1980, 6, 4)) == "typo"
    assert birth(date(1980, 4, 6), date(1980, 4, 8)) == "typo"
    assert birth(date(1980, 4, 6), date(1980, 11, 23)) == "same_year"
    assert birth(date(1980, 4, 6), date(1955, 11, 23)) == "different"


def test_addresses_by_street_number_and_postcode():
    base = {"street": "12 Baker Street", "postcode": "NW1 6XE", "city": "London"}

    def address(**other):
        return levels(base, {**base, **other})["address"]

    assert address() == "exact"
    assert address(street="13 Baker Street") == "near"  # Damerau-Levenshtein 1 on the number
    assert address(postcode="NW1 6XF") == "exact"  # a postcode typo does not contradict the street
    assert address(street="1 Oxford Road", postcode="OX1 2JD") == "same_city"
    assert address(street="1 Oxford Road", postcode="OX1 2JD", city="Oxford") == "different"


def test_emails_phones_and_name_made_addresses():
    a = {"first_name": "Anna", "last_name": "Petrova", "email": "Anna.Petrova+crm@gmail.com", "phone": "+79161234567"}
    b = {"first_name": "Anna", "last_name": "Petrova", "email": "annapetrova@gmail.com", "phone": "8 916 123-45-67"}
    result = levels(a, b)
    assert result["email"] == "exact" and result["phone"] == "exact"
    # The same name-made mailbox on another domain repeats the names' evidence: not counted.
    assert levels(a, {**b, "email": "anna.petrova@mail.ru"})["email"] is None
    assert levels({**a, "email": "ap1983@mail.ru"}, {**b, "email": "ap1983@gmail.com"})["email"] == "same_name"
    assert levels({**a, "email": "anna.smith1@x.ru"}, {**b, "email": "anna.smith2@x.ru"})["email"] == "different"
    # Only ASCII digits count as another number: "²".isdigit() is true, yet ² is a slip.
    assert levels({**a, "email": "anna.smith²@x.ru"}, {**b, "email": "anna.smith2@x.ru"})["email"] is None
    # A digit dropped or transposed, a slip in a short name: a typo or another mailbox.
    assert levels({**a, "email": "petrova82@x.ru"}, {**b, "email": "petrova2@x.ru"})["email"] is None
    assert levels({**a, "email": "petrova82@x.ru"}, {**b, "email": "petrova28@x.ru"})["email"] is None
    assert levels({**a, "email": "apet@x.ru"}, {**b, "email": "aplet@x.ru"})["email"] is None
    assert levels({**a, "email": "apet@x.ru"}, {**b, "email": "ivanov@x.ru"})["email"] == "different"
    # A name with a number of one or two digits is one of a few dozen such mailboxes of the
    # name on each provider: namesakes share it by chance, so it counts nothing either.
    assert levels({**a, "email": "petrova12@mail.ru"}, {**b, "email": "petrova12@gmail.com"})["email"] is None
    assert levels({**a, "email": "petrova123@mail.ru"}, {**b, "email": "petrova123@gmail.com"})["email"] == "same_name"


def test_a_common_city_says_less_than_a_rare_one():
    a = {"first_name": "Wei", "last_name": "Zhang", "street": "1 Road", "postcode": "100000", "city": "Beijing"}
    b = {**a, "street": "9 Other Street", "postcode": "100999"}
    records = {"count": 100_000}
    common = compare(person(a), person(b), {"city": {"beijing": 0.2}, "records": records})
    rare = compare(person(a), person(b), {"city": {}, "records": records})
    address = FIELDS.index("address")
    assert COMPARISONS[address].levels[common[address]] == "same_city"
    weight = dict(DEFAULT_PARAMETERS.field_weights(common))[address]
    assert weight == pytest.approx(math.log2(DEFAULT_PARAMETERS.m["address"][1] / 0.2))
    assert weight < dict(DEFAULT_PARAMETERS.field_weights(rare))[address]


def test_the_exact_birth_date_u_is_counted_from_the_birth_dates():
    days = Counter({date(1980, 1, 1) + timedelta(days=n): 2 for n in range(1000)})
    exact = linkage.birth_date_u(days)
    assert exact == pytest.approx(1000 * 2 / (2000 * 1999))
    u = linkage.with_birth_date_u(DEFAULT_PARAMETERS.u, exact)
    assert u["birth_date"][-1] == exact and sum(u["birth_date"]) == pytest.approx(1)
    assert linkage.birth_date_u(Counter({date(1980, 1, 1): 5})) is None  # too few to count


def test_blocking_keys_meet_for_typos_swaps_nicknames_and_scripts():
    def meet(a, b):
        return set(linkage.block_keys(person(a))) & set(linkage.block_keys(person(b)))

    assert meet({"first_name": "Bill", "last_name": "Smith"}, {"first_name": "William", "last_name": "Smyth"})
    assert meet({"first_name": "Anna", "last_name": "Petrova"}, {"first_name": "Petrova", "last_name": "Anna"})
    assert meet({"first_name": "Александр", "last_name": "Иванов"}, {"first_name": "Alexander", "last_name": "Ivanov"})
    assert meet({"first_name": "伟", "last_name": "张"}, {"first_name": "Wei", "last_name": "Zhang"})
    # Names garbled beyond recognition: the birth date and initials, or the postcode, still meet.
    assert meet(
        {"first_name": "Jon", "last_name": "Xu", "birth_date": date(1980, 1, 2)},
        {"first_name": "Jxn", "last_name": "Xv", "birth_date": date(1980, 1, 2)},
    )
    assert not meet({"first_name": "Anna", "last_name": "Petrova"}, {"first_name": "Boris", "last_name": "Ivanov"})


def test_blocking_keys_that_stay_small_in_a_million_records():
    def kinds(a, b):
        shared = set(linkage.block_keys(person(a))) & set(linkage.block_keys(person(b)))
        return {key.split(":", 1)[0] for key in shared}

    # The postcode or the employer with either name's initial / sound: a missing first name,
    # a new surname, swapped names still share one.
    assert "y" in kinds(
        {"last_name": "Malone", "postcode": "99798"}, {"first_name": "Sam", "last_name": "Malone", "postcode": "99798"}
    )
    assert "c" in kinds(
        {"first_name": "Anna", "last_name": "Petrova", "company_id": 5},
        {"first_name": "Anna", "last_name": "Sidorova", "company_id": 5},
    )
    # A birthday with an initial, not a birthday alone (forty people share one in a million).
    born = date(1980, 1, 2)
    assert "b" in kinds(
        {"last_name": "Xu", "birth_date": born}, {"first_name": "Jon", "last_name": "Xu", "birth_date": born}
    )
    assert not kinds(
        {"first_name": "Jon", "last_name": "Xu", "birth_date": born},
        {"first_name": "Al", "last_name": "Li", "birth_date": born},
    )
    # The full name with the day and month of birth: a slip in the year still meets.
    assert "m" in kinds(
        {"first_name": "伟", "last_name": "王", "birth_date": born},
        {"first_name": "伟", "last_name": "王", "birth_date": date(1986, 1, 2)},
    )
    # The street in its city: a slip in the postcode breaks the postcode keys, not this one.
    home = {"first_name": "伟", "last_name": "王", "street": "辛集路L座", "city": "苏州市"}
    assert kinds({**home, "postcode": "215000"}, {**home, "postcode": "815000"}) >= {"a"}
    # A street alone is no address: many cities have a Lenina street.
    assert "a" not in kinds({**home, "city": ""}, {**home, "city": ""})
    assert not kinds({**home, "city": "苏州市", "first_name": "", "last_name": "李"}, {**home, "city": "杭州市"})


def test_the_probability_rises_with_the_weight():
    weights = [-40, -10, -3.3, -1, 0, 0.5, 1, 3.3, 10, 40]
    values = [probability(w) for w in weights]
    assert values == sorted(values) and len(set(values)) == len(values)
    assert probability(0) == 0.5 and probability(3.3) == pytest.approx(0.908, abs=0.001)
    assert probability(200) == 1.0 and probability(-200) == 0.0


def test_agreement_adds_weight_and_disagreement_takes_it_away():
    a = person({"first_name": "Anna", "last_name": "Petrova", "birth_date": date(1980, 4, 6)})
    same = linkage.score(
        a, person({"first_name": "Anna", "last_name": "Petrova", "birth_date": date(1980, 4, 6)}), DEFAULT_PARAMETERS
    )
    other = linkage.score(
        a, person({"first_name": "Anna", "last_name": "Petrova", "birth_date": date(1955, 1, 9)}), DEFAULT_PARAMETERS
    )
    assert same.weight > other.weight and same.probability > other.probability
    reasons = {r["field"]: r for r in other.reasons}
    assert reasons["birth_date"]["level"] == "different" and reasons["birth_date"]["weight"] < 0
    assert reasons["last_name"]["weight"] > 0
    label = linkage.reason_label(reasons["birth_date"])
    assert label.startswith("birth date differs −")


def test_a_common_full_name_says_less_than_a_rare_one():
    a = person({"first_name": "Wei", "last_name": "Wang"})
    b = person({"first_name": "Wei", "last_name": "Wang"})
    params = replace(DEFAULT_PARAMETERS, tf={"records": {"count": 10_000}})
    rare = linkage.score(a, b, params, full_name_count=2)
    common = linkage.score(a, b, params, full_name_count=300)
    assert common.weight < rare.weight


def _synthetic(rng: random.Random, match: bool, truth: dict) -> tuple:
    """A comparison vector drawn from known m (match) or u (non-match) tables."""
    table = truth["m"] if match else truth["u"]
    gamma = []
    for c in COMPARISONS:
        probs = table[c.name]
        gamma.append(rng.choices(range(len(c.levels)), probs)[0])
    return (*gamma, 0, None, None, None)


def test_em_recovers_m_and_the_prior_of_a_synthetic_population():
    rng = random.Random(5)
    truth = {"m": DEFAULT_PARAMETERS.m, "u": DEFAULT_PARAMETERS.u}
    # Blocked pairs: 30 % matches; the non-matches share a surname (that is why they were blocked).
    patterns: dict = {}
    for _n in range(6000):
        match = rng.random() < 0.3
        gamma = list(_synthetic(rng, match, truth))
        if not match:
            gamma[1] = 4
        key = tuple(gamma)
        patterns[key] = patterns.get(key, 0) + 1
    random_gammas = [_synthetic(rng, False, truth) for _n in range(40_000)]
    u = linkage.estimate_u(random_gammas)
    fitted = linkage.estimate(patterns, u)
    assert fitted.converged
    assert fitted.params.prior == pytest.approx(0.3, abs=0.05)
    for name in ("birth_date", "email", "phone", "address"):
        assert fitted.params.m[name][-1] == pytest.approx(truth["m"][name][-1], abs=0.08), name
    # And the fitted model separates the two classes.
    match_gamma = (5, 4, 3, 3, 1, 3, 1, 0, None, None, None)
    other_gamma = (0, 4, 0, 0, 0, 0, None, 0, None, None, None)  # the same surname, nothing else
    assert probability(fitted.params.weight(match_gamma)) > 0.99
    assert probability(fitted.params.weight(other_gamma)) < 0.05
    # Told how many records the pairs came from, the prior becomes that of two random records.
    spread = linkage.estimate(patterns, u, records=10_000)
    assert spread.params.prior == pytest.approx(fitted.params.prior * 6000 / (10_000 * 9_999 / 2), rel=0.01)


def test_labelled_pairs_replace_em_when_there_are_enough():
    merged = (5, 4, 3, None, None, 3, None, 0, None, None, None)
    fitted = linkage.estimate({merged: 10}, DEFAULT_PARAMETERS.u, labelled={merged: (linkage.LABELLED_ENOUGH, 5)})
    assert fitted.labelled_matches == linkage.LABELLED_ENOUGH and fitted.labelled_non_matches == 5
    assert fitted.params.m["birth_date"][3] > 0.95
    assert fitted.params.m["email"] == pytest.approx([0.25] * 4)  # no evidence: smoothed evenly


def test_pinyin_that_is_itself_a_name_is_not_a_typo_of_another():
    assert linkage.is_pinyin("liu") and linkage.is_pinyin("xiuying") and not linkage.is_pinyin("guixiqng")
    # 李 is "li": "Liu" is another surname, "Lii" a slip of the keyboard.
    assert levels({"first_name": "林", "last_name": "李"}, {"first_name": "Lin", "last_name": "Liu"})["last_name"] == (
        "different"
    )
    typo = levels({"first_name": "桂香", "last_name": "孟"}, {"first_name": "Guixiqng", "last_name": "Meng"})
    assert typo["first_name"] in ("jw85", "jw92") and typo["last_name"] == "exact"


def _household(first: str, **fields) -> linkage.Person:
    values = {"last_name": "Spencer", "phone": "+13030942941", "street": "2252 Kelly Roads", "postcode": "42730"}
    return person({"first_name": first, **values, **fields})


def test_a_household_counts_once_for_people_who_could_be_relatives():
    params = replace(DEFAULT_PARAMETERS, u_kin={"phone": [0.98, 0.02], "address": [0.97, 0.01, 0.01, 0.01]})
    relatives = linkage.score(_household("Charles"), _household("Lisa"), params)
    family = {r["field"]: r["weight"] for r in relatives.reasons if r["field"] in ("phone", "address")}
    strongest = max(params.level_weight(4, 1, kin=True), params.level_weight(5, 3, kin=True))
    # Phone and address share the weight of the stronger of the two, and the reasons say so.
    assert sum(family.values()) == pytest.approx(strongest, abs=0.11) and all(w > 0 for w in family.values())
    assert relatives.probability < linkage.MATCH_PROBABILITY
    # The same first name is no relative: the household is weighed against strangers again.
    same = linkage.score(_household("Lisa"), _household("Lisa"), params)
    assert {r["field"]: r["weight"] for r in same.reasons}["phone"] > 10
    assert same.probability > 0.99


def test_swapped_names_sharing_only_a_surname_could_be_relatives():
    params = replace(DEFAULT_PARAMETERS, u_kin={"phone": [0.98, 0.02], "address": [0.97, 0.01, 0.01, 0.01]})
    home = {"phone": "+8613801198855", "street": "兴城路X座", "postcode": "731982"}
    # "Tan Ling" typed family name first; 谭 (tan) 建 is another first name: a relative.
    relatives = linkage.score(
        person({"first_name": "Tan", "last_name": "Ling", **home}),
        person({"first_name": "建", "last_name": "谭", **home}),
        params,
    )
    family = {r["field"]: r["weight"] for r in relatives.reasons if r["field"] in ("phone", "address")}
    strongest = max(params.level_weight(4, 1, kin=True), params.level_weight(5, 3, kin=True))
    assert sum(family.values()) == pytest.approx(strongest, abs=0.11)
    assert family["phone"] < params.level_weight(4, 1) / 2  # not weighed as between strangers


def test_a_missing_first_name_weighs_the_household_against_strangers_once():
    params = replace(DEFAULT_PARAMETERS, u_kin={"phone": [0.98, 0.02], "address": [0.97, 0.01, 0.01, 0.01]})
    nameless = linkage.score(_household(""), _household("Lisa"), params)
    family = {r["field"]: r["weight"] for r in nameless.reasons if r["field"] in ("phone", "address")}
    # No other first name, so no sign of a relative: the household is weighed against
    # everyone (u), and phone and address still count as one piece of evidence.
    strongest = max(params.level_weight(4, 1), params.level_weight(5, 3))
    assert sum(family.values()) == pytest.approx(strongest, abs=0.11)
    assert nameless.probability > linkage.MATCH_PROBABILITY
    assert linkage.score(_household("Charles"), _household("Lisa"), params).probability < nameless.probability


def test_a_name_similar_to_a_common_one_says_as_little_as_the_common_one():
    typo = person({"first_name": "Wie", "last_name": "Zhang"})
    common = person({"first_name": "Wei", "last_name": "Zhang"})
    params = replace(DEFAULT_PARAMETERS, tf={"records": {"count": 100_000}})
    rare = linkage.score(typo, common, params, full_names={})
    many = linkage.score(typo, common, params, full_names={linkage.full_name_key(common): 400})
    assert many.weight < rare.weight - 3
    # The per-field reasons still add up to the weight (with the prior).
    prior = math.log2(params.prior / (1 - params.prior))
    assert sum(r["weight"] for r in many.reasons) + prior == pytest.approx(many.weight, abs=0.5)
