"""Edits the Russian and Chinese catalogues in batches (a tool for translators, not run by the CRM).

python scripts/po_tool.py dump [N]        # untranslated msgids as JSON lines: {"i": …, "id": …, "plural": …}
python scripts/po_tool.py apply FILE [DUMP] # JSON lines {"i": …, "ru": str | [3 forms], "zh": str}
python scripts/po_tool.py status          # untranslated / fuzzy counts per language
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import polib

ROOT = Path(__file__).resolve().parent.parent
CATALOGUES = {
    "ru": ROOT / "locale/ru/LC_MESSAGES/django.po",
    "zh": ROOT / "locale/zh_Hans/LC_MESSAGES/django.po",
}
HEADERS = {
    "ru": "nplurals=3; plural=(n%10==1 && n%100!=11 ? 0 : n%10>=2 && n%10<=4 && (n%100<10 || n%100>=20) ? 1 : 2);",
    "zh": "nplurals=1; plural=0;",
}


def load() -> dict[str, polib.POFile]:
    files = {lang: polib.pofile(str(path), wrapwidth=0) for lang, path in CATALOGUES.items()}
    for lang, po in files.items():
        po.metadata["Plural-Forms"] = HEADERS[lang]
        po.metadata["Language"] = "ru" if lang == "ru" else "zh_Hans"
        po.metadata["Content-Type"] = "text/plain; charset=UTF-8"
        po.metadata_is_fuzzy = False
    return files


def key(entry: polib.POEntry) -> str:
    return f"{entry.msgctxt or ''}\x04{entry.msgid}"


def untranslated(po: polib.POFile) -> list[polib.POEntry]:
    return [e for e in po if not e.obsolete and (not e.translated() or "fuzzy" in e.flags)]


def main(argv: list[str]) -> None:
    files = load()
    command = argv[0] if argv else "status"
    if command == "status":
        for lang, po in files.items():
            print(lang, "untranslated/fuzzy:", len(untranslated(po)), "of", len([e for e in po if not e.obsolete]))
        return
    ru_entries = {key(e): e for e in files["ru"] if not e.obsolete}
    todo = sorted({key(e) for po in files.values() for e in untranslated(po)}, key=list(ru_entries).index)
    if command == "dump":
        start, count = (int(argv[1]), int(argv[2])) if len(argv) > 2 else (0, 10_000)
        for i, k in enumerate(todo[start : start + count], start):
            e = ru_entries[k]
            row = {"i": i, "id": e.msgid}
            if e.msgid_plural:
                row["plural"] = e.msgid_plural
            if e.msgctxt:
                row["ctx"] = e.msgctxt
            print(json.dumps(row, ensure_ascii=False))
        return
    if command == "apply":
        rows = [json.loads(line) for line in Path(argv[1]).read_text().splitlines() if line.strip()]
        if len(argv) > 2:  # the dump the rows' "i" refer to
            dumped = {r["i"]: r for r in map(json.loads, Path(argv[2]).read_text().splitlines())}
            for row in rows:
                row.setdefault("id", dumped[row["i"]]["id"])
                row.setdefault("ctx", dumped[row["i"]].get("ctx"))
        by_lang = {lang: {key(e): e for e in po if not e.obsolete} for lang, po in files.items()}
        for row in rows:
            k = todo[row["i"]] if "id" not in row else f"{row.get('ctx') or ''}\x04{row['id']}"
            for lang in ("ru", "zh"):
                if lang not in row:
                    continue
                entry, value = by_lang[lang][k], row[lang]
                if entry.msgid_plural:
                    forms = value if isinstance(value, list) else [value]
                    need = 3 if lang == "ru" else 1
                    forms = (forms * need)[:need] if len(forms) < need else forms[:need]
                    entry.msgstr_plural = dict(enumerate(forms))
                else:
                    entry.msgstr = value if isinstance(value, str) else value[0]
                if "fuzzy" in entry.flags:
                    entry.flags.remove("fuzzy")
                    entry.previous_msgid = entry.previous_msgid_plural = entry.previous_msgctxt = None
        for lang, po in files.items():
            po.save()
            po.save_as_mofile(str(CATALOGUES[lang].with_suffix(".mo")))
        main(["status"])


if __name__ == "__main__":
    main(sys.argv[1:])
