"""ZNS delivery receipts read through the typed wire event (zalo.webhook): the OA that
sent the template attributed whichever side the receipt names it on, the send matched
only among that OA's."""

import pytest
from django.test import Client

from tests.helpers import fixture, post_webhook
from tests.zbs.conftest import VALUES
from zalohub.accounts.models import OfficialAccount
from zalohub.events.models import Direction, Message, Outcome, ZaloEvent, ZaloState
from zalohub.events.processing.queue import drain
from zalohub.partners.models import ZaloPartnerLink
from zalohub.sandbox import reviewer
from zalohub.sandbox.world import OA_SUPPORT_ID, SON_PHONE
from zalohub.zbs.delivery import deliver_template
from zalohub.zbs.sending import template_send

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


@pytest.mark.parametrize("side", ["oa", "user"])
def test_a_zns_receipt_attributes_its_oa_either_way_round(approved, son, sandbox, relay, side):
    # Zalo sends it as sender = OA, recipient = phone; sources disagree: either way.
    sandbox.webhooks.config.update(receipt_sender=side)
    send = template_send(partner=son, template=approved, params=VALUES, route_policy="phone")
    outbound = ZaloEvent.objects.get(message=send.message)
    assert deliver_template(event_id=outbound.pk, worker_id="test") == "sent"
    reviewer.deliver_all(sandbox)
    relay("user_received_message")
    send.message.refresh_from_db()
    receipt = ZaloEvent.objects.get(event_name="user_received_message")
    raw = receipt.raw_body
    assert (f'"sender":{{"id":"{OA_SUPPORT_ID}"}}' in raw) == (side == "oa")
    # It should match the send, attribute the OA and take the phone for the recipient...
    assert send.message.zalo_state == ZaloState.RECEIVED
    assert (receipt.message_id, receipt.oa_id) == (send.message.pk, approved.oa_id)
    assert receipt.zalo_user_id == SON_PHONE
    # ... and never store the OA's id as a customer.
    assert not ZaloPartnerLink.objects.filter(zalo_user_id=OA_SUPPORT_ID).exists()


def test_a_tracking_id_is_matched_only_within_the_oa_that_sent_it(approved, son, sandbox):
    send = template_send(partner=son, template=approved, params=VALUES, route_policy="phone")
    outbound = ZaloEvent.objects.get(message=send.message)
    assert deliver_template(event_id=outbound.pk, worker_id="test") == "sent"
    send.message.refresh_from_db()
    other = OfficialAccount.objects.create(
        app=approved.oa.app, name="Other OA", oa_id="4310500000000000077"
    )
    # Another OA of the same app claims the send's tracking id and msg id.
    raw = (
        fixture("user_received_message__zns")
        .replace("4310500000000000001", other.oa_id)
        .replace("order-88213", send.tracking_id)
        .replace(MSG_ID, send.message.zalo_msg_id)
    )
    response = post_webhook(
        Client(), approved.oa.app.app_id, raw, key=approved.oa.app.oa_secret_key
    )
    assert response.status_code == 200, response.content
    drain()
    receipt = ZaloEvent.objects.get(event_name="user_received_message")
    send.message.refresh_from_db()
    # It should keep the receipt as its OA's, unmatched, and leave the send alone.
    assert (receipt.oa_id, receipt.outcome) == (other.pk, Outcome.RECORDED)
    assert receipt.message_id is None
    assert send.message.zalo_state == ZaloState.SENT
