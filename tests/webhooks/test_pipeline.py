"""Webhook deliveries are a lane of the one outbound pipeline (events.outbound.lanes):
its registry knows them, its sweep recovers them, its loop works them, and an idle loop
asks once which subscriptions have something due."""

import threading
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from zalohub.events.models import ZaloEvent
from zalohub.events.outbound import lanes, runner
from zalohub.events.processing.queue import sweep_expired_leases
from zalohub.webhooks.delivery import claim
from zalohub.webhooks.lane import DELIVERIES
from zalohub.webhooks.models import Delivery, DeliveryAttempt
from zalohub.webhooks.services import subscription_send_test

pytestmark = pytest.mark.django_db


def test_the_registry_holds_both_lanes():
    # It should know the sends to Zalo and the webhook deliveries, each by its rows.
    names = {lane.name for lane in lanes.lanes()}
    assert {"zalo", "webhooks"} <= names
    assert lanes.lane_of(Delivery) is DELIVERIES
    assert lanes.lane_of(ZaloEvent) is lanes.lane_named("zalo")


def test_an_idle_claim_asks_once_whatever_the_number_of_subscriptions(subscribe, receiver):
    subs = [subscribe(name=f"ERP {n}") for n in range(6)]
    with CaptureQueriesContext(connection) as idle:
        assert claim("w") == []
    # It should ask once which subscriptions have due deliveries, not once per subscription.
    assert len(idle.captured_queries) == 1
    subscription_send_test(subscription_id=subs[3].pk)
    due = lanes.due_targets(DELIVERIES, timezone.now())
    assert due == [subs[3].pk]
    # A delivery not due yet, or to a disabled subscription, is not asked for.
    Delivery.objects.update(next_attempt_at=timezone.now() + timedelta(minutes=1))
    assert lanes.due_targets(DELIVERIES, timezone.now()) == []
    Delivery.objects.update(next_attempt_at=timezone.now())
    subs[3].active = False
    subs[3].save()
    assert lanes.due_targets(DELIVERIES, timezone.now()) == []


def test_the_pipeline_s_sweep_recovers_a_delivery_and_leaves_live_claims(
    connected_oa, subscribe, receiver
):
    sub = subscribe()
    dead = subscription_send_test(subscription_id=sub.pk)
    (batch,) = claim("dead-worker")
    live = subscription_send_test(subscription_id=sub.pk)
    (live_batch,) = claim("live-worker")
    # The dead worker's lease ran out; the live one's has not.
    Delivery.objects.filter(pk=dead.pk).update(lease_until=timezone.now() - timedelta(seconds=1))
    # It should recover the delivery in the same sweep as the sends to Zalo (events.sweep).
    assert sweep_expired_leases() == 1
    dead.refresh_from_db()
    live.refresh_from_db()
    assert (dead.state, dead.claimed_by, dead.attempts) == (Delivery.State.PENDING, "", 1)
    assert live.state == Delivery.State.DELIVERING and live.claimed_by == live_batch.token
    [interrupted] = DeliveryAttempt.objects.filter(delivery=dead)
    assert interrupted.result == DeliveryAttempt.Result.INTERRUPTED and interrupted.number == 1
    # The dead worker's late settle changes nothing: the claim is no longer its own.
    assert lanes.release(DELIVERIES, batch.token, state=Delivery.State.DELIVERED) == 0


def _loop(stop: threading.Event) -> None:
    try:
        runner.work_lanes("loop-test", stop)
    finally:
        connection.close()


@pytest.mark.django_db(transaction=True)
def test_the_pipeline_s_loop_delivers_what_a_commit_queued(subscribe, receiver):
    sub = subscribe()
    stop = threading.Event()
    thread = threading.Thread(target=_loop, args=(stop,), daemon=True)
    thread.start()
    try:
        delivery = subscription_send_test(subscription_id=sub.pk)
        for _ in range(600):
            delivery.refresh_from_db()
            if delivery.state == Delivery.State.DELIVERED:
                break
            stop.wait(0.1)
    finally:
        stop.set()
        runner.wake()
        thread.join(30)
    # It should deliver it, signed and verified, once.
    assert delivery.state == Delivery.State.DELIVERED
    assert [a.webhook_id for a in receiver.arrivals] == [delivery.webhook_id]
    assert all(a.verified for a in receiver.arrivals)
    assert not thread.is_alive()


def test_backoff_is_jittered_on_the_schedule():
    delays = [10.0, 100.0]
    # It should spread each retry within 20 % of its step, and end with the schedule.
    assert all(8.0 <= (lanes.next_try(1, delays) or 0) <= 12.0 for _ in range(50))
    assert all(80.0 <= (lanes.next_try(2, delays) or 0) <= 120.0 for _ in range(50))
    assert lanes.next_try(3, delays) is None


def _settled(lane: str, outcome: str) -> float:
    from prometheus_client import REGISTRY

    labels = {"lane": lane, "outcome": outcome}
    return REGISTRY.get_sample_value("zalohub_outbound_settled_total", labels) or 0.0


def test_the_pipeline_counts_settled_deliveries_by_lane(subscribe, receiver, deliver):
    sub = subscribe()
    receiver.answers = [500, 200]
    before = {o: _settled("webhooks", o) for o in ("delivered", "retry")}
    delivery = subscription_send_test(subscription_id=sub.pk)
    assert deliver() == 1
    Delivery.objects.filter(pk=delivery.pk).update(next_attempt_at=timezone.now())
    assert deliver() == 1
    # It should count one retry and one delivery under the webhooks lane.
    assert _settled("webhooks", "retry") - before["retry"] == 1
    assert _settled("webhooks", "delivered") - before["delivered"] == 1


def test_a_slow_answer_never_holds_up_the_rest_of_its_batch(subscribe, receiver, settings):
    """The delivery loop settles answers as they come: one request of a batch still
    waiting for its answer leaves the batch's others delivered meanwhile."""
    from zalohub.webhooks.tasks import Deliverer

    settings.REDIS_URL = ""
    sub = subscribe(rate_per_second=100)
    slow, *quick = [subscription_send_test(subscription_id=sub.pk) for _ in range(3)]
    receiver.slow = {slow.webhook_id}
    deliverer = Deliverer()
    try:
        for _ in range(20):
            deliverer.once("test-worker")
            if Delivery.objects.filter(state=Delivery.State.DELIVERED).count() == 2:
                break
        # It should have delivered the quick ones while the slow one is still on its way.
        states = dict(Delivery.objects.values_list("pk", "state"))
        assert states == {
            slow.pk: Delivery.State.DELIVERING,
            **{d.pk: Delivery.State.DELIVERED for d in quick},
        }
        assert not receiver.release.is_set()
        # Once answered, the slow one is settled too, in its own claim.
        receiver.release.set()
        deliverer.drain("test-worker", timeout=30)
        slow.refresh_from_db()
        assert slow.state == Delivery.State.DELIVERED and slow.attempts == 1
    finally:
        receiver.release.set()
        deliverer.close()


@pytest.mark.django_db(transaction=True)
def test_a_subscription_deleted_mid_delivery_holds_up_no_other_s_settle(subscribe, receiver):
    """Answers of several batches settle in one transaction; a delivery whose
    subscription was deleted meanwhile must not undo the others' settle."""
    from zalohub.webhooks.delivery import Outcome
    from zalohub.webhooks.models import Subscription
    from zalohub.webhooks.settle import settle_many

    gone, kept = subscribe(name="gone"), subscribe(name="kept")
    subscription_send_test(subscription_id=gone.pk)
    kept_delivery = subscription_send_test(subscription_id=kept.pk)
    batches = claim("test-worker")
    assert len(batches) == 2
    Subscription.objects.filter(pk=gone.pk).delete()
    at = timezone.now()
    parts = [(b, [Outcome(d, at, 1, {}, status=200) for d in b.deliveries]) for b in batches]
    # It should still settle the kept subscription's delivery.
    assert settle_many(parts, worker_id="test-worker") == {"delivered": 1, "failed": 0}
    kept_delivery.refresh_from_db()
    assert kept_delivery.state == Delivery.State.DELIVERED
    assert list(kept_delivery.attempt_log.values_list("result", flat=True)) == ["ok"]
