"""Periodic jobs run by the worker process (token refresh, retention, health checks).

Apps register their jobs in AppConfig.ready(); any number of workers call
``run_due_jobs`` and each due job runs once per period.
"""

import contextlib
import logging
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from django.db import IntegrityError
from django.db.models import Q
from django.utils import timezone

from zalohub.core import requestid

logger = logging.getLogger(__name__)
# One line per job run and per event handled: what ZALOHUB_LOG_FORMAT=json turns on.
job_log = logging.getLogger("zalohub.job")


@dataclass(frozen=True)
class Job:
    name: str
    every: timedelta
    func: Callable[[], object]


JOBS: dict[str, Job] = {}


def register(name: str, *, every_seconds: int) -> Callable[[Callable[[], object]], Callable]:
    def decorator(func: Callable[[], object]) -> Callable[[], object]:
        JOBS[name] = Job(name=name, every=timedelta(seconds=every_seconds), func=func)
        return func

    return decorator


def _claim(job: Job, worker_id: str) -> bool:
    from zalohub.core.models import PeriodicJob

    now = timezone.now()
    with contextlib.suppress(IntegrityError):  # another worker created it first
        PeriodicJob.objects.get_or_create(name=job.name, defaults={"next_run_at": now})
    # Long enough for a run, short enough that a worker killed mid-run (say, in the
    # 10-second events sweep) holds the job up for a minute, not five.
    lease = max(2 * job.every, timedelta(seconds=60))
    won = PeriodicJob.objects.filter(
        Q(claimed_until__isnull=True) | Q(claimed_until__lt=now),
        name=job.name,
        next_run_at__lte=now,
    ).update(claimed_by=worker_id, claimed_until=now + lease, last_started_at=now)
    return won == 1


def run_job(job: Job, worker_id: str) -> bool:
    """Run one job if it is due and this worker wins the claim; True if it ran."""
    from zalohub.core.models import PeriodicJob

    if not _claim(job, worker_id):
        return False
    error = ""
    started = time.perf_counter()
    with requestid.bound() as run_id:  # each run an id of its own: its lines, API logs
        try:
            job.func()
        except Exception:
            logger.exception("Periodic job %s failed", job.name)
            error = traceback.format_exc(limit=5)
        job_log.info(
            "job %s %s",
            job.name,
            "failed" if error else "done",
            extra={
                "request_id": run_id,
                "job": job.name,
                "worker": worker_id,
                "ok": not error,
                "duration_ms": round((time.perf_counter() - started) * 1000, 2),
            },
        )
    finished = timezone.now()
    PeriodicJob.objects.filter(name=job.name, claimed_by=worker_id).update(
        claimed_by="",
        claimed_until=None,
        last_finished_at=finished,
        next_run_at=finished + job.every,
        last_error=error,
    )
    return True


def run_due_jobs(worker_id: str) -> list[str]:
    return [job.name for job in list(JOBS.values()) if run_job(job, worker_id)]
