"""Countries listed in the order of the reader's language.

django-countries sorts its translated names with ``django_countries.sort_key``: the Unicode
Collation Algorithm when ``pyuca`` is installed, else the names' ASCII letters only — which
leaves every Russian and Chinese name with an empty key, so the country selects showed
Russian and Chinese readers the English order (Афганистан, Албания, … Австралия).

``sort_key`` here is the UCA (``pyuca``: Russian alphabetical, ё beside е; English as
before, Åland beside Albania) and, in Chinese, pinyin first (``pypinyin``, as the lists sort
names with the ``crm_name_zh`` collation): 阿富汗 (a fu han), 安道尔 (an dao er), 澳大利亚
(ao da li ya), 巴西 … ``install`` puts it where django-countries looks for it; the country
lists are then sorted once per language and process (django-countries' own cache and
``contacts.forms``').
"""

from __future__ import annotations

from typing import Any

import django_countries
import pyuca
from django.utils.translation import get_language
from pypinyin import lazy_pinyin

_COLLATOR = pyuca.Collator()


def sort_key(item: tuple[str, Any]) -> tuple:
    """The sort key of a ``(code, translated name)`` pair in the active language."""
    name = str(item[1]).strip()  # one Chinese name is translated with a leading space
    collated = _COLLATOR.sort_key(name)
    if (get_language() or "").startswith("zh"):
        return (lazy_pinyin(name), collated)
    return (collated,)


def install() -> None:
    django_countries.sort_key = sort_key
