"""Reinstall the campaign deal-total triggers for the current TIME_ZONE and refill
``campaigns_campaigndealtotal``.

Needed only after a change of TIME_ZONE (a won deal's close day is computed in it) or after
loading deals or attributions with triggers off (``session_replication_role = replica``);
every ordinary write keeps the totals exact by itself.
"""

from django.core.management.base import BaseCommand
from django.db import transaction

from campaigns import totals


class Command(BaseCommand):
    help = "Reinstall the campaign deal-total triggers and refill the stored totals from the attributed deals."

    def handle(self, *args, **options) -> None:
        with transaction.atomic():
            totals.install()
            groups = totals.rebuild()
        self.stdout.write(f"{groups} campaign deal total groups.")
