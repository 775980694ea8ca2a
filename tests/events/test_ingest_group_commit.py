"""Group commit of webhooks: concurrent requests share one INSERT, each told the truth.

These tests run real threads against the real database (SQLite, and PostgreSQL in the
second half of ``./run test``), outside a test transaction, so every request commits.
Where a test needs a batch of a given shape it holds the first leader until the other
requests have queued behind it (``committer.before_batch``): batches are then decided
by the order of events, never by how long anything takes.
"""

import json
import os
import random
import subprocess
import sys
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from datetime import UTC

import pytest
from django.conf import settings as django_settings
from django.db import connection
from django.test import Client

from tests.helpers import fixture, zalo_signature
from zalohub.accounts.models import OfficialAccount, ZaloApp
from zalohub.events.ingestion import receive as ingest
from zalohub.events.ingestion.receive import ingest_webhook
from zalohub.events.ingestion.store import committer
from zalohub.events.models import ProcessingState, ZaloEvent

APP_ID = "2740017350155010001"
OA_ID = "4310500000000000001"
OTHER_OA_ID = "4310500000000000099"
KEY = "group-commit-oa-secret"


@pytest.fixture
def app(transactional_db) -> Iterator[ZaloApp]:
    app = ZaloApp.objects.create(
        name="Group commit app", app_id=APP_ID, secret_key="s", oa_secret_key=KEY
    )
    OfficialAccount.objects.create(app=app, name="Support", oa_id=OA_ID)
    committer.reset_stats()
    yield app
    committer.before_batch = None
    ingest.forget_cached_lookups()


def _text(n: int, *, oa_id: str = OA_ID) -> str:
    """A customer's text; its msg_id (so its dedupe key) is m-<n>."""
    return fixture(
        "user_send_text__official",
        **{"96d3cdf3af150460909": f"m-{n}", "7800000000000000101": f"78{n:017d}", OA_ID: oa_id},
    )


def _post(client: Client, raw: str) -> dict:
    timestamp = str(json.loads(raw)["timestamp"])
    signature = zalo_signature(first=APP_ID, raw=raw, timestamp=timestamp, key=KEY)
    response = client.post(
        f"/zalo/webhook/{APP_ID}/",
        data=raw,
        content_type="application/json",
        HTTP_X_ZEVENT_SIGNATURE=signature,
    )
    assert response.status_code == 200, response.content
    return response.json()


class _HoldFirstLeader:
    """A before_batch hook: the first leader waits until `others` rows queued behind it."""

    def __init__(self, others: int) -> None:
        self.others = others
        self.entered = threading.Event()

    def __call__(self, rows: list) -> None:
        if self.entered.is_set():
            return
        self.entered.set()
        _wait_for(lambda: committer.queued() >= self.others)


def _wait_for(condition: Callable[[], bool]) -> None:
    deadline = time.monotonic() + 60  # a safety net against a hang, not a timing
    while not condition():
        assert time.monotonic() < deadline, "gave up waiting"
        time.sleep(0.001)


def _run_threads(jobs: list[list[str]], *, hold: _HoldFirstLeader) -> list[tuple[str, dict]]:
    """Each job's webhooks POSTed in order by a thread of its own; (raw, answer) pairs.

    The first job's thread starts alone; the others once it leads the first batch and
    is held there (so that batch holds its row only, and the next one all the others'
    first rows)."""
    answers: list[tuple[str, dict]] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def run(raws: list[str]) -> None:
        client = Client()
        try:
            for raw in raws:
                answer = _post(client, raw)
                with lock:
                    answers.append((raw, answer))
        except BaseException as exc:  # reported by the test's thread below
            errors.append(exc)
            hold.entered.set()
        finally:
            connection.close()

    committer.before_batch = hold
    threads = [threading.Thread(target=run, args=(raws,)) for raws in jobs]
    threads[0].start()
    _wait_for(hold.entered.is_set)
    for thread in threads[1:]:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]
    return answers


def _new_answers_per_key(answers: list[tuple[str, dict]]) -> dict[str, int]:
    news: dict[str, int] = defaultdict(int)
    for raw, answer in answers:
        key = json.loads(raw)["message"]["msg_id"]
        news[key] += 0 if answer["duplicate"] else 1
    return news


def test_one_batch_holds_many_requests_and_tells_each_the_truth(app):
    # 16 requests: 8 events, each sent twice, all at once. The first leader waits until
    # the 15 others queued, so they form the second batch: 7 events twice in one batch,
    # and the first leader's event again (already stored by the first batch).
    answers = _run_threads([[_text(n // 2)] for n in range(16)], hold=_HoldFirstLeader(15))
    # It should store every event once and answer exactly one of its requests "new".
    assert ZaloEvent.objects.count() == 8
    assert _new_answers_per_key(answers) == {f"m-{n}": 1 for n in range(8)}
    stats = committer.stats()
    assert stats["batches"] == 2
    assert stats["largest_batch"] == 15
    assert stats["rows"] == 16
    assert not stats.get("failed_batches")


def test_many_threads_with_redeliveries_store_each_event_exactly_once(app):
    # 16 threads x 25 webhooks: 300 events, 100 of them delivered twice; a redelivery is
    # sent by another thread than the first delivery, so both may race in any batch.
    rnd = random.Random(3)
    deliveries = [(n, 0) for n in range(300)] + [(n, 1) for n in rnd.sample(range(300), 100)]
    rnd.shuffle(deliveries)
    jobs: list[list[str]] = [[] for _ in range(16)]
    for i, (n, again) in enumerate(deliveries):
        jobs[(i + 7 * again) % 16].append(_text(n))
    # The first rows of the 15 other threads make one batch, whatever the scheduling.
    answers = _run_threads(jobs, hold=_HoldFirstLeader(15))
    assert len(answers) == 400
    # It should store 300 events, each once, and say "new" once per event.
    assert ZaloEvent.objects.count() == 300
    assert _new_answers_per_key(answers) == {f"m-{n}": 1 for n in range(300)}
    keys = list(ZaloEvent.objects.values_list("dedupe_key", flat=True))
    assert len(set(keys)) == 300
    stats = committer.stats()
    assert stats["rows"] == 400
    assert stats["multi_row_batches"] >= 1 and stats["largest_batch"] >= 15
    assert not stats.get("failed_batches")


def test_rows_beyond_the_cap_wait_for_the_next_batch(app, monkeypatch):
    monkeypatch.setattr(committer, "cap", 4)
    answers = _run_threads([[_text(n)] for n in range(10)], hold=_HoldFirstLeader(9))
    # It should insert the 9 queued rows 4 at a time, each batch led by its first row.
    assert _new_answers_per_key(answers) == {f"m-{n}": 1 for n in range(10)}
    assert ZaloEvent.objects.count() == 10
    stats = committer.stats()
    assert (stats["batches"], stats["rows"], stats["largest_batch"]) == (4, 10, 4)


def test_a_failing_batch_falls_back_to_one_row_at_a_time(app):
    # Another process deleted an OA this one still has cached: its row in a batch breaks
    # the batch's foreign key. The others must not fail for it.
    stale_pk = OfficialAccount.objects.create(app=app, name="Sales", oa_id=OTHER_OA_ID).pk
    OfficialAccount.objects.filter(pk=stale_pk).delete()  # signals clear this process's cache
    ingest._oas[(app.pk, OTHER_OA_ID)] = (time.monotonic() + 3600, stale_pk)  # as another's
    raws = [_text(n) for n in range(5)] + [_text(5, oa_id=OTHER_OA_ID)]
    answers = _run_threads([[raw] for raw in raws], hold=_HoldFirstLeader(5))
    # It should answer all six as new events and store them, the stale OA's without OA.
    assert all(answer == {"ok": True, "duplicate": False} for _, answer in answers)
    assert ZaloEvent.objects.count() == 6
    assert ZaloEvent.objects.get(dedupe_key="user_send_text:m-5").oa_id is None
    assert ZaloEvent.objects.filter(oa__oa_id=OA_ID).count() == 5
    stats = committer.stats()
    assert stats["batches"] == 2 and stats["rows"] == 6
    assert stats["failed_batches"] == 1 and stats["fallback_rows"] == 5


class _Linger:
    """Stands in for the leader's linger (``committer.linger``): records how long it
    was asked to wait and, the first time, starts `others` requests and returns once
    they queued, as requests arriving during a real linger would."""

    def __init__(self, others: list[str]) -> None:
        self.others, self.asked, self.threads = others, [], []

    def __call__(self, seconds: float) -> None:
        self.asked.append(seconds)
        if self.threads:
            return
        self.threads = [threading.Thread(target=_post_alone, args=(raw,)) for raw in self.others]
        for thread in self.threads:
            thread.start()
        _wait_for(lambda: committer.queued() >= len(self.others))


def _post_alone(raw: str) -> None:
    try:
        assert not _post(Client(), raw)["duplicate"]
    finally:
        connection.close()


def test_a_leader_lingers_so_the_requests_right_behind_it_share_its_commit(
    app, monkeypatch, settings
):
    settings.WEBHOOK_BATCH_LINGER_SECONDS = 0.0004
    linger = _Linger([_text(n) for n in range(1, 4)])
    monkeypatch.setattr(committer, "linger", linger)
    assert not _post(Client(), _text(0))["duplicate"]
    for thread in linger.threads:
        thread.join()
    # It should have waited the setting once (the three behind it did not lead), then
    # written its row and the three that queued meanwhile in one statement.
    assert linger.asked == [0.0004]
    stats = committer.stats()
    assert (stats["batches"], stats["rows"], stats["largest_batch"]) == (1, 4, 4)
    assert ZaloEvent.objects.count() == 4


def test_with_no_linger_a_lone_request_writes_at_once(app, monkeypatch, settings):
    settings.WEBHOOK_BATCH_LINGER_SECONDS = 0
    linger = _Linger([])
    monkeypatch.setattr(committer, "linger", linger)
    assert not _post(Client(), _text(0))["duplicate"]
    assert linger.asked == []
    assert committer.stats()["batches"] == 1


def test_a_lone_request_inserts_at_once_with_every_column_as_the_model_would(app):
    raw = _text(1)
    headers = {
        "x-zevent-signature": zalo_signature(
            first=APP_ID, raw=raw, timestamp="1763800000000", key=KEY
        ),
        "num_retry": "2",
        "content-type": "application/json",
    }
    result = ingest_webhook(app_id=APP_ID, raw=raw.encode(), headers=headers)
    assert result.status == 200 and result.event_id and not result.duplicate
    assert committer.stats() == {"batches": 1, "rows": 1, "largest_batch": 1}
    # It should store what a ZaloEvent created by the ORM would hold.
    event = ZaloEvent.objects.get()
    blank = ZaloEvent()
    for field in ZaloEvent._meta.concrete_fields:
        if field.name in {
            "id",
            "app",
            "oa",
            "event_name",
            "dedupe_key",
            "raw_body",
            "headers",
            "signature_variant",
            "num_retry",
            "event_time",
            "zalo_user_id",
            "conversation_key",
            "received_at",
            "next_attempt_at",
        }:
            continue
        assert getattr(event, field.attname) == getattr(blank, field.attname), field.name
    assert event.processing_state == ProcessingState.RECEIVED
    assert event.headers == headers
    assert event.num_retry == 2
    assert event.oa.oa_id == OA_ID
    assert event.event_time.tzinfo is not None
    assert event.event_time.astimezone(UTC).year == 2025
    assert event.next_attempt_at == event.received_at
    assert event.conversation_key == f"{OA_ID}:78{1:017d}"


@pytest.mark.django_db
def test_inside_a_transaction_the_row_is_inserted_alone_in_it(app_in_transaction):
    raw = _text(7)
    headers = {
        "x-zevent-signature": zalo_signature(
            first=APP_ID, raw=raw, timestamp="1763800000000", key=KEY
        )
    }
    first = ingest_webhook(app_id=APP_ID, raw=raw.encode(), headers=headers)
    again = ingest_webhook(app_id=APP_ID, raw=raw.encode(), headers=headers)
    # It should store the event in the caller's transaction, without the committer.
    assert first.event_id and not first.duplicate
    assert again.duplicate and again.event_id is None
    assert ZaloEvent.objects.count() == 1
    assert committer.stats() == {}


@pytest.fixture
def app_in_transaction(db) -> Iterator[ZaloApp]:
    assert connection.in_atomic_block
    app = ZaloApp.objects.create(
        name="Group commit app", app_id=APP_ID, secret_key="s", oa_secret_key=KEY
    )
    OfficialAccount.objects.create(app=app, name="Support", oa_id=OA_ID)
    committer.reset_stats()
    yield app
    ingest.forget_cached_lookups()


def _tricky_text(n: int) -> str:
    """A customer's text that JSON has to escape every way it can, as Zalo sends it."""
    payload = json.loads(_text(n))
    payload["message"]["text"] = 'Giá "đặc biệt" \\ 50% \u0001 tab\there\nline 2 😀 \u2028 end'
    return json.dumps(payload, ensure_ascii=n % 2 == 0)  # either way Zalo may encode it


def test_a_batch_keeps_every_raw_body_byte_for_byte(app, writer):
    # Quotes, backslashes, escaped control characters, Vietnamese and an emoji, with and
    # without \u escapes: a batch must store each body exactly as received. (Not a NUL:
    # a body with one is refused since issue 13, test_webhook_hardening.)
    raws = [_tricky_text(n) for n in range(6)]
    answers = _run_threads([[raw] for raw in raws], hold=_HoldFirstLeader(5))
    assert all(not answer["duplicate"] for _, answer in answers)
    assert committer.stats()["largest_batch"] == 5
    stored = dict(ZaloEvent.objects.values_list("dedupe_key", "raw_body"))
    assert stored == {f"user_send_text:m-{n}": raws[n] for n in range(6)}


def _writer_backend_pid() -> int:
    assert committer._pg is not None and committer._pg._held._conn is not None
    return committer._pg._held._conn.info.backend_pid


def _prepared_statements() -> list[str]:
    assert committer._pg is not None and committer._pg._held._conn is not None
    rows = committer._pg._held._conn.execute("SELECT statement FROM pg_prepared_statements")
    return [statement for (statement,) in rows]


def _postgresql_only() -> None:
    if connection.vendor != "postgresql":
        pytest.skip("the batches' own connection and prepared statement are PostgreSQL's")


@pytest.fixture
def writer():
    """A fresh writer connection for the test, closed after it."""
    committer.close()
    yield
    committer.close()


def test_batches_of_any_size_run_one_statement_prepared_once(app, writer):
    _postgresql_only()
    _run_threads([[_text(n)] for n in range(16)], hold=_HoldFirstLeader(15))
    assert (committer.stats()["batches"], committer.stats()["largest_batch"]) == (2, 15)
    # It should have prepared one INSERT for the batch of 1 and the batch of 15 alike.
    statements = _prepared_statements()
    assert len(statements) == 1 and "json_to_recordset" in statements[0]
    assert ZaloEvent.objects.count() == 16


def test_prepared_statements_can_be_turned_off(app, settings, writer):
    _postgresql_only()
    settings.WEBHOOK_PREPARED_INSERT = False
    _run_threads([[_text(n)] for n in range(12)], hold=_HoldFirstLeader(11))
    # It should store everything without leaving a prepared statement (for poolers in
    # transaction mode, where the next batch may run on another server connection).
    assert ZaloEvent.objects.count() == 12
    assert committer.stats()["rows"] == 12 and not committer.stats().get("failed_batches")
    assert _prepared_statements() == []


def test_a_lost_writer_connection_loses_no_webhook(app):
    _postgresql_only()
    client = Client()
    assert not _post(client, _text(0))["duplicate"]
    lost = _writer_backend_pid()
    with connection.cursor() as cursor:  # as a database restart or a network cut would
        cursor.execute("SELECT pg_terminate_backend(%s)", [lost])
    # It should answer the next webhook as new and store it (the batch failed on the
    # dead connection and its row was inserted on Django's), then write on a new one.
    assert not _post(client, _text(1))["duplicate"]
    assert not _post(client, _text(2))["duplicate"]
    assert _writer_backend_pid() != lost
    assert sorted(ZaloEvent.objects.values_list("dedupe_key", flat=True)) == [
        f"user_send_text:m-{n}" for n in range(3)
    ]
    stats = committer.stats()
    assert (stats["batches"], stats["failed_batches"], stats["fallback_rows"]) == (3, 1, 1)


def test_the_writer_connection_takes_the_role_and_time_zone_django_uses(app, monkeypatch):
    _postgresql_only()
    role = "zalohub_test_ingest_writer"
    with connection.cursor() as cursor:
        cursor.execute(f"DROP ROLE IF EXISTS {role}")  # left by an interrupted run
        cursor.execute(f"CREATE ROLE {role} NOLOGIN")
        cursor.execute(f"GRANT SELECT, INSERT ON events_zaloevent TO {role}")
    committer.close()
    monkeypatch.setitem(connection.settings_dict["OPTIONS"], "assume_role", role)
    try:
        assert not _post(Client(), _text(1))["duplicate"]
        # It should have written the row as the role Django assumes, in Django's time zone.
        assert committer._pg is not None and committer._pg._held._conn is not None
        who, zone = committer._pg._held._conn.execute(
            "SELECT current_user, current_setting('TimeZone')"
        ).fetchone()
        assert (who, zone) == (role, connection.timezone_name)
        assert ZaloEvent.objects.filter(dedupe_key="user_send_text:m-1").exists()
    finally:
        committer.close()
        with connection.cursor() as cursor:
            cursor.execute(f"REVOKE ALL ON events_zaloevent FROM {role}")
            cursor.execute(f"DROP ROLE {role}")


def _linger_in_a_fresh_process(entry_point: str, env: dict[str, str]) -> float:
    """WEBHOOK_BATCH_LINGER_SECONDS as a server process importing `entry_point` sees it."""
    code = (
        f"import {entry_point}\n"
        "from django.conf import settings\n"
        "print(settings.WEBHOOK_BATCH_LINGER_SECONDS)\n"
    )
    environ = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    environ.pop("ZALOHUB_WEBHOOK_BATCH_LINGER_SECONDS", None)
    done = subprocess.run(
        [sys.executable, "-c", code],
        env=environ | env,
        cwd=django_settings.BASE_DIR,
        capture_output=True,
        text=True,
        check=True,
    )
    return float(done.stdout.strip().splitlines()[-1])


def test_under_asgi_nobody_lingers_unless_told_to():
    # Under ASGI Django runs sync views one at a time per process: no webhook could join
    # a lingering one, so the ASGI entry point turns the linger off, and WSGI keeps it.
    assert _linger_in_a_fresh_process("zalohub.asgi", {}) == 0.0
    assert _linger_in_a_fresh_process("zalohub.wsgi", {}) == 0.0003
    told = {"ZALOHUB_WEBHOOK_BATCH_LINGER_SECONDS": "0.001"}
    assert _linger_in_a_fresh_process("zalohub.asgi", told) == 0.001
