"""One reader per process for every open inbox stream (the async path of ``stream``).

Each stream used to re-read the database on every tick itself, on a thread of its own
request; with hundreds of pages open that is hundreds of reads a second and as many
threads and pooled connections held for the stream's whole length. Here a stream only
subscribes to its scope. One task per event loop reads each scope's cursor on one
thread of its own, after a wake-up for one of the scope's OAs and for every scope once
per tick, and tells the scope's subscribers; it rests as long as each round took, so
reads never take more than half of one thread. Streams hold no thread and no
connection while they wait; a tick costs one read per open scope, however many tabs
share it.
"""

import asyncio
import contextlib
import logging
import random
import threading
import time
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING

from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import close_old_connections, connection

from zalohub.core import metrics, shutdown
from zalohub.inbox import push
from zalohub.inbox.live import get_notifier

if TYPE_CHECKING:
    from zalohub.inbox.stream import Scope

logger = logging.getLogger(__name__)

# How soon a page reconnects after its stream's planned end.
RECONNECT_MS = 50
# How long a scope is still read after its last stream ended: a page back from its
# stream's planned end (or from a short break) is sent the reads it missed, with their
# pushes, and fetches only what those did not bring. Forgotten at once, every page came
# back to a scope read afresh, told to fetch every part that had moved: under a stream
# of messages, each page fetched its list and its thread at every planned end.
LINGER_SECONDS = 5.0

# The reads of every scope, one after the other: the database sees at most one of them
# at a time from this process, and the process's other threads keep the rest of the CPU.
_reader = ThreadPoolExecutor(max_workers=1, thread_name_prefix="zalohub-inbox-watch")
# A scope's read: its cursor now (``stream`` gives its own, which may note presence too).
Read = Callable[["Scope"], tuple[str, str]]
# Before a round's reads, what reads the scopes' shared parts together (``stream.warm``).
Warm = Callable[[Sequence["Scope"]], None]


@dataclass(frozen=True)
class Past:
    """One read of a scope: the cursor before and after it, what it pushed to the scope's
    pages, and which parts (list, thread) those pushes covered (``Watcher._pushes``)."""

    version: int
    before: tuple[str, str] | None
    after: tuple[str, str] | None
    pushed: str
    covered: tuple[bool, bool]


class Watch:
    """What the streams of one scope share: its cursor as last read, and a wake-up."""

    def __init__(self, scope: "Scope", read: Read, warm: Warm | None = None) -> None:
        self.scope = scope
        self.read = read
        self.warm = warm
        self.cursor: tuple[str, str] | None = None
        # The last reads: a stream a read or two behind, or a page back on a new stream,
        # is still sent each one's pushes, and leaves out what they covered.
        self.history: deque[Past] = deque(maxlen=8)
        self.version = 0  # reads so far
        self.subscribers = 0
        self.left: float | None = None  # when its last stream ended (it lingers)
        self.due = True  # read it in the next round
        self.changed = asyncio.Event()  # replaced after each read: a broadcast

    def publish(
        self,
        cursor: tuple[str, str] | None,
        pushed: str = "",
        covered: tuple[bool, bool] = (False, False),
    ) -> None:
        before = self.cursor
        if cursor is not None:
            self.cursor = cursor
        self.version += 1
        self.history.append(Past(self.version, before, self.cursor, pushed, covered))
        self.changed.set()
        self.changed = asyncio.Event()

    def resume(self, cursor: tuple[str, str]) -> int:
        """The last read a page at ``cursor`` has had: the latest when the page stands
        there; else the one before the latest read that started there (its stream is
        sent the reads since); else the latest (the page is told what moved)."""
        if cursor == self.cursor:
            return self.version
        for past in reversed(self.history):
            if past.before == cursor:
                return past.version - 1
        return self.version

    def since(self, seen: int, cursor: tuple[str, str]) -> tuple[str, tuple[bool, bool]]:
        """For a stream that has had the reads up to ``seen`` and whose page stands at
        ``cursor``: the later reads' pushes, and which parts the page then has (every
        move of the part pushed, from where the page stands, no read missing)."""
        later = [past for past in self.history if past.version > seen]
        pushed = "".join(past.pushed for past in later)
        whole = bool(later) and later[0].version == seen + 1 and later[0].before == cursor
        skip = [whole, whole]
        for past in later:
            for part in (0, 1):
                moved = (
                    past.before is None
                    or past.after is None
                    or past.before[part] != past.after[part]
                )
                if moved and not past.covered[part]:
                    skip[part] = False
        return pushed, (skip[0], skip[1])

    async def next_read(self, after: int, timeout: float) -> None:
        """Wait until a read newer than ``after`` (or the timeout, or a drain)."""
        if self.version > after or shutdown.draining():
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.changed.wait(), timeout)


# What the reads of one round may share (scopes of the same OAs read the same list
# cursor): a dict while ``read_cursors`` runs on the reader's thread, else None.
_round = threading.local()


def round_memo() -> dict[object, object] | None:
    return getattr(_round, "memo", None)


@contextlib.contextmanager
def one_round() -> Iterator[dict[int, push.Seen]]:
    """The reads within share a memo; on leaving, what they saw of each thread (by
    conversation: its feed tells from it what its push covers) is in the dict given."""
    memo: dict[object, object] = {}
    seen: dict[int, push.Seen] = {}
    _round.memo = memo
    try:
        yield seen
    finally:
        _round.memo = None
        for key, value in memo.items():
            if isinstance(key, tuple) and key[0] == "seen" and isinstance(value, push.Seen):
                seen[key[1]] = value


def read_cursors(
    read: Read, scopes: Sequence["Scope"], warm: Warm | None = None
) -> tuple[list[tuple[str, str] | None], dict[int, push.Seen]]:
    """Each scope's cursor now (None where the read failed), and what the reads saw of
    each thread (``one_round``). ``warm`` first reads what they share, together."""
    out: list[tuple[str, str] | None] = []
    try:
        with one_round() as seen:
            if warm is not None:
                try:
                    warm(scopes)
                except Exception:
                    logger.warning("Inbox stream reads failed", exc_info=True)
            for scope in scopes:
                try:
                    out.append(read(scope))
                except Exception:
                    # The database away for a moment: the streams keep their last cursor.
                    logger.warning("Inbox stream read failed", exc_info=True)
                    out.append(None)
    finally:
        close_old_connections()  # with the pool, the connection goes back between rounds
    return out, seen


def advance_feeds(feeds: Sequence[push.Feed], seen: dict[int, push.Seen]) -> list[str]:
    """What each feed draws now ('' where it failed: the pages' fetches bring it)."""
    try:
        return push.advance(feeds, seen)
    except Exception:
        logger.warning("Inbox push failed", exc_info=True)
        for feed in feeds:
            feed.covered = False
        return [""] * len(feeds)
    finally:
        close_old_connections()


class Watcher:
    """The scopes open on one event loop and the task that reads them."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.watches: dict[Scope, Watch] = {}
        self.feeds: dict[object, push.Feed] = {}  # what the scopes' pages are sent (push)
        self.started: set[object] = set()  # the feeds past their first round
        self.wake = asyncio.Event()
        self.task: asyncio.Task[None] | None = None

    def _on_change(self, oa_id: int) -> None:  # any thread
        self.loop.call_soon_threadsafe(self._mark, oa_id)

    def _mark(self, oa_id: int) -> None:
        for watch in self.watches.values():
            if oa_id in watch.scope.oa_ids:
                watch.due = True
        self.wake.set()

    def _drain(self) -> None:
        for watch in self.watches.values():
            watch.publish(None)  # every stream looks up and sees the drain

    def join(self, scope: "Scope", read: Read, warm: Warm | None = None) -> Watch:
        watch = self.watches.get(scope)
        if watch is None:
            watch = self.watches[scope] = Watch(scope, read, warm)
        watch.subscribers += 1
        watch.left = None
        watch.due = True  # a new page gets a fresh read, not one up to a tick old
        self.wake.set()
        if self.task is None or self.task.done():
            get_notifier().add_listener(self._on_change)
            shutdown.add_listener(self.loop, self._drain)
            self.task = self.loop.create_task(self._run())
        return watch

    def leave(self, watch: Watch) -> None:
        watch.subscribers -= 1
        if watch.subscribers <= 0:
            watch.left = time.monotonic()  # forgotten by the next round (``_forget_left``)
        self.wake.set()

    def _forget_left(self) -> None:
        """Forget the scopes whose last stream ended more than LINGER_SECONDS ago, and
        when the process drains, at once (nobody comes back to this process)."""
        now = time.monotonic()
        for scope, watch in list(self.watches.items()):
            if watch.subscribers <= 0 and (
                shutdown.draining() or now - (watch.left or now) >= LINGER_SECONDS
            ):
                del self.watches[scope]

    async def _read(
        self, due: list[Watch]
    ) -> tuple[list[tuple[str, str] | None], dict[int, push.Seen]]:
        found: dict[int, tuple[str, str] | None] = {}
        seen: dict[int, push.Seen] = {}
        for read in {w.read for w in due}:  # one read function in practice
            batch = [w for w in due if w.read is read]
            cursors, saw = await self.loop.run_in_executor(
                _reader, read_cursors, read, [w.scope for w in batch], batch[0].warm
            )
            found.update(zip(map(id, batch), cursors, strict=True))
            seen.update(saw)
        return [found[id(w)] for w in due], seen

    async def _pushes(
        self,
        due: list[Watch],
        cursors: list[tuple[str, str] | None],
        seen: dict[int, push.Seen],
    ) -> list[tuple[str, tuple[bool, bool]]]:
        """What each due scope's pages are sent beside its cursor, and which of its parts
        that covers: the feeds of the parts whose cursor moved, each drawn once however
        many scopes share it. A new feed only starts in this round (its pages fetch
        what they missed before it) and covers nothing."""
        wanted: dict[object, push.Feed] = {}
        keys_of: list[list[object]] = []
        for watch, cursor in zip(due, cursors, strict=True):
            scope = watch.scope
            keys = push.feed_keys(scope.oa_ids, scope.conversation_id, scope.language)
            keys_of.append(keys)
            for index, key in enumerate(keys):
                feed = self.feeds.get(key)
                if feed is None:
                    wanted[key] = self.feeds[key] = push.new_feed(key)
                elif watch.cursor and cursor and cursor[index] != watch.cursor[index]:
                    wanted[key] = feed  # its part moved (list: 0, thread: 1)
        if not wanted:
            return [("", (False, False))] * len(due)
        fresh = {key for key in wanted if key not in self.started}
        self.started.update(wanted)
        drawn = await self.loop.run_in_executor(_reader, advance_feeds, list(wanted.values()), seen)
        events = dict(zip(wanted, drawn, strict=True))
        out = []
        for watch, keys in zip(due, keys_of, strict=True):
            covered = [False, False]
            for index, key in enumerate(keys):
                covered[index] = bool(
                    key in wanted
                    and key not in fresh
                    and watch.cursor
                    and wanted[key].covers(watch.cursor[index])
                )
            out.append(("".join(events.get(key, "") for key in keys), (covered[0], covered[1])))
        return out

    def _prune_feeds(self) -> None:
        used = {
            key
            for w in self.watches.values()
            for key in push.feed_keys(w.scope.oa_ids, w.scope.conversation_id, w.scope.language)
        }
        for key in set(self.feeds) - used:
            del self.feeds[key]
        self.started &= set(self.feeds)

    async def _run(self) -> None:
        tick = settings.INBOX_STREAM_TICK_SECONDS
        gap = settings.INBOX_STREAM_GAP_SECONDS
        next_tick = time.monotonic() + tick
        try:
            while self.watches:
                self._forget_left()
                if not self.watches:
                    break
                if time.monotonic() >= next_tick:
                    next_tick = time.monotonic() + tick
                    for watch in self.watches.values():
                        watch.due = True
                due = [w for w in self.watches.values() if w.due]
                for watch in due:
                    watch.due = False
                rest = 0.0
                if due:
                    began = time.monotonic()
                    cursors, seen = await self._read(due)
                    read = time.monotonic()
                    metrics.INBOX_ROUND_READ.observe(read - began)
                    pushes = await self._pushes(due, cursors, seen)
                    metrics.INBOX_ROUND_PUSH.observe(time.monotonic() - read)
                    for watch, cursor, (pushed, covered) in zip(due, cursors, pushes, strict=True):
                        watch.publish(cursor, pushed, covered)
                    self._prune_feeds()
                    # At most half of the reader's time goes to reads: under a load of
                    # scopes the rounds space out (pages learn of a change later)
                    # rather than take the GIL from the webhooks' threads. And rounds
                    # are at least INBOX_STREAM_GAP_SECONDS apart: each one makes every
                    # page it names fetch its changes, so under a stream of messages a
                    # page fetches a few times a second, however many arrive.
                    took = time.monotonic() - began
                    rest = max(took, gap - took)
                    next_tick = max(next_tick, time.monotonic() + rest)
                self.wake.clear()
                if rest:
                    await asyncio.sleep(rest)
                if any(w.due for w in self.watches.values()):
                    continue
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.wake.wait(), max(0.0, next_tick - time.monotonic()))
        finally:
            get_notifier().remove_listener(self._on_change)
            shutdown.remove_listener(self.loop, self._drain)
            _watchers.pop(self.loop, None)


_watchers: dict[asyncio.AbstractEventLoop, Watcher] = {}


def watcher() -> Watcher:
    loop = asyncio.get_running_loop()
    found = _watchers.get(loop)
    if found is None:
        found = _watchers[loop] = Watcher(loop)
    return found


async def events(
    scope: "Scope", cursor: tuple[str, str], read: Read, warm: Warm | None = None
) -> AsyncIterator[str]:
    """A stream under ASGI (`zalohub serve`): what ``stream.blocking_events`` says, but it
    waits on the process's reader instead of reading, holds no thread meanwhile, and ends
    with a retry hint when the server drains."""
    from zalohub.inbox import stream

    # Django opened a connection on this request's thread for the session and the view:
    # give it back now rather than hold it (a pooled one, on PostgreSQL) for the stream.
    await sync_to_async(_release_connection)()
    shared = watcher()
    watch = shared.join(scope, read, warm)
    # Streams opened together would end, and their pages reconnect, together: spread them.
    length = settings.INBOX_STREAM_SECONDS * random.uniform(0.8, 1.0)
    deadline = time.monotonic() + length
    # A page back on a new stream: the reads since its last id, if the scope kept them.
    seen = watch.resume(cursor)
    try:
        yield "retry: 1000\n\n"
        while True:
            await watch.next_read(seen, settings.INBOX_STREAM_TICK_SECONDS)
            if shutdown.draining():
                yield shutdown.retry_hint()
                return
            if watch.version > seen and watch.cursor is not None:
                # Beyond the last few reads, its page's fetch brings what it missed.
                pushed, skip = watch.since(seen, cursor)
                seen, old, cursor = watch.version, cursor, watch.cursor
                # (Taken before the yield: a read while it waits is news for the next.)
                yield pushed + stream._events(old, cursor, skip)
            else:
                yield ": tick\n\n"
            if time.monotonic() >= deadline:
                # Its end is planned: the page comes back at once (EventSource waits the
                # last retry: 1 s would leave each page without a stream a second in 20).
                yield stream.PLANNED_END + f"retry: {RECONNECT_MS}\n\n"
                return
    finally:
        shared.leave(watch)


def _release_connection() -> None:
    if not connection.in_atomic_block:
        connection.close()
