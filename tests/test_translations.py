"""The guard for translations: every string marked for translation has a Russian and a Chinese
translation (no empty, no fuzzy entry), the compiled catalogues match the .po files, the .po
files hold exactly the strings the code marks today, and the main pages rendered in Russian
and Chinese show no known English words. Add a string → run `make messages` and translate it
(README, "Languages")."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import polib
import pytest
from django.urls import reverse

ROOT = Path(__file__).resolve().parent.parent
CATALOGUES = {
    "ru": ROOT / "locale/ru/LC_MESSAGES/django.po",
    "zh_Hans": ROOT / "locale/zh_Hans/LC_MESSAGES/django.po",
}
# What makemessages reads: the apps and the templates (not the tools, tests or the virtualenv).
SOURCES = ("crm", "contacts", "deals", "activities", "service", "campaigns", "reports", "integrations", "templates")


def _key(entry: polib.POEntry) -> tuple[str, str, str]:
    return (entry.msgctxt or "", entry.msgid, entry.msgid_plural or "")


@pytest.mark.parametrize("lang", CATALOGUES)
def test_every_string_is_translated_and_none_is_fuzzy(lang):
    po = polib.pofile(str(CATALOGUES[lang]))
    live = [e for e in po if not e.obsolete]
    assert not [e.msgid for e in live if not e.translated()], f"untranslated in {lang}"
    assert not [e.msgid for e in live if "fuzzy" in e.flags], f"fuzzy in {lang}"
    assert not po.metadata_is_fuzzy
    if lang == "ru":
        assert po.metadata["Plural-Forms"].startswith("nplurals=3;")
        assert all(len(e.msgstr_plural) == 3 for e in live if e.msgid_plural)


@pytest.mark.parametrize("lang", CATALOGUES)
def test_the_compiled_catalogue_matches_the_po_file(lang):
    po = polib.pofile(str(CATALOGUES[lang]))
    mo = polib.mofile(str(CATALOGUES[lang].with_suffix(".mo")))
    compiled = {_key(e): (e.msgstr, dict(e.msgstr_plural)) for e in mo}
    for entry in po:
        if entry.obsolete:
            continue
        plural = {int(k): v for k, v in entry.msgstr_plural.items()}
        got = compiled.get(_key(entry))
        assert got is not None, f"{entry.msgid!r} is not in {lang}'s .mo: run `make messages`"
        assert got[0] == entry.msgstr and {int(k): v for k, v in got[1].items()} == plural, (
            f"{entry.msgid!r} differs in {lang}'s .mo: run `make messages`"
        )


def test_the_catalogues_hold_exactly_the_strings_the_code_marks(tmp_path):
    """makemessages on a copy of the sources: a string added, changed or removed in the code
    and not in the .po files fails here."""
    if shutil.which("xgettext") is None:
        pytest.fail("GNU gettext is not installed: `make gettext` (apt-get install gettext)")
    for name in SOURCES:
        shutil.copytree(ROOT / name, tmp_path / name, ignore=shutil.ignore_patterns("tests", "__pycache__", "*.pyc"))
    shutil.copy(ROOT / "manage.py", tmp_path / "manage.py")
    # The benchmark is an installed app (its dataset command) but not translated: present for
    # the settings to load, left out of the extraction as `make messages` leaves it out.
    shutil.copytree(ROOT / "bench", tmp_path / "bench", ignore=shutil.ignore_patterns("tests", "__pycache__", "*.pyc"))
    (tmp_path / "locale").mkdir()
    subprocess.run(
        [
            sys.executable,
            "manage.py",
            "makemessages",
            "-l",
            "ru",
            "--no-location",
            "--no-wrap",
            "--ignore=bench",
            "-v",
            "0",
        ],
        cwd=tmp_path,
        check=True,
        capture_output=True,
        env={"PATH": "/usr/bin:/bin", "DJANGO_SETTINGS_MODULE": "crm.settings", "PYTHONPATH": str(tmp_path)},
    )
    fresh = {_key(e) for e in polib.pofile(str(tmp_path / "locale/ru/LC_MESSAGES/django.po"))}
    for lang, path in CATALOGUES.items():
        ours = {_key(e) for e in polib.pofile(str(path)) if not e.obsolete}
        missing, stale = fresh - ours, ours - fresh
        assert not missing, f"{lang} lacks {sorted(m[1] for m in missing)[:10]}: run `make messages` and translate"
        assert not stale, f"{lang} holds strings the code no longer marks: {sorted(s[1] for s in stale)[:10]}"


# Words of the interface that must not stay English on a Russian or Chinese page. ("Email" is
# Russian too, and "Apple Calendar" a product: neither is listed.)
ENGLISH_WORDS = [
    "Home",
    "Companies",
    "Contacts",
    "Deals",
    "Activities",
    "Reports",
    "Preferences",
    "Sign out",
    "Search",
    "Filter",
    "New deal",
    "Pipeline",
    "My day",
    "Overdue",
    "Nothing",
    "Amount",
    "Owner",
    "Stage",
    "Save",
    "Edit",
    "Archive",
    "Timeline",
    "Forecast",
    "Weighted",
    "Win rate",
    "Customer",
    "Notifications",
    "Language",
    "Time zone",
    "Today",
    "Overview",
    "Phone",
    "Website",
    "Created",
    "Contact",
    "Company",
    "Product",
]
PAGES = [
    "home",
    "deals:board-default",
    "deals:list",
    "contacts:company-list",
    "contacts:contact-list",
    "contacts:data-quality",
    "activities:list",
    "activities:calendar",
    "reports:index",
    "reports:funnel",
    "reports:forecast",
    "reports:winloss",
    "reports:velocity",
    "reports:activity",
    "reports:customer-value",
    "reports:top-customers",
    "reports:dormant",
    "notification-list",
    "preferences",
]


def _visible_text(html: str) -> str:
    html = re.sub(r"<(script|style)\b.*?</\1>", " ", html, flags=re.S)
    html = re.sub(r"<option [^>]*lang=[^>]*>.*?</option>", " ", html)  # the language names
    return re.sub(r"<[^>]+>", " ", html)


@pytest.mark.parametrize("language", ["ru", "zh-hans"])
@pytest.mark.parametrize("page", PAGES)
def test_main_pages_show_no_english_interface_words(manager_client, page, language):
    response = manager_client.get(reverse(page), HTTP_ACCEPT_LANGUAGE=language, follow=True)
    assert response.status_code == 200
    text = _visible_text(response.content.decode())
    found = [word for word in ENGLISH_WORDS if re.search(rf"\b{re.escape(word)}\b", text)]
    assert not found, f"English on {page} in {language}: {found}"
    # Chart coordinates are numbers for the browser, not for the reader: "146,2" breaks the SVG.
    broken = re.findall(
        r'\b(?:x|y|x1|x2|y1|y2|width|height|cx|cy|r|points|viewBox)="[^"]*\d,\d', response.content.decode()
    )
    assert not broken, f"localised SVG coordinates on {page} in {language}: {broken[:3]}"


@pytest.mark.parametrize("language", ["ru", "zh-hans"])
def test_record_pages_show_no_english_interface_words(manager_client, manager, language):
    """The 360 pages of a company, a contact and a deal (data on them is the tests' own: no
    English words in it)."""
    from contacts.tests.factories import CompanyFactory, ContactFactory
    from deals.tests.factories import DealFactory

    company = CompanyFactory(owner=manager, name="Ромашка 华信", domain="")
    contact = ContactFactory(owner=manager, company=company, first_name="小明", last_name="王", email="")
    deal = DealFactory(owner=manager, company=company, title="Внедрение 部署")
    for url in (company.get_absolute_url(), contact.get_absolute_url(), deal.get_absolute_url()):
        response = manager_client.get(url, HTTP_ACCEPT_LANGUAGE=language)
        assert response.status_code == 200
        text = _visible_text(response.content.decode())
        text = text.replace(deal.stage.name, " ").replace(deal.pipeline.name, " ")  # data, not interface
        found = [word for word in ENGLISH_WORDS if re.search(rf"\b{re.escape(word)}\b", text)]
        assert not found, f"English on {url} in {language}: {found}"


# A number followed by a counted noun ("{{ n }} days", "%(count)d contacts") needs the
# language's plural forms: Russian has three. Such text must be `{% blocktranslate count %}` /
# `ngettext`, never a plain `{% blocktranslate with %}` / `gettext`.
COUNTED = (
    r"(?:days?|weeks?|months?|years?|hours?|minutes?|seconds?|rows?|columns?|records?|contacts?|companies|"
    r"company|deals?|customers?|activities|activity|tasks?|items?|attempts?|sessions?|tokens?|notifications?|"
    r"duplicates?|times)\b"
)
_TEMPLATE_BLOCK = re.compile(r"{%\s*blocktranslate\b(?P<args>[^%]*)%}(?P<body>.*?){%\s*endblocktranslate\s*%}", re.S)
_PYTHON_GETTEXT = re.compile(
    r"""\b(?:_|gettext|gettext_lazy|pgettext)\(\s*(?P<q>["'])(?P<text>(?:(?!(?P=q)).)*)(?P=q)"""
)


def test_counted_text_uses_plural_forms():
    offenders = []
    for path in (ROOT / "templates").rglob("*.*"):
        for block in _TEMPLATE_BLOCK.finditer(path.read_text()):
            if re.search(r"\bcount\b", block["args"]):
                continue
            if re.search(rf"{{{{\s*\w+\s*}}}}\s+{COUNTED}", block["body"]):
                offenders.append(f"{path.relative_to(ROOT)}: {block['body'][:80]}")
    for name in SOURCES:
        if name == "templates":
            continue
        for path in (ROOT / name).rglob("*.py"):
            if "tests" in path.parts or "migrations" in path.parts:
                continue
            for call in _PYTHON_GETTEXT.finditer(path.read_text()):
                # Names of things ("%(company)s deal") are not counts.
                if re.search(
                    rf"%\((?!company|name|owner|title|stage|kind)\w+\)[ds]\s+(?:other\s+)?{COUNTED}", call["text"]
                ):
                    offenders.append(f"{path.relative_to(ROOT)}: {call['text'][:80]}")
    assert not offenders, "counted text without plural forms (use ngettext / blocktranslate count):\n" + "\n".join(
        offenders
    )


_GETTEXT_NAMES = {"_", "gettext", "ngettext", "pgettext", "npgettext", "gettext_lazy", "ngettext_lazy", "pgettext_lazy"}


def test_no_string_is_marked_inside_an_f_string():
    """xgettext does not look into f-strings: ``f"{_('done')}"`` is never extracted, so it stays
    English in every language ("Load more" on the board did)."""
    import ast

    offenders = []
    for name in SOURCES:
        if name == "templates":
            continue
        for path in (ROOT / name).rglob("*.py"):
            if "tests" in path.parts or "migrations" in path.parts:
                continue
            for node in ast.walk(ast.parse(path.read_text())):
                if not isinstance(node, ast.JoinedStr):
                    continue
                for call in ast.walk(node):
                    if (
                        isinstance(call, ast.Call)
                        and isinstance(call.func, ast.Name)
                        and call.func.id in _GETTEXT_NAMES
                        and call.args
                        and isinstance(call.args[0], ast.Constant)
                    ):
                        offenders.append(f"{path.relative_to(ROOT)}:{call.lineno}: {ast.unparse(call)}")
    assert not offenders, "mark these outside the f-string:\n" + "\n".join(offenders)


def test_gettext_is_imported_under_a_name_makemessages_knows():
    """makemessages extracts ``_``, ``gettext``, ``gettext_lazy``, ``ngettext`` … by name:
    ``gettext_lazy as _lazy`` marked column labels ("Prob.", "Close date") that were never
    extracted and stayed English in Russian and Chinese."""
    import ast

    known = {"_", "gettext", "gettext_lazy", "ngettext", "ngettext_lazy", "pgettext", "pgettext_lazy"}
    known |= {"npgettext", "npgettext_lazy", "gettext_noop"}
    offenders = []
    for name in SOURCES:
        if name == "templates":
            continue
        for path in (ROOT / name).rglob("*.py"):
            if "migrations" in path.parts:
                continue
            for node in ast.walk(ast.parse(path.read_text())):
                if isinstance(node, ast.ImportFrom) and node.module == "django.utils.translation":
                    for alias in node.names:
                        if "gettext" in alias.name and (alias.asname or alias.name) not in known:
                            offenders.append(f"{path.relative_to(ROOT)}:{node.lineno}: {alias.name} as {alias.asname}")
    assert not offenders, "import these under a name makemessages extracts:\n" + "\n".join(offenders)
