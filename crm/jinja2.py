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
Django's (``{{ _("Select") }}``: the same catalogue and msgids as the Django templates, each
message read once per language: ``translate``; ``makemessages`` reads ``_("…")`` inside
``{{ }}`` and ``{% %}`` of these templates too). Values are written through ``output_escape``
(markupsafe's escaping, without a ``Markup`` built per value).
"""

from __future__ import annotations

from types import BuiltinFunctionType, BuiltinMethodType, FunctionType, MethodType
from typing import Any

from django.template import engines
from django.urls import reverse
from django.utils import translation
from django.utils.safestring import SafeString, mark_safe
from jinja2 import Environment
from jinja2.compiler import CodeGenerator
from jinja2.runtime import Context, Macro
from markupsafe import Markup, escape
from markupsafe import _escape_inner as _escape_str  # markupsafe's own: C, else Python (MarkupSafe pinned)

from crm.html import IdUrl
from crm.rows import ListRow

# Called as they are: plain functions and methods, the record links (``IdUrl``) and macros.
_PLAIN_CALLABLES = (FunctionType, MethodType, BuiltinFunctionType, BuiltinMethodType, IdUrl, Macro)


class _Context(Context):
    def call(__self, __obj: Any, *args: Any, **kwargs: Any) -> Any:
        """``{{ f(x) }}``: Jinja2's call, the same for a plain function or method that takes no
        context (``jinja_pass_arg``) or a record link, without the three attribute probes it
        makes first (a list page makes ~1,200 calls: row macros, ``inline.head``, date and name
        helpers; a board ~300 links)."""
        kind = __obj.__class__
        # A bound method's attributes are its function's, read through an AttributeError
        # raised and caught when missing: asked of the function (~2,000 instructions less).
        if kind in _PLAIN_CALLABLES and not hasattr(__obj.__func__ if kind is MethodType else __obj, "jinja_pass_arg"):
            kwargs.pop("_block_vars", None)
            kwargs.pop("_loop_vars", None)
            try:
                return __obj(*args, **kwargs)
            except StopIteration:
                return __self.environment.undefined(
                    "value was undefined because a callable raised a StopIteration exception"
                )
        return super().call(__obj, *args, **kwargs)


def output_escape(value: Any) -> str:
    """What ``{{ value }}`` writes: ``value`` escaped, or as it is when it is markup (has
    ``__html__``) — markupsafe's ``escape`` without its ``Markup`` wrapper, which only marks
    the result safe again for a join that does not look. Jinja2's ``escape(x)`` around every
    output builds a ``Markup`` in Python (two Python calls and a ``str`` subclass allocation,
    ~4,000 instructions); a list page writes ~1,800 values (bench/FINDINGS.md §7.15)."""
    kind = type(value)
    if kind is str:
        return _escape_str(value)
    if kind is Markup:
        return value
    return escape(value)


class _CodeGenerator(CodeGenerator):
    """Jinja2's code generator, with the output escape of the compiled templates bound to
    ``output_escape``. The generated code wraps each ``{{ }}`` in ``escape(…)`` and only
    joins the results (into the output, or a buffer that becomes ``Markup``), so a plain
    escaped ``str`` is as safe; constants are still escaped at compile time by markupsafe."""

    _RUNTIME_IMPORT = "from jinja2.runtime import "

    def writeline(self, x: str, node: Any = None, extra: int = 0) -> None:
        super().writeline(x, node, extra)
        if x.startswith(self._RUNTIME_IMPORT):  # the module header's import of ``escape``
            super().writeline("from crm.jinja2 import output_escape as escape")


class _Environment(Environment):
    context_class = _Context
    code_generator_class = _CodeGenerator

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


# Language → message → its translation as markup (``Markup``), and as ``{{ _("…") }}`` writes it.
_TRANSLATED: dict[str | None, dict[str, Markup]] = {}
_WRITTEN: dict[str | None, dict[str, Markup]] = {}


def translate(message: str, **variables: Any) -> Markup:
    """``{{ _("…") }}``: Jinja2's new-style ``gettext`` (the translation as markup, formatted
    with ``%`` and the escaped ``variables``, or with none), each message translated once
    per language and process. Django's ``gettext`` reads the active language and walks the
    catalogues and their fallbacks on every call (~60,000 instructions); a list page has ~60."""
    language = translation.get_language()
    if not variables:
        written = _WRITTEN.setdefault(language, {})
        text = written.get(message)
        if text is None:
            text = written[message] = _translated(language, message) % {}
        return text
    return _translated(language, message) % variables


def _translated(language: str | None, message: str) -> Markup:
    table = _TRANSLATED.setdefault(language, {})
    text = table.get(message)
    if text is None:
        text = table[message] = Markup(translation.gettext(message))  # noqa: S704 (the catalogue's, as Jinja2's)
    return text


def environment(**options: Any) -> Environment:
    # Always autoescaped: these templates write HTML (the backend's default, stated here).
    options.pop("autoescape", None)
    env = _Environment(autoescape=True, extensions=["jinja2.ext.i18n"], **options)
    env.install_gettext_translations(translation, newstyle=True)  # type: ignore[attr-defined]
    env.globals["_"] = env.globals["gettext"] = translate
    env.globals["url"] = reverse
    return env


def render(template_name: str, context: dict[str, Any]) -> SafeString:
    """``template_name`` (a row template of the Jinja2 engine) rendered with ``context``, as
    markup a Django template prints as it is."""
    return mark_safe(engines["jinja2"].get_template(template_name).render(context))  # noqa: S308 (autoescaped by Jinja2)
