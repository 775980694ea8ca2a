"""Liveness and readiness probes for load balancers and orchestrators.

Unauthenticated and cheap: ``/healthz`` touches nothing (the process answers);
``/readyz`` asks the database for one row, compares the migration files with the applied
ones (cached briefly: loading the migration graph reads every migration file), and pings
Redis when one is configured. Answers JSON, 200 when ready and 503 when not; the reasons
are short words, never an exception's text (anyone may call these).
"""

import json
import logging
import threading
import time
from collections.abc import Mapping

from django.conf import settings
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.http import HttpRequest, HttpResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt

logger = logging.getLogger(__name__)

# A deploy that runs `migrate` becomes ready at most this long after it finishes.
MIGRATIONS_CACHE_SECONDS = 10.0
_migrations_checked: tuple[float, int] | None = None  # (monotonic time, unapplied count)
_lock = threading.Lock()


def clear_cache() -> None:
    """Forget the last migration check (a test changes the applied migrations)."""
    global _migrations_checked
    with _lock:
        _migrations_checked = None


def unapplied_migrations() -> int:
    global _migrations_checked
    with _lock:
        cached = _migrations_checked
    now = time.monotonic()
    if cached is not None and now - cached[0] < MIGRATIONS_CACHE_SECONDS:
        return cached[1]
    executor = MigrationExecutor(connection)
    count = len(executor.migration_plan(executor.loader.graph.leaf_nodes()))
    with _lock:
        _migrations_checked = (now, count)
    return count


def _check_database() -> dict[str, str]:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception:
        logger.warning("Readiness: database unreachable", exc_info=True)
        return {"database": "unreachable", "migrations": "unknown"}
    try:
        missing = unapplied_migrations()
    except Exception:
        logger.warning("Readiness: migrations could not be checked", exc_info=True)
        return {"database": "ok", "migrations": "unknown"}
    return {"database": "ok", "migrations": "ok" if not missing else f"{missing} unapplied"}


def _check_redis() -> str:
    if not settings.REDIS_URL:
        return "not configured"
    import redis

    client = redis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=1, socket_timeout=1)
    try:
        client.ping()
    except Exception:
        logger.warning("Readiness: Redis unreachable", exc_info=True)
        return "unreachable"
    finally:
        client.close()
    return "ok"


def _answer(status: int, body: Mapping[str, object]) -> HttpResponse:
    return HttpResponse(json.dumps(body), status=status, content_type="application/json")


@csrf_exempt
@never_cache
def healthz(request: HttpRequest) -> HttpResponse:
    return _answer(200, {"status": "ok"})


@csrf_exempt
@never_cache
def readyz(request: HttpRequest) -> HttpResponse:
    checks = _check_database()
    checks["redis"] = _check_redis()
    ready = all(value in ("ok", "not configured") for value in checks.values())
    body = {"status": "ok" if ready else "unavailable", "checks": checks}
    return _answer(200 if ready else 503, body)
