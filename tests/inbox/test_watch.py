"""inbox.watch: the process's one reader for every open stream (the `zalohub serve` path).

The reads here are plain functions that count their calls and answer a cursor the test
sets, so that what is shared and when it is read can be counted exactly; the tests in
tests/core/test_serve.py run the same path against the database in a real server."""

import asyncio
from collections import Counter

import pytest

from tests.helpers import run_on_its_own_loop
from zalohub.core import shutdown
from zalohub.inbox import live, stream, watch
from zalohub.inbox.stream import Scope


class Reads:
    def __init__(self) -> None:
        self.calls: Counter[Scope] = Counter()
        self.cursor = ("a", "-")

    def __call__(self, scope: Scope) -> tuple[str, str]:
        self.calls[scope] += 1
        return self.cursor


@pytest.fixture(autouse=True)
def _fast_ticks(settings):
    settings.INBOX_STREAM_TICK_SECONDS = 0.2
    settings.INBOX_STREAM_SECONDS = 60
    live.reset_notifier()
    yield
    shutdown.reset()
    live.reset_notifier()


async def _next(stream, timeout: float = 5.0) -> str:
    return await asyncio.wait_for(anext(stream), timeout)


async def _changed_after(scope: Scope, reads: Reads, wake, timeout: float) -> str:  # type: ignore[no-untyped-def]
    """A page's stream opened and read once; then the cursor moves to ("b", "-"),
    ``wake()`` runs, and what the stream says next."""
    stream = watch.events(scope, ("a", "-"), reads)
    await _next(stream)
    await _next(stream)  # the first read, at once for a new page
    reads.cursor = ("b", "-")
    await wake()
    changed = await _next(stream, timeout=timeout)
    await stream.aclose()
    return changed


def test_streams_of_one_scope_share_one_read():
    reads = Reads()
    scope = Scope(oa_ids=(1,), conversation_id=None)
    other = Scope(oa_ids=(2,), conversation_id=None)

    async def run() -> tuple[list[str], Counter[Scope]]:
        streams = [watch.events(scope, ("a", "-"), reads) for _ in range(20)]
        streams.append(watch.events(other, ("old", "-"), reads))
        firsts = [await _next(s) for s in streams]  # the retry line each
        assert set(firsts) == {"retry: 1000\n\n"}
        seconds = [await _next(s) for s in streams]  # a new page's first read
        before = reads.calls.copy()
        await asyncio.sleep(1.0)  # five ticks of 0.2 s, at most
        during = reads.calls - before
        for s in streams:
            await s.aclose()
        return seconds, during

    seconds, during = run_on_its_own_loop(run())
    # It should tell each page what changed against its own cursor...
    assert seconds[:20] == [": tick\n\n"] * 20
    assert seconds[20].startswith("event: list\nid: a~-\n")
    # ...and read each open scope once a tick for all its pages, not once a page: the
    # scope of 20 pages as often as the scope of one (a slow machine reads less often).
    assert 1 <= during[scope] <= 6
    assert abs(during[scope] - during[other]) <= 1


def test_a_wake_up_for_its_oa_reads_before_the_tick(settings):
    settings.INBOX_STREAM_TICK_SECONDS = 30  # no tick during the test
    reads = Reads()
    scope = Scope(oa_ids=(7,), conversation_id=None)

    async def wake() -> None:
        live.notify(8)  # another OA: nothing to read
        live.notify(7)

    changed = run_on_its_own_loop(_changed_after(scope, reads, wake, timeout=5))
    # It should read again on the wake-up, long before the 30 s tick, and say so.
    assert changed.startswith("event: list\nid: b~-\n")
    assert reads.calls[scope] == 2


def test_wake_ups_within_the_gap_make_one_read(settings):
    settings.INBOX_STREAM_TICK_SECONDS = 60  # no tick during the test
    settings.INBOX_STREAM_GAP_SECONDS = 5.0
    reads = Reads()
    scope = Scope(oa_ids=(7,), conversation_id=None)

    async def wake() -> None:
        for _ in range(10):  # a customer writing ten times in half a second
            live.notify(7)
            await asyncio.sleep(0.05)

    changed = run_on_its_own_loop(_changed_after(scope, reads, wake, timeout=30))
    # It should tell the page once, after the gap, rather than read ten times: a
    # page's fetches follow the gap, not the flow of messages.
    assert changed.startswith("event: list\nid: b~-\n")
    assert reads.calls[scope] == 2


def test_draining_ends_every_stream_with_a_retry_hint():
    reads = Reads()
    scope = Scope(oa_ids=(3,), conversation_id=None)

    async def run() -> list[list[str]]:
        streams = [watch.events(scope, ("a", "-"), reads) for _ in range(3)]
        for s in streams:
            await _next(s)
            await _next(s)
        shutdown.begin()
        return [[part async for part in s] for s in streams]

    rests = run_on_its_own_loop(run())
    # It should end each stream at once (not after its 60 s) with one retry hint, 1-5 s.
    for rest in rests:
        assert len(rest) == 1 and rest[0].startswith("retry: ")
        assert 1000 <= int(rest[0].split()[1]) <= 5000
    # And forget the scope: no reader is left running for pages that are gone.
    assert watch._watchers == {}


def test_a_planned_end_brings_the_page_back_at_once(settings):
    settings.INBOX_STREAM_SECONDS = 1.0
    settings.INBOX_STREAM_TICK_SECONDS = 0.2
    reads = Reads()
    scope = Scope(oa_ids=(4,), conversation_id=None)

    async def run() -> list[str]:
        return [part async for part in watch.events(scope, ("a", "-"), reads)]

    parts = run_on_its_own_loop(run())
    # It should open with the 1 s retry (errors) and end with a short one: EventSource
    # waits the last retry it was told before it reconnects.
    assert parts[0] == "retry: 1000\n\n"
    assert parts[-1] == stream.PLANNED_END + f"retry: {watch.RECONNECT_MS}\n\n"
    assert watch.RECONNECT_MS <= 100  # (and the page knows it comes back from a planned end)


def test_a_stream_reads_behind_still_sends_each_push(settings):
    settings.INBOX_STREAM_TICK_SECONDS = 60  # no tick during the test
    reads = Reads()
    scope = Scope(oa_ids=(5,), conversation_id=None)

    async def run() -> str:
        stream = watch.events(scope, ("a", "-"), reads)
        await _next(stream)
        await _next(stream)  # the first read
        shared = watch.watcher().watches[scope]
        reads.cursor = ("c", "-")  # what any read of the watcher's own says meanwhile
        # Two reads publish before the stream runs again (a busy event loop).
        shared.publish(("b", "-"), "event: rows\ndata: [1]\n\n")
        shared.publish(("c", "-"), "event: rows\ndata: [2]\n\n")
        sent = await _next(stream)
        await stream.aclose()
        return sent

    sent = run_on_its_own_loop(run())
    assert sent.startswith("event: rows\ndata: [1]\n\nevent: rows\ndata: [2]\n\n")
    assert "event: list\nid: c~-\n" in sent


def test_a_stream_leaves_out_what_the_pushes_covered(settings):
    settings.INBOX_STREAM_TICK_SECONDS = 60  # no tick during the test
    reads = Reads()
    scope = Scope(oa_ids=(5,), conversation_id=7)
    rows = "event: rows\ndata: {}\n\n"

    async def run() -> list[str]:
        stream = watch.events(scope, ("a", "t1"), reads)
        await _next(stream)
        await _next(stream)  # the first read
        shared = watch.watcher().watches[scope]
        sent = []
        # Both parts moved, the list's change covered by its push: no "list" event, the
        # new cursor still rides on the "thread" one.
        shared.publish(("b", "t2"), rows, (True, False))
        sent.append(await _next(stream))
        # Both covered: only the push, and the cursor for a reconnect.
        shared.publish(("c", "t3"), rows, (True, True))
        sent.append(await _next(stream))
        # Two reads before the stream runs again: it sends both pushes, in their order,
        # and leaves out what both covered; a part one of them left uncovered is told.
        shared.publish(("d", "t4"), rows, (True, True))
        shared.publish(("e", "t5"), rows, (True, True))
        sent.append(await _next(stream))
        shared.publish(("f", "t6"), rows, (True, False))
        shared.publish(("g", "t7"), rows, (True, True))
        sent.append(await _next(stream))
        # More reads than the watch keeps: the page may have missed the first ones'
        # pushes, so it is told of every part that moved.
        for n in range(9):
            shared.publish((f"h{n}", f"t{8 + n}"), rows, (True, True))
        sent.append(await _next(stream))
        await stream.aclose()
        return sent

    covered_list, covered_both, behind, uncovered, far_behind = run_on_its_own_loop(run())
    assert covered_list == rows + "event: thread\nid: b~t2\ndata: b~t2\n\n"
    assert covered_both == rows + "id: c~t3\n\n"
    assert behind == rows * 2 + "id: e~t5\n\n"
    assert uncovered == rows * 2 + "event: thread\nid: g~t7\ndata: g~t7\n\n"
    assert far_behind == rows * 8 + (
        "event: list\nid: h8~t16\ndata: h8~t16\n\nevent: thread\nid: h8~t16\ndata: h8~t16\n\n"
    )


def test_a_page_back_on_a_new_stream_is_sent_what_it_missed(settings):
    """A stream ends (its planned end) and the page comes back on a new one with its
    last id: the scope's reads meanwhile are kept, so the new stream sends their pushes
    and leaves out what they covered, instead of telling the page to fetch."""
    settings.INBOX_STREAM_TICK_SECONDS = 60  # no tick during the test
    reads = Reads()
    scope = Scope(oa_ids=(6,), conversation_id=8)
    rows = "event: rows\ndata: {}\n\n"

    async def run() -> list[str]:
        sent = []
        reads.cursor = ("a", "t1")
        first = watch.events(scope, ("a", "t1"), reads)
        await _next(first)
        await _next(first)  # the first read
        shared = watch.watcher().watches[scope]
        await first.aclose()  # its end: the page is on its way back
        # A read while no stream is open: its pushes cover both parts.
        reads.cursor = ("b", "t2")  # (what the watcher's own reads say from now on)
        shared.publish(("b", "t2"), rows, (True, True))
        again = watch.events(scope, ("a", "t1"), reads)  # Last-Event-ID: a~t1
        await _next(again)  # retry
        sent.append(await _next(again))
        assert watch.watcher().watches[scope] is shared
        await again.aclose()
        # A page whose id no kept read started from is told what moved.
        lost = watch.events(scope, ("zz", "t0"), reads)
        await _next(lost)
        sent.append(await _next(lost))
        await lost.aclose()
        # A page standing where the scope is: nothing to send until the next read.
        here = watch.events(scope, ("b", "t2"), reads)
        await _next(here)
        reads.cursor = ("c", "t3")
        shared.publish(("c", "t3"), rows, (False, True))
        sent.append(await _next(here))
        await here.aclose()
        return sent

    missed, lost, here = run_on_its_own_loop(run())
    assert missed == rows + "id: b~t2\n\n"
    assert lost.startswith("event: list\nid: b~t2\n") and "event: thread" in lost
    assert here == rows + "event: list\nid: c~t3\ndata: c~t3\n\n"


def test_a_scope_without_streams_is_forgotten_after_a_while(settings, monkeypatch):
    settings.INBOX_STREAM_TICK_SECONDS = 0.1
    monkeypatch.setattr(watch, "LINGER_SECONDS", 0.3)
    reads = Reads()
    scope = Scope(oa_ids=(9,), conversation_id=None)

    async def run() -> tuple[bool, bool]:
        stream = watch.events(scope, ("a", "-"), reads)
        await _next(stream)
        await _next(stream)
        shared = watch.watcher()
        await stream.aclose()
        kept = scope in shared.watches
        for _ in range(100):  # each 0.1 s tick looks; give it ten seconds at most
            if scope not in shared.watches:
                break
            await asyncio.sleep(0.1)
        return kept, scope in shared.watches

    kept, still = run_on_its_own_loop(run())
    assert kept and not still
    assert watch._watchers == {}
