"""What a company or contact merge does to activities and timeline events (registered in
``ActivitiesConfig.ready``). ``move`` returns the ids it moved; ``restore`` moves back exactly
those (see ``contacts.merge``)."""

from __future__ import annotations

from activities.models import Activity, TimelineEvent
from contacts.models import Company, Contact


def company_move(*, loser: Company, survivor: Company) -> dict[str, list[int]]:
    activity_ids = list(Activity.objects.filter(company=loser).order_by("pk").values_list("pk", flat=True))
    event_ids = list(TimelineEvent.objects.filter(company=loser).order_by("pk").values_list("pk", flat=True))
    Activity.objects.filter(pk__in=activity_ids).update(company=survivor)
    TimelineEvent.objects.filter(pk__in=event_ids).update(company=survivor)
    return {"activities": activity_ids, "timeline_events": event_ids}


def company_restore(*, loser: Company, survivor: Company, moved: dict[str, list[int]]) -> None:
    Activity.objects.filter(pk__in=moved.get("activities", []), company=survivor).update(company=loser)
    TimelineEvent.objects.filter(pk__in=moved.get("timeline_events", []), company=survivor).update(company=loser)


def contact_move(*, loser: Contact, survivor: Contact) -> dict[str, list[int]]:
    activity_ids = list(Activity.objects.filter(contact=loser).order_by("pk").values_list("pk", flat=True))
    event_ids = list(TimelineEvent.objects.filter(contact=loser).order_by("pk").values_list("pk", flat=True))
    Activity.objects.filter(pk__in=activity_ids).update(contact=survivor)
    TimelineEvent.objects.filter(pk__in=event_ids).update(contact=survivor)
    # Meeting attendance: a meeting both attended keeps one row (the survivor's).
    links = Activity.attendee_contacts.through.objects
    attended = set(links.filter(contact=loser).values_list("activity_id", flat=True))
    both = attended & set(links.filter(contact=survivor).values_list("activity_id", flat=True))
    links.filter(contact=loser, activity_id__in=attended - both).update(contact=survivor)
    links.filter(contact=loser, activity_id__in=both).delete()
    return {
        "activities": activity_ids,
        "timeline_events": event_ids,
        "meetings": sorted(attended - both),
        "meetings_attended_by_both": sorted(both),
    }


def contact_restore(*, loser: Contact, survivor: Contact, moved: dict[str, list[int]]) -> None:
    Activity.objects.filter(pk__in=moved.get("activities", []), contact=survivor).update(contact=loser)
    TimelineEvent.objects.filter(pk__in=moved.get("timeline_events", []), contact=survivor).update(contact=loser)
    through = Activity.attendee_contacts.through
    through.objects.filter(contact=survivor, activity_id__in=moved.get("meetings", [])).update(contact=loser)
    existing = Activity.objects.filter(pk__in=moved.get("meetings_attended_by_both", [])).values_list("pk", flat=True)
    through.objects.bulk_create([through(activity_id=pk, contact=loser) for pk in existing], ignore_conflicts=True)
