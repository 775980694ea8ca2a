"""A reply obeys the reply window the thread shows (issue 16 §11): Zalo's per-user quota
(the sandbox on loopback) decides where it answers, the local computation where it does
not, and a refusal says which of the two refused. One quota call serves the thread and
the send."""

import time
from datetime import timedelta

import pytest
from django.core.cache import cache
from django.test import Client
from django.utils import timezone, translation

from tests.inbox.conftest import SON, conversation_of, send_due
from zalohub.apilog.models import ApiLog
from zalohub.events.models import Direction, Message
from zalohub.events.outbound.oa_message import SendRefused
from zalohub.inbox import services
from zalohub.inbox.models import Conversation
from zalohub.partners.models import ZaloPartnerLink
from zalohub.sandbox.world import OA_SUPPORT_ID

pytestmark = pytest.mark.django_db
QUOTA = "oa.quota.message"


@pytest.fixture(autouse=True)
def _fresh_cache():
    cache.clear()
    yield
    cache.clear()


def _hub_saw_last(conversation: Conversation, days: float) -> Conversation:
    """The hub's own record: the customer's last interaction ``days`` ago."""
    when = timezone.now() - timedelta(days=days)
    Conversation.objects.filter(pk=conversation.pk).update(last_inbound_at=when)
    ZaloPartnerLink.objects.filter(pk=conversation.partner_link_id).update(last_interaction_at=when)
    return conversation_of(conversation.zalo_user_id)


def _zalo_saw_last(sandbox, days: float) -> None:
    """Zalo's record (what its quota answers from): the last interaction ``days`` ago."""
    sandbox.users[OA_SUPPORT_ID][SON]["last_interaction"] = int(time.time() - days * 86400)


def _sent_texts(sandbox) -> list[str]:
    with sandbox.lock:
        return [m.message.get("text", "") for m in sandbox.mailbox.sent_messages()]


def _outbound() -> int:
    return Message.objects.filter(direction=Direction.OUTBOUND).count()


def test_a_free_reply_zalo_confirms_goes_though_the_hub_counts_it_closed(
    customer_writes, agent, sandbox
):
    customer_writes()
    conversation = _hub_saw_last(conversation_of(), 8)  # locally: closed (-230)
    _zalo_saw_last(sandbox, 1 / 24)  # Zalo: an hour ago, a free reply left
    message = services.conversation_reply(conversation=conversation, actor=agent, text="Dạ có ạ")
    # It should queue it on Zalo's word, and Zalo should take it.
    assert send_due() == ["sent"]
    assert _sent_texts(sandbox) == ["Dạ có ạ"]
    assert message.sent_by == agent
    assert sandbox.call_count(QUOTA) == 1


def test_a_window_zalo_says_is_closed_refuses_the_reply_with_zalos_reason(
    customer_writes, agent, sandbox
):
    customer_writes()  # locally: the customer just wrote, a free reply
    _zalo_saw_last(sandbox, 8)  # Zalo: nothing for 8 days, no reply left
    conversation = conversation_of()
    # It should refuse before sending anything, saying Zalo's quota refused it.
    with pytest.raises(SendRefused) as refused:
        services.conversation_reply(conversation=conversation, actor=agent, text="Chào anh")
    said = str(refused.value)
    assert said.startswith("Zalo's quota for this customer says the reply window is closed")
    assert "-230" in said and "template" in said and "computed here" not in said
    assert _outbound() == 0 and _sent_texts(sandbox) == []
    # ...in the agent's language too.
    with translation.override("vi"), pytest.raises(SendRefused) as refused_vi:
        services.conversation_reply(conversation=conversation, actor=agent, text="Chào anh")
    assert str(refused_vi.value).startswith("Hạn mức của Zalo cho khách hàng này")
    # Both refusals read the one cached answer.
    assert sandbox.call_count(QUOTA) == 1


def test_without_zalos_answer_the_local_window_refuses_and_says_so(customer_writes, agent, sandbox):
    customer_writes()
    conversation = _hub_saw_last(conversation_of(), 8)
    _zalo_saw_last(sandbox, 1 / 24)  # Zalo would allow it, but its quota does not answer
    sandbox.add_fault(QUOTA, "zalo_error", code=-32, times=5)
    # It should refuse by the local computation, and say that is what refused it and why.
    with pytest.raises(SendRefused, match="-230") as refused:
        services.conversation_reply(conversation=conversation, actor=agent, text="Chào")
    said = str(refused.value)
    assert said.startswith("The reply window is closed")
    assert "(computed here: Zalo's quota did not answer: Zalo error -32" in said
    assert _outbound() == 0
    assert ApiLog.objects.filter(endpoint=QUOTA, error_code=-32).count() == 1


def test_without_zalos_answer_an_open_local_window_lets_the_reply_go(
    customer_writes, agent, sandbox
):
    customer_writes()
    sandbox.add_fault(QUOTA, "http_503", times=5)
    services.conversation_reply(conversation=conversation_of(), actor=agent, text="Vâng ạ")
    # It should send on the local computation (a free window) when Zalo does not answer.
    assert send_due() == ["sent"]
    assert _sent_texts(sandbox) == ["Vâng ạ"]


def test_the_thread_and_the_send_share_one_decision_and_one_call(
    member, agent, customer_writes, sandbox
):
    customer_writes()
    _zalo_saw_last(sandbox, 8)
    conversation = conversation_of()
    client = Client()
    client.force_login(agent)
    page = client.get(f"/inbox/c/{conversation.pk}/").content.decode()
    # It should show the window closed, on Zalo's word...
    assert 'data-band="closed"' in page and 'data-source="zalo"' in page
    answer = client.post(f"/inbox/c/{conversation.pk}/reply/", {"text": "Chào anh"})
    # ...and refuse the reply for the same reason, without asking Zalo again.
    assert answer.status_code == 400
    assert answer.json()["error"].startswith("Zalo's quota for this customer")
    assert sandbox.call_count(QUOTA) == 1
    assert _outbound() == 0
