"""What Zalo sends beyond messages (issue 16 §12): a rating (``user_feedback``) is stored
in the rated message's conversation; group, call and other events are recorded with their
kind named, never "unknown"."""

import json
import time
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from tests.helpers import post_webhook
from tests.zbs.conftest import Relay
from zalohub.events.models import Direction, Message, Outcome, ZaloEvent
from zalohub.events.processing.handlers import dispatch
from zalohub.inbox.models import Conversation
from zalohub.partners.models import ZaloPartnerLink
from zalohub.sandbox.customers import customer_send_message
from zalohub.sandbox.people import customer_feedback
from zalohub.sandbox.world import OA_SUPPORT_ID, SON_SUPPORT_USER_ID
from zalohub.zalo import catalogue

pytestmark = pytest.mark.django_db

RATED = "7e4c33cfc20b05575c18"


def test_a_rating_is_shown_in_the_rated_messages_conversation(sandbox, connected_oa, admin, agent):
    relay = Relay(sandbox)
    customer_send_message(sandbox, oa_id=OA_SUPPORT_ID, user_id=SON_SUPPORT_USER_ID, text="A")
    relay()
    conversation = Conversation.objects.get(oa=connected_oa, zalo_user_id=SON_SUPPORT_USER_ID)
    # The OA sent Son a rating template (its msg_id is what the feedback names) a minute
    # before he rated it. Zalo stamps the rating in whole milliseconds: a template stored
    # "now" could be later than a rating sent within the same millisecond (CI saw it).
    Message.objects.create(
        created_at=timezone.now() - timedelta(minutes=1),
        oa=connected_oa,
        direction=Direction.OUTBOUND,
        zalo_user_id=SON_SUPPORT_USER_ID,
        partner_link=conversation.partner_link,
        kind=Message.Kind.TEMPLATE,
        zalo_msg_id=RATED,
    )
    customer_feedback(
        sandbox,
        oa_id=OA_SUPPORT_ID,
        msg_id=RATED,
        rate=4,
        note="Tôi rất hài lòng.",
        feedbacks=["Nhân viên vui vẻ"],
        tracking_id="1956",
    )
    relay()
    event = ZaloEvent.objects.get(event_name="user_feedback")
    assert event.outcome == Outcome.HANDLED
    rating = Message.objects.get(events=event)
    # It should be the customer's, in Son's conversation, the rating kept whole.
    assert rating.direction == Direction.INBOUND and rating.zalo_user_id == SON_SUPPORT_USER_ID
    assert rating.text == "★★★★☆ 4/5 · Tôi rất hài lòng. · Nhân viên vui vẻ"
    assert rating.attachments[0]["type"] == "feedback"
    assert rating.attachments[0]["payload"]["tracking_id"] == "1956"
    conversation.refresh_from_db()
    assert conversation.last_message_id == rating.pk
    # Shown on the conversation.
    client = Client()
    client.force_login(admin)
    page = client.get(f"/inbox/c/{conversation.pk}/").content.decode()
    assert "★★★★☆ 4/5 · Tôi rất hài lòng." in page
    # Processed again (Retry Processing): still one.
    dispatch(event)
    assert Message.objects.filter(text__startswith="★★★★☆").count() == 1


def test_a_rating_of_a_message_the_hub_never_sent_is_recorded(sandbox, connected_oa):
    relay = Relay(sandbox)
    customer_feedback(sandbox, oa_id=OA_SUPPORT_ID, msg_id="0" * 20, rate=5)
    relay()
    event = ZaloEvent.objects.get(event_name="user_feedback")
    assert event.outcome == Outcome.RECORDED and event.processing_state == "processed"
    assert not Message.objects.exists()


@pytest.mark.parametrize(
    ("name", "family", "label"),
    [
        ("user_send_group_text", "group", "Group chat (GMF)"),
        ("user_out_group", "group", "Group chat (GMF)"),
        ("user_leave_group", "group", "Group chat (GMF)"),
        ("oa_call_user", "call", "Call"),
        ("anonymous_send_text", "anonymous", "Anonymous chat"),
        ("shop_has_order", "shop", "Shop and extensions"),
        ("event_journey_time_out", "journey", "ZNS journey"),
        ("widget_interaction_accepted", "widget", "Widget"),
    ],
)
def test_group_call_and_other_events_are_recorded_with_their_kind(
    client, zalo_app, connected_oa, auditor, name, family, label
):
    assert catalogue.family(name) == family
    raw = json.dumps(
        {
            "app_id": zalo_app.app_id,
            "oa_id": OA_SUPPORT_ID,
            # A group's or a caller's id where a message's user would be.
            "sender": {"id": "9900000000000000001"},
            "recipient": {"id": OA_SUPPORT_ID},
            "event_name": name,
            "timestamp": str(int(time.time() * 1000)),
        }
    )
    assert post_webhook(client, zalo_app.app_id, raw, key=zalo_app.oa_secret_key).status_code == 200
    from zalohub.events.processing.queue import drain

    drain()
    event = ZaloEvent.objects.get(event_name=name)
    assert event.outcome == Outcome.RECORDED
    # It should make no shadow contact of a group, a caller or an anonymous chat.
    assert not ZaloPartnerLink.objects.exists()
    client.force_login(auditor)
    form = client.get(f"/admin/events/zaloevent/{event.pk}/change/").content.decode()
    assert f"Recorded ({label})" in form
    assert "Unknown event" not in form
