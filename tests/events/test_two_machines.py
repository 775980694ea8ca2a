"""Two machines on one box (issue 18, item 11): two web processes and two workers share
one PostgreSQL and one Redis, and nothing lives only in one process's memory.

- Webhooks spread over both web processes (a tenth delivered twice, to the other one)
  are each stored once, processed once, and none waits past its target.
- A new OA secret key saved by an admin (here, this test's process) reaches both web
  processes at once through Redis: the old key is refused and the new one accepted
  right away, though each process caches its lookups for five minutes.
"""

import contextlib
import http.client
import json
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

from tests.events.workerproc import Worker, database_url, pending_inbound, wait_until
from tests.helpers import zalo_signature
from tests.inbox.conftest import user_payload
from zalohub.events.models import Direction, EventAttempt, Message, ProcessingState, ZaloEvent

HOST = "127.0.0.1"
REDIS_URL = "redis://127.0.0.1:6379/7"
pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        connection.vendor != "postgresql", reason="several machines share PostgreSQL"
    ),
]


def _redis_up() -> bool:
    with contextlib.suppress(OSError), socket.create_connection((HOST, 6379), timeout=1):
        return True
    return False


@pytest.fixture(scope="module")
def redis_url() -> str:
    if not _redis_up():
        if os.environ.get("CI"):
            pytest.fail("Redis is not answering on 127.0.0.1:6379")
        pytest.skip("no Redis on 127.0.0.1:6379")
    return REDIS_URL


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def _env(redis_url: str) -> dict[str, str]:
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "zalohub.settings",
        "DATABASE_URL": database_url(),
        "ZALOHUB_DATA_DIR": str(settings.DATA_DIR),
        "ZALOHUB_ENCRYPTION_KEYS": ",".join(settings.ENCRYPTION_KEYS),
        "ZALOHUB_REDIS_URL": redis_url,
        # Lookups cached far longer than the test: only Redis can make a change arrive.
        "ZALOHUB_WEBHOOK_LOOKUP_CACHE_SECONDS": "300",
    }


@contextlib.contextmanager
def web_process(redis_url: str, log_dir: Path, name: str) -> Iterator[int]:
    port = _free_port()
    log = log_dir / f"web-{name}.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [
                *(sys.executable, "-m", "uvicorn", "zalohub.wsgi:application"),
                *("--interface", "wsgi", "--host", HOST, "--port", str(port)),
                *("--lifespan", "off", "--no-access-log"),
            ],
            env=_env(redis_url),
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        try:
            ok = wait_until(lambda: _get(port, "/healthz") == 200, timeout=60, every=0.2)
            assert ok, log.read_text(errors="replace")
            yield port
        finally:
            proc.terminate()
            proc.wait(20)
    assert "Traceback" not in log.read_text(errors="replace")


def _get(port: int, path: str) -> int | None:
    try:
        conn = http.client.HTTPConnection(HOST, port, timeout=5)
        conn.request("GET", path)
        return conn.getresponse().status
    except OSError:
        return None


def deliver(port: int, app_id: str, raw: str, key: str) -> tuple[int, bytes]:
    timestamp = str(json.loads(raw)["timestamp"])
    signature = zalo_signature(first=app_id, raw=raw, timestamp=timestamp, key=key)
    conn = http.client.HTTPConnection(HOST, port, timeout=30)
    conn.request(
        "POST",
        f"/zalo/webhook/{app_id}/",
        body=raw.encode(),
        headers={"Content-Type": "application/json", "X-ZEvent-Signature": signature},
    )
    response = conn.getresponse()
    return response.status, response.read()


@pytest.fixture
def machines(redis_url, zalo_app, connected_oa, tmp_path) -> Iterator[list[int]]:
    """Two web processes and two workers, all on this test's database and one Redis."""
    with web_process(redis_url, tmp_path, "a") as a, web_process(redis_url, tmp_path, "b") as b:
        workers = [
            Worker(tmp_path, name, extra_env={"ZALOHUB_REDIS_URL": redis_url})
            for name in ("a", "b")
        ]
        try:
            started = wait_until(lambda: all("started" in w.output() for w in workers), timeout=60)
            assert started, [w.output() for w in workers]
            yield [a, b]
        finally:
            codes = [worker.terminate() for worker in workers]
            assert codes == [0, 0], [worker.output() for worker in workers]


def test_no_event_is_lost_doubled_or_late(machines, zalo_app):
    users = [f"58301746291183{n:05d}" for n in range(30)]
    raws = [user_payload(f"Tin nhắn {i}", user_id=users[i % 30]) for i in range(300)]
    # Each webhook to one web process; every tenth delivered again, to the other one.
    deliveries = [(machines[i % 2], raw) for i, raw in enumerate(raws)]
    deliveries += [(machines[(i + 1) % 2], raws[i]) for i in range(0, 300, 10)]
    key = zalo_app.oa_secret_key
    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(lambda d: deliver(d[0], zalo_app.app_id, d[1], key), deliveries))
    assert {status for status, _ in answers} == {200}
    duplicates = sum(json.loads(body)["duplicate"] for _, body in answers)
    # It should store each webhook once: 300 new, the 30 redeliveries known as such.
    assert (len(answers) - duplicates, duplicates) == (300, 30)
    assert ZaloEvent.objects.count() == 300
    assert wait_until(lambda: pending_inbound() == 0, timeout=120), "events left unprocessed"
    # It should process each event once, and each message once.
    events = ZaloEvent.objects.all()
    assert {e.processing_state for e in events} == {ProcessingState.PROCESSED}
    assert {e.attempts for e in events} == {1}
    assert not EventAttempt.objects.exists()
    inbound = Message.objects.filter(direction=Direction.INBOUND)
    assert inbound.count() == 300
    assert inbound.values("zalo_msg_id").distinct().count() == 300
    # None should wait for a lease to run out (a lost claim) before it is processed.
    delays = sorted((e.processed_at - e.received_at).total_seconds() for e in events)
    p99 = delays[int(len(delays) * 0.99) - 1]
    print(f"two machines: receipt to processed p50 {delays[150]:.3f} s, p99 {p99:.3f} s")
    assert delays[-1] < timedelta(seconds=settings.EVENTS_LEASE_SECONDS).total_seconds()


def test_a_new_oa_secret_key_reaches_every_web_process_at_once(machines, zalo_app, settings):
    old = zalo_app.oa_secret_key
    # Both processes have the app (and its key) in their lookup caches.
    for port in machines:
        assert deliver(port, zalo_app.app_id, user_payload("warm"), old)[0] == 200
    settings.REDIS_URL = REDIS_URL  # this process tells the others, as a web process does
    zalo_app.oa_secret_key = "a-brand-new-oa-secret-key"
    zalo_app.save()

    def answers(key: str) -> list[int]:
        return [deliver(port, zalo_app.app_id, user_payload("after"), key)[0] for port in machines]

    # It should accept the new key and refuse the old one in both processes, at once
    # (the listener may need a moment: well under the 300 s their caches would wait).
    assert wait_until(lambda: answers("a-brand-new-oa-secret-key") == [200, 200], timeout=5)
    assert answers(old) == [401, 401]
