"""A hub of its own for the benches that open inbox pages (serve_streams, inbox_latency):
a fresh PostgreSQL database, one Connected OA, CS agents who are its members and are
logged in, and `zalohub serve` on loopback."""

import contextlib
import http.client
import os
import signal
import subprocess
import time

from bench.stages.common import ADMIN_DSN, BIN, HOST, ROOT, free_port, seed_accounts


def db_url(db_name: str) -> str:
    return f"postgres://postgres@{HOST}:5432/{db_name}"


def hub_env(db_name: str, *, secret_key: str, data_dir: str, **extra: str) -> dict[str, str]:
    """The environment of every process of the run (one encryption key for all of them)."""
    from cryptography.fernet import Fernet

    os.environ.setdefault("ZALOHUB_ENCRYPTION_KEYS", Fernet.generate_key().decode())
    return {
        **os.environ,
        "DATABASE_URL": db_url(db_name),
        "DJANGO_SETTINGS_MODULE": "zalohub.settings",
        "ZALOHUB_DATA_DIR": os.environ.get("ZALOHUB_DATA_DIR", data_dir),
        "ZALOHUB_SECRET_KEY": secret_key,
        "ZALOHUB_LOG_LEVEL": "WARNING",
        "ZALO_MODE": "sandbox",  # never the live hosts
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
        **extra,
    }


def fresh_hub(db_name: str, env: dict[str, str]) -> None:
    """Drop and create the database, migrate it, set Django up here, seed the bench OA."""
    import psycopg

    with psycopg.connect(ADMIN_DSN, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {db_name} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {db_name}")
    subprocess.run([str(BIN / "zalohub"), "migrate", "-v", "0"], env=env, cwd=ROOT, check=True)
    os.environ.update(env)
    import django

    django.setup()
    seed_accounts()


def agents(count: int) -> list[str]:
    """``count`` CS agents, members of the bench OA, logged in: their session cookies."""
    from django.contrib.auth.models import Group, User
    from django.test import Client

    from bench.stream import OA_ID
    from zalohub.accounts.models import OfficialAccount
    from zalohub.core.roles import CS_AGENT
    from zalohub.inbox.models import OAMembership

    oa = OfficialAccount.objects.get(oa_id=OA_ID)
    group = Group.objects.get(name=CS_AGENT)
    cookies = []
    for i in range(count):
        user = User.objects.create_user(f"agent{i}", password=None, is_staff=True)
        user.groups.add(group)
        OAMembership.objects.create(user=user, oa=oa)
        client = Client()
        client.force_login(user)
        cookies.append(client.cookies["sessionid"].value)
    return cookies


def wait_healthy(port: int, proc: subprocess.Popen, timeout: float = 240) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline and proc.poll() is None:
        with contextlib.suppress(OSError):
            conn = http.client.HTTPConnection(HOST, port, timeout=2)
            conn.request("GET", "/healthz")
            if conn.getresponse().status == 200:
                return
        time.sleep(0.2)
    raise RuntimeError(f"{proc.args[0]} did not start on port {port}")


def start_serve(env: dict[str, str], *options: str) -> tuple[subprocess.Popen, int]:
    """`zalohub serve` with ``options`` on a free port, once it answers /healthz."""
    port = free_port()
    proc = subprocess.Popen(
        [str(BIN / "zalohub"), "serve", "--port", str(port), *options], env=env, cwd=ROOT
    )
    wait_healthy(port, proc)
    return proc, port


def stop(*procs: subprocess.Popen, timeout: float = 60) -> list[int]:
    """SIGTERM to each, then wait (kill what outlives ``timeout``): their exit codes."""
    for proc in procs:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
    codes = []
    for proc in procs:
        try:
            codes.append(proc.wait(timeout))
        except subprocess.TimeoutExpired:
            proc.kill()
            codes.append(proc.wait())
    return codes
