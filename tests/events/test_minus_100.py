"""An OA message Zalo refuses with -100 (API.md §2.5: "attachment_id was expired" on the
OA host) fails at once with the OA host's explanation, never the business host's."""

import pytest
from django.utils import timezone, translation

from zalohub.core.stored_text import shown_reason
from zalohub.events.models import Direction, ErrorCategory, Message, ZaloEvent, ZaloState
from zalohub.events.outbound.oa_message import PENDING, message_send, send_outbound
from zalohub.sandbox.world import SON_SUPPORT_USER_ID

pytestmark = pytest.mark.django_db


def _send_due() -> list[str]:
    due = ZaloEvent.objects.filter(
        direction=Direction.OUTBOUND,
        processing_state__in=PENDING,
        next_attempt_at__lte=timezone.now(),
    ).order_by("id")
    return [send_outbound(event_id=pk, worker_id="test") for pk in due.values_list("pk", flat=True)]


def test_an_oa_send_refused_with_minus_100_says_the_upload_expired(connected_oa, sandbox):
    sandbox.add_fault("oa.message.cs", "zalo_error", code=-100, times=1)
    message = message_send(
        oa=connected_oa,
        user_id=SON_SUPPORT_USER_ID,
        kind=Message.Kind.IMAGE,
        attachment={"attachment_id": "expired-upload"},
    )
    # It should fail at once (the same attachment fails again), as a send failure...
    assert _send_due() == ["failed"]
    message.refresh_from_db()
    event = ZaloEvent.objects.get(message=message)
    assert (message.zalo_state, message.failure_code) == (ZaloState.FAILED, -100)
    assert event.error_category == ErrorCategory.SEND and event.attempts == 1
    # ...explained as the OA host's -100, with Zalo's own words kept for the search.
    shown = shown_reason(message, "failure_reason")
    assert shown.startswith("Zalo error -100: The uploaded image or file has expired")
    assert "unknown error" not in shown.lower()
    assert "attachment_id was expired" in message.failure_reason
    with translation.override("vi"):
        assert "đã hết hạn" in shown_reason(message, "failure_reason")
    assert sandbox.call_count("oa.message.cs") == 1
