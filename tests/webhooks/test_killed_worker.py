"""At least once, applied once: a real `zalohub worker` is SIGKILLed while a delivery is
in flight (the receiver has applied it, the answer never comes back); another worker
delivers it again under the same webhook-id, and a receiver answering 500 then 200 gets
the other delivery twice. The receiver verifies every request and deduplicates by
webhook-id, so each event takes effect exactly once."""

import threading
from datetime import timedelta

import pytest
from django.utils import timezone

from tests.events.workerproc import Worker, wait_until
from zalohub.webhooks.models import Delivery, DeliveryAttempt
from zalohub.webhooks.services import subscription_send_test
from zalohub.webhooks.tasks import recover_interrupted

FAST = {"ZALOHUB_WEBHOOKS_RETRY_SCALE": "0.01", "ZALOHUB_WEBHOOKS_LEASE_SECONDS": "5"}


def _state(delivery: Delivery) -> str:
    delivery.refresh_from_db()
    return delivery.state


@pytest.mark.django_db(transaction=True)
def test_a_worker_killed_mid_delivery_delivers_once(subscribe, receiver, tmp_path):
    sub = subscribe()
    receiver.hold = threading.Event()
    receiver.answers = [500, 200]
    first = subscription_send_test(subscription_id=sub.pk)
    worker = Worker(tmp_path, "a", extra_env=FAST)
    try:
        # The receiver takes the delivery and applies it; the worker dies waiting.
        assert receiver.held.wait(60), worker.output()
        worker.kill()
    finally:
        worker.stop_quietly()
    receiver.hold.set()
    assert _state(first) == Delivery.State.DELIVERING
    second = subscription_send_test(subscription_id=sub.pk)

    # The sweeper finds it once its lease is over; the next worker sends both.
    assert recover_interrupted(now=timezone.now() + timedelta(seconds=6)) == 1
    worker = Worker(tmp_path, "b", extra_env=FAST)
    try:
        delivered = wait_until(
            lambda: _state(first) == _state(second) == Delivery.State.DELIVERED, timeout=60
        )
        assert delivered, worker.output()
    finally:
        worker.terminate()

    # It should have sent each twice under its own webhook-id, every request verified,
    # and each took effect once.
    assert all(a.verified for a in receiver.arrivals)
    ids = [a.webhook_id for a in receiver.arrivals]
    assert sorted(ids) == sorted([first.webhook_id] * 2 + [second.webhook_id] * 2)
    assert receiver.effects == {first.webhook_id: 1, second.webhook_id: 1}
    results = list(first.attempt_log.values_list("result", flat=True))
    assert results == [DeliveryAttempt.Result.INTERRUPTED, DeliveryAttempt.Result.OK]
    second_results = list(second.attempt_log.values_list("result", flat=True))
    assert second_results == [DeliveryAttempt.Result.RETRY, DeliveryAttempt.Result.OK]
