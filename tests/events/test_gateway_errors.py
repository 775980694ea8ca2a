"""A 502/504 from a gateway in front of Zalo, after Zalo took the message: the outcome is
unknown, so an OA message is not sent again on its own (it may already be on the
customer's phone). The sandbox's gateway faults let the send through, then answer 5xx.
"""

import pytest
from django.utils import timezone

from zalohub.events.actions import message_resend
from zalohub.events.models import (
    Direction,
    ErrorCategory,
    Message,
    ProcessingState,
    ZaloEvent,
    ZaloState,
)
from zalohub.events.outbound.oa_message import PENDING, message_send, send_outbound
from zalohub.sandbox.world import OA_SUPPORT_ID, SON_SUPPORT_USER_ID
from zalohub.zalo import ZaloError, get_client

ROUTE = "oa.message.cs"


def _send_due() -> list[str]:
    due = ZaloEvent.objects.filter(
        direction=Direction.OUTBOUND,
        processing_state__in=PENDING,
        next_attempt_at__lte=timezone.now(),
    ).order_by("id")
    return [send_outbound(event_id=pk, worker_id="test") for pk in due.values_list("pk", flat=True)]


def _time_passes() -> None:
    ZaloEvent.objects.filter(processing_state=ProcessingState.QUEUED).update(
        next_attempt_at=timezone.now()
    )


def _delivered(sandbox) -> int:
    with sandbox.lock:
        return len(sandbox.mailbox.sent_messages(oa_id=OA_SUPPORT_ID))


@pytest.mark.django_db
@pytest.mark.parametrize("mode", ["http_502", "http_504"])
def test_a_gateway_error_after_the_send_is_not_resent_blindly(connected_oa, sandbox, mode):
    sandbox.add_fault(ROUTE, mode, times=1)
    message = message_send(oa=connected_oa, user_id=SON_SUPPORT_USER_ID, text="Báo giá #88213")
    assert _send_due() == ["failed"]
    message.refresh_from_db()
    event = ZaloEvent.objects.get(message=message)
    # Zalo took the message behind the gateway: the customer has it once.
    assert _delivered(sandbox) == 1
    # It should say the outcome is unknown, and not try again on its own.
    assert message.zalo_state == ZaloState.FAILED
    assert "unknown" in message.failure_reason and mode[-3:] in message.failure_reason
    assert event.processing_state == ProcessingState.ERROR
    assert event.error_category == ErrorCategory.SEND
    _time_passes()
    assert _send_due() == []
    assert sandbox.call_count(ROUTE) == 1 and _delivered(sandbox) == 1
    # It should send again only when a person asks for it.
    message_resend(message=Message.objects.get(pk=message.pk))
    assert _send_due() == ["sent"] and _delivered(sandbox) == 2


@pytest.mark.django_db
def test_a_gateway_error_is_an_unknown_outcome_and_other_5xx_are_not(connected_oa, sandbox):
    token = connected_oa.access_token
    # It should classify 502 and 504 as "may have happened", like a timeout...
    for mode, status in (("http_502", 502), ("http_504", 504)):
        sandbox.add_fault("oa.getoa", mode, times=1)
        with pytest.raises(ZaloError) as caught:
            get_client().oa.get_oa_profile(access_token=token)
        assert caught.value.http_status == status
        assert caught.value.outcome_unknown and caught.value.retryable
    # ...and 500/503 (refused before any work) as safe to try again.
    for mode in ("http_500", "http_503"):
        sandbox.add_fault("oa.getoa", mode, times=1)
        with pytest.raises(ZaloError) as caught:
            get_client().oa.get_oa_profile(access_token=token)
        assert caught.value.retryable and not caught.value.outcome_unknown
