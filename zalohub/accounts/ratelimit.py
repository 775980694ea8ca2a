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
from django.db import models
from django.db.models import F
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

    def _open(self, key: object, start: datetime, shard: int) -> models.QuerySet[Any]:
        """The shard's row, unless its window was stopped."""
        window = self.model._default_manager.filter(**self._row(key, start, shard))
        return window.filter(exhausted=False) if self.stoppable else window

    def _bump(self, key: object, start: datetime, shard: int, share: int) -> bool:
        window = self._open(key, start, shard).filter(count__lt=share)
        if window.update(count=F("count") + 1):
            return True
        # The share's first use this minute (or the share is used up, or stopped).
        row = self.model(**self._row(key, start, shard))
        self.model._default_manager.bulk_create([row], ignore_conflicts=True)
        return bool(window.update(count=F("count") + 1))

    def take(self, key: object, limit: int, *, now: datetime | None = None) -> float:
        """Count one use of ``key``'s budget: 0 when allowed, else the seconds until the
        next window opens."""
        now = now or timezone.now()
        start = self.window(now)
        wait = self._wait(start, now)
        if settings.REDIS_URL:
            name = self._redis_key(key, start)
            pipe = _redis().pipeline()
            pipe.incr(name)
            pipe.expire(name, self._expiry)
            if self.stoppable:
                pipe.exists(f"{name}:exhausted")
            count, _, *stopped = pipe.execute()
            return 0.0 if count <= limit and not any(stopped) else wait
        # A random share first, the others when it is used up: the key is refused only
        # when every share is, so exactly ``limit`` uses pass a minute.
        split = self.shares(limit)
        first = random.randrange(self.shards)
        for n in range(self.shards):
            shard = (first + n) % self.shards
            if split[shard] and self._bump(key, start, shard, split[shard]):
                return 0.0
        return wait

    def take_many(
        self, key: object, n: int, limit: int, *, now: datetime | None = None
    ) -> tuple[int, float]:
        """Count ``n`` uses at once: how many of them are allowed (the first ones), and the
        seconds until the next window opens. As exact as ``take`` n times: a shard with
        room for all n takes them in one conditional UPDATE; near the limit, the uses are
        counted one by one."""
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
        first = random.randrange(self.shards)
        for rows_made in (False, True):
            for step in range(self.shards):
                shard = (first + step) % self.shards
                room = self._open(key, start, shard).filter(count__lte=split[shard] - n)
                if split[shard] >= n and room.update(count=F("count") + n):
                    return n, wait
            if rows_made:
                break
            # The minute's first uses: its rows, then again.
            rows = [self.model(**self._row(key, start, s)) for s in range(self.shards)]
            self.model._default_manager.bulk_create(rows, ignore_conflicts=True)
        allowed = 0
        while allowed < n and not self.take(key, limit, now=now):
            allowed += 1
        return allowed, wait

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
