"""The webhooks lane's own rate per subscription (``lanes.Rate`` over the shared window
counter, per second): a busy subscription never holds up another; a failing receiver
gets one try at a time. Counted, never timed."""

from datetime import timedelta

import pytest
from django.utils import timezone

from zalohub.events.models import LaneRateWindow
from zalohub.webhooks.delivery import claim
from zalohub.webhooks.services import subscription_send_test

pytestmark = pytest.mark.django_db


def test_a_busy_subscription_does_not_hold_up_another(subscribe, receiver, settings):
    settings.REDIS_URL = ""
    busy = subscribe(name="busy", rate_per_second=5)
    quiet = subscribe(name="quiet", rate_per_second=5)
    for _ in range(40):
        subscription_send_test(subscription_id=busy.pk)
    subscription_send_test(subscription_id=quiet.pk)
    now = (timezone.now() + timedelta(seconds=1)).replace(microsecond=0)
    # It should claim the busy one's five and the quiet one's delivery in the same
    # round, though the busy one's were queued first and are far past its rate.
    claimed = {b.subscription.pk: len(b.deliveries) for b in claim("w", now=now)}
    assert claimed == {busy.pk: 5, quiet.pk: 1}
    # The busy one's second is spent; the quiet one's new delivery still goes at once.
    subscription_send_test(subscription_id=quiet.pk)
    assert {b.subscription.pk: len(b.deliveries) for b in claim("w", now=now)} == {quiet.pk: 1}
    later = {
        b.subscription.pk: len(b.deliveries) for b in claim("w", now=now + timedelta(seconds=1))
    }
    assert later == {busy.pk: 5}
    # Counted per subscription and second in the lanes' one table, as claimed.
    rows = LaneRateWindow.objects.filter(key=f"webhooks:{busy.pk}").order_by("window_start")
    assert [r.count for r in rows] == [5, 5]


def test_a_failing_receiver_gets_one_try_at_a_time(subscribe, receiver, settings):
    settings.REDIS_URL = ""
    sub = subscribe(rate_per_second=50)
    for _ in range(4):
        subscription_send_test(subscription_id=sub.pk)
    sub.failure_streak = 2
    sub.save()
    now = (timezone.now() + timedelta(seconds=1)).replace(microsecond=0)
    assert [len(b.deliveries) for b in claim("w", now=now)] == [1]
    assert [len(b.deliveries) for b in claim("w", now=now)] == [1]


def test_a_delivery_thread_keeps_at_most_its_in_flight_cap(subscribe, receiver, settings):
    """WEBHOOKS_IN_FLIGHT bounds the requests one delivery thread has open at once, over
    a batch larger than it; every delivery still goes."""
    from tests.webhooks.receiver import run_deliveries

    settings.REDIS_URL = ""
    settings.WEBHOOKS_IN_FLIGHT = 3
    sub = subscribe(name="wide", rate_per_second=100)
    for _ in range(12):
        subscription_send_test(subscription_id=sub.pk)
    receiver.pause = 0.2  # answers overlap: without the cap all 12 would be open at once
    deliveries = run_deliveries()
    deliver = next(deliveries)
    assert deliver() == 12
    deliveries.close()
    assert len(receiver.arrivals) == 12
    assert receiver.most_in_flight == 3
