"""Settling answered deliveries (of one batch or several, all of each or the part answered
so far) in one transaction: the log rows in one INSERT, each batch's delivered rows in one
UPDATE, each failure's next try (or its end), and the subscription's failure count,
which may disable it (410 Gone at once; N failures running, for long enough, otherwise).

Only the holder of the claim settles a row: after a lease ran out and the sweeper gave
the row to another worker, a late answer is still logged but changes nothing else."""

import functools
import logging
from collections import defaultdict
from datetime import datetime, timedelta
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from zalohub.core.stored_text import Reason, reason, reason_fields
from zalohub.events.outbound import lanes
from zalohub.webhooks import alerts, conf
from zalohub.webhooks.delivery import FAILING, GONE, Batch, Outcome, retry_delay
from zalohub.webhooks.lane import DELIVERIES
from zalohub.webhooks.models import Delivery, DeliveryAttempt, Subscription

Result = DeliveryAttempt.Result
logger = logging.getLogger(__name__)


def _error_of(o: Outcome) -> str:
    if o.error:
        return o.error
    return f"HTTP {o.status}" if o.status is not None else ""


def _attempts(
    batch: Batch, outcomes: list[Outcome], results: dict[int, str], worker: str
) -> list[DeliveryAttempt]:
    return [
        DeliveryAttempt(
            delivery_id=o.delivery.id,
            number=o.delivery.attempts,
            started_at=o.started_at,
            duration_ms=o.duration_ms,
            request_headers=o.headers,
            status=o.status,
            response_body=o.answer,
            error=o.error,
            result=results[o.delivery.id],
            worker=worker[:100],
        )
        for o in outcomes
    ]


def settle(batch: Batch, outcomes: list[Outcome], *, worker_id: str = "") -> dict[str, int]:
    return settle_many([(batch, outcomes)], worker_id=worker_id)


def settle_many(parts: list[tuple[Batch, list[Outcome]]], *, worker_id: str = "") -> dict[str, int]:
    """Settle the answered deliveries of one or more batches (any part of each) in one
    transaction, their log rows in one INSERT."""
    try:
        return _settle_together(parts, worker_id)
    except IntegrityError:
        if len(parts) == 1:
            raise
    # A delivery deleted meanwhile (its subscription removed) fails the log's INSERT at
    # the commit: then batch by batch, so that one's failure holds up no other batch.
    totals = {"delivered": 0, "failed": 0}
    for part in parts:
        try:
            settled = _settle_together([part], worker_id)
        except IntegrityError:
            logger.warning("Deliveries of subscription %s not settled", part[0].subscription.pk)
            continue
        totals = {key: totals[key] + settled[key] for key in totals}
    return totals


def _settle_together(parts: list[tuple[Batch, list[Outcome]]], worker_id: str) -> dict[str, int]:
    now = timezone.now()
    results: dict[int, str] = {}
    done = failures = 0
    with transaction.atomic():
        log = []
        for batch, outcomes in parts:
            ok, failed = _release(batch, outcomes, results, now)
            log += _attempts(batch, outcomes, results, worker_id)
            _count(batch, outcomes, failed, any(o.status == 410 for o in outcomes), now)
            done, failures = done + ok, failures + failed
        DeliveryAttempt.objects.bulk_create(log)
    lanes.count(DELIVERIES, "delivered", done)
    lanes.count(DELIVERIES, "retry", sum(r == Result.RETRY for r in results.values()))
    lanes.count(DELIVERIES, "failed", sum(r == Result.FAILED for r in results.values()))
    return {"delivered": done, "failed": failures}


def _release(
    batch: Batch, outcomes: list[Outcome], results: dict[int, str], now: datetime
) -> tuple[int, int]:
    """The batch's answered rows settled (only while the claim is ours), each one's
    result in ``results``; how many were delivered and how many failed."""
    delivered: dict[int, list[int]] = defaultdict(list)
    failures = 0
    for o in outcomes:
        if o.ok:
            assert o.status is not None
            delivered[o.status].append(o.delivery.id)
            results[o.delivery.id] = Result.OK
            continue
        failures += 1
        delay = None if o.status == 410 else retry_delay(o.delivery.attempts)
        results[o.delivery.id] = Result.FAILED if delay is None else Result.RETRY
        fields: dict[str, Any] = {"last_status": o.status, "last_error": _error_of(o)}
        if delay is None:
            fields.update(state=Delivery.State.FAILED)
        else:
            fields.update(
                state=Delivery.State.PENDING,
                next_attempt_at=now + timedelta(seconds=delay),
            )
        lanes.release(DELIVERIES, batch.token, [o.delivery.id], **fields)
    for status, ids in delivered.items():
        lanes.release(
            DELIVERIES,
            batch.token,
            ids,
            state=Delivery.State.DELIVERED,
            delivered_at=now,
            last_status=status,
            last_error="",
        )
    return sum(map(len, delivered.values())), failures


def _count(batch: Batch, outcomes: list[Outcome], failures: int, gone: bool, now: datetime) -> None:
    sub_id = batch.subscription.pk
    subs = Subscription.objects.filter(pk=sub_id)
    if failures < len(outcomes):  # the receiver took something: it works
        if batch.subscription.failure_streak or failures:
            subs.update(failure_streak=failures, failing_since=now if failures else None)
            # The batch's later parts (settled as their answers come) see it.
            batch.subscription.failure_streak = failures
    else:
        subs.filter(failing_since__isnull=True).update(failing_since=now)
        subs.update(failure_streak=F("failure_streak") + failures)
        batch.subscription.failure_streak += failures
    if gone:
        disable(subscription_id=sub_id, why=reason(GONE), now=now)
        return
    if not failures:
        return
    sub = subs.values("failure_streak", "failing_since").first()
    if sub is None or sub["failing_since"] is None:
        return
    enough = sub["failure_streak"] >= conf.get("WEBHOOKS_DISABLE_AFTER_FAILURES")
    long_enough = sub["failing_since"] <= now - timedelta(
        seconds=conf.get("WEBHOOKS_DISABLE_AFTER_SECONDS")
    )
    if enough and long_enough:
        last = next((_error_of(o) for o in reversed(outcomes) if not o.ok), "")
        why = reason(
            FAILING, count=sub["failure_streak"], since=sub["failing_since"].isoformat(), last=last
        )
        disable(subscription_id=sub_id, why=why, now=now)


def disable(*, subscription_id: int, why: Reason, now: datetime | None = None) -> bool:
    """Disable an active subscription saying why, and tell the Zalo Admins (after the
    commit, once: only the update that disables it mails)."""
    now = now or timezone.now()
    changed = Subscription.objects.filter(pk=subscription_id, active=True).update(
        active=False, disabled_at=now, **reason_fields("disabled_reason", why)
    )
    if changed:
        transaction.on_commit(functools.partial(alerts.subscription_disabled, subscription_id))
    return bool(changed)
