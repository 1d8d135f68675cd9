"""The Jinja2 environment of the row templates (``<app>/jinja2/``; settings' second TEMPLATES
entry), and ``render``, which the apps' template tags call to write a whole table body.

The list, timeline and My day rows are the hottest markup of the CRM's pages: 50 rows of
20-odd values each cost most of a list page's server time through the Django template
language, and were written as Python f-strings for that reason. Jinja2 compiles a template
to Python and renders such a table several times faster, so the markup lives in templates
again and escaping is automatic (markupsafe's: ``'`` is written ``&#39;`` where Django writes
``&#x27;``).

The rows get no context processors: a tag passes what its template uses, formatting
helpers included (``crm.html.DateText``, ``crm.l10n.MoneyText``: built once per page and
the same rules as the Django templates' ``|day``, ``|day_time`` and money). Translations are
Django's (``{{ _("Select") }}``: the same catalogue and msgids as the Django templates;
``makemessages`` reads ``_("…")`` inside ``{{ }}`` and ``{% %}`` of these templates too).
"""

from __future__ import annotations

from typing import Any

from django.template import engines
from django.urls import reverse
from django.utils import translation
from django.utils.safestring import SafeString, mark_safe
from jinja2 import Environment


def environment(**options: Any) -> Environment:
    # Always autoescaped: these templates write HTML (the backend's default, stated here).
    options.pop("autoescape", None)
    env = Environment(autoescape=True, extensions=["jinja2.ext.i18n"], **options)
    env.install_gettext_translations(translation, newstyle=True)  # type: ignore[attr-defined]
    env.globals["url"] = reverse
    return env


def render(template_name: str, context: dict[str, Any]) -> SafeString:
    """``template_name`` (a row template of the Jinja2 engine) rendered with ``context``, as
    markup a Django template prints as it is."""
    return mark_safe(engines["jinja2"].get_template(template_name).render(context))  # noqa: S308 (autoescaped by Jinja2)
