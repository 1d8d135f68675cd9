"""The list rows written in Python (``contacts.templatetags.contact_lists``) show what the
row templates showed: links, consent flags, unverified phones, archived rows, tags, and
every value escaped."""

import copy

from django.template import Context, Template
from django.urls import reverse
from django.utils import timezone, translation

from contacts.forms import ContactFilterForm, ContactQuickForm, _FastInputMixin
from contacts.models import LifecycleStage, ValueSegment
from contacts.tests.factories import CompanyFactory, ContactFactory, TagFactory
from deals.forms import LineItemAddForm


def _body(client, name: str, query: str = "") -> str:
    response = client.get(reverse(f"contacts:{name}-list") + query)
    assert response.status_code == 200
    return response.content.decode()


def test_contact_row_links_name_company_email_and_phone(owner_client, contact):
    contact.email = "anna@acme.example"
    contact.title = "CFO"
    contact.lifecycle_stage = LifecycleStage.CUSTOMER
    contact.save()
    contact.tags.add(TagFactory(name="vip & co"))
    body = _body(owner_client, "contact")
    assert f'<a class="fw-semibold" href="{contact.get_absolute_url()}">Anna Petrova</a>' in body
    assert '<div class="small text-secondary">CFO</div>' in body
    assert f'<a class="link-body-emphasis" href="{contact.company.get_absolute_url()}">Acme Corp</a>' in body
    assert '<a href="mailto:anna@acme.example">anna@acme.example</a>' in body
    assert '<a href="tel:+79161234567" class="text-nowrap">+7 916 123-45-67</a>' in body
    assert '<span title="Russia">RU</span>' in body
    assert '<span class="badge stage-customer">Customer</span>' in body
    # The owner's name, with its pencil (crm.inline): the owner may change it in place.
    assert (
        f'<td class="text-nowrap"><span class="inline-field" id="inline-contact-{contact.pk}-owner">Olga Owner<button'
        in body
    )
    assert f'href="{reverse("contacts:contact-list")}?tag=vip%20%26%20co">vip &amp; co</a>' in body
    created = timezone.localtime(contact.created_at)
    assert f'<td class="text-nowrap small text-secondary">{created.day} {created:%b}</td>' in body
    assert f'name="ids" form="bulk-form" value="{contact.pk}" aria-label="Select Anna Petrova"' in body


def test_contact_row_consent_and_unverified_phone(owner_client, owner):
    ContactFactory(
        owner=owner,
        first_name="Ivan",
        last_name="Quiet",
        email="ivan@example.com",
        phone="",
        mobile="+79161234568",
        phone_is_invalid=True,
        do_not_call=True,
        do_not_email=True,
    )
    body = _body(owner_client, "contact")
    assert '<span class="text-decoration-line-through text-secondary">ivan@example.com</span>' in body
    assert "Do not email</span>" in body
    assert '<span class="text-decoration-line-through text-secondary text-nowrap">+7 916 123-45-68</span>' in body
    assert "Do not call</span>" in body
    assert 'title="Kept as typed: this number did not validate."' in body
    assert 'href="tel:' not in body
    assert 'href="mailto:' not in body


def test_contact_row_escapes_what_people_typed(owner_client, owner):
    ContactFactory(owner=owner, first_name="<b>Eve</b>", last_name='"Quote"', title="<script>x</script>")
    body = _body(owner_client, "contact")
    assert "<b>Eve</b>" not in body
    assert "<script>x</script>" not in body
    assert "&lt;b&gt;Eve&lt;/b&gt; &#34;Quote&#34;" in body
    assert "&lt;script&gt;x&lt;/script&gt;" in body


def test_a_teammate_sees_rows_without_checkboxes(teammate_client, contact):
    body = _body(teammate_client, "contact")
    assert "Anna Petrova" in body
    assert 'name="ids"' not in body


def test_archived_contact_row_is_greyed(owner_client, contact):
    contact.archived_at = timezone.now()
    contact.save()
    body = _body(owner_client, "contact", "?archived=1")
    assert '<tr class="table-secondary">' in body
    assert "Anna Petrova" in body


def test_empty_contact_list_says_so(owner_client):
    assert "No contacts yet." in _body(owner_client, "contact")
    assert "No contact matches these filters." in _body(owner_client, "contact", "?q=nobody")


def test_company_row_shows_phone_segment_contacts_and_tags(owner_client, owner, contact):
    company = contact.company
    company.industry = "Widgets & Gears"
    company.phone_is_invalid = True
    company.value_segment = ValueSegment.values[0]
    company.save()
    company.tags.add(TagFactory(name="key"))
    CompanyFactory(owner=owner, name="Zeta <Ltd>", domain="", country="")
    body = _body(owner_client, "company")
    assert f'<a class="fw-semibold" href="{company.get_absolute_url()}">Acme Corp</a>' in body
    assert '<div class="small text-secondary">Widgets &amp; Gears</div>' in body
    assert '<span class="text-nowrap">acme.example</span>' in body
    phone = '<a href="tel:+14155552671" class="text-nowrap">+1 415-555-2671</a>'
    assert f'{phone} <span class="badge text-bg-warning"' in body
    assert '<td class="text-end">1</td>' in body
    assert '<span title="United States of America">US</span>' in body
    assert f'<div class="small text-secondary text-nowrap">{ValueSegment.choices[0][1]}</div>' in body
    assert f'href="{reverse("contacts:company-list")}?tag=key">key</a>' in body
    assert "Zeta &lt;Ltd&gt;" in body
    assert f'name="ids" form="bulk-form" value="{company.pk}" aria-label="Select Acme Corp"' in body


def test_empty_company_list_says_so(owner_client):
    assert "No companies yet." in _body(owner_client, "company")


def test_plain_inputs_render_as_django_would(owner):
    """The filter and quick-add inputs written in Python (``style_plain``) are the markup
    Django's widget templates write: empty, typed, date, invalid and escaped values."""

    data = {"q": 'a "quoted" <b>', "created_from": "2026-01-31", "created_to": "not a date"}
    checked = []
    for form in (
        ContactFilterForm(data, user=owner, default_sort="name"),
        ContactQuickForm(user=owner, auto_id="quick_%s", initial={"email": "x@y.example"}),
        # The deal page's line item row: number inputs with a step, a minimum and a placeholder.
        LineItemAddForm({"quantity": "2", "unit_price": "12.50", "discount_percent": "<5>"}),
    ):
        form.is_valid()
        for name, field in form.fields.items():
            widget = field.widget
            if not isinstance(widget, _FastInputMixin):
                continue
            reference = copy.copy(widget)
            reference.__class__ = type(widget).__mro__[2]  # (FastX, _FastInputMixin, X, …): Django's X
            assert not isinstance(reference, _FastInputMixin)
            bound = form[name]
            assert bound.as_widget() == bound.as_widget(widget=reference), name
            checked.append(name)
    assert {"q", "created_from", "created_to", "first_name", "email", "quantity", "unit_price"} <= set(checked)


def test_plain_field_writes_the_label_then_the_widget(owner):
    form = ContactFilterForm({"q": "x"}, user=owner, default_sort="name")
    html = Template("{% load contact_lists %}{% plain_field form.created_from %}").render(Context({"form": form}))
    assert html == (
        '<label class="form-label small mb-1" for="id_created_from">Created from</label>'
        '<input type="date" name="created_from" class="form-control" id="id_created_from">'
    )


def test_a_script_in_a_company_name_shows_as_text(owner_client, owner):
    CompanyFactory(owner=owner, name="<script>alert(1)</script>", industry="<img src=x>")
    body = _body(owner_client, "company")
    assert "<script>alert(1)</script>" not in body and "<img src=x>" not in body
    assert "&lt;script&gt;alert(1)&lt;/script&gt;</a>" in body
    assert 'aria-label="Select &lt;script&gt;alert(1)&lt;/script&gt;"' in body
    assert '<div class="small text-secondary">&lt;img src=x&gt;</div>' in body


def test_the_rows_speak_russian_under_a_russian_language(owner_client, contact):
    company = contact.company
    company.lifecycle_stage = LifecycleStage.CUSTOMER
    company.phone_is_invalid = True
    company.save()
    context = owner_client.get(reverse("contacts:company-list")).context
    rows = Template("{% load contact_lists %}{% company_rows page.rows any_editable list_url columns %}")
    with translation.override("ru"):
        html = rows.render(Context({key: context[key] for key in ("page", "any_editable", "list_url", "columns")}))
    assert 'aria-label="Выбрать Acme Corp"' in html
    assert '<span class="badge stage-customer">Клиент</span>' in html
    assert 'title="Изменить: Владелец"' in html
    assert "не проверен</span>" in html and 'title="Сохранён как введён: номер не прошёл проверку."' in html
    assert '<span title="Соединенные Штаты Америки">US</span>' in html  # django-countries' Russian


def test_the_inline_editor_pieces_are_the_macros_markup_for_each_record():
    """``InlineCells.head``/``tail``/``version`` (what the rows print) write exactly what
    crm/cells.html's ``inline_field`` and ``inline_version`` macros write for that record."""
    from django.template import engines

    from contacts.models import Contact
    from contacts.templatetags.contact_lists import CONTACT_INLINE
    from crm.inline import InlineCells

    env = engines["jinja2"].env
    macros = env.from_string(
        '{% from "crm/cells.html" import inline_field, inline_version %}'
        "{% call inline_field(inline, pk, name, editable) %}<b>{{ value }}</b>{% endcall %}"
        "{{ inline_version(inline, pk, version) }}"
    )
    pieces = env.from_string(
        "{{ inline.head(pk, name, editable) }}<b>{{ value }}</b>{{ inline.tail(pk, name, editable) }}"
        "{{ inline.version(pk, version) }}"
    )
    for language in ("en", "ru"):
        with translation.override(language):
            inline = InlineCells(Contact, "contacts:contact-inline", CONTACT_INLINE)
            for pk, name, editable, version in (
                (7, "phone", True, 3),
                (123456, "email", True, 1),
                (42, "tags", False, 9),
            ):
                context = {
                    "inline": inline,
                    "pk": pk,
                    "name": name,
                    "editable": editable,
                    "value": "<x>",
                    "version": version,
                }
                html = pieces.render(context)
                assert html == macros.render(context)
                assert f"/contacts/{pk}/inline/{name}/" in html if editable else "inline-edit" not in html
                assert f'id="inline-contact-{pk}-version" value="{version}"' in html and "&lt;x&gt;" in html


def test_the_record_forms_country_select_is_in_the_users_language_and_keeps_the_choice(owner):
    """The country choices are read once per language (``contacts.forms._model_country_choices``):
    each language gets its own names, and a saved country stays selected."""
    from contacts.forms import CompanyForm, CompanyQuickForm
    from contacts.models import Company

    company = Company(owner=owner, name="Nordwind", country="DE")
    for language, germany, afghanistan in (("en", "Germany", "Afghanistan"), ("ru", "Германия", "Афганистан")):
        with translation.override(language):
            quick = str(CompanyQuickForm(user=owner)["country"])
            edit = str(CompanyForm(user=owner, instance=company)["country"])
        assert f'<option value="DE">{germany}</option>' in quick
        assert f'<option value="DE" selected>{germany}</option>' in edit
        assert f'<option value="AF">{afghanistan}</option>' in edit
        assert quick.split("<option ")[1].startswith('value="" selected>')  # blank first


def test_the_list_filters_choices_are_in_the_users_language_and_keep_each_requests_choice(owner):
    """The filters' own choices are built once per language (``FastSelect`` with a cache key):
    each language gets its labels, each request its selection, and a form's choices are its own."""
    from contacts.forms import CompanyFilterForm

    requests = [("en", "lead", "Lead", "Customer", "Any stage"), ("ru", "customer", "Лид", "Клиент", "Любой этап")]
    for language, chosen, lead, customer, anything in requests * 2:
        with translation.override(language):
            stage = str(ContactFilterForm({"stage": chosen}, user=owner, default_sort="name")["stage"])
            missing = str(CompanyFilterForm({}, user=owner, default_sort="name")["missing"])
            contact_missing = str(ContactFilterForm({}, user=owner, default_sort="name")["missing"])
        lead_selected, customer_selected = chosen == "lead", chosen == "customer"
        assert f'<option value="lead"{" selected" if lead_selected else ""}>{lead}</option>' in stage
        assert f'<option value="customer"{" selected" if customer_selected else ""}>{customer}</option>' in stage
        assert f'<option value="">{anything}</option>' in stage and stage.count(" selected") == 1
        assert 'value="company"' in contact_missing and 'value="company"' not in missing


def test_the_rows_labels_follow_the_readers_language_page_after_page(owner):
    """Stage names, country names and the inline editors' labels are translated once per
    language (``choice_labels``, the country names, ``InlineCells``' labels): a Russian page
    between two English ones gets Russian ones, the English pages English ones."""
    from contacts.templatetags.contact_lists import contact_rows
    from crm.rows import ListRow

    row = ListRow(
        id=5, first_name="Ann", last_name="Lee", title="", company_id=None, company__name=None, email="", phone="",
        mobile="", do_not_email=False, do_not_call=False, phone_is_invalid=False, country="DE",
        lifecycle_stage="customer", owner__first_name="Oleg", owner__last_name="Ivanov", owner__username="oleg",
        tag_names=[], created_at=timezone.now(), archived_at=None, version=1, can_edit=True,
    )  # fmt: skip
    for language, stage, germany, edit_owner in (
        ("en", "Customer", "Germany", "Edit Owner"),
        ("ru", "Клиент", "Германия", "Изменить: Владелец"),
        ("en", "Customer", "Germany", "Edit Owner"),
    ):
        with translation.override(language):
            html = str(contact_rows([row], True, "/contacts/"))
        assert f'<span class="badge stage-customer">{stage}</span>' in html
        assert f'<span title="{germany}">DE</span>' in html
        assert f'title="{edit_owner}"' in html
