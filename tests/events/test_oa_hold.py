"""Zalo's -227 (the account banned or inactive): the OA's sends are held in a retryable
state, its health is red with the code's category and next step, and the first send
Zalo accepts again lifts the hold (issue 16 §7). The sandbox answers -227 through its
fault switch, over real HTTP on loopback; time moves by editing rows."""

from datetime import timedelta

import pytest
from django.utils import timezone

from zalohub.accounts.models import OfficialAccount
from zalohub.diagnostics.services import health_refresh
from zalohub.events.models import (
    Direction,
    ErrorCategory,
    EventAttempt,
    Message,
    ProcessingState,
    ZaloEvent,
    ZaloState,
)
from zalohub.events.outbound.oa_message import PENDING, message_send, send_outbound
from zalohub.sandbox.world import OA_SUPPORT_ID, SON_SUPPORT_USER_ID

pytestmark = pytest.mark.django_db
ROUTE = "oa.message.cs"
MAI = "5830174629118340317"  # another customer of the Support OA, in the 7-day window


def _send_due() -> list[str]:
    due = ZaloEvent.objects.filter(
        direction=Direction.OUTBOUND,
        processing_state__in=PENDING,
        next_attempt_at__lte=timezone.now(),
    ).order_by("id")
    return [send_outbound(event_id=pk, worker_id="test") for pk in due.values_list("pk", flat=True)]


def _event(message: Message) -> ZaloEvent:
    return ZaloEvent.objects.filter(message=message).latest("id")


def _hold_ends(oa: OfficialAccount) -> None:
    past = timezone.now() - timedelta(seconds=1)
    OfficialAccount.objects.filter(pk=oa.pk).update(sends_held_until=past)
    ZaloEvent.objects.filter(processing_state=ProcessingState.QUEUED).update(next_attempt_at=past)


def _mailbox(sandbox) -> list:  # type: ignore[no-untyped-def]
    with sandbox.lock:
        return sandbox.mailbox.sent_messages(oa_id=OA_SUPPORT_ID)


def test_minus_227_holds_every_send_of_the_oa_until_zalo_accepts_again(sandbox, connected_oa):
    sandbox.add_fault(ROUTE, "zalo_error", code=-227, times=1)
    first = message_send(oa=connected_oa, user_id=SON_SUPPORT_USER_ID, text="Đơn hàng #1")
    assert _send_due() == ["held"]
    connected_oa.refresh_from_db()
    # It should hold the OA, with Zalo's code, for the hold's length.
    assert connected_oa.sends_held_code == -227
    assert connected_oa.sends_held_until > timezone.now() + timedelta(minutes=14)
    # It should keep the message On Queue and its event retryable, no attempt spent.
    first.refresh_from_db()
    event = _event(first)
    assert first.zalo_state == ZaloState.ON_QUEUE
    assert event.processing_state == ProcessingState.QUEUED and event.attempts == 0
    assert "-227" in event.error_message
    assert EventAttempt.objects.get(event=event).error_code == -227
    # It should hold the OA's next send without calling Zalo.
    calls = sandbox.call_count(ROUTE)
    second = message_send(oa=connected_oa, user_id=MAI, text="Đơn hàng #2")
    assert _send_due() == ["held"]
    assert sandbox.call_count(ROUTE) == calls
    assert "sends are held" in _event(second).error_message
    # It should turn the OA's health red with the code's category and its own step.
    sends = health_refresh(oa=connected_oa).check("sends")
    assert sends.level == "red", sends.summary
    assert sends.category == ErrorCategory.SEND
    assert "-227" in sends.summary and "2 message(s) wait" in sends.summary
    assert "oa.zalo.me" in sends.next_step
    # When the hold ends, the sends go; the first one Zalo accepts lifts the hold.
    _hold_ends(connected_oa)
    assert _send_due() == ["sent", "sent"]
    connected_oa.refresh_from_db()
    assert connected_oa.sends_held_code is None and connected_oa.sends_held_until is None
    for message in (first, second):
        message.refresh_from_db()
        assert message.zalo_state == ZaloState.SENT
    assert len(_mailbox(sandbox)) == 2
    assert health_refresh(oa=connected_oa).check("sends").level == "green"


def test_zalo_refusing_again_after_the_hold_holds_the_oa_again(sandbox, connected_oa):
    sandbox.add_fault(ROUTE, "zalo_error", code=-227, times=2)
    message = message_send(oa=connected_oa, user_id=SON_SUPPORT_USER_ID, text="Xin chào")
    assert _send_due() == ["held"]
    _hold_ends(connected_oa)
    # Still banned: held again, never failed, the attempts budget untouched.
    assert _send_due() == ["held"]
    connected_oa.refresh_from_db()
    assert connected_oa.sends_held_until > timezone.now()
    message.refresh_from_db()
    assert message.zalo_state == ZaloState.ON_QUEUE and _event(message).attempts == 0
    _hold_ends(connected_oa)
    assert _send_due() == ["sent"]


def test_a_minus_227_that_stays_with_one_customer_fails_that_message_alone(sandbox, connected_oa):
    sandbox.add_fault(ROUTE, "zalo_error", code=-227, times=1)
    stuck = message_send(oa=connected_oa, user_id=SON_SUPPORT_USER_ID, text="Xin chào")
    assert _send_due() == ["held"]
    # The hold ends and another customer's message is accepted: the OA works.
    OfficialAccount.objects.filter(pk=connected_oa.pk).update(
        sends_held_until=timezone.now() - timedelta(seconds=1)
    )
    other = message_send(oa=connected_oa, user_id=MAI, text="Xin chào chị")
    assert _send_due() == ["sent"]
    # The first message meets -227 again: it is about that customer, not the OA.
    sandbox.add_fault(ROUTE, "zalo_error", code=-227, times=1)
    _hold_ends(connected_oa)
    assert _send_due() == ["failed"]
    stuck.refresh_from_db()
    other.refresh_from_db()
    connected_oa.refresh_from_db()
    assert stuck.zalo_state == ZaloState.FAILED and stuck.failure_code == -227
    assert "about this customer" in _event(stuck).error_message
    assert other.zalo_state == ZaloState.SENT
    assert connected_oa.sends_held_code is None


def test_the_sandbox_can_ban_the_oa_until_undone(sandbox, connected_oa):
    from zalohub.sandbox.scenarios import scenario_apply, scenario_undo

    # The sandbox's scenario answers the OA's message sends with -227 until undone.
    assert scenario_apply(sandbox, "oa_banned", {})["category"] == "send"
    message = message_send(oa=connected_oa, user_id=SON_SUPPORT_USER_ID, text="Xin chào")
    assert _send_due() == ["held"]
    _hold_ends(connected_oa)
    assert _send_due() == ["held"]
    scenario_undo(sandbox, "oa_banned", {})
    _hold_ends(connected_oa)
    assert _send_due() == ["sent"]
    message.refresh_from_db()
    assert message.zalo_state == ZaloState.SENT
