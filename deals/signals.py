"""Signals other apps subscribe to without ``deals`` importing them.

``deal_stage_changed(sender=Deal, deal=..., stage_change=...)`` is sent inside the transaction
that moves the deal. A receiver that needs work done after the commit (the reports rollups)
writes it to the outbox (``crm.services.outbox_enqueue``): the row commits with the move, or
vanishes with a move that was rolled back, and is relayed to Celery even if the broker is
down at that moment. A new deal's first placement counts as a move (its StageChange has
``from_stage=None``).

``deal_changed(sender=Deal, deal=...)`` is sent, also inside the transaction, when an edit saves
a deal without moving it (owner, amount, source, custom fields, line items): what the reports
rollups copy from the deal may have changed.
"""

from django.dispatch import Signal

deal_stage_changed = Signal()
deal_changed = Signal()
