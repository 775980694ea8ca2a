"""API sends accepted together, each as its event alone (zalohub.api.accept): a batch's
sends stored in one statement (PostgreSQL) or one transaction with every guarantee of a
send alone; the key found in the process's memory is checked again where the send is
stored; the rate limit counted per batch stays exact; the workers' sends loop gives each
accepted send its message and conversation, then sends it."""

import json
import threading
from datetime import timedelta

import pytest
from django.db import connection, connections, transaction
from django.db.models import Sum
from django.test import override_settings
from django.utils import timezone

from tests.api.conftest import SON, sends_stored
from zalohub.accounts import ratelimit as window_counter
from zalohub.api import accept
from zalohub.api.models import ApiKey, ApiRateWindow, Capability, IdempotentRequest
from zalohub.events.models import Message, ZaloEvent
from zalohub.events.outbound.oa_message import accepted_queue
from zalohub.partners.models import Partner, ZaloPartnerLink

TEXT = "Đơn DH-31 đã xuất kho"


def _send(
    key: ApiKey,
    oa,
    *,
    user_id: str = SON,
    idem: str = "",
    text: str = TEXT,
    kind: str = "text",
    attachment: dict | None = None,
    confirm: bool = False,
):
    return accept.Send(
        key=key,
        oa_id=oa.pk,
        user_id=user_id,
        kind=kind,
        text=text,
        attachment=attachment,
        confirm_unverified=confirm,
        idempotency_key=idem,
        digest=f"digest-of-{text}",
        request_id="req-1",
    )


def _spent(key: ApiKey) -> int:
    """The key's uses counted in its rate windows."""
    return ApiRateWindow.objects.filter(key=key).aggregate(n=Sum("count"))["n"]


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
        outcomes = accept._store(sends)
    first, repeat, unlinked, shadow, confirmed, gone = outcomes
    assert isinstance(first, tuple) and first[0] == 202
    assert json.loads(first[1])["message_id"] is None
    assert json.loads(first[1])["processing_state"] == "received"
    assert repeat == accept.REPLAY
    assert isinstance(unlinked, tuple) and isinstance(confirmed, tuple)
    # Left to their request: the shadow's counted (422 there), the revoked key's not (401).
    assert shadow == accept.ALONE and gone == accept.FAILED
    events = ZaloEvent.objects.filter(direction="out")
    assert events.count() == 3
    for event in events:
        assert (event.processing_state, event.message_id) == ("received", None)
        assert event.request_id == "req-1" and event.app_id == oa.app_id
        assert event.conversation_key == f"{oa.oa_id}:{event.zalo_user_id}"
        assert json.loads(event.raw_body)["recipient"] == {"user_id": event.zalo_user_id}
        assert (event.attempts, event.error_message) == (0, "")
        assert event.event_name == "oa_send_text"
    # The Idempotency-Key is the event's own dedupe key, with the first request's digest.
    kept = events.get(pk=json.loads(first[1])["event_id"])
    assert kept.dedupe_key == accept.idempotency_dedupe(key.pk, "a")
    assert kept.headers == {
        "Idempotency-Key": "a",
        "Request-Digest": f"digest-of-{TEXT}",
        "Accepted-As": "received",
    }
    assert not IdempotentRequest.objects.exists()
    # The workers' sends loop gives each its message, as a message sent alone has it.
    assert accepted_queue() == 3 and accepted_queue() == 0
    for event in events.select_related("message"):
        assert event.processing_state == "queued" and event.message.zalo_state == "on_queue"
        assert event.message.attachments == [] and event.message.created_at == event.received_at
        assert event.message.oa_id == oa.pk and event.message.direction == "out"
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
    assert sends_stored() == 1


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
    assert sends_stored() == 3


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
    assert sends_stored(processing_state="received") == 6
    assert ZaloEvent.objects.filter(dedupe_key__startswith="idem:").count() == 6
    assert not IdempotentRequest.objects.exists()
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
def test_a_batch_keeps_each_first_requests_digest_in_its_row_and_a_repeat_gets_its_answer(
    make_key, oa, son
):
    key, api = make_key()
    sends = [_send(key, oa, idem="a"), _send(key, oa, idem="b", text="hai")]
    with transaction.atomic():
        outcomes = accept._store(sends)
    for send, (status, text, _type) in zip(sends, outcomes, strict=True):
        row = ZaloEvent.objects.get(pk=json.loads(text)["event_id"])
        assert status == 202 and row.dedupe_key == send.dedupe_key
        assert row.headers["Request-Digest"] == send.digest
    # Through the API: the repeat's answer is the first's, another body's is 409.
    body = {"oa": oa.pk, "to": {"user_id": SON}, "text": TEXT}
    first = api.post("/messages", body, headers={"Idempotency-Key": "c"})
    assert first[0] == 202
    assert api.post("/messages", body, headers={"Idempotency-Key": "c"})[1] == first[1]
    other = api.post("/messages", {**body, "text": "khác"}, headers={"Idempotency-Key": "c"})
    assert (other[0], other[1]["code"]) == (409, "idempotency_key_reused")
    # An Idempotency-Key is one per API key, whichever OA (and app) it was used on.
    assert sends_stored() == 3


@pytest.mark.django_db
def test_a_batch_is_one_statement_on_postgresql_that_counts_checks_and_stores(
    make_key, oa, son, settings
):
    from django.test.utils import CaptureQueriesContext

    from zalohub.api import ratelimit

    if connection.vendor != "postgresql":
        pytest.skip("an UPDATE inside a WITH is PostgreSQL's")
    settings.REDIS_URL = ""
    key, _api = make_key()
    revoked, _ = make_key()
    assert ratelimit.take_many(key, 1)[0] == 1  # the window's rows made: a first try counts
    ApiKey.objects.filter(pk=revoked.pk).update(revoked_at=timezone.now())
    sends = [_send(key, oa, idem="a"), _send(key, oa, text="hai")]
    with CaptureQueriesContext(connection) as queries, transaction.atomic():
        outcomes = accept._store(sends)
    statements = [q["sql"] for q in queries.captured_queries if "SAVEPOINT" not in q["sql"]]
    # It should count, check and store the batch in one statement: the key's rate window,
    # the key and its OAs, the recipients' links, the kept answers, the event rows.
    assert len(statements) == 1, statements
    (statement,) = statements
    for table in ("api_apiratewindow", "api_apikey_oas", "partners_zalopartnerlink"):
        assert f'"{table}"' in statement
    assert '"api_idempotentrequest"' in statement and '"events_zaloevent"' in statement
    for send, outcome in zip(sends, outcomes, strict=True):
        event = ZaloEvent.objects.get(pk=json.loads(outcome[1])["event_id"])
        assert event.dedupe_key == send.dedupe_key and event.message_id is None
        assert json.loads(event.raw_body)["message"] == {"text": send.text}
    # A key revoked since this process found it: not stored, nor counted.
    with transaction.atomic():
        outcomes = accept._store([_send(revoked, oa), _send(key, oa, text="ba")])
    assert outcomes[0] == accept.FAILED and outcomes[1][0] == 202
    assert (_spent(key), ApiRateWindow.objects.filter(key=revoked).count()) == (1 + 2 + 1, 0)


@pytest.mark.django_db
def test_a_batch_stores_a_send_whose_key_had_no_window_yet_after_counting_it(
    make_key, oa, son, settings
):
    settings.REDIS_URL = ""
    key, _api = make_key(rate=3)
    with transaction.atomic():
        outcomes = accept._store([_send(key, oa, text=str(n)) for n in range(5)])
    # It should count the key's sends (its window's first use) and store those allowed.
    assert [type(o).__name__ if isinstance(o, accept.Limited) else o[0] for o in outcomes] == [
        202,
        202,
        202,
        "Limited",
        "Limited",
    ]
    assert _spent(key) == 3
    assert sends_stored() == 3


@pytest.mark.django_db
def test_a_key_a_committed_first_took_is_a_repeat_and_a_kept_refusal_is_left_to_its_request(
    make_key, oa, son, settings
):
    settings.REDIS_URL = ""
    key, _api = make_key(rate=10)
    with transaction.atomic():
        accept._store([_send(key, oa, idem="a")])
    IdempotentRequest.objects.create(
        key=key,
        idempotency_key="c",
        request_hash="digest-of-refused",
        status_code=422,
        response_body='{"code": "send_refused"}',
        content_type="application/problem+json",
    )
    with transaction.atomic():
        outcomes = accept._store(
            [_send(key, oa, idem="a"), _send(key, oa, idem="b", text="b"), _send(key, oa, idem="c")]
        )
    # It should answer the taken key as a repeat, store its batch mate once and leave
    # the key whose first answer was kept to its request (which gives that answer).
    repeat, mate, kept = outcomes
    assert repeat == accept.REPLAY and isinstance(mate, tuple) and mate[0] == 202
    assert kept == accept.ALONE
    assert sends_stored() == 2
    assert _spent(key) == 1 + 3


def _queued_batch(key: ApiKey, oa, texts: list[str]) -> list[int]:
    """One batch of sends stored as the group commit stores it, then queued with their
    messages as the sends loop queues them: their event ids."""
    with transaction.atomic():
        outcomes = accept._store([_send(key, oa, text=text) for text in texts])
    assert accepted_queue() == len(texts)
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
        events = ZaloEvent.objects.filter(pk__in=[a["event_id"] for a in answers])
        for _ in range(600):
            if not events.exclude(processing_state="processed").exists():
                break
            stop.wait(0.1)
    finally:
        stop.set()
        queued.wake()
        thread.join(30)
    # It should give each its message and send it once, from the loop, with no task of
    # its own.
    for event in events.select_related("message"):
        assert event.processing_state == "processed" and event.attempts == 1
        assert event.message.zalo_state == "sent"
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


@pytest.mark.django_db
def test_the_sends_loop_queues_each_accepted_send_once_as_sent_and_leaves_a_marked_one(
    make_key, oa, son
):
    from zalohub.events.actions import event_mark_error

    key, _api = make_key()
    image = {"url": "http://127.0.0.1:8/a.png"}
    sends = [_send(key, oa, text=t) for t in ("một", "hai")]
    sends.append(_send(key, oa, kind="image", text="Ảnh đơn hàng", attachment=image))
    with transaction.atomic():
        outcomes = accept._store(sends)
    one, two, picture = (json.loads(o[1])["event_id"] for o in outcomes)
    event_mark_error(event=ZaloEvent.objects.get(pk=two), reason="sent by mistake")  # an admin
    assert accepted_queue() == 2 and accepted_queue() == 0
    rows = {e.pk: e for e in ZaloEvent.objects.select_related("message")}
    # It should make each message as sent (its kind, text, attachment, link)...
    assert (rows[one].message.kind, rows[one].message.text) == ("text", "một")
    made = rows[picture].message
    assert (made.kind, made.text, made.attachments) == ("image", "Ảnh đơn hàng", [image])
    assert made.partner_link_id == son.zalo_links.get().pk
    # ...and leave the one an admin marked as it is: no message, not sent.
    assert (rows[two].processing_state, rows[two].message_id) == ("error", None)
    assert Message.objects.count() == 2


@pytest.mark.django_db
def test_an_accepted_send_marked_error_before_its_message_is_retried_by_the_sends_loop(
    make_key, oa, son, auditor
):
    from django.test import Client
    from django.urls import reverse

    key, _api = make_key()
    with transaction.atomic():
        [outcome] = accept._store([_send(key, oa, text="một")])
    event = ZaloEvent.objects.get(pk=json.loads(outcome[1])["event_id"])
    client = Client()
    client.force_login(auditor)
    page = reverse("admin:events_zaloevent_change", args=[event.pk])

    def button(action: str) -> str:
        return reverse("admin:events_zaloevent_button", args=[event.pk, action])

    # An admin marks it Error before a worker made its message (no worker was running).
    assert client.post(button("mark_error"), {"reason": "worker stopped"}).status_code == 302
    shown = client.get(page).content.decode()
    # It should offer Retry Processing (there is no message to Resend)...
    assert 'id="btn-retry"' in shown and 'id="btn-resend"' not in shown
    assert client.post(button("retry_processing")).status_code == 302
    event.refresh_from_db()
    # ...which makes it Received again, its error gone, for the sends loop to queue and send.
    assert (event.processing_state, event.error_message, event.message_id) == ("received", "", None)
    assert accepted_queue() == 1
    event.refresh_from_db()
    assert (event.processing_state, event.message.text) == ("queued", "một")
    # Once it has its message, Retry Processing is a Resend of a Failed message, as any send's.
    assert 'id="btn-retry"' not in client.get(page).content.decode()


@pytest.mark.django_db(transaction=True)
def test_concurrent_sends_loops_give_each_accepted_send_one_message(make_key, oa, son):
    if connection.vendor != "postgresql":
        pytest.skip("concurrent transactions are PostgreSQL's (SQLite has one writer)")
    key, _api = make_key()
    accept._store([_send(key, oa, text=f"{TEXT} {n}") for n in range(60)])

    def loop(_i: int) -> int:
        done = 0
        while made := accepted_queue(limit=7):
            done += made
        return done

    # It should queue each once among the loops (SKIP LOCKED), whichever took it.
    assert sum(_concurrently(4, loop)) == 60
    assert Message.objects.count() == 60
    assert sends_stored(processing_state="queued", message__isnull=False) == 60


@pytest.mark.django_db
def test_a_send_stored_with_its_message_at_once_keeps_its_idempotency_key_in_its_event(
    make_key, oa, son
):
    key, api = make_key()
    link = son.zalo_links.get()
    body = {"oa": oa.pk, "to": {"link_id": link.pk}, "text": TEXT}
    # A recipient given by link: the careful path stores the message with its event.
    first = api.post("/messages", body, headers={"Idempotency-Key": "k"})
    assert first[0] == 202 and first[1]["processing_state"] == "queued"
    event = ZaloEvent.objects.get(pk=first[1]["event_id"])
    assert event.message_id == first[1]["message_id"] is not None
    assert event.dedupe_key == accept.idempotency_dedupe(key.pk, "k")
    assert event.headers["Accepted-As"] == "queued"
    again = api.post("/messages", body, headers={"Idempotency-Key": "k"})
    assert (again[0], again[1], again[2]["Idempotent-Replayed"]) == (202, first[1], "true")
    # The same key in a batch of sends stored as one row: left to its request (whose
    # answer the key's kept first gives), never stored twice.
    with transaction.atomic():
        (outcome,) = accept._store([_send(key, oa, idem="k")])
    assert outcome == accept.ALONE
    assert sends_stored() == 1


@pytest.mark.django_db
def test_an_accepted_send_whose_body_a_data_removal_replaced_is_an_error_not_a_poison(
    make_key, oa, son
):
    key, _api = make_key()
    with transaction.atomic():
        outcomes = accept._store([_send(key, oa, text=t) for t in ("một", "hai", "ba")])
    one, two, three = (json.loads(o[1])["event_id"] for o in outcomes)
    ZaloEvent.objects.filter(pk=two).update(raw_body='{"removed": true}', headers={})
    ZaloEvent.objects.filter(pk=three).update(raw_body="not json")
    # It should queue the readable one, and mark the others Error (never sent), so that
    # no later look meets them again.
    assert accepted_queue() == 3 and accepted_queue() == 0
    rows = {e.pk: e for e in ZaloEvent.objects.all()}
    assert (rows[one].processing_state, rows[one].message.text) == ("queued", "một")
    for pk in (two, three):
        assert (rows[pk].processing_state, rows[pk].message_id) == ("error", None)
        assert rows[pk].error_category == "send" and rows[pk].error_message
    assert "no message" in rows[two].error_message
    assert Message.objects.count() == 1
