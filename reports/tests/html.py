"""Reading a report page's tables as its reader sees them."""

from __future__ import annotations

import re


def table_rows(html: str, caption: str) -> list[list[str]]:
    """The body rows of the first table after ``caption`` (a card's or header cell's text, or
    the table's class), as the text of each cell; a row may span lines."""
    table = html[html.index(caption) :]
    body = table[table.index("<tbody>") : table.index("</tbody>")]
    return [
        [re.sub(r"<[^>]+>", "", cell) for cell in re.findall(r"<t[dh][^>]*>(.*?)</t[dh]>", row, re.S)]
        for row in re.findall(r"<tr[^>]*>(.*?)</tr>", body, re.S)
    ]
