# ruff: noqa: E501  (the old template below is kept verbatim)
"""The timeline rows written in Python (``{% timeline_events %}``) are the markup of the
template they replace (kept below verbatim), up to whitespace: activities done, overdue and
planned, with outcome, duration, a body with a link and line breaks, system events with and
without an actor or another source, and a company's contact and deal links."""

import re
from datetime import timedelta

import pytest
from django.template import Context, Template
from django.utils import timezone

from activities.models import TimelineEvent
from activities.selectors import timeline_page
from activities.tests.factories import ActivityFactory
from contacts.tests.factories import CompanyFactory, ContactFactory
from deals.tests.factories import DealFactory

OLD_EVENT_TEMPLATE = """{% load i18n activity_tags crm_l10n %}
<li class="list-group-item timeline-event">
  <div class="d-flex gap-2">
  {% with a=event.activity %}
    {% if a %}
      <span class="timeline-icon" style="color: {{ a.type.color }}"><i class="bi {{ a.type.icon }}" aria-hidden="true"></i><span class="visually-hidden">{{ a.type.label }}</span></span>
      <div class="flex-grow-1 min-w-0">
        <div class="d-flex flex-wrap justify-content-between gap-2">
          <a class="fw-semibold text-break" href="{{ a.get_absolute_url }}">{{ a.subject }}</a>
          <small class="text-secondary text-nowrap"><time datetime="{{ event.occurred_at|date:'c' }}">{{ event.occurred_at|day_time }}</time></small>
        </div>
        <div class="small text-secondary">
          {{ a.type.label }} · {{ a.owner }}
          {% if a.done_at %}· {% translate "done" %}{% elif a.due_at and a.due_at < now %}· <span class="badge text-bg-danger">{% translate "overdue" %}</span>{% else %}· <span class="badge text-bg-info">{% translate "planned" %}</span>{% endif %}
          {% if a.outcome %}· {{ a.outcome }}{% endif %}
          {% if a.duration_minutes %}· {% blocktranslate count n=a.duration_minutes %}{{ n }} minute{% plural %}{{ n }} minutes{% endblocktranslate %}{% endif %}
        </div>
        {% if a.body %}<div class="small mt-1 text-break activity-body">{{ a.body|truncatechars:600|urlize|linebreaksbr }}</div>{% endif %}
    {% else %}
      <span class="timeline-icon text-secondary"><i class="bi {{ event.kind|kind_icon }}" aria-hidden="true"></i></span>
      <div class="flex-grow-1 min-w-0">
        <div class="d-flex flex-wrap justify-content-between gap-2">
          <span class="fw-semibold text-break">{{ event.title }}</span>
          <small class="text-secondary text-nowrap"><time datetime="{{ event.occurred_at|date:'c' }}">{{ event.occurred_at|day_time }}</time></small>
        </div>
        <div class="small text-secondary">{{ event.kind|kind_label }}{% if event.source != "crm" %} · {{ event.source }}{% endif %}{% if event.actor %} · {{ event.actor }}{% endif %}</div>
        {% if event.body %}<div class="small mt-1 text-break">{{ event.body|truncatechars:600|urlize|linebreaksbr }}</div>{% endif %}
    {% endif %}
  {% endwith %}
        {% if kind == "company" and event.contact or kind == "company" and event.deal %}
          <div class="small text-secondary mt-1">
            {% if event.contact %}<i class="bi bi-person" aria-hidden="true"></i> {% with url=event.contact|record_url %}{% if url %}<a href="{{ url }}">{{ event.contact }}</a>{% else %}{{ event.contact }}{% endif %}{% endwith %}{% endif %}
            {% if event.deal %}<i class="bi bi-briefcase ms-1" aria-hidden="true"></i> {% with url=event.deal|record_url %}{% if url %}<a href="{{ url }}">{{ event.deal }}</a>{% else %}{{ event.deal }}{% endif %}{% endwith %}{% endif %}
          </div>
        {% endif %}
      </div>
  </div>
</li>
"""


def _squash(html: str) -> str:
    """Whitespace next to a tag is the templates' indentation, not content."""
    return re.sub(r"\s*([<>])\s*", r"\1", re.sub(r"\s+", " ", html)).strip()


def _activity_event(**kwargs) -> None:
    """An activity with the timeline event the activities service writes for it."""
    activity = ActivityFactory(**kwargs)
    TimelineEvent.objects.create(
        kind="activity",
        title=activity.subject,
        activity=activity,
        company=activity.company,
        contact=activity.contact,
        deal=activity.deal,
        actor=activity.owner,
        occurred_at=activity.done_at or activity.due_at or timezone.now(),
    )


@pytest.mark.parametrize("language", ["en", "ru"])
def test_timeline_rows_match_the_old_template(owner, language):
    from django.utils import translation

    company = CompanyFactory(owner=owner, name="Northwind & Co")
    contact = ContactFactory(owner=owner, company=company)
    deal = DealFactory(owner=owner, company=company)
    now = timezone.now()
    _activity_event(
        owner=owner,
        company=company,
        contact=contact,
        subject="Call <b>",
        done_at=now,
        outcome="Interested & keen",
        duration_minutes=1,
        body="See https://example.com/x\nsecond line",
    )
    _activity_event(owner=owner, company=company, deal=deal, subject="Overdue", due_at=now - timedelta(days=2))
    _activity_event(
        owner=owner, company=company, subject="Planned", due_at=now + timedelta(days=2), duration_minutes=25
    )
    TimelineEvent.objects.create(
        company=company, kind="merge", title="Merged <x>", body="a\nb", actor=owner, occurred_at=now
    )
    TimelineEvent.objects.create(
        company=company,
        kind="custom_thing",
        title="From elsewhere",
        source="erp",
        occurred_at=now - timedelta(hours=1),
        deal=deal,
    )
    TimelineEvent.objects.create(contact=contact, kind="import", title="Imported", occurred_at=now - timedelta(days=1))
    with translation.override(language):
        for record, kind in ((company, "company"), (contact, "contact"), (deal, "deal")):
            events = timeline_page(record).events
            assert len(events) >= 2
            context = {"kind": kind, "now": now}
            old = "".join(Template(OLD_EVENT_TEMPLATE).render(Context({**context, "event": event})) for event in events)
            new = Template("{% load activity_tags %}{% timeline_events events kind now %}").render(
                Context({**context, "events": events})
            )
            assert _squash(new) == _squash(old)
