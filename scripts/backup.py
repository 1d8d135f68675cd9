#!/usr/bin/env python3
"""Back up the CRM's database, restore it, and prove the copy equal (docs/backup.md).

    scripts/backup.py dump    [--database URL] --out FILE.dump
    scripts/backup.py restore FILE.dump --into URL        (creates the database; refuses one with tables)
    scripts/backup.py compare URL_A URL_B                 (row count and checksum of every table)

``--database`` defaults to ``DATABASE_URL`` (else the development database). A dump is
``pg_dump --format=custom`` of one database: schema, data, sequences, indexes and the
extensions the migrations created; restore runs ``pg_restore --jobs 2`` into a new database.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from urllib.parse import urlsplit, urlunsplit

import psycopg2
from psycopg2 import sql

DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/crm"


def _conninfo(url: str) -> str:
    return url.replace("postgresql://", "postgres://", 1)


def _with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{name}"))


def _database_name(url: str) -> str:
    return urlsplit(url).path.lstrip("/")


def dump(url: str, out: str) -> None:
    subprocess.run(["pg_dump", "--format=custom", "--no-owner", "--file", out, _conninfo(url)], check=True)


def restore(path: str, url: str, jobs: int = 2) -> None:
    name = _database_name(url)
    admin = psycopg2.connect(_conninfo(_with_database(url, "postgres")))
    admin.autocommit = True  # CREATE DATABASE runs outside a transaction
    try:
        with admin.cursor() as cursor:
            cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name])
            if cursor.fetchone() is None:
                cursor.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    finally:
        admin.close()
    with psycopg2.connect(_conninfo(url)) as conn, conn.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'")
        if cursor.fetchone()[0]:
            raise SystemExit(f"{name} already has tables: restore into a new database")
    conn.close()
    subprocess.run(
        ["pg_restore", "--no-owner", "--exit-on-error", f"--jobs={jobs}", "--dbname", _conninfo(url), path], check=True
    )


def table_checksums(url: str) -> dict[str, tuple[int, str]]:
    """Every public table: (rows, md5 of its rows in a stable order)."""
    result: dict[str, tuple[int, str]] = {}
    with psycopg2.connect(_conninfo(url)) as conn, conn.cursor() as cursor:
        cursor.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename")
        for (table,) in cursor.fetchall():
            cursor.execute(
                sql.SQL(
                    "SELECT count(*), coalesce(md5(string_agg(t::text, E'\\n' ORDER BY t::text)), '') FROM {} t"
                ).format(sql.Identifier(table))
            )
            result[table] = cursor.fetchone()
    conn.close()
    return result


def sequence_positions(url: str) -> dict[str, int | None]:
    with psycopg2.connect(_conninfo(url)) as conn, conn.cursor() as cursor:
        cursor.execute("SELECT sequencename, last_value FROM pg_sequences WHERE schemaname = 'public'")
        positions = dict(cursor.fetchall())
    conn.close()
    return positions


def compare(url_a: str, url_b: str) -> list[str]:
    """What differs between two databases (tables, rows, sequences); empty when equal."""
    a, b = table_checksums(url_a), table_checksums(url_b)
    problems = [f"table {t} only in {_database_name(url_a)}" for t in sorted(a.keys() - b.keys())]
    problems += [f"table {t} only in {_database_name(url_b)}" for t in sorted(b.keys() - a.keys())]
    for table in sorted(a.keys() & b.keys()):
        if a[table] != b[table]:
            problems.append(f"{table}: {a[table][0]} rows vs {b[table][0]} rows, contents differ")
    seq_a, seq_b = sequence_positions(url_a), sequence_positions(url_b)
    problems += [f"sequence {s}: {seq_a.get(s)} vs {seq_b.get(s)}" for s in sorted(seq_a) if seq_a[s] != seq_b.get(s)]
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    dump_parser = commands.add_parser("dump")
    dump_parser.add_argument("--database", default=os.environ.get("DATABASE_URL", DEFAULT_URL))
    dump_parser.add_argument("--out", required=True)
    restore_parser = commands.add_parser("restore")
    restore_parser.add_argument("file")
    restore_parser.add_argument("--into", required=True)
    restore_parser.add_argument("--jobs", type=int, default=2)
    compare_parser = commands.add_parser("compare")
    compare_parser.add_argument("a")
    compare_parser.add_argument("b")
    args = parser.parse_args(argv)

    if args.command == "dump":
        dump(args.database, args.out)
        print(f"Backed up {_database_name(args.database)} to {args.out}")
    elif args.command == "restore":
        restore(args.file, args.into, args.jobs)
        print(f"Restored {args.file} into {_database_name(args.into)}")
    else:
        problems = compare(args.a, args.b)
        tables = table_checksums(args.a)
        if problems:
            print("\n".join(problems))
            return 1
        rows = sum(count for count, _ in tables.values())
        print(f"Equal: {len(tables)} tables, {rows:,} rows, every sequence at the same position")
    return 0


if __name__ == "__main__":
    sys.exit(main())
