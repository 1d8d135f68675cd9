"""Import a CSV/XLSX file from the command line, through the same service the web import's
Celery task runs (headers guessed as on the mapping page; all rows or none)."""

from __future__ import annotations

import time
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from contacts import import_services
from contacts.imports import ImportFileError, match_keys_for
from contacts.models import ImportJob, ImportKind, ImportState
from crm.models import User


class Command(BaseCommand):
    help = "Import contacts (or companies with --kind companies) from a CSV or XLSX file."

    def add_arguments(self, parser):
        parser.add_argument("path", type=Path)
        parser.add_argument("--owner", required=True, help="username of the importing user")
        parser.add_argument("--kind", choices=[k for k, _l in ImportKind.choices], default=ImportKind.CONTACTS)
        parser.add_argument("--match-key", default="", help="email, phone, external_id, domain or name")
        parser.add_argument("--mode", choices=["fill", "overwrite", "skip"], default="fill")
        parser.add_argument("--keep-invalid-phones", action="store_true")

    def handle(self, *args, path: Path, owner: str, kind: str, match_key: str, mode: str, **options):
        user = User.objects.filter(username=owner).first()
        if user is None:
            raise CommandError(f"no user {owner!r}")
        started = time.perf_counter()
        try:
            job = import_services.import_upload(actor=user, kind=kind, file_name=path.name, data=path.read_bytes())
        except ImportFileError as exc:
            raise CommandError(str(exc)) from None
        job.options = {
            "match_key": match_key or match_keys_for(kind)[0][0],
            "mode": mode,
            "keep_invalid_phones": options["keep_invalid_phones"],
        }
        job.state = ImportState.PENDING
        job.save(update_fields=["options", "state"])
        import_services.import_execute(job_id=job.pk)
        job = ImportJob.objects.without_file().get(pk=job.pk)
        seconds = time.perf_counter() - started
        if job.state != ImportState.DONE:
            raise CommandError(f"import #{job.pk} {job.state}: {job.error}")
        self.stdout.write(
            f"import #{job.pk}: {job.total_rows} rows in {seconds:.1f} s ({job.total_rows / seconds:.0f} rows/s): "
            f"{job.created_count} created, {job.updated_count} updated, {job.skipped_count} skipped, "
            f"{job.rejected_count} rejected, {job.companies_created} companies created"
        )
