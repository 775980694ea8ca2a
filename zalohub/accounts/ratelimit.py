"""Budgets per window of time shared by every process, and the per-app budget of calls
to Zalo.

``WindowCounter`` counts uses of a budget per key and window (a minute unless it says
otherwise): in the database (counter rows per key and window, one conditional UPDATE a
use, the window optionally split over shards so that concurrent users mostly take
different rows), or in Redis (INCR with expiry) when ZALOHUB_REDIS_URL is set. Never in
process memory: N processes would allow N times the limit. Zalo's call budget below,
the API keys' request limit (``zalohub.api.ratelimit``) and the outbound lanes' rate per
target (``zalohub.events.outbound.lanes.Rate``: per OA, per subscription) are counters
of this one kind.

Zalo allows about 4,000 calls a minute per app and answers -32 past it; we stop before it
has to. The budget sits beside the client (and below every app that calls Zalo): sends,
profile fetches and syncs spend the same budget.
"""

import functools
import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.db import connection, models, transaction
from django.utils import timezone

from zalohub.accounts.models import RateWindow
from zalohub.zalo.transport import Call

if TYPE_CHECKING:
    import redis


def _window(now: datetime) -> datetime:
    return now.replace(second=0, microsecond=0)


@functools.cache
def _redis() -> "redis.Redis":
    import redis

    return redis.Redis.from_url(settings.REDIS_URL, socket_timeout=2)


@dataclass(frozen=True)
class WindowCounter:
    """Uses of a budget per key and window. ``model`` has ``window_start`` and ``count``,
    the field ``key_field``, a ``shard`` when ``shards`` > 1 and an ``exhausted`` flag
    when the window can be ``stop``\\ ped early; ``redis_prefix`` names its Redis keys."""

    model: type[models.Model]
    key_field: str
    redis_prefix: str
    # Rows a key's window is split over: concurrent uses mostly take different rows.
    shards: int = 1
    stoppable: bool = False
    # The window's length (a divisor of a day): 60, a minute; 1, a second.
    seconds: int = 60

    def window(self, now: datetime) -> datetime:
        """The start of the window ``now`` is in."""
        if self.seconds == 60:
            return _window(now)
        day = now.replace(hour=0, minute=0, second=0, microsecond=0)
        into = int((now - day).total_seconds()) // self.seconds * self.seconds
        return day + timedelta(seconds=into)

    def _wait(self, start: datetime, now: datetime) -> float:
        return (start + timedelta(seconds=self.seconds) - now).total_seconds()

    @property
    def _expiry(self) -> int:
        return max(120, 2 * self.seconds)

    def shares(self, limit: int) -> list[int]:
        """The limit split over the shards (exactly: they add up to it)."""
        n = self.shards
        return [limit // n + (1 if s < limit % n else 0) for s in range(n)]

    def _redis_key(self, key: object, start: datetime) -> str:
        return f"{self.redis_prefix}:{key}:{int(start.timestamp())}"

    def _row(self, key: object, start: datetime, shard: int) -> dict[str, Any]:
        row: dict[str, Any] = {self.key_field: key, "window_start": start}
        if self.shards > 1:
            row["shard"] = shard
        return row

    def _bump(
        self, key: object, start: datetime, shard: int, n: int, *, most: int, wait: bool
    ) -> tuple[str, list[Any]]:
        """``_add``'s UPDATE and its parameters."""
        meta = self.model._meta
        key_field = meta.get_field(self.key_field)
        assert meta.pk is not None and isinstance(key_field, models.Field)
        assert meta.db_table and meta.pk.column and key_field.column
        qn = connection.ops.quote_name
        table, pk = qn(meta.db_table), qn(meta.pk.column)
        where = [f"{qn(key_field.column)} = %s", "window_start = %s"]
        params: list[Any] = [key, connection.ops.adapt_datetimefield_value(start)]
        if self.shards > 1:
            where.append("shard = %s")
            params.append(shard)
        if self.stoppable:
            where.append("NOT exhausted")
        where.append(f"{qn('count')} <= %s")
        params.append(most)
        found = " AND ".join(where)
        # Names from the model's own metadata; every value is a parameter.
        bump = f"UPDATE {table} SET {qn('count')} = {qn('count')} + %s WHERE "  # noqa: S608
        if wait or not connection.features.has_select_for_update_skip_locked:
            sql = bump + found  # SQLite: one writer at a time, nothing to pass over
        else:
            held = f"(SELECT {pk} FROM {table} WHERE {found} FOR UPDATE SKIP LOCKED)"  # noqa: S608
            sql = bump + f"{pk} = {held}"
        return sql, [n, *params]

    def _add(
        self, key: object, start: datetime, shard: int, n: int, *, most: int, wait: bool
    ) -> bool:
        """Add ``n`` to the shard's row if its count is at most ``most`` (and its window
        was not stopped): whether it did. Written as SQL: the ORM's UPDATE cost more to
        build than to run.

        Without ``wait`` a row another transaction holds is passed over (PostgreSQL's
        SKIP LOCKED), not waited for. A conditional UPDATE that waits on a row and then
        finds it full keeps that row locked until its commit: two transactions trying
        the shards in different orders would each hold one the other waits on (a
        deadlock). So only the passes that go in shard order wait."""
        sql, params = self._bump(key, start, shard, n, most=most, wait=wait)
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            return cursor.rowcount > 0

    def first_try(
        self,
        key: object,
        n: int,
        limit: int,
        *,
        only_if: tuple[str, list[Any]] = ("", []),
        now: datetime | None = None,
        wait: bool = False,
    ) -> tuple[str, list[Any]] | None:
        """``take_many``'s usual case as an UPDATE for the caller to run inside a
        statement of its own (a WITH on PostgreSQL, sparing a round trip): ``n`` uses
        counted on a share drawn at random with room for all of them, unless another
        transaction holds it (with ``wait``, it waits for that one's commit: for a
        statement in autocommit that takes no other shard after it, so no two wait on
        each other); it RETURNs the key when it counted them. Else the caller counts
        them with ``take_many``. None where it cannot be run so (Redis counts, a
        database without UPDATEs in a WITH)."""
        if settings.REDIS_URL or connection.vendor != "postgresql" or n <= 0:
            return None
        roomy = [s for s, share in enumerate(self.shares(limit)) if share >= n]
        if not roomy:
            return None
        shard = random.choice(roomy)
        most = self.shares(limit)[shard] - n
        start = self.window(now or timezone.now())
        sql, params = self._bump(key, start, shard, n, most=most, wait=wait)
        if only_if[0]:
            sql, params = f"{sql} AND ({only_if[0]})", [*params, *only_if[1]]
        key_field = self.model._meta.get_field(self.key_field)
        assert isinstance(key_field, models.Field) and key_field.column
        return f"{sql} RETURNING {connection.ops.quote_name(key_field.column)}", params

    def take(self, key: object, limit: int, *, now: datetime | None = None) -> float:
        """Count one use of ``key``'s budget: 0 when allowed, else the seconds until the
        next window opens."""
        allowed, wait = self.take_many(key, 1, limit, now=now)
        return 0.0 if allowed else wait

    def take_many(
        self, key: object, n: int, limit: int, *, now: datetime | None = None
    ) -> tuple[int, float]:
        """Count ``n`` uses at once: how many of them are allowed (the first ones), and the
        seconds until the next window opens. Exact: ``limit`` uses pass a window, however
        many processes count at once.

        In the database, a random shard with room for all ``n`` and held by no other
        transaction takes them in one conditional UPDATE (the usual case: one statement).
        Else (the window's first use, every shard held, a limit nearly used up), the
        window's rows are made if missing and the shards are tried in their order,
        waiting on a held row: each takes all that is left if it has room, else as many
        as it has, one by one. Refused only when every share is used up. Made inside the
        caller's transaction, it holds the rows it counted on until the commit."""
        now = now or timezone.now()
        start = self.window(now)
        wait = self._wait(start, now)
        if n <= 0:
            return 0, wait
        if settings.REDIS_URL:
            name = self._redis_key(key, start)
            pipe = _redis().pipeline()
            pipe.incrby(name, n)
            pipe.expire(name, self._expiry)
            if self.stoppable:
                pipe.exists(f"{name}:exhausted")
            count, _, *stopped = pipe.execute()
            return (0 if any(stopped) else max(0, min(n, limit - (count - n)))), wait
        split = self.shares(limit)
        if self._first_pass(key, start, split, n):
            return n, wait
        rows = [self.model(**self._row(key, start, s)) for s in range(self.shards)]
        self.model._default_manager.bulk_create(rows, ignore_conflicts=True)
        allowed = 0
        for shard in range(self.shards):
            left, share = n - allowed, split[shard]
            if not left:
                break
            # All that is left at once where the share has room (a held row waited for),
            # else one by one while it has.
            if share >= left and self._add(key, start, shard, left, most=share - left, wait=True):
                return n, wait
            while (
                allowed < n and share and self._add(key, start, shard, 1, most=share - 1, wait=True)
            ):
                allowed += 1
        return allowed, wait

    def _first_pass(self, key: object, start: datetime, split: list[int], n: int) -> bool:
        """``take_many``'s usual case: whether a shard drawn at random (then the next
        ones) with room for all ``n`` and held by no other transaction took them.

        A row that had room when the UPDATE began but not once it was locked (another
        transaction's commit between) is not counted, and PostgreSQL keeps the lock it
        took until the transaction ends. The passes in shard order could then wait on
        each other's kept rows (a deadlock), so inside a transaction the pass runs in a
        savepoint, rolled back when it counted nothing: a lock taken after a savepoint
        is released when the transaction rolls back to it."""
        held = connection.in_atomic_block and connection.features.has_select_for_update_skip_locked
        savepoint = transaction.savepoint_create() if held else None
        first = random.randrange(self.shards)
        for step in range(self.shards):
            shard = (first + step) % self.shards
            if split[shard] >= n and self._add(
                key, start, shard, n, most=split[shard] - n, wait=False
            ):
                if savepoint:
                    transaction.savepoint_commit(savepoint)
                return True
        if savepoint:
            transaction.savepoint_rollback(savepoint)
        return False

    def stop(self, key: object, *, now: datetime | None = None) -> None:
        """Nothing more for ``key`` this window, whatever the count says."""
        assert self.stoppable, "this counter's windows cannot be stopped"
        start = self.window(now or timezone.now())
        if settings.REDIS_URL:
            _redis().set(f"{self._redis_key(key, start)}:exhausted", 1, ex=self._expiry)
            return
        rows = [self.model(**self._row(key, start, s)) for s in range(self.shards)]
        self.model._default_manager.bulk_create(rows, ignore_conflicts=True)
        self.model._default_manager.filter(**{self.key_field: key, "window_start": start}).update(
            exhausted=True
        )

    def prune(self, *, older_than: timedelta = timedelta(hours=1)) -> int:
        cutoff = timezone.now() - older_than
        return self.model._default_manager.filter(window_start__lt=cutoff).delete()[0]


# Calls to Zalo per app (keyed by the app's pk): one row a minute, as Zalo counts them.
ZALO_CALLS = WindowCounter(RateWindow, "app_id", "zalohub:rate", stoppable=True)


def acquire(app_id: str, *, now: datetime | None = None) -> float:
    """Take one call from the app's budget: 0 if allowed, else seconds until the next
    window opens."""
    return ZALO_CALLS.take(app_id, settings.ZALO_RATE_LIMIT_PER_MINUTE, now=now)


def seconds_to_next_window(*, now: datetime | None = None) -> float:
    now = now or timezone.now()
    return (_window(now) + timedelta(minutes=1) - now).total_seconds()


def note_remaining(app_id: str, remaining: int | None, *, now: datetime | None = None) -> None:
    """Honour Zalo's own count: when it says nothing remains, stop for this window."""
    if remaining is None or remaining > 0:
        return
    ZALO_CALLS.stop(app_id, now=now)


def prune(*, older_than: timedelta = timedelta(hours=1)) -> int:
    return ZALO_CALLS.prune(older_than=older_than)


def record_call(call: Call) -> None:
    """Transport recorder: Zalo's X-RateLimit-Remain header, per app (keyed by its pk)."""
    app = call.context.get("app")
    if app is not None:
        note_remaining(str(app), call.rate_limit[1])
