"""Per-app call budget shared by every worker: Zalo allows about 4,000 calls a minute per
app and answers -32 past it; we stop before it has to. It sits beside the client (and
below every app that calls Zalo): sends, profile fetches and syncs spend the same budget.

Two stores: the database (a counter row per app and minute, bumped by a conditional
UPDATE), or Redis (INCR with expiry) when ZALOHUB_REDIS_URL is set.
"""

import contextlib
import functools
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from django.conf import settings
from django.db import IntegrityError, transaction
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


def acquire(app_id: str, *, now: datetime | None = None) -> float:
    """Take one call from the app's budget: 0 if allowed, else seconds until the next
    window opens."""
    now = now or timezone.now()
    start = _window(now)
    wait = (start + timedelta(minutes=1) - now).total_seconds()
    limit = settings.ZALO_RATE_LIMIT_PER_MINUTE
    if settings.REDIS_URL:
        key = f"zalohub:rate:{app_id}:{int(start.timestamp())}"
        pipe = _redis().pipeline()
        pipe.incr(key)
        pipe.expire(key, 120)
        count, _ = pipe.execute()
        exhausted = _redis().exists(f"{key}:exhausted")
        return 0.0 if count <= limit and not exhausted else wait
    with contextlib.suppress(IntegrityError), transaction.atomic():
        RateWindow.objects.get_or_create(app_id=app_id, window_start=start)
    won = RateWindow.objects.filter(
        app_id=app_id, window_start=start, count__lt=limit, exhausted=False
    ).update(count=F("count") + 1)
    return 0.0 if won else wait


def seconds_to_next_window(*, now: datetime | None = None) -> float:
    now = now or timezone.now()
    return (_window(now) + timedelta(minutes=1) - now).total_seconds()


def note_remaining(app_id: str, remaining: int | None, *, now: datetime | None = None) -> None:
    """Honour Zalo's own count: when it says nothing remains, stop for this window."""
    if remaining is None or remaining > 0:
        return
    start = _window(now or timezone.now())
    if settings.REDIS_URL:
        _redis().set(f"zalohub:rate:{app_id}:{int(start.timestamp())}:exhausted", 1, ex=120)
        return
    with contextlib.suppress(IntegrityError), transaction.atomic():
        RateWindow.objects.get_or_create(app_id=app_id, window_start=start)
    RateWindow.objects.filter(app_id=app_id, window_start=start).update(exhausted=True)


def prune(*, older_than: timedelta = timedelta(hours=1)) -> int:
    return RateWindow.objects.filter(window_start__lt=timezone.now() - older_than).delete()[0]


def record_call(call: Call) -> None:
    """Transport recorder: Zalo's X-RateLimit-Remain header, per app (keyed by its pk)."""
    app = call.context.get("app")
    if app is not None:
        note_remaining(str(app), call.rate_limit[1])
