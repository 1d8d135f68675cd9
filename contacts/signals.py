"""Events in a customer's life that belong on the customer's timeline.

Apps low in the import graph (``contacts``, ``deals``) cannot import ``activities``, which
owns the timeline, so they announce events with this signal from their services and
``activities`` records them. Send it inside the same transaction as the change it describes.

Keyword arguments of ``customer_event.send(sender, **kwargs)``:
    kind:        short machine name, e.g. "merge", "import", "stage_change", "deal_won"
    title:       one line a person reads on the timeline
    occurred_at: aware datetime (defaults to now in the receiver)
    actor:       the User who caused it, or None for the system
    company, contact, deal: the records it belongs to (any may be None)
    body:        optional longer text
    data:        optional JSON-serialisable dict with details
"""

from django.dispatch import Signal

customer_event = Signal()

customer_events = Signal()
"""Many ``customer_event``s at once, for bulk writers such as the import.

Keyword argument: ``events``, a list of dicts with the keys ``customer_event`` takes (kind,
title, occurred_at, actor, company, contact, deal, body, data, source); each becomes one
timeline entry, written in bulk by the receiver. Send it inside the writing transaction.
"""

customer_saved = Signal()
"""A company or contact was written through ``contacts.services`` (created, edited, archived,
restored, reassigned) — for subscribers such as outbound webhooks.

Keyword arguments of ``customer_saved.send(sender=Company | Contact, **kwargs)``:
    instance: the saved Company or Contact
    created:  True for a new record
    actor:    the User who made the change, or None for the system

Sent inside the writing transaction, after the row and its tags are saved: a receiver's own
writes commit or roll back with the change. A merge sends it for both records; the import,
which writes in bulk, does not send it.
"""
