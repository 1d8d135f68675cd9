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

from types import BuiltinFunctionType, BuiltinMethodType, FunctionType, MethodType
from typing import Any

from django.template import engines
from django.urls import reverse
from django.utils import translation
from django.utils.safestring import SafeString, mark_safe
from jinja2 import Environment
from jinja2.runtime import Context

from crm.html import IdUrl
from crm.rows import ListRow

# Called as they are: plain functions and methods, and the record links (``IdUrl``).
_PLAIN_CALLABLES = (FunctionType, MethodType, BuiltinFunctionType, BuiltinMethodType, IdUrl)


class _Context(Context):
    def call(__self, __obj: Any, *args: Any, **kwargs: Any) -> Any:
        """``{{ f(x) }}``: Jinja2's call, the same for a plain function or method that takes no
        context (``jinja_pass_arg``) or a record link, without the three attribute probes it
        makes first (a list page makes ~1,200 calls: row macros, ``inline.head``, date and name
        helpers; a board ~300 links)."""
        if __obj.__class__ in _PLAIN_CALLABLES and not hasattr(__obj, "jinja_pass_arg"):
            kwargs.pop("_block_vars", None)
            kwargs.pop("_loop_vars", None)
            try:
                return __obj(*args, **kwargs)
            except StopIteration:
                return __self.environment.undefined(
                    "value was undefined because a callable raised a StopIteration exception"
                )
        return super().call(__obj, *args, **kwargs)


class _Environment(Environment):
    context_class = _Context

    def getattr(self, obj: Any, attribute: str) -> Any:
        """``row.name``: Jinja2's lookup (the attribute, else the item), reading a ``ListRow``
        (``crm.rows``, a dict) as an item first. Its values are items, found by ``getattr()``
        only after a failed attribute lookup and its Python ``__getattr__``: ~1,500 lookups
        on a list page."""
        if obj.__class__ is ListRow:
            try:
                return obj[attribute]
            except KeyError:
                pass
        try:
            return getattr(obj, attribute)
        except AttributeError:
            pass
        try:
            return obj[attribute]
        except (TypeError, LookupError, AttributeError):
            return self.undefined(obj=obj, name=attribute)


def environment(**options: Any) -> Environment:
    # Always autoescaped: these templates write HTML (the backend's default, stated here).
    options.pop("autoescape", None)
    env = _Environment(autoescape=True, extensions=["jinja2.ext.i18n"], **options)
    env.install_gettext_translations(translation, newstyle=True)  # type: ignore[attr-defined]
    env.globals["url"] = reverse
    return env


def render(template_name: str, context: dict[str, Any]) -> SafeString:
    """``template_name`` (a row template of the Jinja2 engine) rendered with ``context``, as
    markup a Django template prints as it is."""
    return mark_safe(engines["jinja2"].get_template(template_name).render(context))  # noqa: S308 (autoescaped by Jinja2)
