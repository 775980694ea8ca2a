"""CPU a live inbox page costs the web process per update (issue 19's latency target).

    .venv/bin/python bench/inbox_latency.py --rate 50 --pages 20 --seconds 5   # leaves its database
    .venv/bin/python bench/inbox_fetch_cost.py                                 # then this, ~1 min
    .venv/bin/python bench/inbox_fetch_cost.py --profile "rows changed"        # where one goes

`bench/inbox_latency.py` measures webhook to visible end to end; this one splits the
web process's share of it. A page on a conversation is told by its stream that its list,
its thread or both changed, and fetches what changed (``inbox/live_parts.py``); the
stream's read of the page's cursor (``inbox/stream.py``) is made once a round for it.
Each is timed here in one process (Django's test client, the database
`zalohub_bench_latency` that inbox_latency leaves: 20 conversations of an OA, an agent a
page), as CPU seconds (``time.process_time``) and queries a request, beside the floor of
the same process: `GET /api/v1/health` (Django's request cycle, no session, no work).

The figures size what a round of live updates costs: a page whose list and thread changed
costs one read and two fetches; 20 such pages, a round of each web process.
"""

import argparse
import os
import re
import sys
import time
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.stages import hub  # noqa: E402

DB_NAME = "zalohub_bench_latency"


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--repeat", type=int, default=50, help="requests a case")
    p.add_argument("--rounds", type=int, default=3, help="interleaved rounds (median kept)")
    p.add_argument(
        "--profile",
        metavar="WORDS",
        help="instead: profile the case whose name contains WORDS (cProfile, top 30 by own time)",
    )
    return p


def setup() -> None:
    os.environ.update(
        hub.hub_env(DB_NAME, secret_key="bench-inbox-fetch-cost-" + "x" * 40, data_dir="/tmp/zd_fc")
    )
    import django

    django.setup()
    from django.test.utils import setup_test_environment

    setup_test_environment()  # the test client's templates and context


def cases() -> dict:
    """Each case: a function making one request (or read) as the bench's first agent."""
    from django.contrib.auth.models import User
    from django.test import Client

    from zalohub.inbox import stream
    from zalohub.inbox.models import Conversation

    user = User.objects.get(username="agent0")
    client = Client()
    client.force_login(user)
    conversation = Conversation.objects.order_by("pk").first()
    if conversation is None:
        raise SystemExit("no conversation: run bench/inbox_latency.py first (see the docstring)")
    page = client.get(f"/inbox/c/{conversation.pk}/").content.decode()

    def attr(name: str) -> str:
        found = re.search(name + r'="([^"]*)"', page)
        return found.group(1).replace("&amp;", "&") if found else ""

    rows = re.findall(r'data-conversation="(\d+)"[^>]*data-v="(\d+)"', page)
    list_url, thread_url = attr("data-list-url"), attr("data-thread-url")
    join = lambda url, **q: url + ("&" if "?" in url else "?") + urlencode(q)  # noqa: E731
    shown = ",".join(f"{pk}:{v}" for pk, v in rows)
    all_changed = ",".join(f"{pk}:1" for pk, _v in rows)
    an_hour_ago = str(int((time.time() - 3600) * 1e6))
    marks = {
        "after": attr("data-latest-id"),
        "first": attr("data-first-id"),
        "entry": attr("data-entry-id"),
        "base": attr("data-base"),
        "head": attr("data-head"),
        "states": "",
    }
    scope = stream.Scope((conversation.oa_id,), conversation.pk, user.pk)
    # What `zalohub serve`'s reader draws once a round for every page (inbox.push).
    from datetime import timedelta

    from django.db.models import Max
    from django.utils import timezone

    from zalohub.inbox import live_parts, push
    from zalohub.inbox.models import TimelineEntry

    def list_feed() -> str:
        feed = push.ListFeed((conversation.oa_id,), "en")
        feed.since = timezone.now() - timedelta(hours=1)
        return feed.advance()

    # Each conversation's thread as if its newest message had just come: a feed on each.
    starts = []
    for c in Conversation.objects.order_by("pk"):
        # The thread's two last stored messages, the last one also the newest (not in a
        # thread whose last stored message is older than the one before: the latency
        # bench's senders stamp messages on 32 connections, out of order).
        last = list(
            live_parts.thread_queryset(c).order_by("-id").values_list("pk", "created_at")[:2]
        )
        newest = live_parts.thread_queryset(c).order_by("-created_at", "-id").first()
        entry = TimelineEntry.objects.filter(conversation=c).aggregate(m=Max("pk"))["m"] or 0
        if len(last) == 2 and newest and newest.pk == last[0][0] and last[1][1] <= last[0][1]:
            starts.append((c.pk, last[1][0], entry))

    def thread_feeds() -> list[str]:
        feeds = []
        for pk, latest, entry in starts:
            feed = push.ThreadFeed(pk, "en")
            feed.latest, feed.entry = latest, entry
            feeds.append(feed)
        drawn = push.advance_threads(feeds)
        assert all(drawn), "every feed should draw its thread's newest message"
        return drawn

    # A round of the served reader with a page open on each conversation: each page's
    # read alone, and the round's threads read together first (stream.warm).
    from zalohub.inbox import watch

    pages = [stream.Scope((c.oa_id,), c.pk, user.pk) for c in Conversation.objects.order_by("pk")]

    def round_of_reads(warm: bool):  # type: ignore[no-untyped-def]
        def run() -> None:
            with watch.one_round():
                if warm:
                    stream.warm(pages)
                for page in pages:
                    stream._served_read(page)

        return run

    return {
        "floor: GET /api/v1/health": lambda: client.get("/api/v1/health"),
        f"round: {len(pages)} pages' reads one by one": round_of_reads(False),
        f"round: {len(pages)} pages' reads, threads together": round_of_reads(True),
        "stream read of a page (presence, cursor)": lambda: stream._read(scope),
        "stream read of a page, served": lambda: stream._served_read(scope),
        f"push: list feed, {len(rows)} rows changed": list_feed,
        f"push: {len(starts)} thread feeds, 1 new message each": thread_feeds,
        "list delta, nothing new": lambda: client.get(
            join(list_url, since=attr("data-cursor"), v=shown)
        ),
        f"list delta, {len(rows)} rows changed": lambda: client.get(
            join(list_url, since=an_hour_ago, v=all_changed)
        ),
        "thread delta, nothing new": lambda: client.get(join(thread_url, **marks)),
        "list drawn whole": lambda: client.get(list_url),
        "thread drawn whole": lambda: client.get(thread_url),
    }


def measure(fn, repeat: int) -> float:
    fn()
    began = time.process_time()
    for _ in range(repeat):
        fn()
    return (time.process_time() - began) / repeat * 1000


def queries(fn) -> int:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as seen:
        fn()
    return len(seen.captured_queries)


def profile(fn, repeat: int) -> None:
    import cProfile
    import pstats

    fn()
    with cProfile.Profile() as prof:
        for _ in range(repeat):
            fn()
    pstats.Stats(prof).sort_stats("tottime").print_stats(30)


def main() -> int:
    args = parser().parse_args()
    setup()
    found = cases()
    if args.profile:
        (name,) = [name for name in found if args.profile in name]
        print(f"{name}: {args.repeat} requests")
        profile(found[name], args.repeat)
        return 0
    runs: dict[str, list[float]] = {name: [] for name in found}
    for _ in range(args.rounds):
        for name, fn in found.items():
            runs[name].append(measure(fn, args.repeat))
    floor = sorted(runs[next(iter(runs))])[args.rounds // 2]
    print(
        f"CPU a request in one process, median of {args.rounds} interleaved rounds of "
        f"{args.repeat}; {os.cpu_count()} CPUs, load average "
        + " ".join(f"{x:.2f}" for x in os.getloadavg())
    )
    head = f"{'case':<42} {'CPU ms':>8} {'/ floor':>8} {'queries':>8}"
    print(head)
    print("-" * len(head))
    for name, fn in found.items():
        cpu = sorted(runs[name])[args.rounds // 2]
        print(f"{name:<42} {cpu:>8.2f} {cpu / floor:>8.1f} {queries(fn):>8}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
