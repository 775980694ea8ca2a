"""Requests per minute per key, shared by every web process: the window counter of
``zalohub.accounts.ratelimit`` over this app's rows (a key's minute split over SHARDS
rows), or Redis when ZALOHUB_REDIS_URL is set; and the retention of this app's rate
windows and kept idempotent answers."""

import random
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection
from django.db.models import F
from django.utils import timezone

from zalohub.accounts import ratelimit as window_counter
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
    exact as ``take`` n times: a share takes all n in one conditional UPDATE when it has
    room for them; near the limit, the requests are counted one by one. Made inside the
    caller's transaction, it holds the rows it counted on until the commit."""
    now = now or timezone.now()
    wait = window_counter.seconds_to_next_window(now=now)
    limit = key.rate_limit_per_minute
    if settings.REDIS_URL:
        start = now.replace(second=0, microsecond=0)
        name = f"{REQUESTS.redis_prefix}:{key.pk}:{int(start.timestamp())}"
        pipe = window_counter._redis().pipeline()
        pipe.incrby(name, n)
        pipe.expire(name, 120)
        count, _ = pipe.execute()
        return max(0, min(n, limit - (count - n))), wait
    start = now.replace(second=0, microsecond=0)
    split = REQUESTS.shares(limit)
    first = random.randrange(SHARDS)
    for created in (False, True):
        for step in range(SHARDS):
            shard = (first + step) % SHARDS
            if split[shard] >= n and _take_share(key.pk, start, shard, n, split[shard] - n):
                return n, wait
        if created:
            break
        # The minute's first requests: its rows, then again.
        ApiRateWindow.objects.bulk_create(
            [ApiRateWindow(key_id=key.pk, window_start=start, shard=s) for s in range(SHARDS)],
            ignore_conflicts=True,
        )
    # Near the limit: one request at a time, the shares in one order for every batch (a
    # batch holds the rows it counted on until its commit: no two wait on each other).
    allowed = 0
    for shard in range(SHARDS):
        window = ApiRateWindow.objects.filter(
            key_id=key.pk, window_start=start, shard=shard, count__lt=split[shard]
        )
        while allowed < n and window.update(count=F("count") + 1):
            allowed += 1
    return allowed, wait


def _take_share(key_pk: int, start: datetime, shard: int, n: int, most: int) -> bool:
    """Add ``n`` to the share's row if its count is at most ``most``: whether it did.
    Written as SQL: the ORM's UPDATE cost more to build than to run, once a batch."""
    qn = connection.ops.quote_name
    sql = (
        f"UPDATE {qn(ApiRateWindow._meta.db_table)} SET {qn('count')} = {qn('count')} + %s "  # noqa: S608
        f"WHERE {qn('key_id')} = %s AND {qn('window_start')} = %s AND {qn('shard')} = %s "
        f"AND {qn('count')} <= %s"
    )
    when = connection.ops.adapt_datetimefield_value(start)
    with connection.cursor() as cursor:
        cursor.execute(sql, [n, key_pk, when, shard, most])
        return cursor.rowcount > 0


@periodic.register("api.retention", every_seconds=3600)
def prune() -> int:
    """Rate windows older than an hour, and idempotency answers older than a day."""
    windows = REQUESTS.prune(older_than=timedelta(hours=1))
    kept = IdempotentRequest.objects.filter(created_at__lt=timezone.now() - IDEMPOTENCY_KEPT)
    return windows + kept.delete()[0]
