"""ZNS delivery receipts read through the typed wire event (zalo.webhook)."""

import pytest
from django.test import Client

from tests.helpers import fixture, post_webhook
from zalohub.events.models import Direction, Message, ZaloEvent, ZaloState
from zalohub.events.processing.queue import drain

pytestmark = pytest.mark.django_db

MSG_ID = "15a0cc0bbb13bd4ce403"  # the fixture's


def test_it_never_dates_a_zns_delivery_after_the_receipt_arrived(zalo_app, connected_oa):
    sent = Message.objects.create(
        oa=connected_oa,
        direction=Direction.OUTBOUND,
        kind=Message.Kind.TEMPLATE,
        zalo_user_id="84912345678",
        zalo_msg_id=MSG_ID,
        zalo_state=ZaloState.SENT,
    )
    # A signed receipt claiming the phone got the message in the year 2100.
    raw = fixture("user_received_message__zns", **{'"1763800003000"': '"4102444800000"'})
    response = post_webhook(Client(), zalo_app.app_id, raw, key=zalo_app.oa_secret_key)
    assert response.status_code == 200, response.content
    drain()
    sent.refresh_from_db()
    receipt = ZaloEvent.objects.get(event_name="user_received_message")
    # It should mark it Received, dated no later than the receipt reached the hub.
    assert sent.zalo_state == ZaloState.RECEIVED
    assert receipt.message_id == sent.pk
    assert sent.delivered_at is not None and sent.delivered_at <= receipt.received_at
