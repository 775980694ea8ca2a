"""Outbound webhook delivery (issue 17): deliveries/s with 2 `zalohub worker`s to a
loopback receiver, against the same receiver driven by bare httpx loops in the same run;
event-to-delivery latency at 300 events/s offered; and ingest's figures alone and while
deliveries run.

    .venv/bin/python bench/webhook_delivery.py            # 20,000 deliveries, 20 s at 300/s
    .venv/bin/python bench/webhook_delivery.py --quick    # 5,000 and 10 s

It drops and recreates the database `zalohub_bench_webhooks` (`--db NAME` for another) on
127.0.0.1:5432, migrates it, and starts the receiver, the same for both sides:
`bench/webhook_receiver.py` under uvicorn (uvloop, httptools, 2 processes, no Django),
which verifies one in --verify-every (default 10) of the signed requests (the hub's
deliveries) with the `standardwebhooks` verifier and answers 400 to a bad signature (the
delivery is then retried and "n of n delivered" fails), and answers the bare loop's
unsigned POSTs without verifying. --verify-every 1 verifies every delivery: the
verifier costs the receiver about 5x what signing costs the hub, on our side only.

- Capacity: N deliveries of one subscription (rate limit out of the way) are queued in
  one transaction while the workers run (--workers, 2); the figure is N over the span
  from the first attempt's start to the last delivery of those N (both read from their
  rows; the seeding's own deliveries, made earlier, are not counted).
  Baseline: 2 processes, each one httpx.AsyncClient with a keep-alive pool of --inflight
  connections (the hub's WEBHOOKS_BATCH_SIZE, 100, by default) kept full: each of
  --inflight tasks POSTs the same body again as soon as its answer comes (no wave
  waiting for its slowest request); no database and no signing; N in all.
- CPU per delivery on each side, read from /proc for the same span: the bare loops and
  the receiver; the workers, their PostgreSQL backends and the receiver. Unlike the
  rates, these barely move with the box's load; 2 cores over their sum is the rate an
  idle 2-core box could reach with nothing else running.
- Latency: a producer queues one event per transaction at 300/s (the hub's own
  outgoing.emit, as a handler does) while the 2 workers run; event-to-delivery is each
  row's delivered_at - created_at (created in the producer's transaction; delivered_at
  is stamped when its batch settles, so it includes the settle). The workers poll every
  ZALOHUB_WEBHOOKS_POLL_SECONDS (0.2 s): a commit in another process does not wake them.
- Ingest while deliveries run: `zalohub serve --workers 2` takes signed Zalo webhooks at
  --ingest-rate (300/s) for --ingest-seconds in an open loop (bench/loadgen.fixed_rate,
  as bench/serve_streams.py), the same 2 workers running; alone (the subscription
  paused: no delivery made), then while another process queues --rate events/s for the
  subscription (and ingest's own message.received events are delivered too), --rounds
  times alternately. Figures: the acked rate and p50/p99 of the acks, and the ratio of
  each with deliveries to alone.
"""

import argparse
import asyncio
import multiprocessing
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.stages.common import ADMIN_DSN, BIN, HOST, log  # noqa: E402
from bench.stages.procs import Server, cpu_seconds, process_tree, stop  # noqa: E402

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


# --- CPU seconds from /proc (bench/stages/procs) ------------------------------------


def _backends() -> list[int]:
    """The PostgreSQL backends of the bench database, this process's own left out."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
            "AND pid <> pg_backend_pid()"
        )
        return [row[0] for row in cursor.fetchall()]


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


# --- capacity ---------------------------------------------------------------------------


def _queue(n: int) -> None:
    from django.db import transaction

    from zalohub.webhooks.outgoing import Outgoing, emit

    items = [Outgoing("message.received", BODY_DATA) for _ in range(n)]
    with transaction.atomic():
        for start in range(0, n, 5000):
            emit(items[start : start + 5000])


def _span(after: int) -> tuple[int, float]:
    """The deliveries queued after row ``after`` that were delivered, and the seconds from
    the first one's first attempt to the last one's delivery. Only those: a delivery
    queued before (the seeding's own events) is delivered when the workers start, seconds
    before the measured ones are queued, and would stretch the span by that much."""
    from django.db.models import Max, Min

    from zalohub.webhooks.models import Delivery, DeliveryAttempt

    ours = Delivery.objects.filter(pk__gt=after)
    done = ours.filter(state="delivered").count()
    tried = DeliveryAttempt.objects.filter(delivery__in=ours)
    first = tried.aggregate(t=Min("started_at"))["t"]
    last = ours.aggregate(t=Max("delivered_at"))["t"]
    return done, (last - first).total_seconds()


def _wait_all(n: int, timeout: float, after: int = 0) -> bool:
    """Whether the ``n`` deliveries queued after row ``after`` were all delivered."""
    from zalohub.webhooks.models import Delivery

    delivered = Delivery.objects.filter(pk__gt=after, state="delivered")
    deadline = time.time() + timeout
    while time.time() < deadline:
        if delivered.count() >= n:
            return True
        time.sleep(0.2)
    return False


def _bare(url: str, n: int, body: bytes, inflight: int) -> None:
    """One bare loop: ``inflight`` POSTs always on their way over one keep-alive pool."""
    import httpx

    limits = httpx.Limits(max_connections=inflight, max_keepalive_connections=inflight)

    async def run() -> None:
        left = n

        async def one(client: httpx.AsyncClient) -> None:
            nonlocal left
            while left > 0:
                left -= 1
                answer = await client.post(url, content=body)
                assert answer.status_code == 200, answer.status_code

        async with httpx.AsyncClient(trust_env=False, limits=limits) as client:
            await asyncio.gather(*(one(client) for _ in range(inflight)))

    asyncio.run(run())


def _baseline(url: str, n: int, inflight: int, receiver: int) -> tuple[float, float, float]:
    """The bare loops' rate, and CPU seconds per POST of the loops and of the receiver."""
    from zalohub.webhooks.outgoing import body_of

    body = body_of("message.received", BODY_DATA).encode()
    procs = [
        multiprocessing.Process(target=_bare, args=(url, n // 2, body, inflight)) for _ in range(2)
    ]
    loops0, receiver0 = _children_cpu(), cpu_seconds(process_tree(receiver))
    start = time.perf_counter()
    for p in procs:
        p.start()
    for p in procs:
        p.join()
    rate = n / (time.perf_counter() - start)
    assert all(p.exitcode == 0 for p in procs), [p.exitcode for p in procs]
    receiver_cpu = cpu_seconds(process_tree(receiver)) - receiver0
    return rate, (_children_cpu() - loops0) / n, receiver_cpu / n


def subscribed_receiver(env: dict[str, str], verify_every: int) -> tuple[Server, str, int]:
    """The loopback receiver (not started yet), its URL and a subscription to it (rate
    limit out of the way), the receiver knowing its secret: the server, URL and
    subscription pk. Django must be set up."""
    from zalohub.core.crypto import reveal
    from zalohub.webhooks.models import Subscription
    from zalohub.webhooks.services import subscription_create

    server = Server("bench.webhook_receiver:application", env, workers=2)
    url = f"http://{HOST}:{server.port}/hooks"
    sub = subscription_create(name="bench", url=url, rate_per_second=1_000_000)
    server.env["BENCH_WEBHOOK_SECRET"] = reveal(Subscription.objects.get(pk=sub.pk).secret)
    server.env["BENCH_VERIFY_EVERY"] = str(verify_every)
    return server, url, sub.pk


# --- latency ----------------------------------------------------------------------------


def _produce(rate: int, seconds: float, *, cut: bool = False) -> int:
    """``rate`` events/s for ``seconds``; with ``cut``, stop when the time is up even if
    a loaded box let fewer through (the ingest window must not be outlived)."""
    from django.db import transaction

    from zalohub.webhooks.outgoing import Outgoing, emit

    sent, start = 0, time.perf_counter()
    total = int(rate * seconds)
    while sent < total and not (cut and time.perf_counter() - start > seconds):
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


# --- ingest alone and while deliveries run ----------------------------------------------


def _producer(env: dict[str, str], args: argparse.Namespace, seconds: float) -> subprocess.Popen:
    """Another process queueing ``--rate`` events/s for ``seconds`` once Django is up."""
    command = [str(BIN / "python"), __file__, "--produce", str(seconds), "--rate", str(args.rate)]
    proc = subprocess.Popen([*command, "--db", args.db], env=env, cwd=ROOT, stdout=subprocess.PIPE)
    assert proc.stdout is not None
    if proc.stdout.readline().strip() != b"ready":
        raise RuntimeError("the producer did not start")
    return proc


def _ingest(env: dict[str, str], args: argparse.Namespace, sub_id: int) -> list[dict]:
    from bench import loadgen
    from bench.stages import hub
    from bench.stream import http_requests, make_stream
    from zalohub.webhooks.models import Delivery, Subscription

    per_run = int(args.ingest_rate * args.ingest_seconds)
    log(f"ingest: signing {per_run * 2 * args.rounds} Zalo webhooks, starting zalohub serve")
    stream = make_stream(per_run * 2 * args.rounds, tag="wd", users=5000)
    server, port = hub.start_serve(env, "--workers", "2")
    requests = http_requests(stream, host=HOST, port=port)
    runs = []
    try:
        for round_ in range(args.rounds):
            for with_deliveries in (False, True):
                Subscription.objects.filter(pk=sub_id).update(active=with_deliveries)
                chunk, requests = requests[:per_run], requests[per_run:]
                producer = None
                if with_deliveries:
                    producer = _producer(env, args, args.ingest_seconds)
                delivered0 = Delivery.objects.filter(state="delivered").count()
                label = "with deliveries" if with_deliveries else "alone"
                log(f"ingest round {round_ + 1}, {label}: {args.ingest_rate}/s offered")
                res = loadgen.fixed_rate(HOST, port, chunk, rate=args.ingest_rate, conns=50)
                delivered = Delivery.objects.filter(state="delivered").count() - delivered0
                if producer is not None:
                    producer.wait()  # it stops when its time is up
                lat = res.latencies
                runs.append(
                    {
                        "round": round_ + 1,
                        "deliveries": with_deliveries,
                        "rate": res.rate,
                        "ok": res.statuses.get(200, 0),
                        "sent": len(chunk),
                        "p50": loadgen.percentile(lat, 50) * 1000,
                        "p99": loadgen.percentile(lat, 99) * 1000,
                        "delivered_per_s": delivered / res.window_seconds,
                        "load": os.getloadavg()[0],
                    }
                )
    finally:
        hub.stop(server)
    return runs


def _produce_main(args: argparse.Namespace) -> None:
    os.environ.update(_env(args.db))
    import django

    django.setup()
    print("ready", flush=True)
    _produce(args.rate, args.produce, cut=True)


# --- the run ----------------------------------------------------------------------------


def _capacity(n: int, workers: list[subprocess.Popen], receiver: int) -> dict:
    pids = [w.pid for w in workers]
    idle0, idle_start = cpu_seconds(pids), time.perf_counter()
    time.sleep(3)  # the workers' own loops with nothing due: their idle CPU
    idle = (cpu_seconds(pids) - idle0) / (time.perf_counter() - idle_start)
    from django.db.models import Max

    from zalohub.webhooks.models import Delivery

    after = Delivery.objects.aggregate(m=Max("pk"))["m"] or 0
    _queue(n)
    backends = _backends()  # the workers' pooled connections live as long as they do
    cpu0 = (cpu_seconds(pids), cpu_seconds(backends), cpu_seconds(process_tree(receiver)))
    ok = _wait_all(n, timeout=600, after=after)
    cpu1 = (cpu_seconds(pids), cpu_seconds(backends), cpu_seconds(process_tree(receiver)))
    done, span = _span(after)
    used = [(b - a) / n for a, b in zip(cpu0, cpu1, strict=True)]
    return {
        "ok": ok,
        "done": done,
        "rate": done / span if span else 0.0,
        "cpu": used,
        "idle": idle,
        "backends": len(backends),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--deliveries", type=int, default=0)
    parser.add_argument("--rate", type=int, default=300, help="events/s queued (latency, ingest)")
    parser.add_argument("--inflight", type=int, default=0, help="each bare loop's (default: batch)")
    parser.add_argument("--ingest-rate", type=int, default=300)
    parser.add_argument("--ingest-seconds", type=float, default=0)
    parser.add_argument("--rounds", type=int, default=0, help="ingest alone/with pairs")
    parser.add_argument("--no-ingest", action="store_true")
    parser.add_argument("--workers", type=int, default=2, help="zalohub worker processes")
    parser.add_argument("--verify-every", type=int, default=10, help="receiver: 1 = all")
    parser.add_argument("--db", default=DB_NAME, help="the bench database (dropped first)")
    parser.add_argument("--produce", type=float, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if not args.db.isidentifier():
        parser.error(f"--db: {args.db!r} is not a plain database name")
    if args.produce:
        _produce_main(args)
        return
    n = args.deliveries or (5_000 if args.quick else 20_000)
    seconds = 10.0 if args.quick else 20.0
    args.ingest_seconds = args.ingest_seconds or (5.0 if args.quick else 10.0)
    args.rounds = args.rounds or (1 if args.quick else 2)
    env = _env(args.db)
    log(f"database {args.db}; load average {os.getloadavg()[0]:.1f}")
    _recreate(env, args.db)
    os.environ.update(env)
    import django

    django.setup()
    from django.db import connection

    from bench.stages.common import seed_accounts
    from zalohub.webhooks import conf
    from zalohub.webhooks.models import Delivery, DeliveryAttempt

    seed_accounts()
    inflight = args.inflight or conf.get("WEBHOOKS_BATCH_SIZE")
    receiver_server, url, sub_pk = subscribed_receiver(env, args.verify_every)
    loads = [os.getloadavg()[0]]
    with receiver_server as server:
        assert server.proc is not None
        receiver = server.proc.pid
        connection.close()
        log(f"baseline: 2 bare httpx loops, {inflight} in flight each, {n} POSTs")
        base_rate, base_loops_cpu, base_receiver_cpu = _baseline(url, n, inflight, receiver)
        loads.append(os.getloadavg()[0])

        workers = [
            subprocess.Popen([str(BIN / "zalohub"), "worker"], env=env, cwd=ROOT)
            for _ in range(args.workers)
        ]
        try:
            time.sleep(5)  # the workers' Django set-up, before anything is due
            log(f"capacity: {n} deliveries, {args.workers} workers")
            cap = _capacity(n, workers, receiver)
            loads.append(os.getloadavg()[0])
            Delivery.objects.all().delete()
            DeliveryAttempt.objects.all().delete()
            log(f"latency: {args.rate} events/s for {seconds:.0f} s")
            produced = _produce(args.rate, seconds)
            _wait_all(produced, timeout=120)
            lat = _latencies()
            loads.append(os.getloadavg()[0])
            ingest = [] if args.no_ingest else _ingest(env, args, sub_pk)
            loads.append(os.getloadavg()[0])
        finally:
            for w in workers:
                stop(w)
    ours_cpu = sum(cap["cpu"])
    base_cpu = base_loops_cpu + base_receiver_cpu
    hub_rate = cap["rate"]
    print()
    print("| what | zalohub | baseline (same run) | ratio | target |")
    print("|---|---:|---:|---:|---|")
    print(
        f"| deliveries/s, {args.workers} workers (baseline: 2 bare httpx loops, {inflight} in "
        f"flight each, keep-alive) | {hub_rate:,.0f}/s | {base_rate:,.0f}/s "
        f"| {hub_rate / base_rate:.2f} "
        "| ≥ 1,000/s |"
    )
    workers_cpu, pg_cpu, receiver_cpu = (x * 1000 for x in cap["cpu"])
    print(
        f"| CPU ms per delivery (ours: workers {workers_cpu:.2f} + PostgreSQL {pg_cpu:.2f} + "
        f"receiver {receiver_cpu:.2f}; baseline: loops {base_loops_cpu * 1000:.2f} + receiver "
        f"{base_receiver_cpu * 1000:.2f}) | {ours_cpu * 1000:.2f} | {base_cpu * 1000:.2f} "
        f"| {base_cpu / ours_cpu:.2f} | — |"
    )
    print(
        f"| 2 cores / CPU per delivery (an idle box's ceiling) | {2 / ours_cpu:,.0f}/s "
        f"| {2 / base_cpu:,.0f}/s | {base_cpu / ours_cpu:.2f} | ≥ 1,000/s |"
    )
    if lat:
        print(
            f"| event-to-delivery at {args.rate}/s: p50 / p99 | {_pct(lat, 0.5):.0f} / "
            f"{_pct(lat, 0.99):.0f} ms | — | — | p99 ≤ 1 s |"
        )
    for with_run in (r for r in ingest if r["deliveries"]):
        alone = next(r for r in ingest if r["round"] == with_run["round"] and not r["deliveries"])
        print(
            f"| ingest at {args.ingest_rate}/s offered, round {with_run['round']}: acked/s, "
            f"p50 / p99 (with {with_run['delivered_per_s']:,.0f} deliveries/s; baseline: alone) "
            f"| {with_run['rate']:,.0f}/s, {with_run['p50']:.1f} / {with_run['p99']:.1f} ms "
            f"| {alone['rate']:,.0f}/s, {alone['p50']:.1f} / {alone['p99']:.1f} ms "
            f"| {with_run['rate'] / alone['rate']:.2f}, {with_run['p50'] / alone['p50']:.2f} / "
            f"{with_run['p99'] / alone['p99']:.2f} | unchanged |"
        )
    acked = ", ".join(f"{r['ok']}/{r['sent']}" for r in ingest)
    print(
        f"\nchecks: capacity {cap['done']}/{n} delivered (1 in {args.verify_every} verified)"
        f"{'' if cap['ok'] else ' (TIMED OUT)'}; latency {len(lat)}/{produced} delivered; "
        f"ingest acked {acked or '-'}; the {args.workers} workers' idle CPU {cap['idle']:.2f} s/s; "
        f"{cap['backends']} PostgreSQL backends counted; load average at each stage "
        + " ".join(f"{x:.1f}" for x in loads)
    )


if __name__ == "__main__":
    main()
