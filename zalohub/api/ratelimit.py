"""Requests per minute per key, shared by every web process: the window counter of
``zalohub.accounts.ratelimit`` over this app's rows (a key's minute split over SHARDS
rows), or Redis when ZALOHUB_REDIS_URL is set; and the retention of this app's rate
windows and kept idempotent answers."""

from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.utils import timezone

from zalohub.accounts.ratelimit import WindowCounter
from zalohub.api.models import ApiKey, ApiRateWindow, IdempotentRequest
from zalohub.core import periodic

# Rows a key's minute is split over: concurrent requests mostly take different rows (each
# holds its row's lock until its commit).
SHARDS = 8
# How long an Idempotency-Key's first answer is kept (Stripe keeps them 24 hours).
IDEMPOTENCY_KEPT = timedelta(hours=24)

REQUESTS = WindowCounter(ApiRateWindow, "key_id", "zalohub:api", shards=SHARDS)


def take(key: ApiKey, *, now: datetime | None = None) -> float:
    """Count one request: 0 when allowed, else the seconds until the next window."""
    return REQUESTS.take(key.pk, key.rate_limit_per_minute, now=now)


def take_many(key: ApiKey, n: int, *, now: datetime | None = None) -> tuple[int, float]:
    """Count ``n`` requests at once (a batch of sends, ``zalohub.api.accept``): how many
    of them are allowed (the first ones), and the seconds until the next window. As
    exact as ``take`` n times; made inside the caller's transaction, it holds the rows it
    counted on until the commit (``WindowCounter.take_many``)."""
    return REQUESTS.take_many(key.pk, n, key.rate_limit_per_minute, now=now)


def first_try(
    key: ApiKey, n: int, *, only_if: tuple[str, list[Any]] = ("", []), wait: bool = False
) -> tuple[str, list[Any]] | None:
    """``take_many``'s usual case as an UPDATE ... RETURNING the key's pk, for a batch to
    run inside its statement (``WindowCounter.first_try``), or None."""
    return REQUESTS.first_try(key.pk, n, key.rate_limit_per_minute, only_if=only_if, wait=wait)


def counts_roll_back() -> bool:
    """Whether a count made in a transaction that rolls back is undone with it (the
    database's rows are; Redis's counts are not)."""
    return not settings.REDIS_URL


@periodic.register("api.retention", every_seconds=3600)
def prune() -> int:
    """Rate windows older than an hour, and idempotency answers older than a day."""
    windows = REQUESTS.prune(older_than=timedelta(hours=1))
    kept = IdempotentRequest.objects.filter(created_at__lt=timezone.now() - IDEMPOTENCY_KEPT)
    return windows + kept.delete()[0]
