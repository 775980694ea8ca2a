"""Requests per minute per key, shared by every web process: counter rows per key and
minute in the database (one conditional UPDATE a request, on one of SHARDS rows), or
Redis INCR when ZALOHUB_REDIS_URL is set. Never process memory: N processes would allow
N times the limit."""

import functools
import random
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from django.conf import settings
from django.db.models import F
from django.utils import timezone

from zalohub.api.models import ApiKey, ApiRateWindow, IdempotentRequest
from zalohub.core import periodic

if TYPE_CHECKING:
    import redis

# Rows a key's minute is split over: concurrent requests mostly take different rows.
SHARDS = 8
# How long an Idempotency-Key's first answer is kept (Stripe keeps them 24 hours).
IDEMPOTENCY_KEPT = timedelta(hours=24)


@functools.cache
def _redis() -> "redis.Redis":
    import redis

    return redis.Redis.from_url(settings.REDIS_URL, socket_timeout=2)


def _window(now: datetime) -> datetime:
    return now.replace(second=0, microsecond=0)


def shares(limit: int) -> list[int]:
    """The limit split over the shards (exactly: they add up to it)."""
    return [limit // SHARDS + (1 if n < limit % SHARDS else 0) for n in range(SHARDS)]


def _bump(key: ApiKey, start: datetime, shard: int, share: int) -> bool:
    window = ApiRateWindow.objects.filter(key=key, window_start=start, shard=shard, count__lt=share)
    if window.update(count=F("count") + 1):
        return True
    # The share's first request this minute (or the share is used up).
    ApiRateWindow.objects.bulk_create(
        [ApiRateWindow(key=key, window_start=start, shard=shard, count=0)],
        ignore_conflicts=True,
    )
    return bool(window.update(count=F("count") + 1))


def take(key: ApiKey, *, now: datetime | None = None) -> float:
    """Count one request: 0 when allowed, else the seconds until the next window."""
    now = now or timezone.now()
    start = _window(now)
    wait = (start + timedelta(minutes=1) - now).total_seconds()
    limit = key.rate_limit_per_minute
    if settings.REDIS_URL:
        name = f"zalohub:api:{key.pk}:{int(start.timestamp())}"
        pipe = _redis().pipeline()
        pipe.incr(name)
        pipe.expire(name, 120)
        count, _ = pipe.execute()
        return 0.0 if count <= limit else wait
    # A random share first, the others when it is used up: the key is refused only when
    # every share is, so exactly ``limit`` requests pass a minute.
    split = shares(limit)
    first = random.randrange(SHARDS)
    for n in range(SHARDS):
        shard = (first + n) % SHARDS
        if split[shard] and _bump(key, start, shard, split[shard]):
            return 0.0
    return wait


@periodic.register("api.retention", every_seconds=3600)
def prune() -> int:
    """Rate windows older than an hour, and idempotency answers older than a day."""
    now = timezone.now()
    windows = ApiRateWindow.objects.filter(window_start__lt=now - timedelta(hours=1)).delete()[0]
    kept = IdempotentRequest.objects.filter(created_at__lt=now - IDEMPOTENCY_KEPT).delete()[0]
    return windows + kept
