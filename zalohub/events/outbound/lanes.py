"""The rows the outbound pipeline works on, whatever their table.

Each kind of outbound work keeps it on a row of its own (a send to Zalo: an outbound
``ZaloEvent`` and its ``Message``; a webhook delivery: a ``Delivery``) and registers a
*lane* that says which table and which state field; the machine here is the same for
every lane: a claim with a token and a lease (``FOR UPDATE SKIP LOCKED`` on PostgreSQL,
one exclusive transaction on SQLite) that numbers the attempt, a settle that only
happens while the claim is still ours, backoff with jitter, the recovery of rows whose
lease ran out, a rate per target (``Rate``: an OA's sends, a subscription's deliveries,
each counted on its own so a busy target never holds up another), and the metrics.
Every lane has the same column names for its claim: ``claimed_by``, ``lease_until``,
``attempts``, ``next_attempt_at``.

Kinds register their lane from their AppConfig.ready() (``register_lane``); the sweep
recovers every registered lane and the pipeline's loop (``runner.py``) works every lane
that is worked in batches. Work enters a lane one way, ``enqueue`` (new rows, queued in
the caller's transaction, the lane's workers told after the commit); ``replay`` is a
row's work again as a new row, through the same way in, for the lane found by the row's
table (``lane_of``: the admin's Replay).
"""

import random
import secrets
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

from django.db import connection, models, transaction
from django.db.models import Exists, F, OuterRef, Q, QuerySet
from django.utils import timezone
from django_tasks_db.utils import exclusive_transaction

from zalohub.accounts.ratelimit import WindowCounter
from zalohub.core.metrics import OUTBOUND_SETTLED
from zalohub.events.models import LaneRateWindow


class Worked(Protocol):
    """A lane's work in batches, one per loop thread (it may keep a client open)."""

    def once(self, worker_id: str) -> int:
        """Claim what is due, call, settle what is answered; non-zero while it has work
        in hand (rows started or settled, or calls still on their way): the loop waits
        for new work only at 0."""
        ...

    def close(self) -> None: ...


def _no_cap(target: Any) -> int | None:
    return None


@dataclass(frozen=True)
class Rate:
    """A lane's rate per target: at most ``limit(target)`` of its rows a window of
    ``counter`` (shared by every worker: ``accounts.ratelimit.WindowCounter``, keyed by
    lane and target), so one target's burst waits on its own count, never another's.
    ``per_claim(target)``: at most this many in one claim (None: no cap)."""

    counter: WindowCounter
    limit: Callable[[Any], int]
    per_claim: Callable[[Any], int | None] = _no_cap


def rate(
    *,
    limit: Callable[[Any], int],
    seconds: int = 60,
    per_claim: Callable[[Any], int | None] = _no_cap,
) -> Rate:
    """A rate per target counted in windows of ``seconds`` (the lanes' one table)."""
    counter = WindowCounter(LaneRateWindow, "key", "zalohub:lane", seconds=seconds)
    return Rate(counter=counter, limit=limit, per_claim=per_claim)


@dataclass(frozen=True)
class Lane:
    name: str
    model: type[models.Model]
    state_field: str
    waiting: tuple[str, ...]  # states a claim takes
    queued: str  # the state a row waits in again (a retry, a recovery)
    running: str  # the state while claimed
    lease_seconds: Callable[[], float]
    # Rows whose lease ran out: settled as the kind allows (the sweep, every 10 s).
    recover: Callable[[datetime], int]
    # The lane's rows, when not all of the table's are (outbound events, not inbound).
    scope: Callable[[], QuerySet[Any]] | None = None
    # Lanes worked in batches by the pipeline's loop: one Worked per loop thread, and
    # how long an idle loop waits before it looks again (``runner.wake`` cuts it short).
    worked: Callable[[], Worked] | None = None
    poll_seconds: Callable[[], float] = lambda: 1.0
    # A rate per target (an OA, a subscription): the foreign key of the rows, the
    # targets that may be worked now, and the rate each has (``take``).
    target_field: str = ""
    targets: Callable[[], QuerySet[Any]] | None = None
    rate: Rate | None = None
    # A new row, not saved, that does a row's work again (Replay); None: no replay.
    again: Callable[[Any], Any] | None = None
    # Told the keys of the rows ``enqueue`` queued, once they are committed; None: the
    # pipeline's loop in this process wakes (a lane worked in batches).
    notify: Callable[[list[int]], None] | None = None


@dataclass(frozen=True)
class Expired:
    pk: int
    token: str
    attempts: int


_lanes: dict[str, Lane] = {}


def register_lane(lane: Lane) -> Lane:
    """Called from an AppConfig.ready(); registering the same name again replaces it."""
    _lanes[lane.name] = lane
    return lane


def lanes() -> list[Lane]:
    return list(_lanes.values())


def lane_named(name: str) -> Lane:
    return _lanes[name]


def lane_of(model: type[models.Model]) -> Lane | None:
    """The lane whose rows are ``model``'s (the admin asks this of a row's table)."""
    return next((lane for lane in _lanes.values() if lane.model is model), None)


def enqueue(lane: Lane, rows: Sequence[models.Model]) -> list[Any]:
    """The way in of a lane's work: ``rows`` (new rows of its table) inserted queued, due
    now unless they say when, in the caller's transaction (one INSERT per 500 rows);
    after the commit the lane's workers are told."""
    if not rows:
        return []
    now = timezone.now()
    for row in rows:
        setattr(row, lane.state_field, lane.queued)
        if getattr(row, "next_attempt_at", None) is None:
            row.next_attempt_at = now  # type: ignore[attr-defined]  # every lane's column
    made = lane.model._default_manager.bulk_create(rows, batch_size=500)
    if lane.notify is not None:
        notify, ids = lane.notify, [row.pk for row in made]
        transaction.on_commit(lambda: notify(ids))
    else:
        from zalohub.events.outbound.runner import wake  # the loop's module imports this one

        transaction.on_commit(wake)
    return made


def replay(lane: Lane, rows: Iterable[models.Model]) -> list[Any]:
    """Each row's work again, as a new row of the lane (``lane.again``), queued by
    ``enqueue``; the new rows."""
    if lane.again is None:
        raise ValueError(f"The rows of the {lane.name} lane are not replayed.")
    return enqueue(lane, [lane.again(row) for row in rows])


def prune_rates(*, older_than: timedelta = timedelta(hours=1)) -> int:
    """The lanes' rate windows of the database store that are over."""
    cutoff = timezone.now() - older_than
    return LaneRateWindow.objects.filter(window_start__lt=cutoff).delete()[0]


def new_token(worker_id: str) -> str:
    return f"{worker_id[:40]}:{secrets.token_hex(8)}"


def rows_of(lane: Lane) -> QuerySet[Any]:
    return lane.scope() if lane.scope is not None else lane.model._default_manager.all()


def _rows(lane: Lane, rows: QuerySet[Any] | None) -> QuerySet[Any]:
    return rows_of(lane) if rows is None else rows


def due(lane: Lane, now: datetime, rows: QuerySet[Any] | None = None) -> QuerySet[Any]:
    waiting = {f"{lane.state_field}__in": lane.waiting, "next_attempt_at__lte": now}
    return _rows(lane, rows).filter(**waiting)


def _claimed(lane: Lane, token: str, now: datetime) -> dict[str, Any]:
    return {
        lane.state_field: lane.running,
        "claimed_by": token,
        "lease_until": now + timedelta(seconds=lane.lease_seconds()),
        "attempts": F("attempts") + 1,  # the attempt's number: the row's count after it
    }


def claim_named(lane: Lane, rows: QuerySet[Any], *, token: str, now: datetime) -> int:
    """Claim the due rows among ``rows`` (named by key, so no row is skipped): one
    conditional UPDATE, whose count says whether this worker won."""
    return due(lane, now, rows).update(**_claimed(lane, token, now))


def _owing(lane: Lane, now: datetime) -> QuerySet[Any]:
    assert lane.targets is not None
    owed = due(lane, now).filter(**{lane.target_field: OuterRef("pk")})
    return lane.targets().filter(Exists(owed)).order_by("pk")


def due_targets(lane: Lane, now: datetime) -> list[int]:
    """The targets that have due rows, in one query (one index probe per target)."""
    return list(_owing(lane, now).values_list("pk", flat=True))


def take(lane: Lane, target: Any, n: int = 1, *, now: datetime) -> tuple[int, float]:
    """Count ``n`` rows of ``target``'s (a model instance) against the lane's rate: how
    many may go now (the first ones), and the seconds until its next window opens."""
    assert lane.rate is not None
    key = f"{lane.name}:{target.pk}"
    return lane.rate.counter.take_many(key, n, lane.rate.limit(target), now=now)


@dataclass(frozen=True)
class Claim:
    target: Any
    token: str
    ids: list[int]
    # The ``fields`` asked for, one tuple per row in the order of ``ids``, as read when
    # the rows were picked (``attempts`` before this claim counted it).
    rows: list[tuple[Any, ...]] = field(default_factory=list)


def claim_per_target(
    lane: Lane, *, worker_id: str, now: datetime, limit: int, fields: Sequence[str] = ()
) -> list[Claim]:
    """Claim what is due, target by target (one query asks which owe rows), each within
    its rate: the rows picked are counted (``take``) and only those the rate allows are
    claimed, so the count is what was claimed. ``fields``: columns read by the same
    query that picks (and locks) the rows, so a caller needs no second read."""
    assert lane.rate is not None
    claims = []
    for target in _owing(lane, now):
        cap = lane.rate.per_claim(target)
        wanted = limit if cap is None else min(limit, cap)
        rows = rows_of(lane).filter(**{lane.target_field: target.pk})
        picked = due(lane, now, rows).order_by("next_attempt_at", "pk")
        token = new_token(worker_id)
        with exclusive_transaction():
            if connection.vendor == "postgresql":
                picked = picked.select_for_update(skip_locked=True)
            found = list(picked.values_list("pk", *fields)[:wanted])
            if found:
                allowed, _wait = take(lane, target, len(found), now=now)
                found = found[:allowed]
            ids = [row[0] for row in found]
            if ids:
                rows_of(lane).filter(pk__in=ids).update(**_claimed(lane, token, now))
        if ids:
            claims.append(Claim(target, token, ids, [row[1:] for row in found]))
    return claims


def renew(lane: Lane, pk: int, token: str, now: datetime) -> bool:
    """A fresh lease, only while the claim is ours."""
    ours = rows_of(lane).filter(pk=pk, claimed_by=token, **{lane.state_field: lane.running})
    return bool(ours.update(lease_until=now + timedelta(seconds=lane.lease_seconds())))


def release(lane: Lane, token: str, pks: Iterable[int] | None = None, **fields: Any) -> int:
    """Give the claim back with ``fields``, only while it is still ours: the rows
    changed (0 if the sweeper or an admin settled them meanwhile)."""
    rows = rows_of(lane).filter(claimed_by=token)
    if pks is not None:
        rows = rows.filter(pk__in=list(pks))
    return rows.update(claimed_by="", lease_until=None, **fields)


def expired(lane: Lane, now: datetime, also: Q | None = None) -> list[Expired]:
    """Claimed rows whose lease ran out (or that ``also`` says are stuck)."""
    stale = Q(lease_until__lt=now) if also is None else Q(lease_until__lt=now) | also
    rows = rows_of(lane).filter(stale, **{lane.state_field: lane.running})
    found = rows.distinct().values_list("pk", "claimed_by", "attempts")
    return [Expired(*row) for row in found]


def requeue(lane: Lane, row: Expired, now: datetime, **fields: Any) -> bool:
    """An expired claim back in the queue, due now (only if nobody settled it since)."""
    back = rows_of(lane).filter(pk=row.pk, claimed_by=row.token, **{lane.state_field: lane.running})
    return bool(
        back.update(
            **{lane.state_field: lane.queued},
            claimed_by="",
            lease_until=None,
            next_attempt_at=now,
            **fields,
        )
    )


def recover_expired_leases(now: datetime) -> int:
    """Every lane's rows whose worker died, settled as each kind allows."""
    return sum(lane.recover(now) for lane in lanes())


def jitter(seconds: float) -> float:
    """Retries of a storm spread out: +-20 %."""
    return seconds * random.uniform(0.8, 1.2)


def next_try(attempts: int, delays: list[float]) -> float | None:
    """Seconds before the try after ``attempts`` tries on a schedule, jittered; None
    once the schedule is over."""
    if attempts > len(delays):
        return None
    return jitter(delays[max(0, attempts - 1)])


def count(lane: Lane, outcome: str, n: int = 1) -> None:
    if n:
        OUTBOUND_SETTLED.labels(lane.name, outcome).inc(n)
