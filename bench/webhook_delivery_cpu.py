"""CPU one delivery costs in one worker's delivery loop, beside a bare httpx loop in the
same process against the same receiver (issue 17), alternately --rounds times:

    .venv/bin/python bench/webhook_delivery_cpu.py --db zh_bench_wh_cpu [--profile]

Both sides run in this one process, one after the other (never at once), against
`bench/webhook_receiver.py` under uvicorn (2 processes): the bare side is one
httpx.AsyncClient keeping --inflight POSTs on their way (as bench/webhook_delivery.py's
loops); our side queues N deliveries of one subscription and runs the pipeline loop's
work (``webhooks.tasks.Deliverer``) in this thread until all are delivered. Figures per
delivery: this process's CPU (``time.process_time``, every thread), the PostgreSQL
backends' CPU (/proc) and the wall rate of one loop. ``--profile`` prints cProfile's
view of our side's last round (the functions by own time, and the loop's parts by
cumulative time). The database is dropped and recreated first.
"""

import argparse
import cProfile
import io
import os
import pstats
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.stages.common import log  # noqa: E402
from bench.stages.procs import cpu_seconds  # noqa: E402
from bench.webhook_delivery import (  # noqa: E402
    BODY_DATA,
    _bare,
    _env,
    _queue,
    _recreate,
    subscribed_receiver,
)


def _backends() -> list[int]:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT pid FROM pg_stat_activity WHERE datname = current_database()")
        return [row[0] for row in cursor.fetchall()]


SPLIT: dict[str, float] = {}


def _split() -> None:
    """CPU of the loop's parts (``time.process_time`` around each call): the claim, the
    settle and the signing, whatever the tree calls them; the rest is the HTTP client."""
    from zalohub.webhooks import delivery, tasks

    def timed(module: object, name: str, part: str) -> None:
        inner = getattr(module, name, None)
        if inner is None:
            return

        def wrapper(*args: object, **kwargs: object) -> object:
            start = time.process_time()
            try:
                return inner(*args, **kwargs)
            finally:
                SPLIT[part] = SPLIT.get(part, 0.0) + time.process_time() - start

        setattr(module, name, wrapper)

    timed(tasks, "claim", "claim")
    timed(tasks, "settle", "settle")
    timed(tasks, "settle_many", "settle")
    timed(delivery, "sign_headers", "signing")


def _ours(n: int, profile: cProfile.Profile | None) -> tuple[float, float, float]:
    """Wall seconds, this process's CPU and the backends' CPU for ``n`` deliveries."""
    from django.db import connection

    from zalohub.webhooks.models import Delivery, DeliveryAttempt
    from zalohub.webhooks.tasks import Deliverer

    Delivery.objects.all().delete()
    DeliveryAttempt.objects.all().delete()
    _queue(n)
    deliverer = Deliverer()
    backends = _backends()
    cpu0, pg0, start = time.process_time(), cpu_seconds(backends), time.perf_counter()
    tried = 0
    if profile:
        profile.enable()
    try:
        # Counted by the loop itself (a COUNT query a round would be half the cost):
        # what it settled, or (the code before the pipeline) what each round tried.
        while getattr(deliverer, "settled", tried) < n:
            step = deliverer.once("bench-cpu")
            tried += step
            if not step:
                time.sleep(0.01)
    finally:
        if profile:
            profile.disable()
        deliverer.close()
    wall = time.perf_counter() - start
    assert Delivery.objects.filter(state="delivered").count() == n
    cpu, pg = time.process_time() - cpu0, cpu_seconds(backends + _backends()) - pg0
    connection.close()
    return wall, cpu, pg


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--deliveries", type=int, default=3000)
    parser.add_argument("--inflight", type=int, default=0, help="bare side (default: ours)")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--split", action="store_true", help="CPU of claim, settle, signing")
    parser.add_argument("--db", default="zalohub_bench_wh_cpu")
    args = parser.parse_args()
    if not args.db.isidentifier():
        parser.error(f"--db: {args.db!r} is not a plain database name")
    env = _env(args.db)
    _recreate(env, args.db)
    os.environ.update(env)
    import django

    django.setup()
    from bench.stages.common import seed_accounts
    from zalohub.webhooks import conf
    from zalohub.webhooks.outgoing import body_of

    seed_accounts()
    if args.split:
        _split()
    inflight = args.inflight or conf.get("WEBHOOKS_IN_FLIGHT")
    receiver, url, _sub = subscribed_receiver(env, verify_every=10)
    body = body_of("message.received", BODY_DATA).encode()
    n = args.deliveries
    rows = []
    profile = cProfile.Profile() if args.profile else None
    log(
        f"load average {os.getloadavg()[0]:.1f}; {n} each side; ours "
        f"{conf.get('WEBHOOKS_IN_FLIGHT')} in flight, bare {inflight}"
    )
    with receiver:
        for r in range(args.rounds):
            cpu0, start = time.process_time(), time.perf_counter()
            _bare(url, n, body, inflight)
            bare = (time.perf_counter() - start, time.process_time() - cpu0)
            last = r == args.rounds - 1
            ours = _ours(n, profile if last else None)
            rows.append((bare, ours, os.getloadavg()[0]))
    print()
    print("| round | bare: /s, CPU ms | ours: /s, CPU ms (+ PostgreSQL ms) | CPU ratio | load |")
    print("|---|---:|---:|---:|---:|")
    for i, ((bw, bc), (ow, oc, pg), load) in enumerate(rows, 1):
        print(
            f"| {i} | {n / bw:,.0f}/s, {bc / n * 1000:.2f} | {n / ow:,.0f}/s, "
            f"{oc / n * 1000:.2f} (+ {pg / n * 1000:.2f}) | {(oc + pg) / bc:.2f} | {load:.1f} |"
        )
    if SPLIT:
        total = sum(ours[1] for _bare_side, ours, _load in rows)
        parts = {**SPLIT, "the rest (HTTP client, loop)": total - sum(SPLIT.values())}
        deliveries = n * len(rows)
        print(
            "\nour CPU per delivery, all rounds: "
            + "; ".join(f"{part} {cpu / deliveries * 1000:.3f} ms" for part, cpu in parts.items())
        )
    if profile:
        out = io.StringIO()
        stats = pstats.Stats(profile, stream=out)
        stats.sort_stats("tottime").print_stats(25)
        stats.sort_stats("cumulative").print_stats(
            r"(delivery|settle|tasks|lanes|signing|ratelimit)\.py"
        )
        print(out.getvalue())


if __name__ == "__main__":
    main()
