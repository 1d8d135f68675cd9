"""Signals other apps subscribe to without ``deals`` importing them.

``deal_stage_changed(sender=Deal, deal=..., stage_change=...)`` is sent after the transaction
that moved the deal has committed (never for a move that was rolled back), so receivers such
as the reports rollups may enqueue work that reads the new state. A new deal's first placement
counts as a move (its StageChange has ``from_stage=None``).
"""

from django.dispatch import Signal

deal_stage_changed = Signal()
