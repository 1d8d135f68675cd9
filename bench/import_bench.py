"""Import throughput: a messy generated contacts CSV through the import service, timed the
way the Celery task runs it (``import_execute``: parse, validate, match, write in one
transaction with history rows and timeline events).

    DATABASE_URL=… .venv/bin/python bench/import_bench.py --rows 100000 --owner alice

The file mixes what real exports have: Russian and English headers, ``;`` separators,
cp1251 encoding, phones in national and international formats, upper-case emails, country
names in English and Russian, ~2,000 company names repeated, and about 2 % bad rows (no
name, a broken email, a phone that does not validate, in-file duplicates). The imported rows
are deleted afterwards (``--keep`` leaves them), so runs stay comparable.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "crm.settings")

MARK = "import-bench.example"
FIRST = ["Анна", "Иван", "Ольга", "Пётр", "Мария", "Alice", "John", "Wei", "Li", "Hans", "Emma", "Олег"]
LAST = ["Петрова", "Иванов", "Smith", "Müller", "Wang", "Чжан", "Сидоров", "Brown", "Schmidt", "Кузнецова"]
COUNTRIES = [("Россия", "RU"), ("Russia", "RU"), ("USA", "US"), ("Германия", "DE"), ("China", "CN"), ("uk", "GB")]
TITLES = ["Директор", "CTO", "Sales manager", "Бухгалтер", "", "Head of IT"]


def phone_for(country: str, i: int) -> str:
    n = i % 10_000_000
    if country == "RU":
        return random.choice([f"8 (916) {n // 10000:03d}-{n % 10000 // 100:02d}-{n % 100:02d}", f"+7 916 {n:07d}"])
    if country == "US":
        return f"(415) 555-{n % 10000:04d}" if n % 2 else f"+1 212 555 {n % 10000:04d}"
    if country == "DE":
        return f"030 {1000000 + n:07d}"
    if country == "CN":
        return f"+86 138 {n:08d}"
    return f"+44 20 7946 {n % 10000:04d}"


def write_csv(path: Path, rows: int, seed: int) -> None:
    random.seed(seed)
    companies = [f"Bench Company {i}" for i in range(2000)]
    header = ["Имя", "Фамилия", "E-mail", "Телефон", "Компания", "Страна", "Должность", "External ID"]
    with path.open("w", encoding="cp1251", errors="replace", newline="") as handle:
        handle.write(";".join(header) + "\r\n")
        for i in range(rows):
            country_name, code = random.choice(COUNTRIES)
            first, last = random.choice(FIRST), random.choice(LAST)
            email = f"Person.{i}@{MARK}"
            if i % 3 == 0:
                email = email.upper()
            phone = phone_for(code, i)
            bad = i % 50
            if bad == 1:
                last = ""  # no name → rejected
            elif bad == 2:
                email = f"broken-{i}-at-{MARK}"  # not an email → rejected
            elif bad == 3:
                phone = "12"  # does not validate → rejected
            elif bad == 4 and i > 10:
                email = f"Person.{i - 5}@{MARK}"  # the same person twice in the file → rejected
            cells = [first, last, email, phone, random.choice(companies), country_name, random.choice(TITLES), f"B{i}"]
            handle.write(";".join(cells) + "\r\n")


def remove_imported(job_id: int, domain: str = MARK) -> None:
    """Delete what the run imported (contacts with emails at ``domain``) with a few set-based
    statements (the ORM's cascade would load every row first and take minutes)."""
    from django.db import connection, transaction

    reason = f"Import #{job_id}"
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("DELETE FROM activities_timelineevent WHERE data->>'import_job' = %s", [str(job_id)])
        cursor.execute(
            "DELETE FROM activities_timelineevent WHERE contact_id IN "
            "(SELECT id FROM contacts_contact WHERE email LIKE %s)",
            [f"%{domain}"],
        )
        cursor.execute(
            "DELETE FROM contacts_contact_tags WHERE contact_id IN "
            "(SELECT id FROM contacts_contact WHERE email LIKE %s)",
            [f"%{domain}"],
        )
        cursor.execute("DELETE FROM contacts_historicalcontact WHERE history_change_reason = %s", [reason])
        cursor.execute("DELETE FROM contacts_contact WHERE email LIKE %s", [f"%{domain}"])
        cursor.execute(
            "DELETE FROM contacts_company c WHERE c.id IN (SELECT history.id FROM contacts_historicalcompany "
            "history WHERE history.history_change_reason = %s) AND NOT EXISTS "
            "(SELECT 1 FROM contacts_contact WHERE company_id = c.id)",
            [reason],
        )
        cursor.execute("DELETE FROM contacts_historicalcompany WHERE history_change_reason = %s", [reason])
        cursor.execute("DELETE FROM contacts_importrowerror WHERE job_id = %s", [job_id])
        cursor.execute("DELETE FROM contacts_importjob WHERE id = %s", [job_id])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--owner", default="alice")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args()

    import django

    django.setup()
    from contacts import import_services
    from contacts.models import ImportJob, ImportState
    from crm.models import User

    owner = User.objects.get(username=args.owner)
    path = Path(f"/tmp/import-bench-{args.rows}.csv")
    write_csv(path, args.rows, args.seed)
    size = path.stat().st_size
    data = path.read_bytes()
    started = time.perf_counter()
    job = import_services.import_upload(actor=owner, kind="contacts", file_name=path.name, data=data)
    upload_seconds = time.perf_counter() - started
    job.options = {"match_key": "email", "mode": "fill", "keep_invalid_phones": False}
    job.state = ImportState.PENDING
    job.save(update_fields=["options", "state"])
    started = time.perf_counter()
    import_services.import_execute(job_id=job.pk)
    seconds = time.perf_counter() - started
    job = ImportJob.objects.without_file().get(pk=job.pk)
    print(
        f"{args.rows:,} rows ({size / 1e6:.1f} MB cp1251 CSV): upload/read {upload_seconds:.1f} s; "
        f"import {seconds:.1f} s = {args.rows / seconds:,.0f} rows/s; state {job.state}; "
        f"created {job.created_count:,}, updated {job.updated_count:,}, skipped {job.skipped_count:,}, "
        f"rejected {job.rejected_count:,}, companies created {job.companies_created:,}"
    )
    if job.error:
        print(job.error)
    if not args.keep:
        remove_imported(job.pk)
    path.unlink()
    return 0 if job.state == ImportState.DONE else 1


if __name__ == "__main__":
    sys.exit(main())
