"""The country selects list countries in the reader's language's order (contacts.country_order):
Russian alphabetical, Chinese by pinyin, English as before — in the record forms and the list
filter alike."""

import pytest
from django.utils import translation

from contacts.forms import CompanyFilterForm, CompanyForm

_RUSSIAN = "абвгдеёжзийклмнопрстуфхцчшщъыьэюя"


def _record_form_names(owner, language):
    with translation.override(language):
        return [str(label) for code, label in CompanyForm(user=owner).fields["country"].choices if code]


def _filter_names(owner, language):
    with translation.override(language):
        form = CompanyFilterForm(None, user=owner, default_sort="name")
        return [str(label) for code, label in form.fields["country"].choices if code]


@pytest.fixture(params=["record form", "list filter"])
def country_names(request, owner):
    read = _record_form_names if request.param == "record form" else _filter_names
    return lambda language: read(owner, language)


@pytest.mark.django_db
def test_russian_readers_get_countries_in_russian_alphabetical_order(country_names):
    names = country_names("ru")
    assert len(names) > 240
    assert names[0] == "Австралия"
    pairs = [("Австралия", "Австрия"), ("Австрия", "Албания"), ("Ангилья", "Ангола"), ("Эстония", "Япония")]
    for earlier, later in pairs:
        assert names.index(earlier) < names.index(later)
    # By first letter, the whole list follows the Russian alphabet (ё counted as е).
    firsts = [_RUSSIAN.index(name[0].lower().replace("ё", "е")) for name in names if name[0].lower() in _RUSSIAN]
    assert len(firsts) > 240
    assert firsts == sorted(firsts)


@pytest.mark.django_db
def test_chinese_readers_get_countries_by_pinyin(country_names):
    names = [name.strip() for name in country_names("zh-hans")]
    # a fu han, an dao er, ao da li ya, ba xi, fa guo, ri ben, zhong guo
    expected = ["阿富汗", "安道尔", "澳大利亚", "巴西", "法国", "日本", "中国"]
    assert [names.index(name) for name in expected] == sorted(names.index(name) for name in expected)
    assert names[-1] == "中国"  # zhong guo: the last syllable "zhong" of all
    # The countries beginning with 阿 (a) are together, at the top.
    first_a = [index for index, name in enumerate(names) if name.startswith("阿")]
    assert first_a == list(range(len(first_a)))


@pytest.mark.django_db
def test_english_readers_keep_the_alphabetical_order_accents_included(country_names):
    names = country_names("en")
    assert names[:3] == ["Afghanistan", "Åland Islands", "Albania"]
    assert names[-1] == "Zimbabwe"
