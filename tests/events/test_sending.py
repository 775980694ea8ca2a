"""Outbound OA messages against the sandbox Zalo: sent once, failures classified.

Zalo is made to fail with the sandbox's fault switch (real HTTP on loopback); time is
moved on by updating the rows' next-attempt and lease times, never by sleeping.
"""

import json
import threading
import time
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from tests.events.workerproc import Worker, wait_until
from tests.helpers import post_webhook
from zalohub.accounts import ratelimit
from zalohub.accounts.models import RateWindow
from zalohub.events.actions import message_resend
from zalohub.events.models import (
    Direction,
    ErrorCategory,
    EventAttempt,
    Message,
    ProcessingState,
    ZaloEvent,
    ZaloState,
)
from zalohub.events.outbound.oa_message import PENDING, SendRefused, message_send, send_outbound
from zalohub.events.processing.queue import drain, sweep_expired_leases
from zalohub.sandbox import payloads
from zalohub.sandbox.world import OA_SUPPORT_ID, SON_BY_APP, SON_SUPPORT_USER_ID

SON = SON_SUPPORT_USER_ID
ROUTE = "oa.message.cs"


def _send_due(worker_id: str = "test") -> list[str]:
    """What the workers' send task does, for every send that is due now."""
    due = ZaloEvent.objects.filter(
        direction=Direction.OUTBOUND,
        processing_state__in=PENDING,
        next_attempt_at__lte=timezone.now(),
    ).order_by("id")
    return [
        send_outbound(event_id=pk, worker_id=worker_id) for pk in due.values_list("pk", flat=True)
    ]


def _time_passes() -> None:
    """Every waiting send is due now (as if its backoff had passed)."""
    ZaloEvent.objects.filter(processing_state=ProcessingState.QUEUED).update(
        next_attempt_at=timezone.now()
    )


def _mailbox(sandbox) -> list:
    with sandbox.lock:
        return sandbox.mailbox.sent_messages(oa_id=OA_SUPPORT_ID)


def _event(message: Message) -> ZaloEvent:
    return ZaloEvent.objects.filter(message=message).latest("id")


@pytest.fixture
def send(connected_oa):
    def send(text: str = "Báo giá đơn hàng #88213", user_id: str = SON) -> Message:
        return message_send(oa=connected_oa, user_id=user_id, text=text)

    return send


# --- queueing ------------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("text", "user_id", "says"),
    [("  ", SON, "empty"), ("x" * 2001, SON, "at most 2000"), ("hi", "", "no Zalo user id")],
)
def test_it_refuses_what_zalo_would_refuse(connected_oa, text, user_id, says):
    with pytest.raises(SendRefused, match=says):
        message_send(oa=connected_oa, user_id=user_id, text=text)
    # It should queue nothing.
    assert not Message.objects.exists() and not ZaloEvent.objects.exists()


@pytest.mark.django_db
def test_it_queues_a_message_and_a_task_to_send_it(
    send, sandbox, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        message = send()
    # It should store the message On Queue, an outbound event, and a task carrying its id.
    assert message.zalo_state == ZaloState.ON_QUEUE and message.direction == Direction.OUTBOUND
    event = _event(message)
    assert event.processing_state == ProcessingState.QUEUED
    assert json.loads(event.raw_body)["recipient"] == {"user_id": SON}
    # Besides it, only the reports' task deriving the day its reply marked (inbox.report_summary).
    tasks = {t.task_path.rsplit(".", 1)[-1]: t for t in DBTaskResult.objects.all()}
    assert sorted(tasks) == ["send_event", "settle_report_days"]
    assert tasks["send_event"].args_kwargs["args"] == [event.pk]
    # It should not have called Zalo yet.
    assert sandbox.call_count(ROUTE) == 0


# --- success and receipts -------------------------------------------------------------------


@pytest.mark.django_db
def test_it_sends_once_and_stores_zalos_message_id(send, sandbox):
    message = send()
    assert _send_due() == ["sent"]
    message.refresh_from_db()
    (received,) = _mailbox(sandbox)
    # It should store Zalo's message_id and mark the message Sent.
    assert message.zalo_state == ZaloState.SENT and message.sent_at
    assert message.zalo_msg_id == received.message_id
    assert received.message == {"text": "Báo giá đơn hàng #88213"} and received.user_id == SON
    event = _event(message)
    assert event.processing_state == ProcessingState.PROCESSED and event.attempts == 1
    attempt = EventAttempt.objects.get(event=event)
    assert attempt.result == EventAttempt.Result.OK and attempt.call_started_at
    assert attempt.zalo_msg_id == received.message_id
    # It should not send again when the task runs a second time (a duplicate task).
    assert send_outbound(event_id=event.pk, worker_id="again") == "not claimable"
    assert sandbox.call_count(ROUTE) == 1


@pytest.mark.django_db
def test_it_moves_a_sent_message_forward_on_receipts(client, zalo_app, send, sandbox):
    message = send()
    _send_due()
    message.refresh_from_db()
    common = {"app_id": zalo_app.app_id, "oa_id": OA_SUPPORT_ID, "user_id": SON}
    by_app = SON_BY_APP[zalo_app.app_id]
    now = str(int(time.time() * 1000))
    received = payloads.user_received(
        **common, by_app=by_app, msg_id=message.zalo_msg_id, timestamp=now, delivery_time=now
    )
    seen = payloads.user_seen(**common, by_app=by_app, msg_ids=[message.zalo_msg_id], timestamp=now)
    key = zalo_app.oa_secret_key
    assert post_webhook(client, zalo_app.app_id, json.dumps(received), key=key).status_code == 200
    drain()
    message.refresh_from_db()
    # It should note the delivery to the phone...
    assert message.zalo_state == ZaloState.DELIVERED and message.delivered_at
    assert post_webhook(client, zalo_app.app_id, json.dumps(seen), key=key).status_code == 200
    drain()
    message.refresh_from_db()
    # ...then the read.
    assert message.zalo_state == ZaloState.READ and message.read_at


# --- Zalo failing during a send ------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("mode", ["http_500", "http_503"])
def test_it_retries_a_server_error_with_jittered_backoff_then_sends_once(
    send, sandbox, settings, mode
):
    settings.EVENTS_RETRY_BASE_SECONDS = 10
    sandbox.add_fault(ROUTE, mode, times=1)
    message = send()
    before = timezone.now()
    assert _send_due() == ["retry"]
    event = _event(message)
    # It should wait the base backoff, give or take 20 % jitter, and say why.
    delay = (event.next_attempt_at - before).total_seconds()
    assert 8 - 1 <= delay <= 12 + 1
    assert event.processing_state == ProcessingState.QUEUED
    assert mode[-3:] in event.error_message
    attempt = EventAttempt.objects.get(event=event)
    assert attempt.result == EventAttempt.Result.RETRY
    message.refresh_from_db()
    assert message.zalo_state == ZaloState.ON_QUEUE and not _mailbox(sandbox)
    # It should not retry early.
    assert _send_due() == []
    _time_passes()
    assert _send_due() == ["sent"]
    message.refresh_from_db()
    assert message.zalo_state == ZaloState.SENT and len(_mailbox(sandbox)) == 1
    assert _event(message).attempts == 2


@pytest.mark.django_db
def test_it_caps_the_backoff(send, sandbox, settings):
    settings.EVENTS_RETRY_BASE_SECONDS = 5
    settings.EVENTS_RETRY_CAP_SECONDS = 60
    sandbox.add_fault(ROUTE, "http_500")
    message = send()
    ZaloEvent.objects.filter(message=message).update(attempts=6)  # 5 * 2**6 = 320 s uncapped
    before = timezone.now()
    assert _send_due() == ["retry"]
    # It should wait no longer than the cap (plus its jitter).
    assert (_event(message).next_attempt_at - before).total_seconds() <= 60 * 1.2 + 1


@pytest.mark.django_db
def test_it_gives_up_on_a_retryable_error_after_the_last_attempt(send, sandbox, settings):
    settings.EVENTS_MAX_ATTEMPTS = 2
    sandbox.add_fault(ROUTE, "http_500")
    message = send()
    assert _send_due() == ["retry"]
    _time_passes()
    assert _send_due() == ["failed"]
    message.refresh_from_db()
    # It should mark the message Failed with the reason.
    assert message.zalo_state == ZaloState.FAILED and "HTTP 500" in message.failure_reason
    assert _event(message).error_category == ErrorCategory.SEND
    assert not _mailbox(sandbox)


@pytest.mark.django_db
def test_it_waits_as_long_as_a_429_asks(send, sandbox, settings):
    settings.EVENTS_RETRY_BASE_SECONDS = 1
    sandbox.add_fault(ROUTE, "http_429", retry_after=120, times=1)
    message = send()
    before = timezone.now()
    assert _send_due() == ["retry"]
    # It should honour Retry-After when it asks for longer than the backoff.
    assert (_event(message).next_attempt_at - before).total_seconds() >= 119
    _time_passes()
    assert _send_due() == ["sent"] and len(_mailbox(sandbox)) == 1


@pytest.mark.django_db
def test_it_does_not_resend_on_its_own_when_zalo_never_answered(send, sandbox, settings):
    # Zalo stalls past our patience and then sends the message anyway.
    settings.ZALO_TIMEOUT_SECONDS = 0.3
    sandbox.add_fault(ROUTE, "timeout", delay=1.0, times=1)
    message = send()
    assert _send_due() == ["failed"]
    message.refresh_from_db()
    # It should say the outcome is unknown, rather than risk a second copy.
    assert message.zalo_state == ZaloState.FAILED
    assert "unknown" in message.failure_reason and "did not answer" in message.failure_reason
    assert wait_until(lambda: len(_mailbox(sandbox)) == 1, timeout=10), _mailbox(sandbox)
    _time_passes()
    assert _send_due() == []
    assert sandbox.call_count(ROUTE) == 1 and len(_mailbox(sandbox)) == 1
    # It should send again only when a person asks (Resend: a new attempt).
    message_resend(message=message)
    assert _send_due() == ["sent"] and len(_mailbox(sandbox)) == 2


@pytest.mark.django_db
def test_it_retries_when_zalo_cannot_be_reached_at_all(send, sandbox, settings):
    # Nothing listens there: the request never left, so trying again is safe.
    settings.ZALO_OPENAPI_BASE_URL = "http://127.0.0.1:9/openapi"
    message = send()
    assert _send_due() == ["retry"]
    assert "Could not reach Zalo" in _event(message).error_message
    settings.ZALO_OPENAPI_BASE_URL = sandbox_url(sandbox) + "/openapi"
    _time_passes()
    assert _send_due() == ["sent"] and len(_mailbox(sandbox)) == 1


def sandbox_url(sandbox) -> str:
    from django.conf import settings

    return settings.ZALO_OAUTH_BASE_URL.removesuffix("/oauth")


@pytest.mark.django_db
@pytest.mark.parametrize("code", [-216, -220])
def test_it_refreshes_an_expired_token_once_and_sends_once(send, sandbox, connected_oa, code):
    old_token = connected_oa.access_token
    sandbox.add_fault(ROUTE, "zalo_error", code=code, times=1)
    message = send()
    assert _send_due() == ["sent"]
    message.refresh_from_db()
    connected_oa.refresh_from_db()
    # It should refresh the token once, retry once, and deliver one message.
    assert sandbox.call_count("oauth.access_token.refresh") == 1
    assert connected_oa.access_token != old_token
    assert message.zalo_state == ZaloState.SENT and len(_mailbox(sandbox)) == 1
    assert sandbox.call_count(ROUTE) == 2


@pytest.mark.django_db
def test_it_fails_when_the_fresh_token_is_refused_too(send, sandbox):
    sandbox.add_fault(ROUTE, "zalo_error", code=-216, times=2)
    message = send()
    assert _send_due() == ["failed"]
    message.refresh_from_db()
    # It should refresh only once, then fail as a token problem.
    assert sandbox.call_count("oauth.access_token.refresh") == 1
    assert message.zalo_state == ZaloState.FAILED and message.failure_code == -216
    assert _event(message).error_category == ErrorCategory.TOKEN
    assert not _mailbox(sandbox)


@pytest.mark.django_db
def test_a_token_refresh_that_cannot_reach_zalo_makes_the_send_wait(send, sandbox, connected_oa):
    sandbox.add_fault(ROUTE, "zalo_error", code=-216, times=1)
    sandbox.add_fault("oauth.access_token.refresh", "http_503", times=1)
    message = send()
    # It should keep the send queued, not fail it as a token problem...
    assert _send_due() == ["retry"]
    message.refresh_from_db()
    assert message.zalo_state == ZaloState.ON_QUEUE
    # ...and send it once Zalo is back, with a fresh token.
    _time_passes()
    assert _send_due() == ["sent"]
    assert len(_mailbox(sandbox)) == 1


def _outside_window(sandbox) -> None:
    with sandbox.lock:
        sandbox.users[OA_SUPPORT_ID][SON]["last_interaction"] = sandbox.now() - 8 * 24 * 3600


def _unfollowed(sandbox) -> None:
    with sandbox.lock:
        sandbox.users[OA_SUPPORT_ID][SON]["is_follower"] = False


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("arrange", "code", "says"),
    [
        pytest.param(_outside_window, -230, "7 days", id="outside-the-reply-window"),
        pytest.param(_unfollowed, -213, "", id="user-unfollowed"),
        pytest.param(lambda s: s.add_fault(ROUTE, "zalo_error", code=-217), -217, "", id="blocked"),
        pytest.param(lambda s: s.add_fault(ROUTE, "zalo_error", code=-211), -211, "", id="quota"),
        pytest.param(
            lambda s: s.add_fault(ROUTE, "zalo_error", code=-201, message="text is invalid!"),
            -201,
            "invalid",
            id="permanent",
        ),
    ],
)
def test_it_fails_at_once_on_what_retrying_cannot_fix(send, sandbox, arrange, code, says):
    arrange(sandbox)
    message = send()
    assert _send_due() == ["failed"]
    message.refresh_from_db()
    # It should mark the message Failed with Zalo's code and reason, and not retry.
    assert message.zalo_state == ZaloState.FAILED
    assert message.failure_code == code and says in message.failure_reason
    event = _event(message)
    assert event.processing_state == ProcessingState.ERROR
    assert event.error_category == ErrorCategory.SEND
    _time_passes()
    assert _send_due() == [] and sandbox.call_count(ROUTE) == 1


# --- the rate limit shared by every worker -------------------------------------------------


def _away_from_a_minute_boundary() -> None:
    # The budget is per calendar minute; a test must not straddle two.
    if timezone.now().second >= 57:
        time.sleep(60 - timezone.now().second)


@pytest.mark.django_db
def test_it_holds_sends_past_the_apps_per_minute_budget(send, sandbox, settings, zalo_app):
    settings.ZALO_RATE_LIMIT_PER_MINUTE = 2
    _away_from_a_minute_boundary()
    messages = [send(text=f"Tin {n}") for n in range(3)]
    assert _send_due() == ["sent", "sent", "rate limited"]
    held = _event(messages[2])
    # It should keep the third for the next minute, without counting it as an attempt.
    assert held.processing_state == ProcessingState.QUEUED and held.attempts == 0
    assert held.next_attempt_at >= ratelimit._window(timezone.now()) + timedelta(minutes=1)
    assert not EventAttempt.objects.filter(event=held).exists()
    assert sandbox.call_count(ROUTE) == 2
    # Next minute: the budget is back.
    RateWindow.objects.all().delete()
    _time_passes()
    assert _send_due() == ["sent"] and len(_mailbox(sandbox)) == 3


@pytest.mark.django_db
def test_it_honours_zalos_remaining_count_header(send, sandbox):
    _away_from_a_minute_boundary()
    sandbox.advance_clock(60)  # a fresh minute on Zalo's side: connecting spent a call
    with sandbox.lock:
        sandbox.rate_limit = 1  # Zalo's X-RateLimit-Remain says 0 after one call
    first, second = send(text="một"), send(text="hai")
    assert _send_due() == ["sent", "rate limited"]
    # It should not call Zalo again this minute, whatever our own count says.
    assert sandbox.call_count(ROUTE) == 1
    assert RateWindow.objects.get().exhausted
    first.refresh_from_db()
    second.refresh_from_db()
    assert first.zalo_state == ZaloState.SENT and second.zalo_state == ZaloState.ON_QUEUE


@pytest.mark.django_db
def test_it_backs_off_to_the_next_minute_on_zalos_rate_limit_error(send, sandbox, settings):
    settings.EVENTS_RETRY_BASE_SECONDS = 0.1
    _away_from_a_minute_boundary()
    sandbox.add_fault(ROUTE, "zalo_error", code=-32, times=1)
    message, other = send(text="một"), send(text="hai")
    assert _send_due() == ["retry", "rate limited"]
    # It should wait for the next window, and stop every other send of the app too.
    event = _event(message)
    assert event.next_attempt_at >= ratelimit._window(timezone.now()) + timedelta(minutes=1)
    assert "-32" in event.error_message
    assert sandbox.call_count(ROUTE) == 1
    RateWindow.objects.all().delete()
    _time_passes()
    assert sorted(_send_due()) == ["sent", "sent"] and len(_mailbox(sandbox)) == 2
    other.refresh_from_db()
    assert other.zalo_state == ZaloState.SENT


# --- concurrency and crashes ---------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_two_workers_claiming_the_same_row_send_it_once(send, sandbox):
    message = send()
    event = _event(message)
    barrier = threading.Barrier(2)
    results: list[str] = []

    def work(name: str) -> None:
        try:
            barrier.wait()
            results.append(send_outbound(event_id=event.pk, worker_id=name))
        finally:
            connection.close()

    threads = [threading.Thread(target=work, args=(n,)) for n in ("a", "b")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    # It should let exactly one of them claim the row and call Zalo.
    assert sorted(results) == ["not claimable", "sent"]
    assert sandbox.call_count(ROUTE) == 1 and len(_mailbox(sandbox)) == 1


@pytest.mark.django_db
def test_a_send_whose_worker_died_before_the_call_is_sent_once(send, sandbox):
    message = send()
    event = _event(message)
    # A worker claimed it and died before noting the call (no call_started_at).
    ZaloEvent.objects.filter(pk=event.pk).update(
        processing_state=ProcessingState.PROCESSING,
        claimed_by="dead-token",
        attempts=1,
        lease_until=timezone.now() - timedelta(seconds=1),
    )
    EventAttempt.objects.create(event=event, number=1, claim_token="dead-token")
    assert sweep_expired_leases() == 1
    # It should put it back in the queue (the call never started) and send it once.
    assert _send_due() == ["sent"]
    message.refresh_from_db()
    assert message.zalo_state == ZaloState.SENT and len(_mailbox(sandbox)) == 1


@pytest.mark.django_db(transaction=True)
def test_a_worker_killed_between_the_call_and_the_save_never_sends_twice(
    connected_oa, sandbox, tmp_path
):
    # Zalo takes its time; the worker is SIGKILLed while waiting for the answer.
    sandbox.add_fault(ROUTE, "timeout", delay=3.0, times=1)
    message = message_send(oa=connected_oa, user_id=SON, text="Xác nhận đơn hàng")
    event = _event(message)
    worker = Worker(tmp_path, "sender", extra_env={"ZALO_TIMEOUT_SECONDS": "30"})
    try:
        in_call = EventAttempt.objects.filter(event=event, call_started_at__isnull=False)
        assert wait_until(lambda: in_call.exists() and sandbox.call_count(ROUTE) == 1), (
            worker.output()
        )
        worker.kill()
    finally:
        worker.stop_quietly()
    # The lease runs out (moved on here) and the sweeper looks at the row.
    ZaloEvent.objects.filter(pk=event.pk).update(lease_until=timezone.now())
    assert sweep_expired_leases() == 1
    message.refresh_from_db()
    event.refresh_from_db()
    # It should not send again on its own, and the row should say why.
    assert message.zalo_state == ZaloState.FAILED and "unknown" in message.failure_reason
    assert event.processing_state == ProcessingState.ERROR
    assert in_call.get().result == EventAttempt.Result.INTERRUPTED
    assert send_outbound(event_id=event.pk, worker_id="late") == "not claimable"
    # Zalo did get it (the stalled call finished on Zalo's side): one copy, never two.
    assert wait_until(lambda: len(_mailbox(sandbox)) == 1, timeout=10), _mailbox(sandbox)
    assert sandbox.call_count(ROUTE) == 1


@pytest.mark.django_db(transaction=True)
def test_a_real_worker_sends_the_queue_once(connected_oa, sandbox, tmp_path):
    messages = [message_send(oa=connected_oa, user_id=SON, text=f"Tin số {n}") for n in range(10)]
    worker = Worker(tmp_path, "sender")
    try:
        sent = Message.objects.filter(zalo_state=ZaloState.SENT)
        assert wait_until(lambda: sent.count() == 10), worker.output()
    finally:
        assert worker.terminate() == 0
    # It should send each message once, through the task queue of a real worker.
    mailbox = _mailbox(sandbox)
    assert len(mailbox) == 10
    assert {m.zalo_msg_id for m in Message.objects.filter(pk__in=[m.pk for m in messages])} == {
        m.message_id for m in mailbox
    }


@pytest.mark.django_db
def test_business_content_to_a_shadow_contact_needs_a_confirmation(connected_oa, sandbox):
    from zalohub.partners.resolution import ZaloUser, link_verify, resolve_link

    link = resolve_link(oa=connected_oa, user=ZaloUser(SON, display_name="Sơn"))
    # It should let staff reply in the conversation without more ado...
    reply = message_send(oa=connected_oa, user_id=SON, text="Dạ, em kiểm tra ngay.")
    assert reply.partner_link == link
    # ...but refuse a business send to the unverified contact unless confirmed.
    with pytest.raises(SendRefused, match="unverified shadow contact"):
        message_send(oa=connected_oa, user_id=SON, text="Hóa đơn #1", business=True)
    confirmed = message_send(
        oa=connected_oa, user_id=SON, text="Hóa đơn #1", business=True, confirm_unverified=True
    )
    assert confirmed.pk
    link_verify(link=link, actor=None)
    assert message_send(oa=connected_oa, user_id=SON, text="Hóa đơn #2", business=True).pk
