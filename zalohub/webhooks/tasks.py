"""This lane's share of the pipeline's loop (``events.outbound.runner`` runs it in every
worker), the recovery of deliveries whose worker died (run by the pipeline's sweep), and
the retention of old deliveries."""

import logging
from datetime import datetime, timedelta

from django.utils import timezone

from zalohub.core import periodic
from zalohub.events.outbound import lanes
from zalohub.webhooks import conf
from zalohub.webhooks.delivery import Courier, claim
from zalohub.webhooks.lane import DELIVERIES
from zalohub.webhooks.models import Delivery, DeliveryAttempt, Subscription
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


class Deliverer:
    """The pipeline loop's work on this lane, one per loop thread: its courier (event
    loop and keep-alive client) lives as long as the loop."""

    def __init__(self) -> None:
        self.courier = Courier()

    def once(self, worker_id: str) -> int:
        return deliver_once(self.courier, worker_id)

    def close(self) -> None:
        self.courier.close()


def recover_interrupted(*, now: datetime | None = None) -> int:
    """Deliveries whose worker died mid-delivery (their lease ran out) go back to the
    queue at once, same webhook-id, their interrupted try logged. The pipeline's sweep
    (``events.sweep``) runs it, as it recovers every lane."""
    now = now or timezone.now()
    recovered = 0
    for row in lanes.expired(DELIVERIES, now):
        if lanes.requeue(
            DELIVERIES,
            row,
            timezone.now(),
            last_error="interrupted: the worker stopped during the delivery",
        ):
            DeliveryAttempt.objects.create(
                delivery_id=row.pk,
                number=row.attempts,
                started_at=timezone.now(),
                result=DeliveryAttempt.Result.INTERRUPTED,
                error="The worker stopped during the delivery; whether it arrived is unknown.",
                worker=row.token[:100],
            )
            recovered += 1
    lanes.count(DELIVERIES, "interrupted", recovered)
    return recovered


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
