"""The worker's share of the pipeline: the dispatcher loop and the periodic sweeps."""

import logging
import threading

from django.conf import settings
from django.db import close_old_connections

from zalohub.accounts import ratelimit
from zalohub.core import periodic
from zalohub.core.worker import register_loop
from zalohub.events import retention  # noqa: F401  (registers events.retention)
from zalohub.events.ingestion import rejected
from zalohub.events.outbound import lanes, requeue_lost_sends, runner  # noqa: F401  (its loop)
from zalohub.events.processing.queue import dispatch_once, sweep_expired_leases

logger = logging.getLogger(__name__)


@register_loop("events.dispatcher")
def dispatcher(worker_id: str, stop: threading.Event) -> None:
    while not stop.is_set():
        try:
            # Inside the try: dropping a broken connection can fail as well.
            close_old_connections()
            claimed = dispatch_once(worker_id=worker_id)
        except Exception:
            # The database may be unreachable for a moment: wait and claim again.
            logger.exception("Event dispatch failed; retrying")
            claimed = 0
            stop.wait(1.0)
        if not claimed:
            stop.wait(settings.WORKER_POLL_SECONDS)


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
