"""Leave the report rollups and customer value built after the other apps' demo data (runs last
in seed_demo), and the follow-up tasks for the customers that are dormant."""

from __future__ import annotations

from crm.demo import DemoPeople
from reports.services import (
    customer_value_recompute,
    dormancy_followups_create,
    forecast_snapshot_take,
    rollups_rebuild,
)


def seed(*, people: DemoPeople) -> None:
    rollups_rebuild()
    forecast_snapshot_take()
    customer_value_recompute()
    dormancy_followups_create()
