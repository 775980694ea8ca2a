"""This lane's share of the pipeline's loop (``events.outbound.runner`` runs it in every
worker), the recovery of deliveries whose worker died (run by the pipeline's sweep), and
the retention of old deliveries."""

import logging
import time
from datetime import datetime, timedelta

from django.utils import timezone

from zalohub.core import periodic
from zalohub.events.outbound import lanes
from zalohub.webhooks import conf
from zalohub.webhooks.delivery import Batch, Courier, Finished, Outcome, claim
from zalohub.webhooks.lane import DELIVERIES
from zalohub.webhooks.models import Delivery, DeliveryAttempt, Subscription
from zalohub.webhooks.settle import settle_many

logger = logging.getLogger(__name__)

# How long one round waits for a first answer before it gives the pipeline's loop a turn,
# then how much longer it lets more answers come before it settles what it has.
WAIT_SECONDS = 1.0
LINGER_SECONDS = 0.2


class Deliverer:
    """The pipeline loop's work on this lane, one per loop thread, kept full: it claims
    the next batch once no more than WEBHOOKS_IN_FLIGHT deliveries are still open (so
    requests keep going while it claims) and settles answers as they come, in one
    transaction for up to a batch (lingering up to LINGER_SECONDS for them), never
    waiting for a batch's slowest request.
    Its courier (event loop and keep-alive client) lives as long as the loop."""

    def __init__(self) -> None:
        self.courier = Courier()
        self.open = 0  # claimed, not settled yet
        self.settled = 0  # since it started
        self._look_after = 0.0  # while some are open: when to ask again after nothing was due
        self._worker_id = ""

    def once(self, worker_id: str) -> int:
        self._worker_id = worker_id
        started = self._claim(worker_id)
        if not self.open:
            return started
        # Settled in sets of up to a batch (a settle's statements cost as much for one
        # row as for a hundred): with more open than WEBHOOKS_IN_FLIGHT, leaving that
        # many open so that the next claim is made while those are on their way;
        # otherwise all of them, or what came within LINGER_SECONDS (a slow one waits).
        cap, batch = conf.get("WEBHOOKS_IN_FLIGHT"), conf.get("WEBHOOKS_BATCH_SIZE")
        want = min(batch, self.open - cap) if self.open > cap else self.open
        answered = self.courier.collect(timeout=WAIT_SECONDS, want=want, linger=LINGER_SECONDS)
        if not answered and not self.courier.busy:
            self.open = 0  # none can come (lost to an error): the sweeper has them back
        settled = self._settle(answered, worker_id)
        return started + settled or 1  # requests still on their way: work in hand

    def _claim(self, worker_id: str) -> int:
        if self.open > conf.get("WEBHOOKS_IN_FLIGHT"):
            return 0  # enough queued to keep every request slot busy
        if self.open and time.monotonic() < self._look_after:
            return 0
        batches = claim(worker_id)
        if not batches:
            self._look_after = time.monotonic() + conf.get("WEBHOOKS_POLL_SECONDS")
            return 0
        for batch in batches:
            self.courier.start(batch)
        started = sum(len(b.deliveries) for b in batches)
        self.open += started
        return started

    def _settle(self, finished: list[Finished], worker_id: str) -> int:
        self.open -= len(finished)  # settled or not (an error), they are no longer ours
        parts: dict[int, tuple[Batch, list[Outcome]]] = {}
        for batch, outcome in finished:
            parts.setdefault(id(batch), (batch, []))[1].append(outcome)
        if parts:
            settle_many(list(parts.values()), worker_id=worker_id)
        self.settled += len(finished)
        return len(finished)

    def drain(self, worker_id: str, timeout: float) -> None:
        """Settle what is still on its way (up to ``timeout`` seconds with no answer)."""
        while self.open:
            finished = self.courier.collect(timeout=timeout, want=self.open, linger=timeout)
            if not finished:
                return  # left in Delivering: the sweeper gives them back after the lease
            self._settle(finished, worker_id)

    def close(self) -> None:
        try:
            self.drain(self._worker_id, timeout=conf.get("WEBHOOKS_TIMEOUT_SECONDS") + 1)
        finally:
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
