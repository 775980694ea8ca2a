"""Constants, the bench database and the Django set-up shared by every stage."""

import argparse
import os
import socket
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

from bench.stream import APP_ID, APP_SECRET, OA_ID, OA_SECRET, Stream
from bench.stream import make_stream as _make_stream

ROOT = Path(__file__).resolve().parent.parent.parent
BIN = Path(sys.executable).parent
HOST = "127.0.0.1"
DB_NAME = "zalohub_bench"
ADMIN_DSN = f"postgresql://postgres@{HOST}:5432/postgres"
DB_URL = f"postgres://postgres@{HOST}:5432/{DB_NAME}"
PENDING_SQL = "processing_state IN ('received', 'queued', 'processing')"


def log(text: str) -> None:
    print(f"[{time.strftime('%H:%M:%S', time.gmtime())}] {text}", flush=True)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def bench_env(args: argparse.Namespace) -> dict[str, str]:
    # The hub refuses to start on PostgreSQL without keys; one key for the whole run,
    # kept in this process's environment so that every process it starts shares it.
    from cryptography.fernet import Fernet

    os.environ.setdefault("ZALOHUB_ENCRYPTION_KEYS", Fernet.generate_key().decode())
    env = dict(os.environ)
    env.update(
        DATABASE_URL=DB_URL,
        DJANGO_SETTINGS_MODULE="zalohub.settings",
        ZALOHUB_DATA_DIR=os.environ.get("ZALOHUB_DATA_DIR", "/tmp/zalohub-bench"),
        ZALOHUB_LOG_LEVEL="WARNING",
        ZALOHUB_EVENTS_LEASE_SECONDS=str(args.lease),
        ZALO_MODE="sandbox",  # nothing in these paths calls Zalo; never the live hosts
        PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
    )
    return env


def recreate_database(env: dict[str, str]) -> None:
    import psycopg

    with psycopg.connect(ADMIN_DSN, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {DB_NAME} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {DB_NAME}")
    subprocess.run(
        [str(BIN / "zalohub"), "migrate", "--verbosity", "0"], env=env, cwd=ROOT, check=True
    )


def setup_django(env: dict[str, str]) -> None:
    os.environ.update(env)
    import django

    django.setup()


def seed_accounts() -> None:
    from django.utils import timezone

    from zalohub.accounts.models import OfficialAccount, ZaloApp

    now = timezone.now()
    app = ZaloApp.objects.create(
        name="Bench app", app_id=APP_ID, secret_key=APP_SECRET, oa_secret_key=OA_SECRET
    )
    OfficialAccount.objects.create(
        app=app,
        name="Bench OA",
        oa_id=OA_ID,
        status=OfficialAccount.Status.CONNECTED,
        access_token="fake-access-token",
        refresh_token="fake-refresh-token",
        token_expires_at=now + timedelta(days=30),
        refresh_token_expires_at=now + timedelta(days=90),
        connected_at=now,
    )


def sql(query: str, params: list | None = None) -> list[tuple]:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(query, params or [])
        return cursor.fetchall() if cursor.description else []


def make_stream(n: int, tag: str, args: argparse.Namespace, seed: int = 1) -> Stream:
    return _make_stream(n, tag=f"{args.tag}{tag}", users=args.users, seed=seed)
