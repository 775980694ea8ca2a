"""What the hub owes subscribers: one Delivery row per event and subscription that wants
it, written in the transaction that made the event (so exactly the events that commit
are delivered, and none is lost to a crash after the commit), queued through the
outbound pipeline's way in (``lanes.enqueue``) and sent after the commit by its loop,
which the commit wakes in this process.

Who subscribes is read at each call (one small query: a batch stays a fixed number of
statements however many events it holds, and a subscription made or deleted in another
process counts at once); writing the rows is one INSERT per batch."""

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.utils import timezone

from zalohub.events.outbound import lanes
from zalohub.webhooks.lane import DELIVERIES
from zalohub.webhooks.models import Delivery, Subscription
from zalohub.webhooks.signing import new_webhook_id

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Wanted:
    id: int
    event_types: frozenset[str]  # empty: all
    oa_ids: frozenset[int]  # empty: all

    def wants(self, event_type: str, oa_id: int | None) -> bool:
        if self.event_types and event_type not in self.event_types:
            return False
        return not self.oa_ids or oa_id is None or oa_id in self.oa_ids


@dataclass(frozen=True)
class Outgoing:
    """One event for the subscribers: its type, its OA (None: not an OA's) and data."""

    event_type: str
    data: dict[str, Any]
    oa_id: int | None = None
    at: datetime | None = None
    only: frozenset[int] = field(default_factory=frozenset)  # these subscriptions only


def active_subscriptions() -> list[Wanted]:
    rows = Subscription.objects.filter(active=True).prefetch_related("oas").order_by("id")
    return [
        Wanted(sub.pk, frozenset(sub.event_types or ()), frozenset(oa.pk for oa in sub.oas.all()))
        for sub in rows
    ]


def body_of(event_type: str, data: dict[str, Any], at: datetime | None = None) -> str:
    envelope = {
        "type": event_type,
        "timestamp": (at or timezone.now()).isoformat(),
        "data": data,
    }
    return json.dumps(envelope, cls=DjangoJSONEncoder, ensure_ascii=False, separators=(",", ":"))


def _rows(items: Sequence[Outgoing], subscribers: list[Wanted]) -> list[Delivery]:
    now = timezone.now()
    rows: list[Delivery] = []
    for item in items:
        targets = [
            s.id
            for s in subscribers
            if s.wants(item.event_type, item.oa_id) and (not item.only or s.id in item.only)
        ]
        if not targets:
            continue
        body = body_of(item.event_type, item.data, item.at)
        webhook_id = new_webhook_id()
        for sub_id in targets:
            rows.append(
                Delivery(
                    subscription_id=sub_id,
                    webhook_id=webhook_id,
                    event_type=item.event_type,
                    oa_id=item.oa_id,
                    body=body,
                    created_at=now,
                    next_attempt_at=now,
                )
            )
    return rows


def emit(items: Sequence[Outgoing]) -> int:
    """Queue deliveries of ``items`` to every active subscription that wants them, in the
    caller's transaction. A failure here is logged and never fails the caller's work."""
    if not items:
        return 0
    try:
        subscribers = active_subscriptions()
        if not subscribers:
            return 0
        rows = _rows(items, subscribers)
        if not rows:
            return 0
        with transaction.atomic():  # a savepoint: the caller's transaction survives
            lanes.enqueue(DELIVERIES, rows)  # the pipeline's loop goes once it commits
    except Exception:
        logger.exception("Webhook deliveries of %d events not queued", len(items))
        return 0
    return len(rows)


def queue_one(
    subscription: Subscription,
    event_type: str,
    *,
    data: dict[str, Any],
    is_test: bool = False,
    oa_id: int | None = None,
) -> Delivery:
    delivery = Delivery(
        subscription=subscription,
        webhook_id=new_webhook_id(),
        event_type=event_type,
        oa_id=oa_id,
        body=body_of(event_type, data),
        is_test=is_test,
    )
    (queued,) = lanes.enqueue(DELIVERIES, [delivery])
    return queued
