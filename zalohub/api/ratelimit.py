"""Requests per minute per key, shared by every web process: a counter row per key and
minute in the database (one conditional UPDATE a request), or Redis INCR when
ZALOHUB_REDIS_URL is set. Never process memory: N processes would allow N times the limit."""

import functools
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from zalohub.api.models import ApiKey, ApiRateWindow, IdempotentRequest
from zalohub.core import periodic

if TYPE_CHECKING:
    import redis

# How long an Idempotency-Key's first answer is kept (Stripe keeps them 24 hours).
IDEMPOTENCY_KEPT = timedelta(hours=24)


@functools.cache
def _redis() -> "redis.Redis":
    import redis

    return redis.Redis.from_url(settings.REDIS_URL, socket_timeout=2)


def _window(now: datetime) -> datetime:
    return now.replace(second=0, microsecond=0)


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
    window = ApiRateWindow.objects.filter(key=key, window_start=start, count__lt=limit)
    if window.update(count=F("count") + 1):
        return 0.0
    try:
        with transaction.atomic():  # the key's first request this minute
            ApiRateWindow.objects.create(key=key, window_start=start, count=1)
        return 0.0
    except IntegrityError:  # another process opened the window first
        return 0.0 if window.update(count=F("count") + 1) else wait


@periodic.register("api.retention", every_seconds=3600)
def prune() -> int:
    """Rate windows older than an hour, and idempotency answers older than a day."""
    now = timezone.now()
    windows = ApiRateWindow.objects.filter(window_start__lt=now - timedelta(hours=1)).delete()[0]
    kept = IdempotentRequest.objects.filter(created_at__lt=now - IDEMPOTENCY_KEPT).delete()[0]
    return windows + kept
