"""API sends accepted together (zalohub.api.accept): a batch's sends stored in one
transaction with every guarantee of a send alone; the key found in the process's memory
is checked again where the send is stored; the rate limit counted per batch stays exact."""

import json
import threading
from datetime import timedelta

import pytest
from django.db import connection, connections, transaction
from django.test import override_settings
from django.utils import timezone

from tests.api.conftest import SON
from zalohub.accounts import ratelimit as window_counter
from zalohub.api import accept
from zalohub.api.models import ApiKey, Capability, IdempotentRequest
from zalohub.events.models import Message, ZaloEvent
from zalohub.partners.models import Partner, ZaloPartnerLink

TEXT = "Đơn DH-31 đã xuất kho"


def _send(key: ApiKey, oa, *, user_id: str = SON, idem: str = "", text: str = TEXT, **kw):
    return accept.Send(
        key=key,
        oa_id=oa.pk,
        user_id=user_id,
        kind="text",
        text=text,
        attachment=None,
        confirm_unverified=kw.get("confirm", False),
        idempotency_key=idem,
        digest=f"digest-of-{text}",
        request_id="req-1",
    )


@pytest.mark.django_db
def test_one_batch_stores_each_send_once_and_leaves_the_others_to_their_request(make_key, oa, son):
    key, _api = make_key()
    revoked, _ = make_key()
    ApiKey.objects.filter(pk=revoked.pk).update(revoked_at="2026-01-01T00:00:00Z")
    shadow = Partner.objects.create(name="Khách chưa xác minh", is_shadow=True)
    ZaloPartnerLink.objects.create(
        partner=shadow, oa=oa, app=oa.app, zalo_user_id="7000000000000000001", is_shadow=True
    )
    sends = [
        _send(key, oa, idem="a"),
        _send(key, oa, idem="a"),  # the same key in the same batch: a repeat
        _send(key, oa, user_id="7000000000000000002"),  # nobody linked yet: still sent
        _send(key, oa, user_id="7000000000000000001"),  # a shadow contact, unconfirmed
        _send(key, oa, user_id="7000000000000000001", confirm=True, text="ok"),
        _send(revoked, oa, idem="b"),  # revoked since this process found it
    ]
    with transaction.atomic():
        outcomes = accept._accept(sends)
    first, repeat, unlinked, shadow, confirmed, gone = outcomes
    assert isinstance(first, tuple) and first[0] == 202
    assert repeat == accept.REPLAY
    assert isinstance(unlinked, tuple) and isinstance(confirmed, tuple)
    assert shadow == accept.ALONE and gone == accept.ALONE
    events = ZaloEvent.objects.filter(direction="out").select_related("message")
    assert events.count() == 3
    for event in events:
        assert event.processing_state == "queued" and event.request_id == "req-1"
        assert event.message.zalo_state == "on_queue"
        assert event.conversation_key == f"{oa.oa_id}:{event.zalo_user_id}"
        assert json.loads(event.raw_body)["recipient"] == {"user_id": event.zalo_user_id}
        assert (event.headers, event.attempts, event.error_message) == ({}, 0, "")
        assert event.event_name == "oa_send_text" and event.message.attachments == []
        assert event.message.oa_id == oa.pk and event.message.direction == "out"
    kept = IdempotentRequest.objects.get(key=key, idempotency_key="a")
    assert (kept.status_code, kept.response_body) == (202, first[1])
    assert not IdempotentRequest.objects.filter(key=revoked).exists()
    # The conversations are folded in as for a message sent alone.
    assert Message.objects.get(zalo_user_id=SON).partner_link_id == son.zalo_links.get().pk


@pytest.mark.django_db
def test_a_key_changed_elsewhere_is_caught_where_the_send_is_stored(make_key, oa, sales, son):
    key, api = make_key(oas=[oa, sales])
    body = {"oa": oa.pk, "to": {"user_id": SON}, "text": TEXT}
    assert api.post("/messages", body)[0] == 202  # the key is now in this process's memory
    # Changed by another process: this one's memory of the key is not told.
    ApiKey.objects.filter(pk=key.pk).update(capabilities=[Capability.READ_CONVERSATIONS])
    status, problem, _ = api.post("/messages", body)
    assert (status, problem["code"]) == (403, "missing_capability")
    ApiKey.objects.filter(pk=key.pk).update(capabilities=[Capability.SEND_MESSAGES])
    ApiKey.oas.through.objects.filter(apikey_id=key.pk, officialaccount_id=oa.pk).delete()
    status, problem, _ = api.post("/messages", body)
    assert (status, problem["code"]) == (404, "not_found")
    ApiKey.objects.filter(pk=key.pk).update(revoked_at="2026-01-01T00:00:00Z")
    status, problem, response = api.post("/messages", {**body, "oa": sales.pk})
    assert (status, problem["code"]) == (401, "unauthenticated")
    assert response["Content-Type"] == "application/problem+json"
    assert Message.objects.count() == 1


@pytest.mark.django_db
def test_an_oa_added_to_the_key_is_reached_at_once(make_key, oa, sales):
    key, api = make_key(oas=[sales])
    body = {"oa": oa.pk, "to": {"user_id": SON}, "text": TEXT}
    assert api.post("/messages", {**body, "oa": sales.pk})[0] == 202
    assert api.post("/messages", body)[0] == 404
    key.oas.add(oa)  # the memory of the key says no: the database is asked
    assert api.post("/messages", body)[0] == 202


def _sends_limited(make_key, oa) -> None:
    _key, api = make_key(rate=3)
    body = {"oa": oa.pk, "to": {"user_id": SON}, "text": TEXT}
    assert [api.post("/messages", body)[0] for _ in range(3)] == [202, 202, 202]
    status, problem, response = api.post("/messages", body)
    assert (status, problem["code"]) == (429, "rate_limited")
    assert 1 <= int(response["Retry-After"]) <= 60
    assert Message.objects.count() == 3


@pytest.mark.django_db
def test_sends_past_the_rate_limit_are_429_in_the_database(make_key, oa, settings):
    settings.REDIS_URL = ""
    _sends_limited(make_key, oa)


@pytest.mark.django_db
def test_sends_past_the_rate_limit_are_429_in_redis(make_key, oa):
    with override_settings(REDIS_URL="redis://127.0.0.1:6379/4"):
        window_counter._redis.cache_clear()
        window_counter._redis().flushdb()
        try:
            _sends_limited(make_key, oa)
        finally:
            window_counter._redis.cache_clear()


@pytest.mark.django_db
def test_take_many_is_as_exact_as_one_at_a_time(make_key, settings):
    from zalohub.api import ratelimit

    settings.REDIS_URL = ""
    key, _ = make_key(rate=20)
    assert ratelimit.take_many(key, 6)[0] == 6
    assert ratelimit.take_many(key, 10)[0] == 10
    passed, wait = ratelimit.take_many(key, 10)
    assert passed == 4 and 0 < wait <= 60
    assert ratelimit.take_many(key, 1)[0] == 0


def _concurrently(n: int, work) -> list:
    results: list = []
    start = threading.Barrier(n)

    def run(i: int) -> None:
        try:
            start.wait()
            results.append(work(i))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert len(results) == n  # none of them failed
    return results


@pytest.mark.django_db(transaction=True)
def test_concurrent_sends_of_one_process_each_stored_once(make_key, oa, son):
    if connection.vendor != "postgresql":
        pytest.skip("concurrent transactions are PostgreSQL's (SQLite has one writer)")
    _key, api = make_key()
    before = accept.committer.sends

    def send(i: int) -> tuple[int, dict]:
        body = {"oa": oa.pk, "to": {"user_id": SON}, "text": f"{TEXT} {i % 6}"}
        # 12 requests: 6 bodies, each twice under its own Idempotency-Key.
        status, answer, _ = api.__class__(api.raw).post(
            "/messages", body, headers={"Idempotency-Key": f"k-{i % 6}"}
        )
        return status, answer

    answers = _concurrently(12, send)
    assert [status for status, _ in answers] == [202] * 12
    # Each Idempotency-Key sent once: its repeat got the same event.
    assert len({a["event_id"] for _, a in answers}) == 6
    assert Message.objects.count() == IdempotentRequest.objects.count() == 6
    assert ZaloEvent.objects.filter(direction="out", processing_state="queued").count() == 6
    assert accept.committer.sends - before == 12  # every one went through the batches


@pytest.mark.django_db(transaction=True)
def test_concurrent_batches_count_the_rate_limit_exactly(make_key, settings):
    if connection.vendor != "postgresql":
        pytest.skip("concurrent transactions are PostgreSQL's (SQLite has one writer)")
    from zalohub.api import ratelimit

    settings.REDIS_URL = ""
    key, _ = make_key(rate=25)
    now = timezone.now()

    def batch(i: int) -> int:
        with transaction.atomic():
            return ratelimit.take_many(key, 1 + i % 4, now=now)[0]

    # 12 batches of 1 to 4 requests (30 in all) in one minute of a limit of 25.
    assert sum(_concurrently(12, batch)) == 25


@pytest.mark.django_db
def test_a_batch_reads_in_one_statement_and_keeps_its_answers_in_the_rows_it_inserts(
    make_key, oa, son
):
    from django.test.utils import CaptureQueriesContext

    key, _api = make_key()
    sends = [_send(key, oa, idem="a"), _send(key, oa, idem="b", text="hai")]
    with CaptureQueriesContext(connection) as queries, transaction.atomic():
        outcomes = accept._accept(sends)
    statements = [q["sql"] for q in queries.captured_queries]
    # It should read the keys, their scopes and the recipients' links in one statement.
    (reads,) = [sql for sql in statements if "partners_zalopartnerlink" in sql]
    assert "api_apikey" in reads
    # It should write each kept answer with its row: one INSERT, no UPDATE after it.
    (kept,) = [sql for sql in statements if "api_idempotentrequest" in sql]
    assert kept.startswith("INSERT")
    for send, (status, text, _type) in zip(sends, outcomes, strict=True):
        row = IdempotentRequest.objects.get(key=key, idempotency_key=send.idempotency_key)
        assert (row.status_code, row.response_body, row.request_hash) == (
            status,
            text,
            send.digest,
        )


@pytest.mark.django_db
def test_a_batch_counts_its_sends_in_its_read_and_stores_each_message_with_its_event_at_once(
    make_key, oa, son, settings
):
    from django.db.models import Sum
    from django.test.utils import CaptureQueriesContext

    from zalohub.api.models import ApiRateWindow

    if connection.vendor != "postgresql":
        pytest.skip("an UPDATE inside a WITH is PostgreSQL's")
    settings.REDIS_URL = ""
    key, _api = make_key()
    revoked, _ = make_key()
    ApiKey.objects.filter(pk=revoked.pk).update(revoked_at=timezone.now())
    sends = [_send(key, oa, idem="a"), _send(revoked, oa), _send(key, oa, text="hai")]
    with CaptureQueriesContext(connection) as queries, transaction.atomic():
        outcomes = accept._accept(sends)
    statements = [q["sql"] for q in queries.captured_queries]
    # It should try to count the sends in the statement that reads the keys and links...
    (reads, *_rest) = [sql for sql in statements if "api_apiratewindow" in sql]
    assert "partners_zalopartnerlink" in reads
    # ...and count exactly the active key's two, not the revoked key's.
    spent = ApiRateWindow.objects.filter(key=key).aggregate(n=Sum("count"))["n"]
    assert (spent, ApiRateWindow.objects.filter(key=revoked).count()) == (2, 0)
    assert outcomes[1] == accept.ALONE
    # It should store the messages and their events in one statement, each event
    # pointing at its message and keyed by it.
    (stored,) = [sql for sql in statements if '"events_zaloevent"' in sql]
    assert '"events_message"' in stored
    for n in (0, 2):
        answer = json.loads(outcomes[n][1])
        event = ZaloEvent.objects.get(pk=answer["event_id"])
        assert event.message_id == answer["message_id"]
        assert event.dedupe_key.startswith(f"out:{answer['message_id']}:")
        assert event.message.text == sends[n].text


@pytest.mark.django_db
@pytest.mark.parametrize("rolled_back", [True, False], ids=["database", "redis"])
def test_a_key_a_committed_first_took_is_a_repeat_and_its_batch_mates_are_stored_once(
    make_key, oa, son, monkeypatch, settings, rolled_back
):
    from zalohub.api import ratelimit

    settings.REDIS_URL = ""
    key, _api = make_key(rate=3)
    IdempotentRequest.objects.create(
        key=key,
        idempotency_key="a",
        request_hash="digest-of-first",
        status_code=202,
        response_body='{"event_id": 1}',
        content_type="application/json",
    )
    counts: list[int] = []
    take_many = ratelimit.take_many

    def counting(key: ApiKey, n: int, **kw):
        counts.append(n)
        return take_many(key, n, **kw)

    monkeypatch.setattr(ratelimit, "take_many", counting)
    monkeypatch.setattr(ratelimit, "counts_roll_back", lambda: rolled_back)
    with transaction.atomic():
        outcomes = accept._store([_send(key, oa, idem="a"), _send(key, oa, idem="b", text="b")])
    # It should answer the taken key as a repeat and store its batch mate once.
    repeat, mate = outcomes
    assert repeat == accept.REPLAY and isinstance(mate, tuple) and mate[0] == 202
    assert list(Message.objects.values_list("text", flat=True)) == ["b"]
    assert IdempotentRequest.objects.get(idempotency_key="a").response_body == '{"event_id": 1}'
    assert IdempotentRequest.objects.get(idempotency_key="b").response_body == mate[1]
    if rolled_back:
        # It should count the batch again in its second try (the first one's was undone):
        # two of the key's three this minute, as if it had been tried once.
        assert counts == [2, 2]
        assert take_many(key, 3)[0] == 1
    else:
        # It should not count again what a rollback did not undo (Redis's counts).
        assert counts == [2]


def _queued_batch(key: ApiKey, oa, texts: list[str]) -> list[int]:
    """One batch of sends stored as the group commit stores it: their event ids."""
    with transaction.atomic():
        outcomes = accept._accept([_send(key, oa, text=text) for text in texts])
    return sorted(json.loads(outcome[1])["event_id"] for outcome in outcomes)


@pytest.mark.django_db
def test_a_batch_writes_no_task_row_and_the_sends_loop_sends_each_send(
    make_key, oa, son, sandbox, django_capture_on_commit_callbacks
):
    from django_tasks_db.models import DBTaskResult

    from zalohub.events.outbound import queued

    key, _api = make_key()
    queued.WAKE.clear()
    with django_capture_on_commit_callbacks(execute=True):
        events = _queued_batch(key, oa, ["một", "hai", "ba"])
    # It should write no task row: the committed events are the queue.
    sends = DBTaskResult.objects.filter(task_path__startswith="zalohub.events.")
    assert not sends.exists()
    # It should wake the sends loop of this process once the batch is committed.
    assert queued.WAKE.is_set()
    queued.WAKE.clear()
    # It should find every event of the batch due, oldest first.
    assert queued.due_sends() == events
    # It should send each message from the loop (what the workers run), once.
    assert queued.send_due("loop-test") == 3
    assert queued.due_sends() == [] and queued.send_due("loop-test") == 0
    assert not sends.exists()
    assert list(Message.objects.values_list("zalo_state", flat=True)) == ["sent"] * 3
    for event in ZaloEvent.objects.filter(pk__in=events):
        assert event.processing_state == "processed" and event.attempts == 1
        assert list(event.attempt_log.values_list("result", flat=True)) == ["ok"]
    with sandbox.lock:
        sent = sandbox.mailbox.sent_messages(oa_id=oa.oa_id)
    assert sorted(m.message["text"] for m in sent) == sorted(["một", "hai", "ba"])


def _sends_loop(stop: threading.Event) -> None:
    from zalohub.events.outbound import queued

    try:
        queued.work_sends("loop-test", stop)
    finally:
        connection.close()


@pytest.mark.django_db(transaction=True)
def test_accepted_sends_reach_zalo_through_the_workers_sends_loop_once_each(
    make_key, oa, son, sandbox, settings
):
    from zalohub.events.outbound import queued

    settings.WORKER_THREADS = 3  # three senders share the due sends
    _key, api = make_key()
    stop = threading.Event()
    thread = threading.Thread(target=_sends_loop, args=(stop,), daemon=True)
    thread.start()
    texts = [f"{TEXT} {n}" for n in range(6)]
    try:
        answers = []
        for n, text in enumerate(texts):
            body = {"oa": oa.pk, "to": {"user_id": SON}, "text": text}
            status, answer, _ = api.post("/messages", body, headers={"Idempotency-Key": f"l{n}"})
            assert status == 202
            answers.append(answer)
        waiting = Message.objects.filter(pk__in=[a["message_id"] for a in answers])
        for _ in range(600):
            if not waiting.filter(zalo_state="on_queue").exists():
                break
            stop.wait(0.1)
    finally:
        stop.set()
        queued.wake()
        thread.join(30)
    # It should send each once, from the loop, with no task of its own.
    assert set(waiting.values_list("zalo_state", flat=True)) == {"sent"}
    for event in ZaloEvent.objects.filter(pk__in=[a["event_id"] for a in answers]):
        assert event.processing_state == "processed" and event.attempts == 1
    with sandbox.lock:
        sent = sandbox.mailbox.sent_messages(oa_id=oa.oa_id)
    assert sorted(m.message["text"] for m in sent) == sorted(texts)
    # It should stop with every sender.
    assert not thread.is_alive()
    assert not [t for t in threading.enumerate() if t.name.startswith("zalohub-outbound.sends")]


@pytest.mark.django_db
def test_a_batch_task_row_left_from_before_still_sends_each_send(make_key, oa, son, sandbox):
    from django_tasks_db.models import DBTaskResult

    from zalohub.events.outbound.oa_message import send_events

    key, _api = make_key()
    events = _queued_batch(key, oa, ["một", "hai", "ba"])
    # It should send each message from that one task (a row written before the sends
    # loop), with no task row a message.
    assert send_events.call(events) == 3
    assert not DBTaskResult.objects.filter(task_path__startswith="zalohub.events.").exists()
    assert list(Message.objects.values_list("zalo_state", flat=True)) == ["sent"] * 3
    with sandbox.lock:
        sent = sandbox.mailbox.sent_messages(oa_id=oa.oa_id)
    assert sorted(m.message["text"] for m in sent) == sorted(["một", "hai", "ba"])


@pytest.mark.django_db
def test_a_send_zalo_refuses_keeps_its_own_retry_and_its_batch_mates_are_sent(
    make_key, oa, son, sandbox, django_capture_on_commit_callbacks
):
    from django_tasks_db.models import DBTaskResult

    from zalohub.events.outbound import queued

    key, _api = make_key()
    events = _queued_batch(key, oa, ["một", "hai", "ba"])
    sandbox.add_fault("oa.message.cs", "http_500", times=1)  # the batch's first call
    with django_capture_on_commit_callbacks(execute=True):
        assert queued.send_due("loop-test") == 3
    first, *mates = ZaloEvent.objects.filter(pk__in=events).order_by("pk")
    # It should leave the refused one waiting for its own retry, with its own log.
    assert first.processing_state == "queued" and first.next_attempt_at > timezone.now()
    assert list(first.attempt_log.values_list("result", flat=True)) == ["retry"]
    assert first.message.zalo_state == "on_queue"
    (retry,) = DBTaskResult.objects.filter(task_path__endswith=".send_event")
    assert retry.args_kwargs["args"] == [first.pk]
    # It should send the others all the same.
    for event in mates:
        assert event.processing_state == "processed" and event.message.zalo_state == "sent"


@pytest.mark.django_db
def test_a_send_that_raises_is_left_to_the_sweeper_and_its_batch_mates_are_sent(
    make_key, oa, son, sandbox, monkeypatch, caplog
):
    from zalohub.events.outbound import queued, requeue_lost_sends, send_event

    key, _api = make_key()
    events = _queued_batch(key, oa, ["một", "hai", "ba"])
    real = queued.send_outbound

    def send_outbound(*, event_id: int, worker_id: str) -> str:
        if event_id == events[1]:
            raise RuntimeError("the attempt broke")
        return real(event_id=event_id, worker_id=worker_id)

    monkeypatch.setattr(queued, "send_outbound", send_outbound)
    assert queued.send_due("loop-test") == 2
    # It should count only what it tried without raising: the loop waits before it looks
    # again rather than spin on a send that raises each time.
    assert queued.send_due("loop-test") == 0
    rows = {e.pk: e for e in ZaloEvent.objects.filter(pk__in=events).select_related("message")}
    # It should send the ones before and after it.
    assert rows[events[0]].message.zalo_state == rows[events[2]].message.zalo_state == "sent"
    # It should leave the broken one queued for the sweeper (requeue_lost_sends), and say so.
    assert rows[events[1]].processing_state == "queued"
    assert rows[events[1]].message.zalo_state == "on_queue"
    assert f"Sending outbound event {events[1]} failed" in caplog.text
    # It should be sent by the task the sweeper gives it, once the attempt works again.
    monkeypatch.setattr(queued, "send_outbound", real)
    assert requeue_lost_sends(older_than=timedelta(0)) == 1
    assert send_event.call(events[1]) == "sent"
