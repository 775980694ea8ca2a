"""Processed events are kept ``EVENT_RETENTION_DAYS`` (``ZALOHUB_EVENT_RETENTION_DAYS``,
default 90), then deleted in small batches by a periodic job.

What is never deleted here:

- an event that is not Processed (waiting, being processed, or in Error: the admin's
  Retry Processing and Diagnostics' error evidence need it, whatever its age);
- an event an API log row still names (``ref_type="event"``: the admin's "API logs of
  this event" and the Diagnostics bundle follow it);
- an event another app still points at, as declared with ``register_keeper`` (the
  Diagnostics app keeps the events its webhook self-tests stored and each OA's newest
  customer event, which its webhook check reports as "last event received").

What is not in the way: the inbox and the partners' history point at *messages* (their
own rows, which stay) and at partner links, the merge journal at partners; none of them
holds an event's id (``ZaloEvent.message`` points from the event to its message).
An event's attempts go with it (``EventAttempt`` cascades).

**Batches.** Each batch selects at most ``EVENT_RETENTION_BATCH`` ids in ``received_at``
order (the ``received_at`` index, resuming after the previous batch's last row so that
kept rows are not read again) and deletes them in a transaction of its own: row locks
only, held for one batch's milliseconds, never a table lock. A run stops after
``EVENT_RETENTION_MAX_SECONDS`` and the next run goes on where the data is.

**No partitions on PostgreSQL (measured; see bench/README.md, "events table at scale").**
Ingest's correctness rests on the unique ``(app, dedupe_key)`` index, and PostgreSQL
requires a partitioned table's unique indexes to include the partition key: time
partitions would make the dedupe per partition (a redelivery across a boundary stored
twice) or need a second, unpartitioned dedupe table that grows just the same. What keeps
ingest and claims flat is that the queue's indexes are partial (only pending rows are in
``events_ready``, ``events_conversation``, ``events_leased``), so a claim never reads the
processed history; the bench's 0- and 10M-row runs are the evidence.
"""

import logging
import time
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import CharField, Exists, OuterRef, Q, QuerySet
from django.db.models.functions import Cast
from django.utils import timezone

from zalohub.apilog.models import ApiLog
from zalohub.core import periodic
from zalohub.events.models import ProcessingState, ZaloEvent

logger = logging.getLogger(__name__)

# Each returns the ids of events to keep: a queryset of ids (a subquery) or a list.
Keeper = Callable[[], "QuerySet[Any] | Iterable[int]"]
KEEPERS: dict[str, Keeper] = {}


def register_keeper(name: str, keeper: Keeper) -> None:
    """Declare events another app still points at, so retention keeps them."""
    KEEPERS[name] = keeper


def kept() -> list[Any]:
    """What the keepers keep, asked once per run (a list, or a subquery run per batch)."""
    return [keeper() for keeper in KEEPERS.values()]


def candidates(
    *, cutoff: datetime, after: tuple[datetime, int] | None = None, keep: list[Any] | None = None
) -> QuerySet[ZaloEvent]:
    """Processed events received before ``cutoff`` (and after ``after``) that nothing
    still points at, oldest first."""
    qs = ZaloEvent.objects.filter(
        processing_state=ProcessingState.PROCESSED, received_at__lt=cutoff
    )
    if after is not None:  # past the previous batch's last row, ties included
        at, pk = after
        qs = qs.filter(Q(received_at__gt=at) | Q(received_at=at, pk__gt=pk))
    logged = ApiLog.objects.filter(ref_type="event", ref_id=Cast(OuterRef("pk"), CharField()))
    qs = qs.exclude(Exists(logged))
    for ids in kept() if keep is None else keep:
        qs = qs.exclude(pk__in=ids)
    return qs.order_by("received_at", "pk")


def delete_batch(
    *,
    cutoff: datetime,
    after: tuple[datetime, int] | None,
    size: int,
    keep: list[Any] | None = None,
) -> tuple[int, tuple[datetime, int] | None]:
    """Delete one batch: (events deleted, the (received_at, id) it reached, or None when
    there was nothing left)."""
    rows = list(
        candidates(cutoff=cutoff, after=after, keep=keep).values_list("pk", "received_at")[:size]
    )
    if not rows:
        return 0, None
    with transaction.atomic():
        deleted = ZaloEvent.objects.filter(pk__in=[pk for pk, _ in rows]).only("pk").delete()
    last_pk, last_at = rows[-1]
    return deleted[1].get(ZaloEvent._meta.label, 0), (last_at, last_pk)


@periodic.register("events.retention", every_seconds=300)
def delete_expired_events(*, now: datetime | None = None, budget: float | None = None) -> int:
    """One run of the job: batches until nothing is left or the time budget is spent."""
    now = now or timezone.now()
    cutoff = now - timedelta(days=settings.EVENT_RETENTION_DAYS)
    budget = settings.EVENT_RETENTION_MAX_SECONDS if budget is None else budget
    stop_at = time.monotonic() + budget
    total, after, keep = 0, None, kept()
    while True:
        deleted, after = delete_batch(
            cutoff=cutoff, after=after, size=settings.EVENT_RETENTION_BATCH, keep=keep
        )
        total += deleted
        if after is None or time.monotonic() >= stop_at:
            break
    if total:
        logger.info("Deleted %d processed events received before %s", total, cutoff)
    return total
