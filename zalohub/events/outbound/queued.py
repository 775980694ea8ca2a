"""The sends loop, in every worker: queued sends to Zalo that have no task of their own
(a batch of ``oa_message.messages_queue``) are found by their row and sent; API sends
accepted as their event alone (``zalohub.api.accept``: Received, no message yet) are
first given their message and queued (``oa_message.accepted_queue``).

An accepted send is its committed row (an outbound event, Queued, due now): no task row
is written for it, so the request's transaction holds one statement less. Each loop
takes the due queued sends of every kind, oldest first, and sends each as its task
would (``send_outbound``: its own claim, attempt row, settle and retry), so a send
another loop or a task took first is skipped by the claim, never sent twice. A commit
that queued sends in this process wakes the loop at once (``wake``); sends queued by
another process (the web's) are seen at the next look, every WORKER_POLL_SECONDS, as
the task runners look for tasks. Should no loop run, ``requeue_lost_sends`` gives a
send still queued after two minutes a task.
"""

import logging
import threading

from django.conf import settings
from django.db import connection
from django.utils import timezone

from zalohub.core.worker import register_loop, work_until_stopped
from zalohub.events.models import Direction, ProcessingState
from zalohub.events.outbound import lanes
from zalohub.events.outbound.attempt import send_outbound
from zalohub.events.outbound.registry import owned_event_names
from zalohub.events.outbound.zalo_lane import ZALO_SENDS

logger = logging.getLogger(__name__)

LOOK = 50  # sends read a look; the loop looks again at once while it finds some
WAKE = threading.Event()


def wake() -> None:
    """Called after a commit that queued sends with no task (``transaction.on_commit``)."""
    WAKE.set()


def due_sends(*, limit: int = LOOK) -> list[int]:
    """The queued outbound events due now, oldest first (the queue's partial index)."""
    rows = lanes.due(ZALO_SENDS, timezone.now()).filter(
        direction=Direction.OUTBOUND,
        processing_state=ProcessingState.QUEUED,
        event_name__in=owned_event_names(),
    )
    return list(rows.order_by("next_attempt_at", "pk").values_list("pk", flat=True)[:limit])


def send_due(worker_id: str, *, limit: int = LOOK) -> int:
    """Queue the accepted API sends, then send each due queued send once (one that
    raises is logged and left to the sweeper, as ``send_events`` leaves it): how many
    were queued or tried without raising (0: the loop waits before it looks again, so a
    send that raises each time is no busy loop)."""
    # oa_message imports this module (its commits wake the loop).
    from zalohub.events.outbound.oa_message import accepted_queue

    tried = accepted_queue()
    for pk in due_sends(limit=limit):
        try:
            send_outbound(event_id=pk, worker_id=worker_id)
            tried += 1
        except Exception:
            logger.exception("Sending outbound event %s failed; the sweeper takes it up", pk)
            if not connection.in_atomic_block:
                connection.close_if_unusable_or_obsolete()  # a broken connection: a new one
    return tried


def _idle() -> None:
    WAKE.wait(settings.WORKER_POLL_SECONDS)
    WAKE.clear()


def _sender(worker_id: str, stop: threading.Event) -> None:
    try:
        work_until_stopped(
            stop,
            lambda: send_due(worker_id),
            idle=_idle,
            failed="Looking for queued sends failed; retrying",
        )
    finally:
        connection.close()


@register_loop("outbound.sends")
def work_sends(worker_id: str, stop: threading.Event) -> None:
    """As many senders as the worker has task threads (ZALOHUB_WORKER_THREADS), this
    one the first: a send waits on Zalo's answer, and the senders share the due sends
    by their claims (one that finds a send taken goes on to the next), as the task
    threads share the tasks."""
    others = [
        threading.Thread(
            target=_sender,
            args=(f"{worker_id}/{n}", stop),
            name=f"zalohub-outbound.sends-{n}",
            daemon=True,
        )
        for n in range(1, settings.WORKER_THREADS)
    ]
    for thread in others:
        thread.start()
    try:
        _sender(worker_id, stop)
    finally:
        for thread in others:
            thread.join()
