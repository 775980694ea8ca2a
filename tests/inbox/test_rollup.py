"""Conversation rows follow the messages the pipeline stores, both ways."""

from datetime import timedelta

from zalohub.events.models import Direction, Message, ZaloState
from zalohub.events.outbound.oa_message import message_send
from zalohub.inbox import live
from zalohub.inbox.models import Conversation
from zalohub.inbox.rollup import message_stored

from .conftest import SON, conversation_of


def test_it_opens_a_conversation_when_a_customer_writes(db, connected_oa, customer_writes):
    message = customer_writes("Cho tôi hỏi giá")
    conversation = conversation_of()
    # It should keep the last message, its time, the unread count and the partner link.
    assert conversation.oa == connected_oa
    assert conversation.last_message == message
    assert conversation.last_message_at == message.created_at
    assert conversation.last_inbound_at == message.created_at
    assert conversation.unread_count == 1
    assert conversation.partner_link == message.partner_link is not None
    customer_writes("Còn hàng không?")
    # It should count every inbound message as unread until someone reads it.
    assert conversation_of().unread_count == 2
    assert Conversation.objects.count() == 1


def test_it_moves_the_last_message_but_not_unread_on_a_reply(db, connected_oa, customer_writes):
    inbound = customer_writes("Xin chào")
    reply = message_send(oa=connected_oa, user_id=SON, text="Chào anh")
    conversation = conversation_of()
    # It should show the reply as the last message, and leave unread and the window alone.
    assert conversation.last_message == reply
    assert conversation.unread_count == 1
    assert conversation.last_inbound_at == inbound.created_at


def test_it_keeps_the_newest_message_when_an_older_one_arrives_late(db, connected_oa):
    newest = message_send(oa=connected_oa, user_id=SON, text="mới")
    late = Message.objects.create(
        oa=connected_oa,
        direction=Direction.INBOUND,
        zalo_user_id=SON,
        text="cũ",
        created_at=newest.created_at - timedelta(hours=1),
    )
    conversation = conversation_of()
    # It should not let a late, older message hide the newer one...
    assert conversation.last_message == newest
    # ...but still count it and open the window from it.
    assert conversation.unread_count == 1
    assert conversation.last_inbound_at == late.created_at


def test_it_ignores_a_message_without_a_user(db, connected_oa):
    message = Message(oa=connected_oa, direction=Direction.INBOUND, zalo_user_id="")
    message_stored(message)
    # It should not invent a conversation for a message nobody sent.
    assert not Conversation.objects.exists()


def test_it_wakes_live_pages_once_the_message_is_committed(
    django_capture_on_commit_callbacks, connected_oa
):
    notifier = live.get_notifier()
    before = notifier.generation
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        message_send(oa=connected_oa, user_id=SON, text="Chào anh")
    # It should wake the streams of the OA after commit, not while the row is invisible.
    assert callbacks
    assert notifier.wait(before, [connected_oa.pk], timeout=2.0) > before


def test_it_wakes_live_pages_on_receipts(
    db, connected_oa, customer_writes, zalo_app, django_capture_on_commit_callbacks
):
    from tests.helpers import fixture, post_webhook
    from zalohub.events.processing.queue import drain

    customer_writes("Xin chào")
    reply = message_send(oa=connected_oa, user_id=SON, text="Chào anh")
    Message.objects.filter(pk=reply.pk).update(zalo_state=ZaloState.SENT, zalo_msg_id="out-1")
    raw = fixture("user_seen_message__oa", REPLACE_MSG_ID="out-1").replace(
        "7800000000000000101", SON
    )
    from django.test import Client

    post_webhook(Client(), zalo_app.app_id, raw, key=zalo_app.oa_secret_key)
    notifier = live.get_notifier()
    before = notifier.generation
    with django_capture_on_commit_callbacks(execute=True):
        drain()
    reply.refresh_from_db()
    # It should wake the thread when a receipt moves a message on (no signal fires).
    assert reply.zalo_state == ZaloState.READ
    assert notifier.generation > before
