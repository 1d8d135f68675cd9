"""Leave the report rollups built after the other apps' demo data (runs last in seed_demo)."""

from __future__ import annotations

from crm.demo import DemoPeople
from reports.services import forecast_snapshot_take, rollups_rebuild


def seed(*, people: DemoPeople) -> None:
    rollups_rebuild()
    forecast_snapshot_take()
