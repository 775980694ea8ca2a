"""The machine side of the hub's health: the event queue, the periodic jobs, the disk.

Read by ``zalohub doctor`` and by the metrics' queue collector. Every figure is one cheap
query: the queue's come from the partial indexes on the states that still need work
(never a count of every processed event, which grows by millions a day).
"""

import shutil
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import connection
from django.db.models import Count, Min
from django.utils import timezone

from zalohub.core.models import PeriodicJob
from zalohub.events.models import PENDING, ProcessingState, ZaloEvent

# The states the events_conversation partial index holds: counted without a table scan.
IN_FLIGHT = (*PENDING, ProcessingState.PROCESSING)


def queue_figures(now: datetime | None = None) -> dict[str, Any]:
    """Events still needing work by state; the oldest pending event's age; the lag: how
    long the longest-due event has waited for a worker (one waiting out its retry
    backoff is not late). Ages in seconds, 0 when nothing waits."""
    now = now or timezone.now()
    counts = dict(
        ZaloEvent.objects.filter(processing_state__in=IN_FLIGHT)
        .values_list("processing_state")
        .annotate(n=Count("id"))
        .order_by()
    )
    oldest = ZaloEvent.objects.filter(processing_state__in=PENDING).aggregate(
        at=Min("received_at")
    )["at"]
    due = (
        ZaloEvent.objects.filter(processing_state__in=PENDING, next_attempt_at__lte=now)
        .order_by("next_attempt_at", "id")
        .values_list("next_attempt_at", flat=True)
        .first()
    )
    return {
        "events": {str(state): counts.get(state, 0) for state in IN_FLIGHT},
        "oldest_pending_age_seconds": max(0.0, (now - oldest).total_seconds()) if oldest else 0.0,
        "processing_lag_seconds": max(0.0, (now - due).total_seconds()) if due else 0.0,
    }


def periodic_runs(now: datetime | None = None) -> list[dict[str, Any]]:
    """Each periodic job's last run as the workers recorded it; ``overdue_seconds`` > 0
    says no worker has run a due job (are the workers alive?)."""
    now = now or timezone.now()
    return [
        {
            "name": job.name,
            "last_started_at": job.last_started_at,
            "last_finished_at": job.last_finished_at,
            "next_run_at": job.next_run_at,
            "overdue_seconds": max(0.0, (now - job.next_run_at).total_seconds()),
            "failed": bool(job.last_error),
        }
        for job in PeriodicJob.objects.order_by("name")
    ]


def data_disk() -> dict[str, Any] | None:
    """Free space where the SQLite database lives (None on another database)."""
    if connection.vendor != "sqlite":
        return None
    usage = shutil.disk_usage(settings.DATA_DIR)
    return {"path": str(settings.DATA_DIR), "free_bytes": usage.free, "total_bytes": usage.total}


def machine_state() -> dict[str, Any]:
    now = timezone.now()
    return {
        "queue": queue_figures(now),
        "periodic_jobs": periodic_runs(now),
        "data_disk": data_disk(),
    }
