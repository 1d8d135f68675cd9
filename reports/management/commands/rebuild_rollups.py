import time

from django.core.management.base import BaseCommand

from reports.services import rollups_rebuild


class Command(BaseCommand):
    help = "Rebuild every report rollup now (what the nightly beat does) and print how long it took."

    def handle(self, *args, **options):
        started = time.monotonic()
        generation = rollups_rebuild()
        self.stdout.write(
            self.style.SUCCESS(
                f"Rollups rebuilt: generation {generation.pk}, {generation.deal_count} deals "
                f"in {time.monotonic() - started:.1f}s."
            )
        )
