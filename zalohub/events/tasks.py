"""The worker's share of the pipeline: the dispatcher loop and the periodic sweeps."""

import threading

from django.conf import settings

from zalohub.accounts import ratelimit
from zalohub.core import periodic
from zalohub.core.worker import register_loop, work_until_stopped
from zalohub.events import (
    retention,  # noqa: F401  (registers events.retention)
    wake,
)
from zalohub.events.ingestion import rejected
from zalohub.events.outbound import (  # noqa: F401  (runner, queued: their loops)
    lanes,
    queued,
    requeue_lost_sends,
    runner,
)
from zalohub.events.processing.queue import dispatch_once, sweep_expired_leases


@register_loop("events.dispatcher")
def dispatcher(worker_id: str, stop: threading.Event) -> None:
    news = wake.queue_news()
    since = 0

    def once() -> int:
        nonlocal since
        since = news.generation  # events committed after this end the idle wait below
        return dispatch_once(worker_id=worker_id)

    def idle() -> None:
        # Till new events are committed (ingest says so), or the poll (for what nothing
        # announces: retries coming due, another process's ingest without Redis).
        news.wait(since, None, settings.WORKER_POLL_SECONDS)

    work_until_stopped(stop, once, idle=idle, failed="Event dispatch failed; retrying")


@periodic.register("events.sweep", every_seconds=10)
def sweep() -> None:
    sweep_expired_leases()
    requeue_lost_sends()


@periodic.register("events.rejected_retention", every_seconds=3600)
def prune_rejected() -> int:
    # Aged out here; bounded as each one is stored (zalohub.events.ingestion.rejected).
    deleted = rejected.prune()
    ratelimit.prune()
    lanes.prune_rates()
    return deleted
