"""Reinstall the case queue-total triggers and refill ``service_casequeuetotal`` from the cases.

Needed only after loading cases with triggers off (``session_replication_role = replica``);
every ordinary write keeps the counts exact by itself.
"""

from django.core.management.base import BaseCommand
from django.db import transaction

from service import totals


class Command(BaseCommand):
    help = "Reinstall the case queue-total triggers and refill the stored counts from the active cases."

    def handle(self, *args, **options) -> None:
        with transaction.atomic():
            totals.install()
            groups = totals.rebuild()
        self.stdout.write(f"{groups} case queue total groups.")
