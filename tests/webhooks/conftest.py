from collections.abc import Iterator

import pytest

from tests.webhooks.receiver import Receiver, run_deliveries


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    """A loopback endpoint; its secret is set once the subscription exists."""
    r = Receiver().start()
    yield r
    r.stop()


@pytest.fixture
def subscribe(receiver: Receiver, db):  # type: ignore[no-untyped-def]
    """``subscribe(**fields)``: a subscription to the receiver, whose secret it learns."""
    from zalohub.webhooks.services import subscription_create

    def make(**fields):  # type: ignore[no-untyped-def]
        fields.setdefault("name", "ERP")
        fields.setdefault("url", receiver.url)
        subscription = subscription_create(**fields)
        if receiver.secret:
            receiver.more_secrets.append(receiver.secret)
        receiver.secret = subscription.secret
        return subscription

    return make


@pytest.fixture
def deliver():  # type: ignore[no-untyped-def]
    """``deliver()``: what a worker's delivery loop does, until nothing is due."""
    yield from run_deliveries()


def customer_writes(oa, text: str = "Xin chào"):  # type: ignore[no-untyped-def]
    """A customer's message through the real pipeline: Zalo's signed webhook, the
    worker's batch."""
    import json
    import time

    from django.test import Client

    from tests.helpers import post_webhook
    from zalohub.events.models import Message
    from zalohub.events.processing.queue import drain
    from zalohub.sandbox import payloads
    from zalohub.sandbox.world import OA_SUPPORT_ID, SON_BY_APP, SON_SUPPORT_USER_ID

    app = oa.app
    msg_id = f"in{int(time.time() * 1_000_000) % 10**12:012d}"
    raw = json.dumps(
        payloads.user_send(
            app_id=app.app_id,
            oa_id=OA_SUPPORT_ID,
            user_id=SON_SUPPORT_USER_ID,
            by_app=SON_BY_APP[app.app_id],
            kind="text",
            msg_id=msg_id,
            timestamp=str(int(time.time() * 1000)),
            text=text,
        ),
        ensure_ascii=False,
    )
    answer = post_webhook(Client(), app.app_id, raw, key=app.oa_secret_key)
    assert answer.status_code == 200, answer.content
    drain()
    return Message.objects.get(zalo_msg_id=msg_id)
