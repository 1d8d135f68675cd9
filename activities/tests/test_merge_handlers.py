"""A merge moves activities, meetings and timeline events, and undo moves back exactly those
(activities.merge, registered in ActivitiesConfig) — plus the whole merge end to end."""

from activities.models import Activity, TimelineEvent
from activities.services import activity_create
from activities.tests.factories import activity_type
from contacts import services as contact_services
from contacts.merge import merge_undo, records_merge
from contacts.models import Contact
from deals.models import Deal
from deals.tests.factories import DealFactory, make_pipeline


def test_a_company_merge_moves_everything_and_undo_restores_exactly(owner):
    kept = contact_services.company_create(actor=owner, owner=owner, name="Acme", tag_names=["vip"])
    dupe = contact_services.company_create(actor=owner, owner=owner, name="ACME Inc", tag_names=["partner"])
    person = contact_services.contact_create(actor=owner, owner=owner, last_name="Petrova", company=dupe)
    deal = DealFactory(owner=owner, pipeline=make_pipeline(), company=dupe)
    call = activity_create(actor=owner, type=activity_type("call"), subject="Intro call", company=dupe, done=True)
    dupe_events = set(TimelineEvent.objects.filter(company=dupe).values_list("pk", flat=True))
    assert dupe_events  # "created" events and the call

    record = records_merge(actor=owner, survivor=kept, loser=dupe, choices={})

    person.refresh_from_db()
    deal.refresh_from_db()
    call.refresh_from_db()
    assert person.company == kept and deal.company == kept and call.company == kept
    assert not TimelineEvent.objects.filter(company=dupe).exists()
    assert dupe_events <= set(kept.timeline.values_list("pk", flat=True))
    assert set(kept.tags.values_list("name", flat=True)) == {"vip", "partner"}
    assert record.moved["activities"] == {"activities": [call.pk], "timeline_events": sorted(dupe_events)}
    later = activity_create(actor=owner, type=activity_type("note"), subject="After the merge", company=kept)

    merge_undo(actor=owner, record=record)

    person.refresh_from_db()
    deal.refresh_from_db()
    call.refresh_from_db()
    later.refresh_from_db()
    assert person.company == dupe and deal.company == dupe and call.company == dupe
    assert set(TimelineEvent.objects.filter(company=dupe).values_list("pk", flat=True)) == dupe_events
    assert later.company == kept
    assert set(kept.tags.values_list("name", flat=True)) == {"vip"}
    assert set(kept.timeline.values_list("kind", flat=True)) >= {"merge", "merge_undone"}


def test_a_contact_merge_moves_activities_meetings_and_events(owner):
    kept = contact_services.contact_create(actor=owner, owner=owner, first_name="Anna", last_name="Petrova")
    dupe = contact_services.contact_create(actor=owner, owner=owner, first_name="Anya", last_name="Petrova")
    call = activity_create(actor=owner, type=activity_type("call"), subject="Call Anya", contact=dupe, done=True)
    meeting = activity_create(
        actor=owner, type=activity_type("meeting"), subject="Lunch", attendee_contacts=[dupe, kept], done=True
    )
    solo = activity_create(
        actor=owner, type=activity_type("meeting"), subject="Demo", attendee_contacts=[dupe], done=True
    )

    record = records_merge(actor=owner, survivor=kept, loser=dupe, choices={})
    call.refresh_from_db()
    assert call.contact == kept
    assert list(meeting.attendee_contacts.all()) == [kept]
    assert list(solo.attendee_contacts.all()) == [kept]
    assert TimelineEvent.objects.filter(contact=kept, activity=call).exists()

    merge_undo(actor=owner, record=record)
    call.refresh_from_db()
    assert call.contact == dupe
    assert set(meeting.attendee_contacts.all()) == {kept, dupe}
    assert list(solo.attendee_contacts.all()) == [dupe]
    assert Activity.objects.filter(contact=kept).count() == 0
    assert Contact.objects.get(pk=dupe.pk).archived_at is None
    assert Deal.objects.count() == 0
