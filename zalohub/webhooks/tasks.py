"""The delivery loop every worker runs, the sweeper of deliveries whose worker died, and
the retention of old deliveries."""

import logging
import threading
from datetime import datetime, timedelta

from django.db import close_old_connections
from django.utils import timezone

from zalohub.core import periodic
from zalohub.core.worker import register_loop
from zalohub.webhooks import conf
from zalohub.webhooks.delivery import Courier, claim
from zalohub.webhooks.models import Delivery, DeliveryAttempt, Subscription
from zalohub.webhooks.outgoing import WAKE
from zalohub.webhooks.settle import settle

logger = logging.getLogger(__name__)


def deliver_once(courier: Courier, worker_id: str) -> int:
    """Claim what is due, send it, settle it; the number of deliveries tried."""
    batches = claim(worker_id)
    if not batches:
        return 0
    for batch, outcomes in zip(batches, courier.send(batches), strict=True):
        settle(batch, outcomes, worker_id=worker_id)
    return sum(len(b.deliveries) for b in batches)


@register_loop("webhooks.deliver")
def deliverer(worker_id: str, stop: threading.Event) -> None:
    courier = Courier()
    try:
        while not stop.is_set():
            try:
                close_old_connections()
                tried = deliver_once(courier, worker_id)
            except Exception:
                logger.exception("Webhook delivery failed; retrying")
                tried = 0
                stop.wait(1.0)
            if not tried:
                WAKE.wait(conf.get("WEBHOOKS_POLL_SECONDS"))
                WAKE.clear()
    finally:
        courier.close()


def recover_interrupted(*, now: datetime | None = None) -> int:
    """Deliveries whose worker died mid-delivery (their lease ran out) go back to the
    queue at once, same webhook-id, their interrupted try logged."""
    now = now or timezone.now()
    stuck = list(
        Delivery.objects.filter(state=Delivery.State.DELIVERING, lease_until__lt=now).values_list(
            "pk", "claimed_by", "attempts"
        )
    )
    recovered = 0
    for pk, token, attempts in stuck:
        back = Delivery.objects.filter(pk=pk, claimed_by=token, state=Delivery.State.DELIVERING)
        if back.update(
            state=Delivery.State.PENDING,
            claimed_by="",
            lease_until=None,
            next_attempt_at=timezone.now(),
            last_error="interrupted: the worker stopped during the delivery",
        ):
            DeliveryAttempt.objects.create(
                delivery_id=pk,
                number=attempts,
                started_at=timezone.now(),
                result=DeliveryAttempt.Result.INTERRUPTED,
                error="The worker stopped during the delivery; whether it arrived is unknown.",
                worker=token[:100],
            )
            recovered += 1
    return recovered


@periodic.register("webhooks.sweep", every_seconds=10)
def sweep() -> int:
    return recover_interrupted()


@periodic.register("webhooks.retention", every_seconds=3600)
def retention() -> int:
    cutoff = timezone.now() - timedelta(days=conf.get("WEBHOOKS_RETENTION_DAYS"))
    old = Delivery.objects.filter(created_at__lt=cutoff).exclude(
        state__in=[Delivery.State.PENDING, Delivery.State.DELIVERING]
    )
    deleted, _ = old.delete()
    orphans = Delivery.objects.exclude(subscription_id__in=Subscription.objects.values("pk"))
    gone, _ = orphans.delete()
    return deleted + gone
