"""The row templates' Jinja2 environment (crm/jinja2.py): its faster attribute lookup and
calls behave as Jinja2's own."""

from django.template import engines
from jinja2 import pass_context

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
