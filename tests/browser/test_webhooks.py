"""The subscription admin in Chromium: a Zalo Admin presses Send test event, reads the
delivery in the log with its attempt, and replays one delivery and a time range; the
receiver (loopback) verifies every request."""

import pytest

from tests.webhooks.receiver import Receiver, run_deliveries
from zalohub.webhooks.models import Delivery
from zalohub.webhooks.services import subscription_create

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def receiver():  # type: ignore[no-untyped-def]
    r = Receiver().start()
    yield r
    r.stop()


@pytest.fixture
def deliver():  # type: ignore[no-untyped-def]
    yield from run_deliveries(own_thread=True)


def test_send_test_event_and_replay(admin_page, live_server, receiver, deliver, output_dir):
    sub = subscription_create(name="Odoo", url=receiver.url)
    receiver.secret = sub.secret
    page = admin_page("en")
    page.goto(f"{live_server.url}/admin/webhooks/subscription/{sub.pk}/change/")
    # The secret is shown to copy into the receiver.
    assert page.locator("#webhook-secret").inner_text() == sub.secret

    page.click("#btn-send-test")
    page.wait_for_selector(".messagelist .success")
    assert "A test event" in page.locator(".messagelist").inner_text()
    assert deliver() == 1
    (arrival,) = receiver.arrivals
    assert arrival.verified and arrival.payload["type"] == "webhook.test"

    # The delivery log: the delivery, then its page with the attempt and Replay.
    page.click("#delivery-log")
    page.wait_for_selector("#result_list")
    assert "webhook.test" in page.locator("#result_list").inner_text()
    page.locator("#result_list tbody tr th a").first.click()
    page.wait_for_selector("#btn-replay")
    assert "200" in page.locator("#attempt_log-group").inner_text()
    page.screenshot(path=str(output_dir / "webhooks-delivery.png"), full_page=True)
    page.click("#btn-replay")
    page.wait_for_selector(".messagelist .success")
    assert deliver() == 1
    assert [a.webhook_id for a in receiver.arrivals] == [arrival.webhook_id] * 2

    # Replay of a time range (the last hour, by default): both deliveries again.
    page.goto(f"{live_server.url}/admin/webhooks/subscription/{sub.pk}/change/")
    # Its box sits under the subscription's form at 1400 px, as wide as the form, not
    # squeezed beside it past the window's edge.
    page_width, box_width, form_width = page.evaluate(
        "() => [document.documentElement.scrollWidth, "
        "document.querySelector('#replay-range').getBoundingClientRect().width, "
        "document.querySelector('#content-main').getBoundingClientRect().width]"
    )
    assert page_width <= 1400 and box_width >= form_width * 0.9
    page.click("#btn-replay-range")
    page.wait_for_selector(".messagelist .success")
    assert "1 delivery queued again" in page.locator(".messagelist").inner_text()
    assert deliver() == 1
    assert len(receiver.arrivals) == 3 and all(a.verified for a in receiver.arrivals)
    assert Delivery.objects.filter(state=Delivery.State.DELIVERED).count() == 3
