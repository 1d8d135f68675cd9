"""Signals other apps subscribe to without ``service`` importing them.

``case_changed(sender=Case, case=..., company_ids=...)`` is sent inside the transaction that
changed a case in a way reports count: opened, edited (queue, priority, customer), a status
change, the first response, an SLA breach recorded by the sweep, a satisfaction score.
``company_ids`` are the customers whose figures the change touches (the case's company now
and, after an edit, the one it had before). A receiver that needs work after the commit (the
reports rollups and customer value) writes it to the outbox, as for ``deal_stage_changed``.
"""

from django.dispatch import Signal

case_changed = Signal()
