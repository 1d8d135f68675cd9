"""Reinstall the deal-total triggers for the current TIME_ZONE and refill ``deals_dealtotal``
and ``deals_closeddealtotal``.

Needed only after a change of TIME_ZONE (the rate month is computed in it) or after loading
deals with triggers off (``session_replication_role = replica``); every ordinary write keeps
the totals exact by itself.
"""

from django.core.management.base import BaseCommand
from django.db import transaction

from deals import totals


class Command(BaseCommand):
    help = "Reinstall the deal-total triggers and refill the stored money totals from the deals."

    def handle(self, *args, **options) -> None:
        with transaction.atomic():
            totals.install()
            totals.CLOSED_ROLLUP.install()
            groups = totals.rebuild()
            closed = totals.CLOSED_ROLLUP.rebuild()
        self.stdout.write(f"{groups} deal total groups, {closed} closed deal total groups.")
