"""Benchmarks of the event pipeline on PostgreSQL (issue 3): ingest, processing, recovery.

    .venv/bin/python bench/pipeline.py            # full run
    .venv/bin/python bench/pipeline.py --quick    # smaller sizes, 10 s lease

It drops and recreates the database `zalohub_bench` on 127.0.0.1:5432 (user postgres),
migrates it with `zalohub migrate`, starts the hub under uvicorn on 127.0.0.1 and
`zalohub worker` processes, drives them with the load generator in bench/loadgen.py and
prints one table: each figure with its same-run baseline and the ratio. See README.md.
"""

import argparse
import contextlib
import http.client
import itertools
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench import loadgen  # noqa: E402
from bench.stream import APP_ID, APP_SECRET, OA_ID, OA_SECRET, Stream, http_requests  # noqa: E402
from bench.stream import make_stream as _make_stream  # noqa: E402

BIN = Path(sys.executable).parent
HOST = "127.0.0.1"
DB_NAME = "zalohub_bench"
ADMIN_DSN = f"postgresql://postgres@{HOST}:5432/postgres"
DB_URL = f"postgres://postgres@{HOST}:5432/{DB_NAME}"
PENDING_SQL = "processing_state IN ('received', 'queued', 'processing')"


def log(text: str) -> None:
    print(f"[{time.strftime('%H:%M:%S', time.gmtime())}] {text}", flush=True)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


# --- environment and database ------------------------------------------------------------


def bench_env(args: argparse.Namespace) -> dict[str, str]:
    # The hub refuses to start on PostgreSQL without keys; one key for the whole run,
    # kept in this process's environment so that every process it starts shares it.
    from cryptography.fernet import Fernet

    os.environ.setdefault("ZALOHUB_ENCRYPTION_KEYS", Fernet.generate_key().decode())
    env = dict(os.environ)
    env.update(
        DATABASE_URL=DB_URL,
        DJANGO_SETTINGS_MODULE="zalohub.settings",
        ZALOHUB_DATA_DIR=os.environ.get("ZALOHUB_DATA_DIR", "/tmp/zalohub-bench"),
        ZALOHUB_LOG_LEVEL="WARNING",
        ZALOHUB_EVENTS_LEASE_SECONDS=str(args.lease),
        ZALO_MODE="sandbox",  # nothing in these paths calls Zalo; never the live hosts
        PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
    )
    return env


def recreate_database(env: dict[str, str]) -> None:
    import psycopg

    with psycopg.connect(ADMIN_DSN, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {DB_NAME} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {DB_NAME}")
    subprocess.run(
        [str(BIN / "zalohub"), "migrate", "--verbosity", "0"], env=env, cwd=ROOT, check=True
    )


def setup_django(env: dict[str, str]) -> None:
    os.environ.update(env)
    import django

    django.setup()


def seed_accounts() -> None:
    from django.utils import timezone

    from zalohub.accounts.models import OfficialAccount, ZaloApp

    now = timezone.now()
    app = ZaloApp.objects.create(
        name="Bench app", app_id=APP_ID, secret_key=APP_SECRET, oa_secret_key=OA_SECRET
    )
    OfficialAccount.objects.create(
        app=app,
        name="Bench OA",
        oa_id=OA_ID,
        status=OfficialAccount.Status.CONNECTED,
        access_token="fake-access-token",
        refresh_token="fake-refresh-token",
        token_expires_at=now + timedelta(days=30),
        refresh_token_expires_at=now + timedelta(days=90),
        connected_at=now,
    )


def sql(query: str, params: list | None = None) -> list[tuple]:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(query, params or [])
        return cursor.fetchall() if cursor.description else []


def reset_events() -> None:
    sql("TRUNCATE events_eventattempt, events_zaloevent, events_message CASCADE")
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE events_zaloevent")
        cursor.execute("VACUUM ANALYZE events_message")


def seed_outbound(stream: Stream) -> None:
    """The OA's sent messages that the stream's receipts point at."""
    from django.utils import timezone

    from zalohub.accounts.models import OfficialAccount
    from zalohub.events.models import Direction, Message, ZaloState

    oa = OfficialAccount.objects.get(oa_id=OA_ID)
    now = timezone.now()
    Message.objects.bulk_create(
        [
            Message(
                oa=oa,
                direction=Direction.OUTBOUND,
                zalo_user_id=user,
                text="seeded outbound message",
                zalo_msg_id=msg_id,
                zalo_state=ZaloState.SENT,
                sent_at=now,
                created_at=now,
            )
            for msg_id, user in stream.outbound
        ],
        batch_size=2000,
    )


def insert_events(stream: Stream) -> float:
    """Store the stream as ingest would (same fields), in one transaction; its commit time."""
    from django.db import transaction

    from zalohub.accounts.models import OfficialAccount, ZaloApp
    from zalohub.events.ingest import _event_time, dedupe_key, parties
    from zalohub.events.models import ZaloEvent

    app = ZaloApp.objects.get(app_id=APP_ID)
    oa = OfficialAccount.objects.get(oa_id=OA_ID)
    rows = []
    for raw, _ts in stream.payloads:
        payload = json.loads(raw)
        oa_id, user_id = parties(payload)
        name = payload["event_name"]
        rows.append(
            ZaloEvent(
                app=app,
                oa=oa if oa_id == OA_ID else None,
                event_name=name,
                dedupe_key=dedupe_key(name, payload, raw.encode()),
                raw_body=raw,
                headers={"content-type": "application/json"},
                signature_variant="app_id",
                event_time=_event_time(payload),
                zalo_user_id=user_id,
                conversation_key=f"{oa_id}:{user_id}" if user_id else "",
            )
        )
    with transaction.atomic():
        ZaloEvent.objects.bulk_create(rows, batch_size=2000)
    committed = time.time()
    sql("ANALYZE events_zaloevent")
    return committed


def pending_count() -> int:
    return sql(f"SELECT count(*) FROM events_zaloevent WHERE {PENDING_SQL}")[0][0]


def state_counts() -> dict[str, int]:
    return dict(
        sql("SELECT processing_state, count(*) FROM events_zaloevent GROUP BY processing_state")
    )


def message_count() -> int:
    return sql("SELECT count(*) FROM events_message")[0][0]


def doubled_checks() -> dict[str, int]:
    """Counts that must all be 0: nothing stored or applied twice."""
    return {
        "msg_id stored twice": sql(
            "SELECT count(*) FROM (SELECT 1 FROM events_message WHERE zalo_msg_id <> '' "
            "GROUP BY oa_id, zalo_msg_id HAVING count(*) > 1) d"
        )[0][0],
        "message row shared by 2 message events": sql(
            "SELECT count(*) FROM (SELECT 1 FROM events_zaloevent WHERE message_id IS NOT NULL "
            "AND event_name IN ('user_send_text', 'oa_send_text') "
            "GROUP BY message_id HAVING count(*) > 1) d"
        )[0][0],
        "events processed more than once (attempts > 1)": sql(
            "SELECT count(*) FROM events_zaloevent WHERE attempts > 1"
        )[0][0],
        "failed attempts logged": sql("SELECT count(*) FROM events_eventattempt")[0][0],
    }


# --- processes -----------------------------------------------------------------------------


class Server:
    """uvicorn on loopback with N worker processes, as README's production line."""

    def __init__(
        self,
        app: str,
        env: dict[str, str],
        *,
        workers: int,
        settings: str = "",
        interface: str = "asgi",
    ) -> None:
        self.port = free_port()
        self.interface = interface
        if interface == "wsgi" and app.startswith("zalohub.asgi"):
            app = "zalohub.wsgi:application"
        self.env = dict(env)
        if settings:
            self.env["DJANGO_SETTINGS_MODULE"] = settings
        self.app, self.workers = app, workers
        self.proc: subprocess.Popen | None = None

    def __enter__(self) -> "Server":
        self.proc = subprocess.Popen(
            [
                *(str(BIN / "python"), "-m", "uvicorn", self.app),
                *("--host", HOST, "--port", str(self.port), "--workers", str(self.workers)),
                *("--no-access-log", "--log-level", "warning", "--lifespan", "off"),
                *("--backlog", "4096"),
                *(("--interface", "wsgi") if self.interface == "wsgi" else ()),
            ],
            env=self.env,
            cwd=ROOT,
        )
        deadline = time.time() + 60
        while time.time() < deadline:
            with contextlib.suppress(OSError):
                conn = http.client.HTTPConnection(HOST, self.port, timeout=2)
                conn.request("GET", f"/zalo/webhook/{APP_ID}/")
                conn.getresponse().read()
                conn.close()
                return self
            time.sleep(0.2)
        raise RuntimeError(f"uvicorn {self.app} did not start")

    def __exit__(self, *exc: object) -> None:
        stop(self.proc)


def stop(proc: subprocess.Popen | None, timeout: float = 20) -> None:
    if proc is None or proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def start_worker(env: dict[str, str], *, noop: bool = False) -> subprocess.Popen:
    command = (
        [str(BIN / "python"), str(ROOT / "bench" / "noop_worker.py")]
        if noop
        else [str(BIN / "zalohub"), "worker"]
    )
    return subprocess.Popen(command, env=env, cwd=ROOT)


def wait_workers_ready(count: int, timeout: float = 20) -> None:
    """Each worker holds >= 3 connections once its threads run (tasks, dispatcher, scheduler)."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        n = sql(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
            [DB_NAME],
        )[0][0]
        if n >= 3 * count:
            break
        time.sleep(0.1)
    time.sleep(0.5)


def wait_until_done(timeout: float, poll: float = 0.05) -> float | None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if pending_count() == 0:
            return time.time()
        time.sleep(poll)
    return None


# --- the benchmarks --------------------------------------------------------------------------


def make_stream(n: int, tag: str, args: argparse.Namespace, seed: int = 1) -> Stream:
    return _make_stream(n, tag=f"{args.tag}{tag}", users=args.users, seed=seed)


def load_summary(res: loadgen.LoadResult) -> dict:
    lat = res.latencies
    return {
        "rate": res.rate,
        "ok": res.statuses.get(200, 0),
        "statuses": dict(res.statuses),
        "errors": dict(res.errors),
        "duplicates": res.ok_bodies_duplicate,
        "p50_ms": loadgen.percentile(lat, 50) * 1000,
        "p99_ms": loadgen.percentile(lat, 99) * 1000,
        "max_ms": max(lat) * 1000 if lat else float("nan"),
        "loadgen_cpu_share": res.cpu_seconds / res.window_seconds if res.window_seconds else 0,
        "pool_exhausted": res.pool_exhausted,
        "sent": res.sent,
    }


def request_pool(stream: Stream, port: int, *, unique: bool) -> Iterator[bytes]:
    """Requests to send a server: the stream's own, each once, for a server that stores
    them (the caller drops what was sent from the stream); for one that does not, its
    first 5,000 over and over."""
    source = stream if unique else Stream(payloads=stream.payloads[:5000])
    requests = http_requests(source, host=HOST, port=port)
    return iter(requests) if unique else itertools.cycle(requests)


def _saturate(
    server: "Server", pool: Iterator[bytes], args: argparse.Namespace
) -> loadgen.LoadResult:
    return loadgen.saturate(
        HOST, server.port, pool, conns=args.conns, warmup=args.warmup, duration=args.duration
    )


def bench_ingest(args: argparse.Namespace, env: dict[str, str]) -> dict:
    reset_events()
    per_run = int(args.rate_cap * (args.warmup + args.duration))
    n_pool = (per_run * args.repeat + int(args.rate * args.fixed)) * len(args.interfaces)
    log(f"ingest: pre-signing {n_pool} unique webhooks")
    stream = make_stream(n_pool, "i", args)
    out: dict[str, dict] = {}
    stacks = [("raw_asgi", "bench.bare_asgi:application", "", "asgi")]
    for interface in args.interfaces:
        hub_settings = "bench.asgi_settings" if interface == "asgi" else "zalohub.settings"
        stacks += [
            (f"bare_{interface}", "zalohub.asgi:application", "bench.bare_settings", interface),
            (f"hub_{interface}", "zalohub.asgi:application", hub_settings, interface),
        ]

    def serve(label: str) -> "Server":
        _, app, settings, interface = next(s for s in stacks if s[0] == label)
        return Server(app, env, workers=args.server_workers, settings=settings, interface=interface)

    for label, *_ in stacks:
        with serve(label) as server:
            hub = label.startswith("hub")
            pool = request_pool(stream, server.port, unique=hub)
            log(f"ingest[{label}]: saturating with {args.conns} connections, {args.duration}s")
            sat = _saturate(server, pool, args)
            fixed_reqs = list(itertools.islice(pool, int(args.rate * args.fixed)))
            log(f"ingest[{label}]: {args.rate}/s offered for {args.fixed}s")
            fixed = loadgen.fixed_rate(
                HOST, server.port, fixed_reqs, rate=args.rate, conns=args.fixed_conns
            )
            if hub:  # the rest of the pool must not be reused by the next hub run
                stream.payloads = stream.payloads[sat.sent + len(fixed_reqs) :]
        out[label] = {
            "saturate": load_summary(sat),
            "fixed": load_summary(fixed),
            "rounds": [sat.rate],
            "extra": [],
        }
        log(
            f"ingest[{label}]: {sat.rate:.0f}/s saturated; at {args.rate}/s p50 "
            f"{out[label]['fixed']['p50_ms']:.1f} ms p99 {out[label]['fixed']['p99_ms']:.1f} ms"
        )
    # More saturated rounds, bare 200 and hub one after the other, each pair a ratio: on a
    # shared 2-core machine one round's figures can swing by a fifth (see README.md).
    for round_ in range(2, args.repeat + 1):
        for interface in args.interfaces:
            for label in (f"bare_{interface}", f"hub_{interface}"):
                with serve(label) as server:
                    hub = label.startswith("hub")
                    sat = _saturate(server, request_pool(stream, server.port, unique=hub), args)
                    if hub:
                        stream.payloads = stream.payloads[sat.sent :]
                out[label]["rounds"].append(sat.rate)
                out[label]["extra"].append(load_summary(sat))
                log(f"ingest[{label}] round {round_}: {sat.rate:.0f}/s saturated")
    acked_new = sum(
        summary["ok"] - summary["duplicates"]
        for i in args.interfaces
        for summary in (
            out[f"hub_{i}"]["saturate"],
            out[f"hub_{i}"]["fixed"],
            *out[f"hub_{i}"]["extra"],
        )
    )
    stored = sql("SELECT count(*) FROM events_zaloevent")[0][0]
    rejected = sql("SELECT count(*) FROM events_rejectedrequest")[0][0]
    out["check"] = {"acked_new": acked_new, "stored": stored, "rejected": rejected}
    return out


def bench_processing(
    args: argparse.Namespace, env: dict[str, str], workers: int, *, noop: bool = False
) -> dict:
    reset_events()
    label = f"{workers}w{'-noop' if noop else ''}"
    stream = make_stream(args.events, f"p{label}", args, seed=workers)
    seed_outbound(stream)
    messages_before = message_count()
    procs = [start_worker(env, noop=noop) for _ in range(workers)]
    try:
        wait_workers_ready(workers)
        log(f"processing[{label}]: releasing {args.events} events to {workers} worker(s)")
        released = insert_events(stream)
        done = wait_until_done(timeout=args.process_timeout)
    finally:
        for proc in procs:
            stop(proc)
    first, last = sql(
        "SELECT extract(epoch FROM min(processed_at)), extract(epoch FROM max(processed_at)) "
        "FROM events_zaloevent"
    )[0]
    states = state_counts()
    elapsed = (done or time.time()) - released
    result = {
        "events": args.events,
        "workers": workers,
        "noop": noop,
        "finished": done is not None,
        "seconds": elapsed,
        "rate": args.events / elapsed if done else float("nan"),
        "processed_span_s": float(last - first) if first else float("nan"),
        "states": states,
        "messages_new": message_count() - messages_before,
        "messages_expected_new": stream.messages_expected - len(stream.outbound),
        "mix": dict(stream.counts),
    }
    log(
        f"processing[{label}]: {result['rate']:.0f} events/s ({elapsed:.1f}s), states {states}, "
        f"messages {result['messages_new']}/{result['messages_expected_new']}"
    )
    return result


class Monitor(threading.Thread):
    """Notes when each event is first seen Processed (committed), polling every `poll` s."""

    def __init__(self, poll: float = 0.1) -> None:
        super().__init__(daemon=True)
        self.poll, self.seen, self.low = poll, {}, 0
        self.halt = threading.Event()

    def run(self) -> None:
        import psycopg

        with psycopg.connect(DB_URL.replace("postgres://", "postgresql://"), autocommit=True) as c:
            while not self.halt.is_set():
                rows = c.execute(
                    "SELECT id FROM events_zaloevent WHERE id > %s "
                    "AND processing_state = 'processed'",
                    [self.low],
                ).fetchall()
                now = time.time()
                for (event_id,) in rows:
                    self.seen.setdefault(event_id, now)
                low = c.execute(
                    f"SELECT min(id) FROM events_zaloevent WHERE id > %s AND {PENDING_SQL}",
                    [self.low],
                ).fetchone()[0]
                if low is not None:
                    self.low = low - 1
                elif self.seen:
                    self.low = max(self.seen)
                self.halt.wait(self.poll)


def bench_steady(args: argparse.Namespace, env: dict[str, str]) -> dict:
    """Receipt-to-stored latency: webhooks at a steady rate through the server, 2 workers."""
    reset_events()
    n = int(args.steady_rate * args.steady)
    warm = make_stream(300, "sw", args, seed=7)
    stream = make_stream(n, "s", args, seed=8)
    seed_outbound(warm)
    seed_outbound(stream)
    procs = [start_worker(env) for _ in range(2)]
    monitor = Monitor()
    try:
        server = Server(
            "zalohub.asgi:application",
            env,
            workers=args.server_workers,
            interface=args.interfaces[0],
            settings="bench.asgi_settings" if args.interfaces[0] == "asgi" else "",
        )
        with server:
            wait_workers_ready(2)
            loadgen.saturate(
                HOST,
                server.port,
                iter(http_requests(warm, host=HOST, port=server.port)),
                conns=4,
                warmup=0,
                duration=1.5,
            )
            wait_until_done(timeout=30)
            watermark = sql("SELECT coalesce(max(id), 0) FROM events_zaloevent")[0][0]
            monitor.low = watermark
            monitor.start()
            log(f"steady: {args.steady_rate}/s of mixed webhooks for {args.steady}s, 2 workers")
            fed = loadgen.fixed_rate(
                HOST,
                server.port,
                http_requests(stream, host=HOST, port=server.port),
                rate=args.steady_rate,
                conns=args.fixed_conns,
            )
            done = wait_until_done(timeout=120)
            time.sleep(0.3)
    finally:
        monitor.halt.set()
        for proc in procs:
            stop(proc)
    monitor.join(5)
    rows = sql(
        "SELECT id, extract(epoch FROM received_at), extract(epoch FROM processed_at) "
        "FROM events_zaloevent WHERE id > %s",
        [watermark],
    )
    observed = [monitor.seen[i] - float(r) for i, r, _p in rows if i in monitor.seen]
    db_side = [float(p) - float(r) for _i, r, p in rows if p is not None]
    result = {
        "offered_rate": args.steady_rate,
        "seconds": args.steady,
        "acked": fed.statuses.get(200, 0),
        "ack_p99_ms": loadgen.percentile(fed.latencies, 99) * 1000,
        "events": len(rows),
        "finished": done is not None,
        "observed_n": len(observed),
        "p50_s": loadgen.percentile(observed, 50),
        "p99_s": loadgen.percentile(observed, 99),
        "max_s": max(observed) if observed else float("nan"),
        "db_p50_s": loadgen.percentile(db_side, 50),
        "db_p99_s": loadgen.percentile(db_side, 99),
        "states": state_counts(),
    }
    log(
        f"steady: receipt-to-stored p50 {result['p50_s'] * 1000:.0f} ms, "
        f"p99 {result['p99_s'] * 1000:.0f} ms over {len(observed)} events"
    )
    return result


def bench_recovery(args: argparse.Namespace, env: dict[str, str]) -> dict:
    reset_events()
    stream = make_stream(args.recovery_events, "r", args, seed=9)
    seed_outbound(stream)
    messages_before = message_count()
    insert_events(stream)
    n = args.recovery_events
    victim = start_worker(env)
    successor = None
    try:
        host = socket.gethostname()
        claimed_by = f"{host}:{victim.pid}/%"
        stranded: list[int] = []
        deadline = time.time() + 120
        while time.time() < deadline:
            done_n = sql(
                "SELECT count(*) FROM events_zaloevent WHERE processing_state = 'processed'"
            )[0][0]
            if done_n >= n * 0.2:
                rows = sql(
                    "SELECT id FROM events_zaloevent WHERE processing_state = 'processing' "
                    "AND claimed_by LIKE %s",
                    [claimed_by],
                )
                if rows:
                    os.kill(victim.pid, signal.SIGKILL)
                    killed_at = time.time()
                    victim.wait()
                    break
            time.sleep(0.003)
        else:
            raise RuntimeError("the worker never held a claimed batch to kill")
        stranded = [
            r[0]
            for r in sql(
                "SELECT id FROM events_zaloevent WHERE processing_state = 'processing' "
                "AND claimed_by LIKE %s",
                [claimed_by],
            )
        ]
        lease_until = sql(
            "SELECT extract(epoch FROM max(lease_until)) FROM events_zaloevent WHERE id = ANY(%s)",
            [stranded],
        )[0][0]
        log(
            f"recovery: SIGKILLed worker {victim.pid} holding {len(stranded)} claimed events "
            f"({done_n} of {n} processed); starting another worker"
        )
        successor = start_worker(env)
        recovered_at = None
        deadline = killed_at + args.recovery_timeout
        while time.time() < deadline:
            left = sql(
                "SELECT count(*) FROM events_zaloevent WHERE id = ANY(%s) "
                "AND processing_state <> 'processed'",
                [stranded],
            )[0][0]
            if left == 0:
                recovered_at = time.time()
                break
            time.sleep(0.05)
        all_done = wait_until_done(timeout=max(5.0, deadline - time.time()))
    finally:
        stop(victim)
        stop(successor)
    states = state_counts()
    result = {
        "events": n,
        "lease_seconds": args.lease,
        "stranded": len(stranded),
        "processed_before_kill": done_n,
        "recovered": recovered_at is not None,
        "recovery_s": (recovered_at - killed_at) if recovered_at else float("nan"),
        "lease_left_at_kill_s": float(lease_until) - killed_at if lease_until else float("nan"),
        "all_done_s": (all_done - killed_at) if all_done else float("nan"),
        "states": states,
        "processed": states.get("processed", 0),
        "lost": n - states.get("processed", 0),
        "messages_new": message_count() - messages_before,
        "messages_expected_new": stream.messages_expected - len(stream.outbound),
        "doubled": doubled_checks(),
        "receipts_not_applied": sql(
            "SELECT count(*) FROM events_message WHERE direction = 'out' "
            "AND text = 'seeded outbound message' AND zalo_state = 'sent'"
        )[0][0],
    }
    log(
        f"recovery: stranded events processed {result['recovery_s']:.1f}s after the kill; "
        f"lost {result['lost']}, messages {result['messages_new']}/"
        f"{result['messages_expected_new']}, doubled {result['doubled']}"
    )
    return result


# --- report --------------------------------------------------------------------------------


def ratio(a: float, b: float) -> str:
    return f"{a / b:.2f}" if b and b == b and a == a else "n/a"


def report(args: argparse.Namespace, res: dict) -> str:
    lines: list[str] = []
    add = lines.append
    env = res["env"]
    add("")
    add(f"zalohub pipeline benchmark — {env['date']} — {'quick' if args.quick else 'full'} run")
    add(
        f"machine: {env['cpus']} CPUs, load average before {env['loadavg']}; PostgreSQL "
        f"{env['pg_version']} (synchronous_commit={env['synchronous_commit']}, "
        f"fsync={env['fsync']}); uvicorn --workers {args.server_workers} "
        f"(interfaces: {', '.join(args.interfaces)}) "
        f"(HTTP: {env['uvicorn_http']}); load generator: 1 Python process on the same box"
    )
    add(
        f"settings changed for this run: ZALOHUB_EVENTS_LEASE_SECONDS={args.lease}; "
        "ASGI runs use CONN_MAX_AGE=0 (bench/asgi_settings.py, see README)"
    )
    add("")
    head = f"{'measure':<52}{'zalohub':>14}{'baseline':>14}{'ratio':>8}  target"
    add(head)
    add("-" * len(head))

    def row(name: str, value: str, base: str, r: str, target: str) -> None:
        add(f"{name:<52}{value:>14}{base:>14}{r:>8}  {target}")

    if "ingest" in res:
        ing = res["ingest"]
        raw = ing["raw_asgi"]
        for interface in args.interfaces:
            hub, bare = ing[f"hub_{interface}"], ing[f"bare_{interface}"]
            tag = interface.upper()
            hs, bs = hub["saturate"]["rate"], bare["saturate"]["rate"]
            rounds = len(hub["rounds"])
            if rounds > 1:
                pairs = sorted(h / b for h, b in zip(hub["rounds"], bare["rounds"], strict=True))
                hs, bs = statistics.median(hub["rounds"]), statistics.median(bare["rounds"])
            row(
                f"Ingest [{tag}]: acked/s, median of {rounds} (base: bare 200)"
                if rounds > 1
                else f"Ingest [{tag}]: acked webhooks/s (baseline: bare 200)",
                f"{hs:,.0f}/s",
                f"{bs:,.0f}/s",
                f"{statistics.median(pairs):.2f}" if rounds > 1 else ratio(hs, bs),
                ">= 1,000/s, ratio >= 0.5",
            )
            if rounds > 1:
                add(
                    f"  [{tag}] rounds, hub / bare 200 (ratio): "
                    + "; ".join(
                        f"{h:,.0f} / {b:,.0f} ({h / b:.2f})"
                        for h, b in zip(hub["rounds"], bare["rounds"], strict=True)
                    )
                    + f"; ratio median {statistics.median(pairs):.2f}, "
                    f"min {pairs[0]:.2f}, max {pairs[-1]:.2f}"
                )
            row(
                "  same, against raw ASGI 200 (no Django)",
                f"{hs:,.0f}/s",
                f"{raw['saturate']['rate']:,.0f}/s",
                ratio(hs, raw["saturate"]["rate"]),
                "(information)",
            )
            row(
                f"  ack latency p50 at saturation ({args.conns} conns)",
                f"{hub['saturate']['p50_ms']:.1f} ms",
                f"{bare['saturate']['p50_ms']:.1f} ms",
                ratio(hub["saturate"]["p50_ms"], bare["saturate"]["p50_ms"]),
                "",
            )
            for p in ("p50", "p99"):
                row(
                    f"Ingest [{tag}]: ack latency {p} at {args.rate:.0f} req/s offered",
                    f"{hub['fixed'][f'{p}_ms']:.1f} ms",
                    f"{bare['fixed'][f'{p}_ms']:.1f} ms",
                    ratio(hub["fixed"][f"{p}_ms"], bare["fixed"][f"{p}_ms"]),
                    "p99 <= 20 ms" if p == "p99" else "",
                )
            bad = {
                k: v
                for part in ("saturate", "fixed")
                for k, v in hub[part]["statuses"].items()
                if k != 200
            }
            add(
                f"  [{tag}] non-200 answers: {bad or 'none'}; connection errors: "
                f"{hub['saturate']['errors'] or 'none'}; load generator CPU "
                f"{hub['saturate']['loadgen_cpu_share'] * 100:.0f}% of a core"
            )
        c = ing["check"]
        add(
            f"  check: {c['acked_new']} webhooks acked as new, {c['stored']} events stored, "
            f"{c['rejected']} rejected"
        )
    if "processing" in res:
        pr = res["processing"]
        one, two, noop = pr.get("1w"), pr.get("2w"), pr.get("2w-noop")
        if one and two:
            row(
                "Processing: events/s, 2 workers (baseline: 1 worker)",
                f"{two['rate']:,.0f}/s",
                f"{one['rate']:,.0f}/s",
                ratio(two["rate"], one["rate"]),
                ">= 1,000/s with 2 workers",
            )
        if two and noop:
            row(
                "  2 workers (baseline: same, no-op handlers)",
                f"{two['rate']:,.0f}/s",
                f"{noop['rate']:,.0f}/s",
                ratio(two["rate"], noop["rate"]),
                "(queue overhead)",
            )
        for key in ("1w", "2w", "2w-noop"):
            if key in pr:
                p = pr[key]
                add(
                    f"  check {key}: {p['events']} events, states {p['states']}, new messages "
                    f"{p['messages_new']}/{p['messages_expected_new']} expected, "
                    f"{p['seconds']:.1f}s"
                )
    if "steady" in res:
        st = res["steady"]
        row(
            f"Processing: receipt-to-stored p99 at {st['offered_rate']:.0f}/s",
            f"{st['p99_s'] * 1000:,.0f} ms",
            f"{st['db_p99_s'] * 1000:,.0f} ms",
            ratio(st["p99_s"], st["db_p99_s"]),
            "p99 <= 2 s",
        )
        add(
            f"  (zalohub: first seen Processed by a 100 ms poller; baseline column: the "
            f"worker's own processed_at; p50 {st['p50_s'] * 1000:.0f} ms, max "
            f"{st['max_s'] * 1000:.0f} ms; {st['observed_n']} events, ack p99 "
            f"{st['ack_p99_ms']:.1f} ms, states {st['states']})"
        )
    if "recovery" in res:
        rc = res["recovery"]
        bound = rc["lease_left_at_kill_s"]
        row(
            "Recovery: SIGKILL -> stranded events processed",
            f"{rc['recovery_s']:.1f} s",
            f"{bound:.1f} s",
            ratio(rc["recovery_s"], bound),
            "<= 60 s, 0 lost, 0 doubled",
        )
        add(
            f"  (baseline column: lease time left on the stranded batch at the kill; lease "
            f"{rc['lease_seconds']} s, sweeper every 10 s)"
        )
        add(
            f"  check: {rc['stranded']} events stranded in the killed batch, "
            f"{rc['processed']}/{rc['events']} processed (lost {rc['lost']}), new messages "
            f"{rc['messages_new']}/{rc['messages_expected_new']}, receipts not applied "
            f"{rc['receipts_not_applied']}, doubled {rc['doubled']}; all done "
            f"{rc['all_done_s']:.1f} s after the kill"
        )
    add("")
    return "\n".join(lines)


def environment() -> dict:
    import uvicorn  # noqa: F401

    try:
        import httptools  # noqa: F401

        http_impl = "httptools"
    except ImportError:
        http_impl = "h11 (httptools not installed)"
    return {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "cpus": os.cpu_count(),
        "loadavg": " ".join(f"{x:.2f}" for x in os.getloadavg()),
        "pg_version": sql("SHOW server_version")[0][0],
        "synchronous_commit": sql("SHOW synchronous_commit")[0][0],
        "fsync": sql("SHOW fsync")[0][0],
        "uvicorn_http": http_impl,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="smaller sizes, shorter lease")
    parser.add_argument(
        "--only",
        choices=["ingest", "processing", "steady", "recovery"],
        action="append",
        help="run only these parts (repeatable); default: all",
    )
    parser.add_argument("--server-workers", type=int, default=4, help="uvicorn processes")
    parser.add_argument(
        "--interface",
        choices=["wsgi", "asgi"],
        action="append",
        dest="interfaces",
        help="how uvicorn serves Django (repeatable; default: wsgi then asgi; the first "
        "one also serves the steady-load run)",
    )
    parser.add_argument("--conns", type=int, default=32, help="saturation connections")
    parser.add_argument(
        "--repeat",
        type=int,
        default=1,
        help="saturated ingest rounds per server (bare 200 and hub in turn); the table "
        "then gives the median and every round's ratio",
    )
    parser.add_argument("--rate", type=float, default=300.0, help="fixed offered rate, req/s")
    parser.add_argument("--events", type=int, help="events per processing run")
    parser.add_argument("--users", type=int, default=5000, help="conversations in the stream")
    parser.add_argument("--lease", type=int, help="ZALOHUB_EVENTS_LEASE_SECONDS for the run")
    parser.add_argument("--json", type=Path, help="also write the raw results here")
    args = parser.parse_args(argv)
    q = args.quick
    args.interfaces = args.interfaces or ["wsgi", "asgi"]
    args.duration = 5.0 if q else 15.0  # saturation window, s
    args.warmup = 2.0 if q else 3.0
    args.fixed = 8.0 if q else 20.0  # fixed-rate run, s
    args.fixed_conns = 32
    args.rate_cap = 4000  # pool sizing: unique webhooks for up to this rate
    args.events = args.events or (6000 if q else 20000)
    args.steady_rate = args.rate
    args.steady = 10.0 if q else 30.0
    args.recovery_events = 1500 if q else 10000
    args.lease = args.lease or (10 if q else 30)
    args.process_timeout = 300.0
    args.recovery_timeout = 180.0
    args.tag = f"{int(time.time()) % 100000:x}"
    parts = args.only or ["ingest", "processing", "steady", "recovery"]

    env = bench_env(args)
    log(f"database {DB_NAME}: recreating and migrating")
    recreate_database(env)
    setup_django(env)
    seed_accounts()
    res: dict = {"env": environment(), "args": {k: str(v) for k, v in vars(args).items()}}
    started = time.time()
    if "ingest" in parts:
        res["ingest"] = bench_ingest(args, env)
    if "processing" in parts:
        res["processing"] = {
            "1w": bench_processing(args, env, 1),
            "2w": bench_processing(args, env, 2),
            "2w-noop": bench_processing(args, env, 2, noop=True),
        }
    if "steady" in parts:
        res["steady"] = bench_steady(args, env)
    if "recovery" in parts:
        res["recovery"] = bench_recovery(args, env)
    res["total_seconds"] = time.time() - started
    print(report(args, res))
    log(f"done in {res['total_seconds']:.0f}s")
    if args.json:
        args.json.write_text(json.dumps(res, indent=2, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
