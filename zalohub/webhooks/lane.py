"""Webhook deliveries as a lane of the outbound pipeline (``events.outbound.lanes``):
``Delivery`` rows, claimed per subscription within its rate by the pipeline's loop,
sent by the signed HTTP POST to the subscriber (``delivery.Courier``), settled
set-wise (``settle.py``), recovered by the pipeline's sweep; queued (an event, a test
event, a Replay) only through the pipeline's ``lanes.enqueue``. Registered from
``WebhooksConfig.ready()``."""

from datetime import datetime
from typing import Any

from zalohub.events.outbound.lanes import Lane, Worked, rate
from zalohub.webhooks import conf
from zalohub.webhooks.models import Delivery, Subscription


def _one_at_a_time_when_failing(sub: Subscription) -> int | None:
    # A failing receiver gets one try at a time, whatever its rate.
    return 1 if sub.failure_streak else None


def _recover(now: datetime) -> int:
    from zalohub.webhooks.tasks import recover_interrupted

    return recover_interrupted(now=now)


def _worked() -> Worked:
    from zalohub.webhooks.tasks import Deliverer

    return Deliverer()


def _again(original: Delivery) -> Delivery:
    """A replay: the same event, body and webhook-id (a receiver that deduplicates by
    webhook-id applies it once), as a new delivery."""
    return Delivery(
        subscription_id=original.subscription_id,
        webhook_id=original.webhook_id,
        event_type=original.event_type,
        oa_id=original.oa_id,
        body=original.body,
        is_test=original.is_test,
        replay_of=original,
    )


def _targets() -> Any:
    return Subscription.objects.filter(active=True)


DELIVERIES = Lane(
    name="webhooks",
    model=Delivery,
    state_field="state",
    waiting=(Delivery.State.PENDING,),
    queued=Delivery.State.PENDING,
    running=Delivery.State.DELIVERING,
    lease_seconds=lambda: conf.get("WEBHOOKS_LEASE_SECONDS"),
    recover=_recover,
    worked=_worked,
    poll_seconds=lambda: conf.get("WEBHOOKS_POLL_SECONDS"),
    target_field="subscription",
    targets=_targets,
    # Its own rate per subscription, counted per second (the pipeline's Rate).
    rate=rate(
        limit=lambda sub: sub.rate_per_second, seconds=1, per_claim=_one_at_a_time_when_failing
    ),
    again=_again,
)
