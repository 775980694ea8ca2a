"""The demo's ERP receiver: subscribed by `zalohub demo`, it verifies what the hub sends
with the subscription's secret, also after a rotation, and lists it on its page."""

import httpx
import pytest

from tests.webhooks.receiver import run_deliveries
from zalohub.webhooks.demo_receiver import DemoReceiver, demo_subscription, subscription_secrets
from zalohub.webhooks.models import Subscription
from zalohub.webhooks.services import subscription_rotate_secret, subscription_send_test


@pytest.fixture
def deliver():  # type: ignore[no-untyped-def]
    """Deliveries in a thread of their own, as the worker's are: a browser test earlier in
    the run leaves Playwright's event loop running in this one (the rows are committed:
    a transaction test)."""
    yield from run_deliveries(own_thread=True)


@pytest.mark.django_db(transaction=True)
def test_the_demo_receiver_verifies_what_the_hub_sends(deliver):
    # A port of its own, then the subscription the demo makes for it (once).
    probe = DemoReceiver(lambda: [])
    url = probe.start(port=0)
    probe.stop()
    receiver = DemoReceiver(subscription_secrets(url))
    port = int(url.rsplit(":", 1)[1].split("/")[0])
    assert receiver.start(port=port) == url
    try:
        demo_subscription(url)
        demo_subscription(url)
        (sub,) = Subscription.objects.all()
        subscription_send_test(subscription_id=sub.pk)
        subscription_rotate_secret(subscription_id=sub.pk, overlap_seconds=0)
        subscription_send_test(subscription_id=sub.pk)
        assert deliver() == 2
        # It should verify both, the second with the new secret only.
        assert [g["verified"] for g in receiver.got] == [True, True]
        page = httpx.get(url, trust_env=False).text
        assert "webhook.test" in page and "NOT verified" not in page
    finally:
        receiver.stop()
