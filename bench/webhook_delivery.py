"""Outbound webhook delivery (issue 17): deliveries/s with 2 `zalohub worker`s to a
loopback receiver, against the same receiver driven by bare httpx loops in the same run;
and event-to-delivery latency at 300 events/s offered.

    .venv/bin/python bench/webhook_delivery.py            # 20,000 deliveries, 20 s at 300/s
    .venv/bin/python bench/webhook_delivery.py --quick    # 5,000 and 10 s

It drops and recreates the database `zalohub_bench_webhooks` (`--db NAME` for another) on
127.0.0.1:5432, migrates it, and starts the receiver: uvicorn with the raw ASGI 200
(`bench/bare_asgi.py`, 2 processes), the same for both sides.

- Capacity: N deliveries of one subscription (rate limit out of the way) are queued in
  one transaction; then 2 workers start, and the figure is N over the span from the
  first attempt's start to the last delivery (both read from the delivery rows).
  Baseline: 2 processes, each a bare loop of httpx.AsyncClient POSTs of the same body,
  100 in flight (the hub's batch), no database and no signing, N in all.
- Latency: a producer queues one event per transaction at 300/s (the hub's own
  outgoing.emit, as a handler does) while the 2 workers run; event-to-delivery is each
  row's delivered_at - created_at (created in the producer's transaction; delivered_at
  is stamped when its batch settles, so it includes the settle). The workers poll every
  ZALOHUB_WORKER_POLL_SECONDS (0.5 s): a commit in another process does not wake them.
"""

import argparse
import asyncio
import multiprocessing
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.stages.common import ADMIN_DSN, BIN, HOST, log  # noqa: E402
from bench.stages.procs import Server, stop  # noqa: E402

DB_NAME = "zalohub_bench_webhooks"
BODY_DATA = {
    "message_id": 1,
    "oa_id": 1,
    "zalo_user_id": "2512460873916385729",
    "partner_link_id": 1,
    "kind": "text",
    "text": "Cho mình hỏi đơn hàng #1024",
    "attachments": [],
    "zalo_msg_id": "a8c1f0e2b3",
    "created_at": "2026-12-06",
}


def _env(db_name: str) -> dict[str, str]:
    from cryptography.fernet import Fernet

    os.environ.setdefault("ZALOHUB_ENCRYPTION_KEYS", Fernet.generate_key().decode())
    env = dict(os.environ)
    env.update(
        DATABASE_URL=f"postgres://postgres@{HOST}:5432/{db_name}",
        DJANGO_SETTINGS_MODULE="zalohub.settings",
        ZALOHUB_DATA_DIR=os.environ.get("ZALOHUB_DATA_DIR", "/tmp/zalohub-bench"),
        ZALOHUB_LOG_LEVEL="WARNING",
        ZALO_MODE="sandbox",
        PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
    )
    return env


def _recreate(env: dict[str, str], db_name: str) -> None:
    import psycopg

    with psycopg.connect(ADMIN_DSN, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {db_name} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {db_name}")
    subprocess.run(
        [str(BIN / "zalohub"), "migrate", "--verbosity", "0"], env=env, cwd=ROOT, check=True
    )


def _queue(n: int) -> None:
    from django.db import transaction

    from zalohub.webhooks.outgoing import Outgoing, emit

    items = [Outgoing("message.received", BODY_DATA) for _ in range(n)]
    with transaction.atomic():
        for start in range(0, n, 5000):
            emit(items[start : start + 5000])


def _span() -> tuple[int, float]:
    from django.db.models import Max, Min

    from zalohub.webhooks.models import Delivery, DeliveryAttempt

    done = Delivery.objects.filter(state="delivered").count()
    first = DeliveryAttempt.objects.aggregate(t=Min("started_at"))["t"]
    last = Delivery.objects.aggregate(t=Max("delivered_at"))["t"]
    return done, (last - first).total_seconds()


def _wait_all(n: int, timeout: float) -> bool:
    from zalohub.webhooks.models import Delivery

    deadline = time.time() + timeout
    while time.time() < deadline:
        if Delivery.objects.filter(state="delivered").count() >= n:
            return True
        time.sleep(0.2)
    return False


def _bare(url: str, n: int, body: bytes) -> None:
    import httpx

    async def run() -> None:
        async with httpx.AsyncClient(trust_env=False) as client:
            left = n
            while left:
                k = min(100, left)
                answers = await asyncio.gather(*(client.post(url, content=body) for _ in range(k)))
                assert all(a.status_code == 200 for a in answers)
                left -= k

    asyncio.run(run())


def _baseline(url: str, n: int) -> float:
    from zalohub.webhooks.outgoing import body_of

    body = body_of("message.received", BODY_DATA).encode()
    procs = [multiprocessing.Process(target=_bare, args=(url, n // 2, body)) for _ in range(2)]
    start = time.perf_counter()
    for p in procs:
        p.start()
    for p in procs:
        p.join()
    return n / (time.perf_counter() - start)


def _produce(rate: int, seconds: float) -> int:
    from django.db import transaction

    from zalohub.webhooks.outgoing import Outgoing, emit

    sent, start = 0, time.perf_counter()
    total = int(rate * seconds)
    while sent < total:
        due = start + sent / rate
        if (wait := due - time.perf_counter()) > 0:
            time.sleep(wait)
        with transaction.atomic():
            emit([Outgoing("message.received", BODY_DATA)])
        sent += 1
    return sent


def _latencies() -> list[float]:
    from zalohub.webhooks.models import Delivery

    rows = Delivery.objects.filter(state="delivered").values_list("created_at", "delivered_at")
    return sorted((d - c).total_seconds() * 1000 for c, d in rows)


def _pct(values: list[float], p: float) -> float:
    return values[min(len(values) - 1, int(len(values) * p))]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--deliveries", type=int, default=0)
    parser.add_argument("--rate", type=int, default=300)
    parser.add_argument("--db", default=DB_NAME, help="the bench database (dropped first)")
    args = parser.parse_args()
    if not args.db.isidentifier():
        parser.error(f"--db: {args.db!r} is not a plain database name")
    n = args.deliveries or (5_000 if args.quick else 20_000)
    seconds = 10.0 if args.quick else 20.0
    env = _env(args.db)
    log(f"database {args.db}")
    _recreate(env, args.db)
    os.environ.update(env)
    import django

    django.setup()
    from django.db import connection

    from zalohub.webhooks.models import Delivery, DeliveryAttempt
    from zalohub.webhooks.services import subscription_create

    with Server("bench.bare_asgi:application", env, workers=2) as receiver:
        url = f"http://{HOST}:{receiver.port}/hooks"
        subscription_create(name="bench", url=url, rate_per_second=1_000_000)
        connection.close()
        log(f"baseline: bare httpx loops, {n} POSTs")
        base_rate = _baseline(url, n)

        log(f"capacity: {n} deliveries, 2 workers")
        _queue(n)
        workers = [
            subprocess.Popen([str(BIN / "zalohub"), "worker"], env=env, cwd=ROOT) for _ in range(2)
        ]
        try:
            ok = _wait_all(n, timeout=600)
            done, span = _span()
            hub_rate = done / span if span else 0.0
            Delivery.objects.all().delete()
            DeliveryAttempt.objects.all().delete()
            log(f"latency: {args.rate} events/s for {seconds:.0f} s")
            produced = _produce(args.rate, seconds)
            _wait_all(produced, timeout=120)
            lat = _latencies()
        finally:
            for w in workers:
                stop(w)
    print()
    print("| what | zalohub | baseline (same run) | ratio | target |")
    print("|---|---:|---:|---:|---|")
    print(
        f"| deliveries/s, 2 workers (baseline: 2 bare httpx loops, 100 in flight) "
        f"| {hub_rate:,.0f}/s | {base_rate:,.0f}/s | {hub_rate / base_rate:.2f} | ≥ 1,000/s |"
    )
    if lat:
        print(
            f"| event-to-delivery at {args.rate}/s: p50 / p99 | {_pct(lat, 0.5):.0f} / "
            f"{_pct(lat, 0.99):.0f} ms | — | — | p99 ≤ 1 s |"
        )
    print(
        f"\nchecks: capacity {done}/{n} delivered{'' if ok else ' (TIMED OUT)'}; "
        f"latency {len(lat)}/{produced} delivered"
    )


if __name__ == "__main__":
    main()
