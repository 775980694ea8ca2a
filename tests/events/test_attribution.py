"""Whose event it is: receipts and echoes either way round, and events that came before
their OA was connected (processed once it is authorized, with no Retry)."""

import json

import pytest
from django.test import Client

from tests.helpers import post_webhook
from zalohub.events.models import (
    Direction,
    ErrorCategory,
    Message,
    Outcome,
    ProcessingState,
    ZaloEvent,
    ZaloState,
)
from zalohub.events.processing.queue import drain
from zalohub.partners.models import ZaloPartnerLink
from zalohub.sandbox.world import OA_SUPPORT_ID
from zalohub.zalo import catalogue

pytestmark = pytest.mark.django_db

USER = "7800000000000000101"
WAYS = pytest.mark.parametrize("oa_sends", [True, False], ids=["sender-is-oa", "recipient-is-oa"])


def _payload(name: str, *, oa_sends: bool, message: dict, admin: str = "") -> dict:
    sender, recipient = (OA_SUPPORT_ID, USER) if oa_sends else (USER, OA_SUPPORT_ID)
    payload = {
        "app_id": "2740017350155010001",
        "sender": {"id": sender},
        "recipient": {"id": recipient},
        "event_name": name,
        "message": message,
        "timestamp": "1763800001000",
    }
    if admin:
        payload["sender"]["admin_id"] = admin
    return payload


def _post(app, payload: dict) -> ZaloEvent:
    raw = json.dumps(payload)
    response = post_webhook(Client(), app.app_id, raw, key=app.oa_secret_key)
    assert response.status_code == 200, response.content
    return ZaloEvent.objects.order_by("-id").first()


def _ours(oa, msg_id: str, state: str = ZaloState.SENT, text: str = "Báo giá") -> Message:
    return Message.objects.create(
        oa=oa,
        direction=Direction.OUTBOUND,
        zalo_user_id=USER,
        text=text,
        zalo_msg_id=msg_id,
        zalo_state=state,
    )


def _attributed(event: ZaloEvent, oa) -> None:
    event.refresh_from_db()
    assert event.processing_state == ProcessingState.PROCESSED, event.error_message
    # It should name the OA as the OA and the user as the user, never the other way.
    assert (event.oa_id, event.zalo_user_id) == (oa.pk, USER)
    assert event.conversation_key == f"{OA_SUPPORT_ID}:{USER}"
    assert not ZaloPartnerLink.objects.filter(zalo_user_id=OA_SUPPORT_ID).exists()


@WAYS
@pytest.mark.parametrize(
    ("name", "state"),
    [("user_received_message", ZaloState.DELIVERED), ("user_seen_message", ZaloState.READ)],
)
def test_every_receipt_moves_our_message_either_way_round(
    zalo_app, connected_oa, name, state, oa_sends
):
    assert set(catalogue.RECEIPTS) == {"user_received_message", "user_seen_message"}
    sent = _ours(connected_oa, "m-out-1")
    message = {"msg_ids": ["m-out-1"]} if name == "user_seen_message" else {"msg_id": "m-out-1"}
    message["delivery_time" if name == "user_received_message" else "seen_time"] = "1763800000500"
    event = _post(zalo_app, _payload(name, oa_sends=oa_sends, message=message))
    drain()
    _attributed(event, connected_oa)
    sent.refresh_from_db()
    # It should move our message forward and say which message the receipt was about.
    assert event.outcome == Outcome.HANDLED and event.message_id == sent.pk
    assert sent.zalo_state == state


@WAYS
@pytest.mark.parametrize("name", sorted(catalogue.OA_MESSAGES))
def test_every_echo_confirms_ours_or_keeps_a_foreign_one_either_way_round(
    zalo_app, connected_oa, name, oa_sends
):
    ours = _ours(connected_oa, "ours-1", state=ZaloState.ON_QUEUE)
    echo = _post(zalo_app, _payload(name, oa_sends=oa_sends, message={"msg_id": "ours-1"}))
    tool = _payload(name, oa_sends=oa_sends, message={"msg_id": "tool-1", "text": "Dạ vâng"})
    tool["sender" if oa_sends else "recipient"]["admin_id"] = "9000000000000000001"
    foreign = _post(zalo_app, tool)
    drain()
    _attributed(echo, connected_oa)
    _attributed(foreign, connected_oa)
    ours.refresh_from_db()
    # It should confirm our own message as Sent, and store the one sent from Zalo's tool.
    assert echo.message_id == ours.pk and ours.zalo_state == ZaloState.SENT
    stored = foreign.message
    assert (stored.direction, stored.zalo_user_id, stored.text) == (
        Direction.OUTBOUND,
        USER,
        "Dạ vâng",
    )
    assert Message.objects.count() == 2


def test_an_echo_that_overtakes_our_sends_answer_is_ours(zalo_app, connected_oa):
    # Zalo's echo reached the hub before the worker that sent the message kept its answer.
    ours = _ours(connected_oa, "", state=ZaloState.ON_QUEUE, text="Chào anh")
    other = _ours(connected_oa, "", state=ZaloState.ON_QUEUE, text="Tin khác")
    message = {"text": "Chào anh", "msg_id": "zalo-9"}
    echo = _post(zalo_app, _payload("oa_send_text", oa_sends=True, message=message))
    drain()
    _attributed(echo, connected_oa)
    ours.refresh_from_db()
    other.refresh_from_db()
    # It should take the echo's msg_id for our message instead of storing a copy...
    assert (ours.zalo_msg_id, ours.zalo_state) == ("zalo-9", ZaloState.SENT)
    assert echo.message_id == ours.pk and Message.objects.count() == 2
    assert other.zalo_msg_id == "" and other.zalo_state == ZaloState.ON_QUEUE
    # ... so the answer, kept afterwards, names the same message.
    Message.objects.filter(pk=ours.pk).update(zalo_msg_id="zalo-9")


def test_an_echo_that_matches_two_sends_waits_for_their_answers(zalo_app, connected_oa):
    for _ in range(2):
        _ours(connected_oa, "", state=ZaloState.ON_QUEUE, text="Chào anh")
    message = {"text": "Chào anh", "msg_id": "zalo-9"}
    echo = _post(zalo_app, _payload("oa_send_text", oa_sends=True, message=message))
    drain()
    echo.refresh_from_db()
    # It should neither guess nor store a copy: it waits and tries again.
    assert echo.processing_state == ProcessingState.QUEUED
    assert "several messages" in echo.error_message
    assert not Message.objects.filter(zalo_msg_id="zalo-9").exists()


def test_events_that_came_before_their_oa_are_processed_once_it_is_authorized(zalo_app, request):
    text = {"text": "Xin chào", "msg_id": "u-1"}
    write = _post(zalo_app, _payload("user_send_text", oa_sends=False, message=text))
    tool = _payload("oa_send_text", oa_sends=True, message={"text": "Dạ", "msg_id": "o-1"})
    tool["sender"]["admin_id"] = "9000000000000000001"
    echo = _post(zalo_app, tool)
    seen = {"msg_ids": ["o-1"], "seen_time": "1763800000900"}
    read = _post(zalo_app, _payload("user_seen_message", oa_sends=True, message=seen))
    drain()
    for event in (write, echo, read):
        event.refresh_from_db()
        # It should keep each one, waiting for the OA, and say so.
        assert event.processing_state == ProcessingState.ERROR
        assert event.error_category == ErrorCategory.TOKEN
        assert "processed once the OA is authorized" in event.error_message
    oa = request.getfixturevalue("connected_oa")  # authorized through Zalo's consent page
    assert oa.oa_id == OA_SUPPORT_ID
    # It should process them once the OA is authorized, with nobody pressing Retry.
    assert drain() == 3
    for event in (write, echo, read):
        _attributed(event, oa)
    assert write.message.text == "Xin chào" and write.message.direction == Direction.INBOUND
    assert read.message_id == echo.message_id
    assert echo.message.zalo_state == ZaloState.READ


def test_authorizing_an_oa_leaves_other_oas_waiting_events_alone(zalo_app, request):
    other = _payload("user_send_text", oa_sends=False, message={"text": "?", "msg_id": "x-1"})
    other["recipient"]["id"] = "4310500000000000099"
    waiting = _post(zalo_app, other)
    drain()
    request.getfixturevalue("connected_oa")
    # It should requeue only the events that name the authorized OA.
    assert drain() == 0
    waiting.refresh_from_db()
    assert waiting.processing_state == ProcessingState.ERROR and waiting.oa_id is None


def test_a_receipt_signed_with_the_oa_id_first_is_accepted_either_way_round(zalo_app, connected_oa):
    from zalohub.events.ingestion.receive import forget_cached_lookups

    sent = _ours(connected_oa, "m-out-2")
    payload = _payload("user_received_message", oa_sends=True, message={"msg_id": "m-out-2"})
    raw = json.dumps(payload)
    forget_cached_lookups()  # a fresh process: it knows no OA yet
    # Some sources sign with the OA id first (API.md §3.2): here the OA is the sender.
    response = post_webhook(
        Client(), zalo_app.app_id, raw, key=zalo_app.oa_secret_key, first=OA_SUPPORT_ID
    )
    assert response.status_code == 200, response.content
    event = ZaloEvent.objects.order_by("-id").first()
    assert event.signature_variant == "oa_id"
    drain()
    _attributed(event, connected_oa)
    sent.refresh_from_db()
    assert sent.zalo_state == ZaloState.DELIVERED
