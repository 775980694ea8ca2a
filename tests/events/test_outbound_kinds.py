"""A new kind of send (later: the API's sends, outbound webhooks) registers a sender and
gets the whole outbound machine: the claim, the retry with backoff on the row, the one
sweeper, Resend, without a line of its own for any of them (issue 15 §1)."""

import json
from datetime import timedelta

import pytest
from django.utils import timezone

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
from zalohub.events.outbound import (
    Attempt,
    Failure,
    Sender,
    Sent,
    register_sender,
    send_outbound,
    unregister_sender,
)
from zalohub.events.processing.queue import sweep_expired_leases
from zalohub.events.processing.retrying import retry_state
from zalohub.sandbox.world import OA_SUPPORT_ID, SON_SUPPORT_USER_ID
from zalohub.zalo import ZaloError, get_client

pytestmark = pytest.mark.django_db
ROUTE = "oa.message.cs"
KIND = "test_notice"
EVENT = "test_send_notice"


def _queue(message: Message) -> ZaloEvent:
    oa = message.oa
    return ZaloEvent.objects.create(
        app_id=oa.app_id,
        oa=oa,
        direction=Direction.OUTBOUND,
        event_name=EVENT,
        dedupe_key=f"notice:{message.pk}:{ZaloEvent.objects.count()}",
        raw_body=json.dumps({"text": message.text}),
        zalo_user_id=message.zalo_user_id,
        processing_state=ProcessingState.QUEUED,
        message=message,
    )


def _call(attempt: Attempt, access_token: str) -> Sent:
    message = attempt.event.message
    sent = get_client().oa.send_message(
        access_token=access_token,
        recipient={"user_id": message.zalo_user_id},
        message={"text": f"[notice] {message.text}"},
    )
    return Sent(msg_id=sent.message_id, sent_ms=sent.sent_time_ms)


def _classify(attempt: Attempt, exc: ZaloError) -> Failure:
    return Failure(category=ErrorCategory.RECIPIENT, text=f"notice refused: {exc}")


@pytest.fixture(params=[False, True], ids=["unknown-not-retried", "unknown-retried"])
def notices(request, connected_oa):
    """A kind registered by this test: notices, Message kind Other, sent as OA text."""
    sender = register_sender(
        Sender(
            kind=KIND,
            event_names=frozenset({EVENT}),
            message_kinds=frozenset({Message.Kind.OTHER}),
            call=_call,
            classify=_classify,
            retry_unknown=request.param,
            resend=_queue,
        )
    )
    yield sender
    unregister_sender(KIND)


def _notice(oa, text: str = "Đơn #88213 đã giao") -> ZaloEvent:
    message = Message.objects.create(
        oa=oa,
        direction=Direction.OUTBOUND,
        zalo_user_id=SON_SUPPORT_USER_ID,
        kind=Message.Kind.OTHER,
        text=text,
        zalo_state=ZaloState.ON_QUEUE,
    )
    return _queue(message)


def _mailbox(sandbox) -> list:
    with sandbox.lock:
        return sandbox.mailbox.sent_messages(oa_id=OA_SUPPORT_ID)


def test_a_registered_kind_is_claimed_retried_and_settled_by_the_same_machine(
    notices, connected_oa, sandbox
):
    sandbox.add_fault(ROUTE, "http_500", times=1)
    event = _notice(connected_oa)
    # It should be nobody else's: the OA message sender's claim does not take it.
    assert send_outbound(event_id=event.pk, worker_id="t", kind="oa_message") == "not claimable"
    # It should retry a 5xx with the row's attempts and next-try time (what the pages show).
    assert send_outbound(event_id=event.pk, worker_id="t") == "retry"
    event.refresh_from_db()
    retrying = retry_state(event)
    assert retrying is not None and retrying.attempts == 1
    assert event.next_attempt_at > timezone.now()
    assert send_outbound(event_id=event.pk, worker_id="t") == "not claimable"  # not due yet
    ZaloEvent.objects.filter(pk=event.pk).update(next_attempt_at=timezone.now())
    # It should then send it once through the kind's own call, and settle the message.
    assert send_outbound(event_id=event.pk, worker_id="t", kind=KIND) == "sent"
    [sent] = _mailbox(sandbox)
    event.refresh_from_db()
    message = event.message
    assert event.processing_state == ProcessingState.PROCESSED
    assert (message.zalo_state, message.zalo_msg_id) == (ZaloState.SENT, sent.message_id)
    assert sent.message == {"text": "[notice] Đơn #88213 đã giao"}
    assert [a.result for a in EventAttempt.objects.filter(event=event)] == [
        EventAttempt.Result.RETRY,
        EventAttempt.Result.OK,
    ]


def test_a_registered_kind_is_failed_by_its_classifier_and_resent_by_its_sender(
    notices, connected_oa, sandbox
):
    sandbox.add_fault(ROUTE, "zalo_error", code=-230, times=1)
    event = _notice(connected_oa)
    assert send_outbound(event_id=event.pk, worker_id="t") == "failed"
    event.refresh_from_db()
    # It should record the refusal as the kind's classifier says.
    assert event.error_category == ErrorCategory.RECIPIENT
    assert event.message.failure_reason.startswith("notice refused")
    # Resend should go through the registry to the kind's sender: a new attempt, sent.
    new = message_resend(message=event.message)
    assert (new.event_name, new.pk > event.pk) == (EVENT, True)
    assert send_outbound(event_id=new.pk, worker_id="t") == "sent"
    assert len(_mailbox(sandbox)) == 1


def test_the_sweeper_recovers_a_registered_kind_as_its_sender_allows(
    notices, connected_oa, sandbox
):
    event = _notice(connected_oa)
    # A worker claimed it, started the call and died; its lease ran out.
    ZaloEvent.objects.filter(pk=event.pk).update(
        processing_state=ProcessingState.PROCESSING,
        claimed_by="dead",
        attempts=1,
        lease_until=timezone.now() - timedelta(seconds=1),
    )
    EventAttempt.objects.create(
        event=event, number=1, claim_token="dead", call_started_at=timezone.now()
    )
    assert sweep_expired_leases() == 1
    event.refresh_from_db()
    if notices.retry_unknown:
        # It should queue it again: the kind says a second call cannot deliver twice.
        assert event.processing_state == ProcessingState.QUEUED
        assert send_outbound(event_id=event.pk, worker_id="t") == "sent"
        assert len(_mailbox(sandbox)) == 1
    else:
        # It should fail it saying the outcome is unknown, and not call Zalo again.
        assert event.processing_state == ProcessingState.ERROR
        assert event.message.zalo_state == ZaloState.FAILED
        assert "unknown" in event.message.failure_reason
        assert send_outbound(event_id=event.pk, worker_id="t") == "not claimable"
        assert _mailbox(sandbox) == []
