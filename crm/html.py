"""Shared by the rows pages write in Python instead of a template per row
(``contacts.templatetags.contact_lists``, ``deals.templatetags.deal_rows``,
``activities.templatetags.activity_rows`` and ``activity_tags``' timeline)."""

from __future__ import annotations

import html

from django.urls import reverse

_MARKER = 999999999


def escape(value: object) -> str:
    """What autoescaping writes for ``value``: Django's ``escape`` is ``html.escape(str(value))``
    behind a lazy-string check that costs more than the escaping, dozens of times per row."""
    return html.escape(str(value))


def url_around_id(name: str, *args: object) -> tuple[str, str]:
    """A detail URL around its last argument, a record id, reversed once per page instead of
    once per row: ``url_around_id("deals:detail")`` → ``("/deals/", "/")``."""
    url = reverse(name, args=[*args, _MARKER])
    head, _sep, tail = url.rpartition(str(_MARKER))
    return head, tail
