"""A template's delivery receipt without a tracking id is told by Zalo's ZNS server
header (API.md §3.1/§3.6: ``X-ZEvent-Server: ZNS``, from one source): with it, the
receipt is a ZNS receipt (Received); without it, as before, an OA message's (Delivered)."""

import json
import time

import pytest
from django.test import Client

from tests.helpers import post_webhook
from tests.zbs.conftest import VALUES
from zalohub.events.models import Outcome, ZaloEvent, ZaloState
from zalohub.events.processing.queue import drain
from zalohub.sandbox import payloads
from zalohub.sandbox.world import APP_SUPPORT_ID, OA_SUPPORT_ID, SON_PHONE
from zalohub.zbs.delivery import deliver_template
from zalohub.zbs.sending import template_send

pytestmark = pytest.mark.django_db


def _sent_template(approved, son):
    send = template_send(partner=son, template=approved, params=VALUES, route_policy="phone")
    event = ZaloEvent.objects.get(message=send.message)
    assert deliver_template(event_id=event.pk, worker_id="test") == "sent"
    send.message.refresh_from_db()
    return send.message


def _receipt_without_tracking_id(zalo_app, message, **headers: str) -> ZaloEvent:
    now = str(int(time.time() * 1000))
    payload = payloads.zns_received(
        app_id=APP_SUPPORT_ID,
        oa_id=OA_SUPPORT_ID,
        recipient=SON_PHONE,
        msg_id=message.zalo_msg_id,
        tracking_id="",
        delivery_time=now,
        timestamp=now,
    )
    del payload["message"]["tracking_id"]
    raw = json.dumps(payload)
    answer = post_webhook(Client(), zalo_app.app_id, raw, key=zalo_app.oa_secret_key, **headers)
    assert answer.status_code == 200, answer.content
    drain()
    return ZaloEvent.objects.get(event_name="user_received_message")


def test_the_zns_server_header_makes_it_a_template_receipt(approved, son, zalo_app):
    message = _sent_template(approved, son)
    event = _receipt_without_tracking_id(zalo_app, message, X_ZEVENT_SERVER="ZNS")
    message.refresh_from_db()
    # It should keep the header with the event and read the receipt as ZNS's: Received.
    assert event.headers.get("x-zevent-server") == "ZNS"
    assert message.zalo_state == ZaloState.RECEIVED
    assert event.outcome == Outcome.HANDLED and event.message_id == message.pk


def test_without_the_header_it_stays_an_oa_messages_receipt(approved, son, zalo_app):
    message = _sent_template(approved, son)
    event = _receipt_without_tracking_id(zalo_app, message)
    message.refresh_from_db()
    # It should read it as before: the 1:1 receipt, Delivered.
    assert "x-zevent-server" not in event.headers
    assert message.zalo_state == ZaloState.DELIVERED
    assert event.message_id == message.pk


def test_another_server_header_changes_nothing(approved, son, zalo_app):
    message = _sent_template(approved, son)
    _receipt_without_tracking_id(zalo_app, message, X_ZEVENT_SERVER="OA")
    message.refresh_from_db()
    # It should read only ZNS as the ZNS server's mark.
    assert message.zalo_state == ZaloState.DELIVERED


@pytest.mark.parametrize(
    ("headers", "zns"),
    [
        ({"x-zevent-server": "ZNS"}, True),
        ({"X-ZEvent-Server": " zns "}, True),  # any spelling of the name, as HTTP allows
        ({"x-zevent-server": "OA"}, False),
        ({}, False),
        (None, False),
    ],
)
def test_the_wire_reads_the_header_as_kept_with_the_event(headers, zns):
    from zalohub.events.catalogue import is_zns_receipt
    from zalohub.zalo import webhook

    body = {"event_name": "user_received_message", "message": {"msg_id": "m1"}}
    wire = webhook.parse(body, headers=headers)
    assert wire.zns_server is zns and is_zns_receipt(wire) is zns
