"""Conversation history (issue 16 §9): on connection and on demand the hub reads the
OA's recent conversations from Zalo (the sandbox on loopback) and stores each message
once, whatever arrives later by webhook."""

import json

import pytest
from django.test import Client
from django_tasks_db.models import DBTaskResult

from tests.helpers import consent
from tests.zbs.conftest import Relay
from zalohub.accounts.models import OfficialAccount
from zalohub.accounts.oauth import oauth_complete, oauth_start
from zalohub.apilog.models import ApiLog
from zalohub.events.history import backfill_history, oa_backfill_history
from zalohub.events.models import Direction, Message, ZaloState
from zalohub.inbox.models import Conversation
from zalohub.partners.models import ZaloPartnerLink
from zalohub.sandbox.customers import customer_send_message
from zalohub.sandbox.world import OA_SUPPORT_ID, SON_SUPPORT_USER_ID

pytestmark = pytest.mark.django_db

MAI = "5830174629118340317"


def _talk(sandbox, connected_oa) -> tuple[str, str]:
    """Mai and Son wrote to the OA before the hub knew it; the OA answered Mai."""
    from zalohub.accounts.tokens import oa_access_token
    from zalohub.zalo import get_client

    asked = customer_send_message(sandbox, oa_id=OA_SUPPORT_ID, user_id=MAI, text="Giá bao nhiêu?")
    sandbox.advance_clock(2)
    answer = get_client().oa.send_message(
        access_token=oa_access_token(oa=connected_oa),
        recipient={"user_id": MAI},
        message={"text": "Dạ 200.000đ"},
    )
    sandbox.advance_clock(2)
    customer_send_message(sandbox, oa_id=OA_SUPPORT_ID, user_id=SON_SUPPORT_USER_ID, text="Alo")
    return asked.msg_id, answer.message_id


def test_backfill_stores_recent_conversations_once(zalo_app, connected_oa, sandbox):
    asked, answered = _talk(sandbox, connected_oa)
    result = oa_backfill_history(oa=connected_oa)
    assert (result.conversations, result.stored, result.known, result.errors) == (2, 3, 0, [])
    mai = Message.objects.filter(zalo_user_id=MAI).order_by("created_at")
    # It should store both sides of Mai's conversation, in order, with Zalo's ids.
    assert [(m.zalo_msg_id, m.direction, m.text) for m in mai] == [
        (asked, Direction.INBOUND, "Giá bao nhiêu?"),
        (answered, Direction.OUTBOUND, "Dạ 200.000đ"),
    ]
    assert mai[1].zalo_state == ZaloState.SENT
    # ...link the users met for the first time, named from the history at once...
    link = ZaloPartnerLink.objects.get(zalo_user_id=MAI)
    assert link.display_name == "Trần Thị Mai" and mai[0].partner_link_id == link.pk
    # ...and fill the inbox (the conversations follow stored messages).
    assert Conversation.objects.filter(oa=connected_oa).count() == 2
    conversation = Conversation.objects.get(oa=connected_oa, zalo_user_id=MAI)
    assert conversation.last_message_id == mai[1].pk
    # Every call went through the transport: the API log has them.
    assert ApiLog.objects.filter(endpoint="oa.listrecentchat", oa=connected_oa).exists()
    assert ApiLog.objects.filter(endpoint="oa.conversation", oa=connected_oa).count() == 2
    # Again: nothing new is stored.
    again = oa_backfill_history(oa=connected_oa)
    assert (again.stored, again.known) == (0, 3) and Message.objects.count() == 3


def test_a_message_that_arrives_later_by_webhook_is_not_stored_twice(
    zalo_app, connected_oa, sandbox
):
    _talk(sandbox, connected_oa)
    oa_backfill_history(oa=connected_oa)
    # Zalo now delivers the same messages' webhooks (late, or a redelivery): the relay
    # carries every delivery the sandbox signed into the hub.
    relay = Relay(sandbox)
    answers = relay()
    assert answers and all(a.status_code == 200 for a in answers)
    assert Message.objects.count() == 3
    assert Message.objects.filter(zalo_user_id=MAI, direction=Direction.INBOUND).count() == 1


def test_history_first_then_webhook_and_webhook_first_then_history(zalo_app, connected_oa, sandbox):
    relay = Relay(sandbox)
    # Son writes; the webhook is processed first.
    customer_send_message(sandbox, oa_id=OA_SUPPORT_ID, user_id=SON_SUPPORT_USER_ID, text="A")
    relay()
    assert Message.objects.count() == 1
    # The history then names the same message: known, not stored again.
    result = oa_backfill_history(oa=connected_oa)
    assert (result.stored, result.known) == (0, 1)


def test_connecting_an_oa_loads_its_history_in_the_background(
    zalo_app, sandbox, settings, django_capture_on_commit_callbacks
):
    settings.HISTORY_ON_CONNECT = True
    customer_send_message(sandbox, oa_id=OA_SUPPORT_ID, user_id=MAI, text="Xin chào")
    oa = OfficialAccount.objects.create(app=zalo_app, name="Support")
    with django_capture_on_commit_callbacks(execute=True):
        oa = oauth_complete(app_id=zalo_app.app_id, params=consent(oauth_start(oa=oa)))
    task = DBTaskResult.objects.get(task_path__endswith="backfill_history")
    assert task.args_kwargs["args"] == [oa.pk]
    # The worker's run of it.
    assert backfill_history.call(oa.pk).startswith("1 conversation(s), 1 message(s) stored")
    assert Message.objects.get(zalo_user_id=MAI).text == "Xin chào"


def test_load_zalo_history_button(admin, agent, zalo_app, connected_oa, sandbox):
    client = Client()
    client.force_login(admin)
    form = client.get(f"/admin/accounts/officialaccount/{connected_oa.pk}/change/")
    assert f"/admin/events/zaloevent/history/{connected_oa.pk}/" in form.content.decode()
    page = client.get(f"/admin/events/zaloevent/history/{connected_oa.pk}/")
    assert page.status_code == 200 and 'id="btn-load-history"' in page.content.decode()
    assert client.post(f"/admin/events/zaloevent/history/{connected_oa.pk}/").status_code == 302
    task = DBTaskResult.objects.get(task_path__endswith="backfill_history")
    assert json.loads(json.dumps(task.args_kwargs))["args"] == [connected_oa.pk]
    # An agent may not.
    other = Client()
    other.force_login(agent)
    assert other.get(f"/admin/events/zaloevent/history/{connected_oa.pk}/").status_code == 403
