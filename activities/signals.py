"""Signals other apps subscribe to without ``activities`` importing them.

``activity_completed(sender=Activity, activity=..., actor=...)`` is sent inside the
transaction in which an activity becomes done: logged as done when created, or completed
later (``activity_set_done``). Reopening and completing again sends it again. A receiver that
needs work done after the commit writes it to the outbox (``crm.services.outbox_enqueue``).
"""

from django.dispatch import Signal

activity_completed = Signal()
