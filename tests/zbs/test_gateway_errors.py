"""A 502/504 from a gateway in front of Zalo after Zalo took a template send: the outcome
is unknown, and Zalo deduplicates by tracking_id, so the send is tried again with the
same id and the customer still gets one message (the sandbox's gateway faults let the
send through, then answer 5xx)."""

import pytest
from django.utils import timezone

from tests.zbs.conftest import VALUES
from zalohub.events.models import EventAttempt, ProcessingState, ZaloEvent, ZaloState
from zalohub.sandbox.world import OA_SUPPORT_ID
from zalohub.zbs.delivery import deliver_template
from zalohub.zbs.models import RoutePolicy, TemplateSend
from zalohub.zbs.sending import template_send

pytestmark = pytest.mark.django_db


def _deliver(send: TemplateSend) -> str:
    return deliver_template(event_id=ZaloEvent.objects.get(message=send.message).pk, worker_id="t")


def _sandbox_sends(sandbox) -> list:
    with sandbox.lock:
        return sandbox.zns.all_sends(OA_SUPPORT_ID)


@pytest.mark.parametrize("mode", ["http_502", "http_504"])
def test_a_gateway_error_retries_with_the_same_tracking_id(approved, son, sandbox, mode):
    sandbox.add_fault("zns.message.template", mode, times=1)
    send = template_send(partner=son, template=approved, params=VALUES, route_policy="phone")
    # It should put the send back in the queue, not fail it...
    assert _deliver(send) == "retry"
    [first] = _sandbox_sends(sandbox)  # Zalo did take it, behind the gateway
    attempt = EventAttempt.objects.get(event__message=send.message)
    assert attempt.result == EventAttempt.Result.RETRY and mode[-3:] in attempt.error_message
    ZaloEvent.objects.filter(processing_state=ProcessingState.QUEUED).update(
        next_attempt_at=timezone.now()
    )
    # ...and the retry, with the same tracking id, should get the first send's id back.
    assert _deliver(send) == "sent"
    assert [s.msg_id for s in _sandbox_sends(sandbox)] == [first.msg_id]
    assert first.tracking_id == send.tracking_id
    send.message.refresh_from_db()
    assert send.message.zalo_state == ZaloState.SENT
    assert send.message.zalo_msg_id == first.msg_id
    assert sandbox.call_count("zns.message.template") == 2


def test_a_gateway_error_on_the_uid_does_not_fall_back_to_the_phone(approved, son, sandbox):
    sandbox.add_fault("oa.message.template", "http_504", times=1)  # the send by UID
    send = template_send(partner=son, template=approved, params=VALUES, route_policy="uid_phone")
    assert send.route == RoutePolicy.UID
    assert _deliver(send) == "retry"
    send.refresh_from_db()
    # It should not send by phone too: the UID send may already have reached the customer.
    assert send.route == RoutePolicy.UID and not send.fell_back
    assert [s.channel for s in _sandbox_sends(sandbox)] == ["uid"]
