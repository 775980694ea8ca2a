"""Inbox fixtures: the agent as a member of the Support OA, customers writing through
signed webhooks, and the worker's share of sending run inline."""

import itertools
import json
import time
from collections.abc import Callable

import pytest
from django.test import Client
from django.utils import timezone

from tests.helpers import post_webhook
from zalohub.accounts.models import OfficialAccount
from zalohub.events.models import Direction, Message, ZaloEvent
from zalohub.events.outbound.oa_message import PENDING, accepted_queue, send_outbound
from zalohub.events.processing.queue import drain
from zalohub.inbox.models import Conversation, OAMembership
from zalohub.sandbox import payloads
from zalohub.sandbox.world import APP_SUPPORT_ID, OA_SUPPORT_ID, SON_BY_APP, SON_SUPPORT_USER_ID

SON = SON_SUPPORT_USER_ID
_ids = itertools.count(1)


@pytest.fixture
def member(agent, connected_oa) -> OAMembership:
    return OAMembership.objects.create(user=agent, oa=connected_oa)


@pytest.fixture
def other_oa(zalo_app) -> OfficialAccount:
    return OfficialAccount.objects.create(app=zalo_app, name="Sales", oa_id="4310500000000009999")


def user_payload(
    text: str = "Xin chào",
    *,
    kind: str = "text",
    user_id: str = SON,
    attachment=None,
    stamp: int | None = None,  # when Zalo says it was sent (ms); else now
) -> str:
    stamp = str(stamp if stamp is not None else int(time.time() * 1000))
    payload = payloads.user_send(
        app_id=APP_SUPPORT_ID,
        oa_id=OA_SUPPORT_ID,
        user_id=user_id,
        by_app=SON_BY_APP[APP_SUPPORT_ID] if user_id == SON else f"by-{user_id}",
        kind=kind,
        msg_id=f"in{next(_ids):016d}{int(time.time() * 1000) % 10000}",
        timestamp=stamp,
        text=text,
        attachment=attachment,
    )
    return json.dumps(payload, ensure_ascii=False)


@pytest.fixture
def customer_writes(zalo_app, connected_oa) -> Callable[..., Message]:
    """A customer's message arrives as Zalo delivers it, and the worker processes it."""

    def write(text: str = "Xin chào", **kwargs) -> Message:
        raw = user_payload(text, **kwargs)
        response = post_webhook(Client(), zalo_app.app_id, raw, key=zalo_app.oa_secret_key)
        assert response.status_code == 200, response.content
        drain()
        msg_id = json.loads(raw)["message"]["msg_id"]
        return Message.objects.get(zalo_msg_id=msg_id)

    return write


def out_of_order(customer_writes, between: Callable[[], object]) -> tuple[Message, Message]:
    """Son writes "Tin một", "Tin ba", then (after ``between``) "Tin hai", sent a second
    before the third but delivered after it (Zalo's retry, say): (first, second)."""
    now = int(time.time() * 1000)
    first = customer_writes("Tin một", stamp=now - 3000)
    customer_writes("Tin ba", stamp=now - 1000)
    between()
    return first, customer_writes("Tin hai", stamp=now - 2000)


def send_due() -> list[str]:
    """What the workers' sends loop does, for every send that is due now: the API sends
    accepted as their event alone are queued first (``oa_message.accepted_queue``)."""
    accepted_queue()
    due = ZaloEvent.objects.filter(
        direction=Direction.OUTBOUND,
        processing_state__in=PENDING,
        next_attempt_at__lte=timezone.now(),
    ).order_by("id")
    return [send_outbound(event_id=pk, worker_id="test") for pk in due.values_list("pk", flat=True)]


def conversation_of(user_id: str = SON) -> Conversation:
    return Conversation.objects.select_related("oa", "partner_link__partner").get(
        zalo_user_id=user_id
    )
