# ruff: noqa: E501 - the old templates are kept verbatim
"""The Python-rendered board cards and list rows (``deals.templatetags.deal_rows``) write the
same markup as the templates they replaced (kept here verbatim, but for the list's owner cell,
since kept on one line), up to whitespace."""

from __future__ import annotations

import datetime as dt
import random
import re
from decimal import Decimal
from types import SimpleNamespace

import pytest
from django.template import Context, Template
from django.test import RequestFactory
from django.urls import reverse
from django.utils import timezone

from deals import selectors, services
from deals.models import Deal, Stage
from deals.tests.factories import CompanyFactory, DealFactory, LostReasonFactory

OLD_CARD = """{% load i18n deal_tags crm_l10n %}{% with can_move=deal|editable_by:request.user %}
<article class="deal-card card" id="deal-card-{{ deal.pk }}" data-stage-id="{{ deal.stage_id }}"{% if can_move %} data-draggable{% endif %} data-card-url="{% url 'deals:card' deal.pk %}" aria-label="{{ deal.title }}">
  <div class="card-body p-2">
    <a class="deal-card-title fw-semibold text-decoration-none" href="{{ deal.get_absolute_url }}">{{ deal.title }}</a>
    {% if deal.company %}<div class="small text-secondary text-truncate">{{ deal.company.name }}</div>{% endif %}
    <div class="d-flex justify-content-between small mt-1">
      <span class="text-nowrap">{{ deal.amount|floatformat:"0g" }} {{ deal.currency }}{% if deal.probability_is_manual %} <span class="badge text-bg-warning" title="{% translate 'Probability set by hand' %}">{{ deal.probability }}%</span>{% endif %}</span>
      <span class="text-truncate ms-2" title="{% translate 'Owner' %}">{{ deal.owner }}</span>
    </div>
    <div class="d-flex justify-content-between align-items-center small text-secondary mt-1">
      <span>{% blocktranslate count days=deal.days_in_stage %}{{ days }} day in stage{% plural %}{{ days }} days in stage{% endblocktranslate %}</span>
      {% if can_move %}
      <form class="move-form" hx-post="{% url 'deals:move' deal.pk %}" hx-target="#deal-card-{{ deal.pk }}" hx-swap="outerHTML">
        <input type="hidden" name="expected_stage" value="{{ deal.stage_id }}">
        <input type="hidden" name="stage" value="">
        <input type="hidden" name="next" value="{% url 'deals:board' deal.pipeline_id %}{% if board_querystring %}?{{ board_querystring }}{% endif %}">
        {% for pair in board_querystring|board_filter_pairs %}<input type="hidden" name="{{ pair.0 }}" value="{{ pair.1 }}">{% endfor %}
        <div class="dropdown">
          <button class="btn btn-sm btn-link p-0 dropdown-toggle" type="button" data-bs-toggle="dropdown" aria-expanded="false">{% translate "Move to…" %}</button>
          <ul class="dropdown-menu dropdown-menu-end">
            {% for stage in stages %}{% if stage.pk != deal.stage_id %}<li><button class="dropdown-item" type="button" data-move-stage="{{ stage.pk }}">{{ stage.name }}</button></li>{% endif %}{% endfor %}
          </ul>
        </div>
      </form>
      {% endif %}
    </div>
    {% if deal.next_activity %}<div class="small mt-1 deal-card-next"><i class="bi bi-calendar-event" aria-hidden="true"></i> <a href="{{ deal.next_activity.get_absolute_url }}">{{ deal.next_activity.subject }}</a> <span class="text-secondary">{{ deal.next_activity.due_at|day }}</span></div>{% endif %}
  </div>
</article>
{% endwith %}
"""

OLD_ROW = """{% load i18n crm_l10n %}<tr>
  <td><a href="{{ deal.get_absolute_url }}">{{ deal.title }}</a></td>
  <td>{% if deal.company %}<a class="link-body-emphasis" href="{{ deal.company.get_absolute_url }}">{{ deal.company.name }}</a>{% else %}<span class="text-secondary">—</span>{% endif %}</td>
  <td>{% include "deals/partials/status_badge.html" %} <span class="small text-secondary">{{ deal.pipeline.name }}</span></td>
  <td class="text-nowrap">{{ deal.owner }}</td>
  <td class="text-end text-nowrap">{{ deal.amount|floatformat:"2g" }} {{ deal.currency }}</td>
  <td class="text-end">{{ deal.probability }}%{% if deal.probability_is_manual %} <span class="badge text-bg-light border" title="{% translate 'Set by hand; kept when the stage changes' %}">{% translate "manual" %}</span>{% endif %}</td>
  <td class="text-nowrap">{{ deal.expected_close_date|day|default:"—" }}{% if deal.is_overdue %} <span class="badge text-bg-danger">{% translate "overdue" %}</span>{% endif %}</td>
</tr>"""


def _squash(html: str) -> str:
    """Whitespace between tags, and the entities Django and markupsafe spell differently
    (the rows are Jinja2 templates: ``'`` and ``"`` are ``&#39;`` and ``&#34;`` there)."""
    html = str(html).replace("&#x27;", "&#39;").replace("&quot;", "&#34;")
    return re.sub(r"\s+", " ", html).replace("> <", "><").strip()


@pytest.fixture
def varied_deals(owner, teammate, pipeline):
    company = CompanyFactory(owner=owner, name='Smith & "Sons" <Ltd>')
    deals = [
        DealFactory(
            owner=owner, pipeline=pipeline, company=company, title="<b>Big</b> & bold", amount=Decimal("1234567.89")
        ),
        DealFactory(owner=teammate, pipeline=pipeline, title="Teammate's", currency="EUR", amount=Decimal("0")),
        DealFactory(
            owner=owner,
            pipeline=pipeline,
            title="Manual",
            probability=33,
            probability_is_manual=True,
            expected_close_date=timezone.localdate() - dt.timedelta(days=3),
        ),
    ]
    won = DealFactory(owner=owner, pipeline=pipeline, title="Won one", expected_close_date=dt.date(2030, 1, 2))
    services.deal_mark_won(deal=won, actor=owner)
    lost = DealFactory(owner=owner, pipeline=pipeline, title="Lost one")
    services.deal_mark_lost(deal=lost, actor=owner, lost_reason=LostReasonFactory())
    Deal.objects.filter(pk=deals[1].pk).update(stage_entered_at=timezone.now() - dt.timedelta(days=1))
    Deal.objects.filter(pk=deals[2].pk).update(stage_entered_at=timezone.now() - dt.timedelta(days=40))
    return list(Deal.objects.select_related("owner", "company", "pipeline", "stage").order_by("pk"))


@pytest.mark.parametrize("querystring", ["", "owner=3&team=4"])
def test_board_cards_match_the_old_card_template(owner, pipeline, varied_deals, querystring):
    request = RequestFactory().get("/")
    request.user = owner
    stages = list(Stage.objects.filter(pipeline=pipeline).order_by("position", "id"))
    due = timezone.now() + dt.timedelta(days=2)
    for deal in varied_deals:
        deal.next_activity = None
    varied_deals[0].next_activity = SimpleNamespace(
        pk=7, subject="Call <them>", due_at=due, get_absolute_url=lambda: reverse("activities:detail", args=[7])
    )
    context = {"request": request, "stages": stages, "board_querystring": querystring}
    old = "".join(Template(OLD_CARD).render(Context({**context, "deal": deal})) for deal in varied_deals)
    cards = [selectors.card_of(deal) for deal in varied_deals]
    for card, deal in zip(cards, varied_deals, strict=True):
        card.next_activity = deal.next_activity
    new = Template("{% load deal_rows %}{% board_cards cards %}").render(Context({**context, "cards": cards}))
    assert _squash(new) == _squash(old)
    assert "data-draggable" in new and "Teammate&#39;s" in new and "&lt;b&gt;Big&lt;/b&gt;" in new
    one = Template("{% load deal_rows %}{% board_card card %}").render(Context({**context, "card": cards[2]}))
    assert _squash(one) == _squash(Template(OLD_CARD).render(Context({**context, "deal": varied_deals[2]})))


def test_the_boards_queries_read_a_card_as_card_of_the_deal_does(varied_deals, pipeline):
    stages = list(Stage.objects.filter(pipeline=pipeline))
    columns = [selectors.board_cards(Deal.objects.all(), stage=stage)[0] for stage in stages]
    read = sorted((card for cards in columns for card in cards), key=lambda card: card.pk)
    assert read == [selectors.card_of(deal) for deal in varied_deals]
    first_pages = selectors.board_first_pages(Deal.objects.all(), stages)
    assert sorted((card for cards, _cursor in first_pages.values() for card in cards), key=lambda c: c.pk) == read
    assert {card["company_name"] for card in read} == {'Smith & "Sons" <Ltd>', None}


def test_list_rows_match_the_old_row_template(varied_deals):
    from crm.rows import list_rows
    from deals.selectors import LIST_ROW_FIELDS

    old = "".join(Template(OLD_ROW).render(Context({"deal": deal})) for deal in varied_deals)
    rows = list(list_rows(Deal.objects.order_by("pk"), LIST_ROW_FIELDS))
    new = Template("{% load deal_rows %}{% deal_list_rows deals %}").render(Context({"deals": rows}))
    assert _squash(new) == _squash(old)
    assert "overdue" in new and "manual" in new and "text-bg-success" in new and "text-bg-danger" in new


@pytest.mark.parametrize("language", ["en", "ru", "zh-hans"])
def test_numbers_format_like_floatformat_with_grouping(language):
    from django.template.defaultfilters import floatformat
    from django.utils import translation

    from deals.templatetags.deal_rows import Numbers

    rng = random.Random(5)
    values = [Decimal("0"), Decimal("0.00"), Decimal("0.5"), Decimal("1.005"), Decimal("999.5"), Decimal("1000")]
    values += [Decimal(rng.randint(0, 10**14)) / 100 for _ in range(500)]
    values += [-value for value in values[:60]] + [Decimal("-0.001"), Decimal("-0.5")]
    with translation.override(language):
        numbers = Numbers()
        for value in values:
            for places in (0, 2):
                assert numbers.grouped(value, places) == floatformat(value, f"{places}g"), (value, places)


OLD_HEAD = """{% load i18n humanize %}<header class="kanban-column-head" id="col-head-{{ column.stage.pk }}"{% if oob %} hx-swap-oob="true"{% endif %}>
  <div class="d-flex justify-content-between align-items-baseline">
    <h2 class="h6 mb-0" id="col-title-{{ column.stage.pk }}">{{ column.stage.name }} <span class="text-secondary small fw-normal">{{ column.stage.probability }}%</span></h2>
    <span class="badge rounded-pill text-bg-secondary" title="{% translate 'open deals' %}">{{ column.total.count|intcomma }}</span>
  </div>
  <div class="small text-secondary">
    <span title="{% translate 'total' %}">{{ column.total.amount|floatformat:"0g" }} {{ base_currency }}</span>
    · <span title="{% translate 'weighted by probability' %}">{% blocktranslate with amount=column.total.weighted|floatformat:"0g" %}{{ amount }} weighted{% endblocktranslate %}</span>
    {% if column.total.missing_rates %}<span class="text-warning" title="{% translate 'Some currencies have no exchange rate and are left out' %}"><i class="bi bi-exclamation-triangle" aria-hidden="true"></i></span>{% endif %}
  </div>
</header>
"""

OLD_MORE = """{% load i18n %}<div class="kanban-more" id="more-{{ stage.pk }}"{% if oob %} hx-swap-oob="true"{% endif %}>{% if next_cursor %}<button class="btn btn-sm btn-link w-100" type="button" hx-get="{% url 'deals:board-column' stage.pipeline_id stage.pk %}?after={{ next_cursor|urlencode }}{% if board_querystring %}&amp;{{ board_querystring }}{% endif %}" hx-target="#cards-{{ stage.pk }}" hx-swap="beforeend">{% translate "Load more" %}<span class="htmx-indicator spinner-border spinner-border-sm ms-1" aria-hidden="true"></span></button>{% endif %}</div>
"""


@pytest.mark.parametrize("oob", [False, True])
def test_column_heads_and_load_more_match_the_old_templates(pipeline, oob):
    from deals import selectors

    stage = Stage.objects.filter(pipeline=pipeline).order_by("position").first()
    totals = [
        selectors.MoneyTotal(),
        selectors.MoneyTotal(
            amount=Decimal("1234567.49"), weighted=Decimal("2500.5"), count=12345, missing_rates={"GBP"}
        ),
    ]
    for total in totals:
        column = selectors.BoardColumn(stage=stage, total=total, cards=[], next_cursor="")
        context = {"column": column, "oob": oob, "base_currency": "USD"}
        old = Template(OLD_HEAD).render(Context(context))
        new = Template("{% load deal_rows %}{% board_column_head column oob=oob %}").render(Context(context))
        assert _squash(new) == _squash(old)
    for cursor, querystring in [
        ("", ""),
        ("2026-11-22T23:34:42+00:00_44725", ""),
        ("2026-01-01T00:00:00+00:00_7", "owner=3&team=4"),
    ]:
        context = {"stage": stage, "next_cursor": cursor, "board_querystring": querystring, "oob": oob}
        old = Template(OLD_MORE).render(Context(context))
        new = Template("{% load deal_rows %}{% board_more stage next_cursor oob=oob %}").render(Context(context))
        assert _squash(new) == _squash(old)


def test_rows_read_stages_and_pipelines_the_caller_did_not_pass_in_one_query_each(
    varied_deals, django_assert_num_queries
):
    from crm.rows import list_rows
    from deals.selectors import LIST_ROW_FIELDS
    from deals.templatetags.deal_rows import deal_list_rows

    rows = list(list_rows(Deal.objects.order_by("pk"), LIST_ROW_FIELDS))
    with django_assert_num_queries(2):
        plain = deal_list_rows(rows)
    stages, pipelines = list(Stage.objects.all()), [deal.pipeline for deal in varied_deals]
    rows = list(list_rows(Deal.objects.order_by("pk"), LIST_ROW_FIELDS))
    with django_assert_num_queries(0):
        given = deal_list_rows(rows, None, None, stages, pipelines)
    assert given == plain
    assert all(f">{deal.stage.name}</span>" in plain for deal in varied_deals)
