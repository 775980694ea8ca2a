"""The pipeline's loop, in every worker: it works each lane that is worked in batches
(webhook deliveries), claim, call, settle, and waits when nothing is due. A commit that
queued work in this process wakes it at once (``wake``); work queued by another process
is seen at the next look."""

import threading

from zalohub.core.worker import register_loop, work_until_stopped
from zalohub.events.outbound.lanes import Worked, lanes

WAKE = threading.Event()


def wake() -> None:
    """Called after a commit that queued outbound rows (``transaction.on_commit``)."""
    WAKE.set()


@register_loop("outbound.lanes")
def work_lanes(worker_id: str, stop: threading.Event) -> None:
    batched = [lane for lane in lanes() if lane.worked is not None]
    if not batched:
        return
    poll = min(lane.poll_seconds() for lane in batched)
    worked: list[Worked] = []
    try:
        for lane in batched:
            assert lane.worked is not None
            worked.append(lane.worked())

        def idle() -> None:
            WAKE.wait(poll)
            WAKE.clear()

        work_until_stopped(
            stop,
            lambda: sum(w.once(worker_id) for w in worked),
            idle=idle,
            failed="Outbound work failed; retrying",
        )
    finally:
        for w in worked:
            w.close()
