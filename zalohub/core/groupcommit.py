"""Leader/follower group commit for the threads of one process.

Requests that need a write at the same time share one batch, and so one statement per
table and one commit. There is no extra thread: a request that finds nobody writing
becomes the *leader*: it lingers a moment (``linger_seconds``) for the requests right
behind it, takes every item queued so far (up to ``cap``), writes them
(``write``), publishes each item's outcome and wakes the others; a request that arrives
meanwhile queues its item and waits on a lock of its own, and if the leader's batch did
not include it, the first of those queued is handed the lead of the next batch. So the
leader wakes exactly the requests of its batch (no thundering herd, no request woken for
nothing).

If ``write`` raises, nothing of the batch is taken as written: every item's outcome is
``FAILED`` and each request decides what to do alone (ingest inserts its row alone,
an API send takes its careful path). Used by ingest's webhook rows
(``zalohub.events.ingestion.store``) and the API's message sends (``zalohub.api.accept``).
"""

import logging
import threading
import time
from collections import Counter
from collections.abc import Callable
from typing import Final

from django.db import connection

logger = logging.getLogger(__name__)


class Failed:
    def __repr__(self) -> str:
        return "FAILED"


FAILED: Final = Failed()  # the outcome of every item of a batch whose write raised


def in_transaction() -> bool:
    """Whether this thread is inside a transaction (an atomic block, or autocommit off),
    where its write belongs to that transaction rather than to a batch. Told without
    opening the thread's connection: a request that joins another's batch never needs a
    connection of its own (taking one from the pool and giving it back costs more Python
    than the request's share of the batch)."""
    if connection.in_atomic_block:
        return True
    if connection.connection is None:
        return not connection.settings_dict["AUTOCOMMIT"]
    return not connection.get_autocommit()


class _Slot[Item, Result]:
    __slots__ = ("item", "lead", "outcome", "wake")

    def __init__(self, item: Item) -> None:
        self.item = item
        self.outcome: Result | Failed = FAILED
        self.lead = False
        self.wake: threading.Lock | None = None  # held until a leader is done with it


class GroupCommit[Item, Result]:
    """Subclasses give ``write`` (the batch's items -> their outcomes, in order) and may
    give ``linger_seconds``. ``name`` is what a failed batch's warning calls the items."""

    name = "items"

    def __init__(self, cap: int) -> None:
        self.cap = cap
        self._mutex = threading.Lock()
        self._queue: list[_Slot[Item, Result]] = []  # items queued while a leader is busy
        self._leading = False
        self._stats: Counter[str] = Counter()
        # Tests only: called by a leader with its batch before it writes it.
        self.before_batch: Callable[[list[Item]], None] | None = None

    def write(self, items: list[Item]) -> list[Result]:
        raise NotImplementedError

    def linger_seconds(self) -> float:
        return 0.0

    def linger(self, seconds: float) -> None:
        """A new leader's wait, for the requests right behind it to join its commit."""
        time.sleep(seconds)

    def run(self, item: Item) -> Result | Failed:
        """The item's outcome once its batch is written, or ``FAILED``."""
        slot: _Slot[Item, Result] = _Slot(item)
        with self._mutex:
            if self._leading:
                slot.wake = threading.Lock()
                slot.wake.acquire()
                self._queue.append(slot)
            else:
                self._leading = slot.lead = True
        if slot.wake is not None:
            slot.wake.acquire()  # released by the leader that took this item, or handed the lead
        if slot.lead:
            if slot.wake is None and (linger := self.linger_seconds()):
                self.linger(linger)
            with self._mutex:
                if slot.wake is None:  # led at once: this item, and any queued since
                    batch = [slot, *self._queue[: self.cap - 1]]
                    del self._queue[: self.cap - 1]
                else:  # handed the lead: this item is the first queued
                    batch = self._queue[: self.cap]
                    del self._queue[: self.cap]
            self._lead(batch, slot)
        return slot.outcome

    def _lead(self, batch: list[_Slot[Item, Result]], me: _Slot[Item, Result]) -> None:
        ok = False
        try:
            items = [slot.item for slot in batch]
            if self.before_batch is not None:
                self.before_batch(items)
            outcomes = self.write(items)
            for slot, outcome in zip(batch, outcomes, strict=True):
                slot.outcome = outcome
            ok = True
        except Exception:
            for slot in batch:
                slot.outcome = FAILED
            logger.warning(
                "A batch of %d %s failed; each goes alone", len(batch), self.name, exc_info=True
            )
        finally:
            with self._mutex:
                following = self._queue[0] if self._queue else None
                if following is None:
                    self._leading = False
                else:
                    following.lead = True
                self._count(len(batch), ok)
            for slot in batch:
                if slot is not me and slot.wake is not None:
                    slot.wake.release()
            if following is not None and following.wake is not None:
                following.wake.release()

    def _count(self, items: int, ok: bool) -> None:
        stats = self._stats
        stats["batches"] += 1
        stats["rows"] += items
        if items > 1:
            stats["multi_row_batches"] += 1
        stats["largest_batch"] = max(stats["largest_batch"], items)
        if not ok:
            stats["failed_batches"] += 1
            stats["fallback_rows"] += items

    def queued(self) -> int:
        """Items waiting for a leader to take them."""
        with self._mutex:
            return len(self._queue)

    def stats(self) -> dict[str, int]:
        """Counters since the process started (or reset_stats): batches, rows (items),
        multi_row_batches, largest_batch, failed_batches, fallback_rows."""
        with self._mutex:
            return dict(self._stats)

    def reset_stats(self) -> None:
        with self._mutex:
            self._stats.clear()
