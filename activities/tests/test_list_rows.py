# ruff: noqa: E501  (the row template below is kept as one line per cell, like the page's)
"""The activity list's rows written in Python (``{% activity_list_rows %}``, from
``values()`` rows) are the markup of the per-row template they replace, kept below with the
one change made with them (the "Linked to" record is a link), up to whitespace: done, overdue,
open and unscheduled activities, linked to a deal, a contact, a company or nothing, an
assignee with and without a full name, and markup in every free-text value."""

import re
from datetime import timedelta

import pytest
from django.template import Context, Template
from django.urls import reverse
from django.utils import timezone, translation

from activities import selectors
from activities.models import Activity, ActivityType
from activities.tests.factories import ActivityFactory, CompanyFactory, ContactFactory, DealFactory, activity_type
from crm.models import User
from crm.tests.factories import UserFactory

pytestmark = pytest.mark.django_db

ROW_TEMPLATE = """{% load i18n crm_l10n %}
<tr>
  <td><i class="bi {{ activity.type.icon }}" style="color: {{ activity.type.color }}" title="{{ activity.type.label }}" aria-hidden="true"></i> <a href="{{ activity.get_absolute_url }}">{{ activity.subject }}</a></td>
  <td class="small">{% with linked=activity.deal|default:activity.contact|default:activity.company %}{% if linked %}<a href="{{ linked.get_absolute_url }}">{{ linked }}</a>{% else %}—{% endif %}{% endwith %}</td>
  <td class="small text-nowrap">{{ activity.owner }}</td>
  <td class="small text-nowrap">{{ activity.due_at|day_time|default:"—" }}</td>
  <td>{% if activity.done_at %}<span class="badge text-bg-success">{% translate "done" %}</span>{% elif activity.due_at and activity.due_at < now %}<span class="badge text-bg-danger">{% translate "overdue" %}</span>{% else %}<span class="badge text-bg-secondary">{% translate "open" %}</span>{% endif %}</td>
  <td class="small text-nowrap text-secondary">{{ activity.created_at|day }}</td>
</tr>
"""


def _squash(html: str) -> str:
    """Whitespace next to a tag is the templates' indentation, not content; ``'`` and ``"``
    are spelled ``&#39;`` and ``&#34;`` by the rows' Jinja2 template, as Django would not."""
    html = html.replace("&#x27;", "&#39;").replace("&quot;", "&#34;")
    return re.sub(r"\s*([<>])\s*", r"\1", re.sub(r"\s+", " ", html)).strip()


@pytest.fixture
def varied(owner):
    now = timezone.now()
    nameless = UserFactory(username="j.doe", first_name="", last_name="")
    company = CompanyFactory(owner=owner, name="Northwind & <Co>")
    contact = ContactFactory(owner=owner, company=company, first_name="Ann", last_name="O'Neil")
    deal = DealFactory(owner=owner, company=company, title='Renewal "2027"')
    ActivityFactory(owner=owner, subject="Call <b>", deal=deal, contact=contact, done_at=now, due_at=now)
    ActivityFactory(owner=owner, subject="Overdue", contact=contact, company=company, due_at=now - timedelta(days=40))
    ActivityFactory(owner=nameless, subject="Planned", company=company, due_at=now + timedelta(days=3))
    ActivityFactory(owner=owner, subject="A note & more", type=activity_type("note"))
    return now


@pytest.mark.parametrize("language", ["en", "ru"])
@pytest.mark.parametrize("names_loaded", [False, True], ids=["names-read", "names-loaded"])
def test_the_rows_match_the_row_template(varied, owner, language, names_loaded):
    # The assignees' names come from the people the request has loaded, or else are read
    # with the linked records' labels.
    people = list(User.objects.all()) if names_loaded else []
    with translation.override(language):
        rows, _cursor = selectors.activity_list_page(Activity.objects.all(), by_due=False)
        selectors.label_list_rows(rows, user=owner, types=ActivityType.objects.all(), people=people)
        activities = {a.pk: a for a in Activity.objects.with_related()}
        assert len(rows) == 4
        row = Template(ROW_TEMPLATE)
        old = "".join(row.render(Context({"activity": activities[r.pk], "now": varied})) for r in rows)
        new = Template("{% load activity_rows %}{% activity_list_rows rows %}").render(
            Context({"rows": rows, "now": varied})
        )
    assert _squash(new) == _squash(old)
    assert "Call &lt;b&gt;" in new
    assert new.count("Northwind &amp; &lt;Co&gt;") == 1  # a deal's or contact's link comes before the company's
    assert "Ann O&#39;Neil" in new and "j.doe" in new


def test_the_page_shows_the_rows_and_their_links(owner_client, varied):
    html = owner_client.get(reverse("activities:list")).content.decode()
    deal = Activity.objects.get(subject="Call <b>").deal
    assert f'<a href="{deal.get_absolute_url()}">Renewal &#34;2027&#34;</a>' in html
    assert html.count('<span class="badge text-bg-danger">overdue</span>') == 1
    assert "No activities match." not in html


def test_an_empty_list_says_so(owner_client):
    html = owner_client.get(reverse("activities:list")).content.decode()
    assert "No activities match." in html


def test_labelling_reads_what_was_not_loaded_in_two_queries_at_most(varied, owner, django_assert_num_queries):
    rows, _cursor = selectors.activity_list_page(Activity.objects.all(), by_due=False)
    owner.visible_owner_ids  # noqa: B018  (loaded with the user on a page, crm/backends.py)
    with django_assert_num_queries(2):  # the labels with the assignees' names, and the types
        selectors.label_list_rows(rows, user=owner, types=[], people=[])
    by_subject = {row.subject: row for row in rows}
    assert by_subject["A note & more"].type.key == "note"
    assert by_subject["A note & more"].linked is None
    assert by_subject["Planned"].owner_name == "j.doe"
    assert by_subject["Overdue"].linked[0] == "contact" and by_subject["Overdue"].linked[2] == "Ann O'Neil"


def test_a_linked_record_the_viewer_may_not_see_is_neither_named_nor_linked(
    owner, outsider, owner_client, teammate_client, admin_client
):
    # The owner's activities, on records an outsider owns (or was handed since).
    hidden_company = CompanyFactory(owner=outsider, name="Hidden Holdings")
    hidden_deal = DealFactory(owner=outsider, company=hidden_company, title="Hidden renewal")
    contact = ContactFactory(owner=owner, company=None, first_name="Vera", last_name="Visible")
    ActivityFactory(owner=owner, subject="On the hidden deal", deal=hidden_deal, contact=contact)
    ActivityFactory(owner=owner, subject="On the hidden company", company=hidden_company)
    for client in (owner_client, teammate_client):
        html = client.get(reverse("activities:list")).content.decode()
        assert "On the hidden deal" in html and "On the hidden company" in html
        assert "Hidden" not in html.replace("On the hidden", "")
        assert f'href="{hidden_deal.get_absolute_url()}"' not in html
        assert f'href="{hidden_company.get_absolute_url()}"' not in html
        assert f'<a href="{contact.get_absolute_url()}">Vera Visible</a>' in html  # the next record it may see
    admin_html = admin_client.get(reverse("activities:list")).content.decode()
    assert f'<a href="{hidden_deal.get_absolute_url()}">Hidden renewal</a>' in admin_html
