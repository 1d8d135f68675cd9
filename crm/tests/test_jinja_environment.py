"""The row templates' Jinja2 environment (crm/jinja2.py): its faster attribute lookup and
calls behave as Jinja2's own."""

import jinja2
import pytest
from django.template import engines
from django.utils import translation
from django.utils.safestring import mark_safe
from django.utils.translation import gettext_lazy
from jinja2 import pass_context
from markupsafe import Markup

from crm.rows import ListRow


def _render(source: str, **context) -> str:
    return engines["jinja2"].from_string(source).render(context)


def test_a_list_row_reads_its_values_and_still_has_its_attributes():
    row = ListRow(id=7, first_name="<Ann>", owner_id=None)
    out = _render(
        "{{ row.first_name }}|{{ row.pk }}|{{ row.owner_id is none }}|{{ row.missing is undefined }}", row=row
    )
    assert out == "&lt;Ann&gt;|7|True|True"


def test_other_objects_keep_attribute_first_lookup():
    class Thing:
        name = "attribute"

        def __getitem__(self, key):
            return "item"

    assert _render("{{ thing.name }} {{ mapping.items is defined }}", thing=Thing(), mapping={"x": 1}) == (
        "attribute True"
    )


def test_calls_pass_arguments_and_a_context_to_functions_that_ask_for_it():
    @pass_context
    def who(context, greeting):
        return f"{greeting} {context['name']}"

    def plain(a, b=0):
        return a + b

    out = _render("{{ who('hi') }} {{ plain(1, b=2) }}{% for i in [1] %} {{ plain(i) }} {{ who('yo') }}{% endfor %}",
                  who=who, plain=plain, name="Ann")  # fmt: skip
    assert out == "hi Ann 3 1 yo Ann"


def test_a_callable_raising_stop_iteration_renders_as_undefined():
    def empty():
        raise StopIteration

    assert _render("[{{ empty() }}]", empty=empty) == "[]"


def test_a_record_link_is_called_as_it_is():
    from crm.html import IdUrl

    assert _render(
        "{{ deal_url(7) }} {% for i in [8] %}{{ deal_url(i) }}{% endfor %}", deal_url=IdUrl("deals:detail")
    ) == ("/deals/7/ /deals/8/")


def test_a_list_row_reads_its_id_as_pk_and_still_misses_other_keys():
    row = ListRow(id=7)
    assert (row["pk"], row.pk) == (7, 7)
    with pytest.raises(KeyError):
        row["first_name"]


def test_methods_and_macros_are_called_as_jinja2_calls_them():
    class Greeter:
        @pass_context
        def who(self, context, greeting):
            return f"{greeting} {context['name']}"

        def plain(self, a):
            return f"<{a}>"

    source = (
        "{% macro cell(value, tag='td') %}"
        "<{{ tag }}>{{ value }}{{ caller() if caller else '' }}</{{ tag }}>"
        "{% endmacro %}"
        "{{ g.who('hi') }} {{ g.plain('x') }} {{ cell('<b>') }} {{ cell(1, tag='th') }}"
        "{% for i in [2] %}{% call cell(i) %}!{% endcall %}{{ g.who('yo') }}{% endfor %}"
    )
    out = _render(source, g=Greeter(), name="Ann")
    assert out == "hi Ann &lt;x&gt; <td>&lt;b&gt;</td> <th>1</th><td>2!</td>yo Ann"


class _Html:
    def __html__(self):
        return "<i>ok</i>"


@pytest.mark.parametrize(
    "value",
    ["<a href='x'>&\"", Markup("<b>&amp;</b>"), mark_safe("<em>"), 7, None, gettext_lazy("Select"), _Html(), ["<"]],
)
def test_output_is_escaped_exactly_as_by_jinja2_with_markupsafe(value):
    """The environment's faster output escape (``crm.jinja2.output_escape``) writes what
    Jinja2's own autoescaping writes, values, macros and block sets included."""
    source = (
        "{% macro m(v) %}[{{ v }}]{% endmacro %}{% set block %}({{ v }}){% endset %}"
        "{{ v }}|{{ m(v) }}|{{ block }}|{{ v ~ '<' }}|{{ v|e }}|{{ '<&>' }}"
    )
    stock = jinja2.Environment(autoescape=True).from_string(source).render(v=value)
    assert _render(source, v=value) == stock
    assert "output_escape as escape" in engines["jinja2"].env.compile(source, raw=True)


def test_translations_follow_the_active_language_as_jinja2s_new_style_gettext():
    """``{{ _("…") }}`` (``crm.jinja2.translate``, translated once per language): the
    active language's text, ``%``-formatted with escaped variables, the same markup as
    Jinja2's own new-style gettext over Django's catalogue."""
    stock = jinja2.Environment(autoescape=True, extensions=["jinja2.ext.i18n"])
    stock.install_gettext_translations(translation, newstyle=True)
    sources = ['{{ _("Select") }}|{{ _("Export") }}', '{{ _("%(n)s+", n="<9>") }}']
    for language, select in (("en", "Select"), ("ru", "Выбрать"), ("en", "Select"), ("zh-hans", "选择")):
        with translation.override(language):
            for source in sources:
                assert _render(source) == stock.from_string(source).render()
            assert _render(sources[0]).startswith(f"{select}|")
