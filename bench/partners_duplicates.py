"""Duplicate-scan benchmark: 1M partners on PostgreSQL, scanned by duplicates_scan().

Run:  .venv/bin/python bench/partners_duplicates.py [--partners 1000000] [--quick]

It creates the database ``zalohub_bench_partners`` on 127.0.0.1:5432 (dropped first),
migrates it, loads N partners with COPY (one phone each; 1% share a phone with another
partner, 0.5% share an email, 0.2% a name key, and every 50th partner has a Zalo link
whose user_id_by_app one other partner also holds), then times the scan. The baseline,
measured in the same run, is a plain sequential read of the tables the scan covers
(``SELECT count(*), sum(length(...))``), so the ratio says what the grouping costs over
reading the data once. Target (issue 4): the scan of 1M partners in under a minute.
"""

import argparse
import io
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DB = "zalohub_bench_partners"
URL = f"postgres://postgres@127.0.0.1:5432/{DB}"


def _recreate_database() -> None:
    import psycopg

    with psycopg.connect("host=127.0.0.1 user=postgres dbname=postgres", autocommit=True) as c:
        c.execute(f'DROP DATABASE IF EXISTS "{DB}" WITH (FORCE)')
        c.execute(f'CREATE DATABASE "{DB}"')
    env = {**os.environ, "DATABASE_URL": URL}
    subprocess.run(
        [str(ROOT / ".venv/bin/zalohub"), "migrate", "-v", "0"], check=True, env=env, cwd=ROOT
    )


def _copy(cursor, table: str, columns: str, rows: io.StringIO) -> None:  # type: ignore[no-untyped-def]
    rows.seek(0)
    with cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
        while chunk := rows.read(1 << 20):
            copy.write(chunk)


def _load(n: int) -> None:
    from django.db import connection

    from zalohub.accounts.models import OfficialAccount, ZaloApp
    from zalohub.partners.models import name_key

    app = ZaloApp.objects.create(name="Bench", app_id="9999", secret_key="s")
    oas = [OfficialAccount.objects.create(app=app, name=f"OA {i}", oa_id=str(i)) for i in (1, 2)]
    partners, phones, links = io.StringIO(), io.StringIO(), io.StringIO()
    now = "2026-11-23 00:00:00+00"
    for i in range(1, n + 1):
        name = f"Khách {i // 2}" if i % 500 < 2 else f"Khách hàng {i}"  # 0.4% share a name
        email = f"shared{i // 2}@example.com" if i % 200 < 2 else ""
        partners.write(f"{i}\t{name}\t{name_key(name)}\t{email}\t\t{{}}\tf\t{now}\t{now}\n")
        number = 84900000000 + (i - 1 if i % 100 == 1 else i)  # 1% share a phone
        phones.write(f"{i}\t{i}\t{number}\tmanual\tt\t{now}\n")
        if i % 50 == 0:
            by_app = f"a{i // 100}"  # each pair of linked partners shares an app user id
            oa = oas[(i // 50) % 2]
            links.write(
                f"{i}\t{i}\t{oa.pk}\t{app.pk}\tu{i}\t{by_app}\t\t\t\\N\t\\N\t\\N\t\\N\t\\N\t\t"
                f"f\tmanual\t{{}}\t{now}\n"
            )
    with connection.cursor() as cursor:
        raw = cursor.cursor
        _copy(
            raw,
            "partners_partner",
            "id, name, name_key, email, notes, external_refs, is_shadow, created_at, updated_at",
            partners,
        )
        _copy(
            raw,
            "partners_partnerphone",
            "id, partner_id, number, source, verified, created_at",
            phones,
        )
        _copy(
            raw,
            "partners_zalopartnerlink",
            "id, partner_id, oa_id, app_id, zalo_user_id, user_id_by_app, display_name, avatar,"
            " is_follower, followed_at, unfollowed_at, last_interaction_at, synced_at, sync_error,"
            " is_shadow, link_method, evidence, created_at",
            links,
        )
        for table in ("partners_partner", "partners_partnerphone", "partners_zalopartnerlink"):
            sequence = f"pg_get_serial_sequence('{table}', 'id')"
            cursor.execute(f"SELECT setval({sequence}, (SELECT MAX(id) FROM {table}))")
            cursor.execute(f"ANALYZE {table}")


def _baseline() -> float:
    from django.db import connection

    start = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*), sum(length(name_key)), sum(length(email)) FROM partners_partner"
        )
        cursor.execute("SELECT count(*), sum(length(number)) FROM partners_partnerphone")
        cursor.execute("SELECT count(*), sum(length(user_id_by_app)) FROM partners_zalopartnerlink")
    return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--partners", type=int, default=1_000_000)
    parser.add_argument("--quick", action="store_true", help="100k partners")
    args = parser.parse_args()
    n = 100_000 if args.quick else args.partners
    print(f"Loading {n:,} partners into {DB} ...", flush=True)
    # The hub refuses to start on PostgreSQL without keys: one for this run (and the
    # migrate it starts).
    from cryptography.fernet import Fernet

    os.environ.setdefault("ZALOHUB_ENCRYPTION_KEYS", Fernet.generate_key().decode())
    _recreate_database()
    os.environ["DATABASE_URL"] = URL
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "zalohub.settings")
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from zalohub.partners.duplicates import duplicates_scan
    from zalohub.partners.models import DuplicateSuggestion

    started = time.perf_counter()
    _load(n)
    print(f"  loaded in {time.perf_counter() - started:.1f} s", flush=True)
    _baseline()  # warm the cache so both measurements read from memory
    base = min(_baseline() for _ in range(3))
    runs = []
    for _ in range(3):
        DuplicateSuggestion.objects.all().delete()
        start = time.perf_counter()
        result = duplicates_scan()
        runs.append(time.perf_counter() - start)
    scan = min(runs)
    print()
    print(f"{'measure':<38}{'seconds':>10}{'ratio':>9}")
    print(f"{'baseline: one sequential read':<38}{base:>10.3f}{1:>9.2f}")
    print(f"{'duplicates_scan() (best of 3)':<38}{scan:>10.3f}{scan / base:>9.2f}")
    print()
    print(f"partners {n:,}; groups {result.groups}")
    print(f"pairs {result.pairs:,}; created {result.created:,}")
    verdict = "met" if scan < 60 else "NOT met"
    print(
        f"target: < 60 s for 1M partners -> {verdict if n >= 1_000_000 else 'run without --quick'}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
