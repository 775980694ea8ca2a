"""Bad input and faults on the inbound side: nothing lost, nothing processed twice.

Where a fault is about processes and databases (a worker killed, the database gone for
a moment, several workers), the test runs real `zalohub worker` processes against the
test database; see workerproc.py.
"""

import json
import sqlite3
import time
from pathlib import Path

import pytest
from django.db import connection
from django.utils import timezone

from tests.events.workerproc import (
    TcpProxy,
    Worker,
    pending_inbound,
    run_periodic_jobs_now,
    wait_until,
)
from tests.helpers import fixture, post_webhook
from zalohub.events.models import (
    EventAttempt,
    Message,
    Outcome,
    ProcessingState,
    RejectedRequest,
    ZaloEvent,
)
from zalohub.events.processing.queue import drain

USER = "7800000000000000101"
MSG_ID = "96d3cdf3af150460909"


def _text_event(n: int) -> str:
    """A customer's text; one customer per event so batches hold many conversations."""
    return (
        fixture("user_send_text__official")
        .replace(USER, f"78000000000{n:07d}")
        .replace(MSG_ID, f"m-{n}")
    )


def _post_many(client, app, numbers: range) -> None:
    for n in numbers:
        response = post_webhook(client, app.app_id, _text_event(n), key=app.oa_secret_key)
        assert response.status_code == 200, response.content


def _assert_each_processed_once(total: int) -> None:
    # It should process every event exactly once: one message per event, one attempt each.
    states = set(ZaloEvent.objects.values_list("processing_state", flat=True))
    assert states == {ProcessingState.PROCESSED}
    assert ZaloEvent.objects.count() == total
    assert Message.objects.count() == total
    assert set(Message.objects.values_list("zalo_msg_id", flat=True)) == {
        f"m-{n}" for n in range(total)
    }
    assert set(ZaloEvent.objects.values_list("attempts", flat=True)) == {1}
    assert not EventAttempt.objects.exists()  # no failed or retried try was recorded


# --- bad input ----------------------------------------------------------------------------


@pytest.mark.django_db
def test_it_processes_a_replay_of_an_old_event_only_once(client, zalo_app, connected_oa):
    raw = fixture("user_send_text__official")
    key = zalo_app.oa_secret_key
    assert post_webhook(client, zalo_app.app_id, raw, key=key).json()["duplicate"] is False
    drain()
    # It should answer a replay of the already processed event 200 (so Zalo stops) and
    # leave the conversation as it was, even days later and after Zalo's retries.
    for retry in ("1", "5"):
        answer = post_webhook(client, zalo_app.app_id, raw, key=key, num_retry=retry)
        assert answer.status_code == 200 and answer.json()["duplicate"] is True
    assert drain() == 0
    assert Message.objects.count() == 1
    assert ZaloEvent.objects.get().attempts == 1


@pytest.mark.django_db
def test_it_refuses_a_replay_outside_the_freshness_window(client, zalo_app, settings):
    settings.WEBHOOK_MAX_AGE_SECONDS = 300
    payload = json.loads(fixture("user_send_text__official"))
    payload["timestamp"] = str(int((time.time() - 3600) * 1000))
    response = post_webhook(
        client, zalo_app.app_id, json.dumps(payload), key=zalo_app.oa_secret_key
    )
    # It should refuse an hour-old event and keep the request for diagnosis.
    assert response.status_code == 400
    assert not ZaloEvent.objects.exists()
    assert "older than 300 seconds" in RejectedRequest.objects.get().reason


@pytest.mark.django_db
def test_it_processes_the_same_event_sent_three_times_once(client, zalo_app, connected_oa):
    raw = fixture("user_send_text__official")
    for retry in range(3):
        post_webhook(client, zalo_app.app_id, raw, key=zalo_app.oa_secret_key, num_retry=str(retry))
        drain()
    # It should store one event and one message, processed once.
    assert ZaloEvent.objects.count() == 1
    assert Message.objects.count() == 1
    assert ZaloEvent.objects.get().attempts == 1


@pytest.mark.django_db
@pytest.mark.parametrize(
    "mangle",
    [
        pytest.param(lambda p: p.update(message="just a string"), id="message-is-a-string"),
        pytest.param(lambda p: p.update(sender=["a", "list"]), id="sender-is-a-list"),
        pytest.param(lambda p: p.update(message={"msg_id": {"nested": 1}}), id="msg-id-object"),
        pytest.param(lambda p: p.update(event_name=12345), id="event-name-is-a-number"),
        pytest.param(lambda p: p.update(timestamp="yesterday"), id="timestamp-not-a-number"),
    ],
)
def test_it_keeps_json_of_the_wrong_shape_without_stopping_the_queue(
    client, zalo_app, connected_oa, mangle
):
    payload = json.loads(fixture("user_send_text__official"))
    payload["message"]["msg_id"] = "odd-1"
    mangle(payload)
    odd = json.dumps(payload)
    assert post_webhook(client, zalo_app.app_id, odd, key=zalo_app.oa_secret_key).status_code == 200
    _post_many(client, zalo_app, range(3))
    drain()
    # It should settle the odd event (processed or a recorded error, never stuck) and
    # still process the good events around it.
    odd_event = ZaloEvent.objects.get(raw_body=odd)
    assert odd_event.processing_state in (ProcessingState.PROCESSED, ProcessingState.ERROR)
    if odd_event.processing_state == ProcessingState.ERROR:
        assert odd_event.error_message
    good = ZaloEvent.objects.exclude(pk=odd_event.pk)
    assert {e.processing_state for e in good} == {ProcessingState.PROCESSED}
    assert Message.objects.filter(zalo_msg_id__startswith="m-").count() == 3


@pytest.mark.django_db
def test_it_keeps_an_unknown_event_marked_unknown(client, zalo_app, connected_oa):
    raw = fixture("user_send_text__official").replace("user_send_text", "user_send_hologram")
    assert post_webhook(client, zalo_app.app_id, raw, key=zalo_app.oa_secret_key).status_code == 200
    drain()
    # It should keep the event and its raw body, marked unknown, not dropped or failed.
    event = ZaloEvent.objects.get()
    assert event.processing_state == ProcessingState.PROCESSED
    assert event.outcome == Outcome.UNKNOWN and event.raw_body == raw


@pytest.mark.django_db
def test_it_refuses_a_one_megabyte_body_without_reading_it_all_into_the_record(
    client, zalo_app, settings
):
    payload = json.loads(fixture("user_send_text__official"))
    payload["message"]["text"] = "x" * (1024 * 1024)
    raw = json.dumps(payload)
    response = post_webhook(client, zalo_app.app_id, raw, key=zalo_app.oa_secret_key)
    # It should answer 413 and keep a bounded copy (size noted) for diagnosis.
    assert response.status_code == 413
    rejected = RejectedRequest.objects.get()
    assert rejected.body_size == len(raw.encode())
    assert len(rejected.body) == settings.WEBHOOK_REJECTED_BODY_BYTES
    assert not ZaloEvent.objects.exists()


# --- workers, processes and the database ------------------------------------------------


def _kill_mid_batch(log_dir: Path, attempt: int) -> int:
    """Start a worker, SIGKILL it while it holds a claimed batch; how many events it held.

    0 when the kill landed between two batches (then the caller tries again)."""
    victim = Worker(log_dir, f"victim-{attempt}", batch_size=40, scheduler=False)
    try:
        prefix = f":{victim.pid}/events.dispatcher/"
        held = ZaloEvent.objects.filter(
            processing_state=ProcessingState.PROCESSING, claimed_by__contains=prefix
        )
        processed = ZaloEvent.objects.filter(processing_state=ProcessingState.PROCESSED)
        started = wait_until(
            lambda: held.exists() and processed.exists(),
            timeout=60,
            every=0.002,
        )
        assert started, victim.output()
        victim.kill()
    finally:
        victim.stop_quietly()
    # The batch's transaction died with the process: claimed, but nothing of it committed.
    return ZaloEvent.objects.filter(
        processing_state=ProcessingState.PROCESSING, claimed_by__contains=prefix
    ).count()


@pytest.mark.django_db(transaction=True)
def test_it_loses_nothing_when_a_worker_is_killed_mid_batch(
    client, zalo_app, connected_oa, tmp_path
):
    total = 200
    _post_many(client, zalo_app, range(total))
    held = 0
    for attempt in range(5):
        held = _kill_mid_batch(tmp_path, attempt)
        if held or not pending_inbound():
            break
    # It should have caught the worker holding a batch it never finished.
    assert held > 0
    stuck = list(
        ZaloEvent.objects.filter(processing_state=ProcessingState.PROCESSING).values_list(
            "pk", flat=True
        )
    )
    assert len(stuck) == held
    assert not Message.objects.filter(events__pk__in=stuck).exists()
    # The lease runs out (moved on here, instead of waiting 30 s), and two workers that
    # share the queue take over: the sweeper in one of them returns the dead batch.
    ZaloEvent.objects.filter(pk__in=stuck).update(lease_until=timezone.now())
    run_periodic_jobs_now()
    survivors = [Worker(tmp_path, name) for name in ("b", "c")]
    try:
        assert wait_until(lambda: pending_inbound() == 0, timeout=120), [
            w.output()[-2000:] for w in survivors
        ]
    finally:
        # It should stop gracefully on SIGTERM, with nothing left half-done.
        codes = [w.terminate() for w in survivors]
    assert codes == [0, 0]
    _assert_each_processed_once(total)


@pytest.mark.django_db(transaction=True)
def test_it_stops_gracefully_on_sigterm_mid_work(client, zalo_app, connected_oa, tmp_path):
    total = 120
    _post_many(client, zalo_app, range(total))
    worker = Worker(tmp_path, "graceful", batch_size=20)
    try:
        assert wait_until(lambda: Message.objects.exists(), timeout=60), worker.output()
    finally:
        code = worker.terminate()
    # It should exit 0 after finishing the batch in hand: no event left claimed.
    assert code == 0, worker.output()
    assert not ZaloEvent.objects.filter(processing_state=ProcessingState.PROCESSING).exists()
    # A new worker finishes the rest, each event once.
    rest = Worker(tmp_path, "rest")
    try:
        assert wait_until(lambda: pending_inbound() == 0, timeout=120), rest.output()
    finally:
        assert rest.terminate() == 0
    _assert_each_processed_once(total)


def _wait_for_log(worker: Worker, text: str) -> bool:
    return wait_until(lambda: text in worker.output(), timeout=60, every=0.05)


@pytest.mark.django_db(transaction=True)
def test_it_rides_out_the_database_being_unreachable_for_a_moment(
    client, zalo_app, connected_oa, tmp_path
):
    _post_many(client, zalo_app, range(50))
    if connection.vendor == "postgresql":
        # The worker reaches PostgreSQL through a relay; taking the relay down cuts its
        # connections and refuses new ones, as a database restart or a network cut does.
        db = connection.settings_dict
        proxy = TcpProxy(db.get("HOST") or "127.0.0.1", int(db.get("PORT") or 5432))
        from tests.events.workerproc import database_url

        proxy.up()
        worker = Worker(tmp_path, "flaky", database=database_url(port=proxy.port))
        try:
            assert wait_until(lambda: pending_inbound() == 0, timeout=60), worker.output()
            proxy.down()
            # Webhooks keep arriving (the web process still reaches the database).
            _post_many(client, zalo_app, range(50, 100))
            # It should notice, log, and keep trying rather than die.
            assert _wait_for_log(worker, "Event dispatch failed"), worker.output()
            time.sleep(0.5)  # a few more failed rounds while the database is away
            assert pending_inbound() == 50
            proxy.up()
            assert wait_until(lambda: pending_inbound() == 0, timeout=60), worker.output()[-3000:]
            assert worker.proc.poll() is None
        finally:
            proxy.down()
            worker.stop_quietly()
    else:
        # An embedded SQLite file cannot go away over a network; what it does do is stay
        # locked by another process (a backup, a long admin write) for a moment.
        worker = Worker(tmp_path, "locked")
        try:
            assert wait_until(lambda: pending_inbound() == 0, timeout=60), worker.output()
            _post_many(client, zalo_app, range(50, 100))
            blocker = sqlite3.connect(connection.settings_dict["NAME"], timeout=30)
            try:
                blocker.execute("BEGIN EXCLUSIVE")
                before = pending_inbound()
                time.sleep(1.0)
                # It should not get past the lock (nothing processed meanwhile)...
                assert pending_inbound() == before
            finally:
                blocker.rollback()
                blocker.close()
            # ...and carry on when it is released.
            assert wait_until(lambda: pending_inbound() == 0, timeout=60), worker.output()
            assert worker.proc.poll() is None
        finally:
            worker.stop_quietly()
    _assert_each_processed_once(100)
