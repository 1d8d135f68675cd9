"""Import a CSV/XLSX file from the command line, through the same service the web import's
Celery task runs (headers guessed as on the mapping page; all rows or none)."""

from __future__ import annotations

import json
import time
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from contacts import import_services
from contacts.imports import ImportFileError, MappingError, mapping_problems, match_keys_for, override_mapping
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
        parser.add_argument(
            "--map",
            action="append",
            default=[],
            metavar="HEADER=FIELD",
            help='map a column by its header to a field, e.g. --map "Zip=postcode"; repeat it; '
            '"HEADER=" leaves the column out. Columns not named keep the guess from their header.',
        )
        parser.add_argument(
            "--mapping",
            type=Path,
            help='a JSON file {"Header": "field", ...} with the same meaning as --map (which wins)',
        )
        parser.add_argument(
            "--on-duplicate",
            choices=["skip", "update", "create"],
            default="skip",
            help="what a row that is likely a duplicate of an existing record (no shared email, phone or "
            "external id, but the duplicate matcher is confident) does; default skip, as in the preview",
        )
        parser.add_argument("--show-mapping", action="store_true", help="print which column goes where")

    def handle(self, *args, path: Path, owner: str, kind: str, match_key: str, mode: str, **options):
        user = User.objects.filter(username=owner).first()
        if user is None:
            raise CommandError(f"no user {owner!r}")
        overrides = self._overrides(options["mapping"], options["map"])
        started = time.perf_counter()
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise CommandError(f"cannot read {path}: {exc.strerror}") from None
        try:
            job = import_services.import_upload(actor=user, kind=kind, file_name=path.name, data=data)
            mapping = override_mapping(job.headers, job.mapping, overrides, kind)
        except (ImportFileError, MappingError) as exc:
            raise CommandError(str(exc)) from None
        problems = mapping_problems(mapping, kind)
        if problems:
            raise CommandError(" ".join(problems) + ' Map it with --map "HEADER=FIELD".')
        if options["show_mapping"]:
            for index, header in enumerate(job.headers):
                self.stdout.write(f"  {header} → {mapping.get(str(index)) or '(not imported)'}")
        job.mapping = mapping
        job.options = {
            "match_key": match_key or match_keys_for(kind)[0][0],
            "mode": mode,
            "keep_invalid_phones": options["keep_invalid_phones"],
            "duplicate_default": options["on_duplicate"],
        }
        job.state = ImportState.PENDING
        job.save(update_fields=["mapping", "options", "state"])
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

    def _overrides(self, mapping_file: Path | None, pairs: list[str]) -> dict[str, str]:
        """Header → field from ``--mapping`` then ``--map`` (later ones win)."""
        overrides: dict[str, str] = {}
        if mapping_file is not None:
            try:
                loaded = json.loads(mapping_file.read_text(encoding="utf-8"))
            except OSError as exc:
                raise CommandError(f"cannot read {mapping_file}: {exc.strerror}") from None
            except (json.JSONDecodeError, UnicodeDecodeError) as exc:
                raise CommandError(f"{mapping_file} is not JSON: {exc}") from None
            if not isinstance(loaded, dict) or not all(
                isinstance(k, str) and isinstance(v, str | None) for k, v in loaded.items()
            ):
                raise CommandError(f'{mapping_file} must hold one object: {{"Header": "field", ...}}')
            overrides.update({k: v or "" for k, v in loaded.items()})
        for pair in pairs:
            header, sep, field = pair.rpartition("=")
            if not sep or not header.strip():
                raise CommandError(f'--map {pair!r}: write it as "HEADER=FIELD" (or "HEADER=" to leave it out)')
            overrides[header.strip()] = field.strip()
        return overrides
