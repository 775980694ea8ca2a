"""Processing: queued events through `zalohub worker`s, at once and at a steady rate."""

import argparse
import threading
import time

from bench import loadgen
from bench.stages.common import DB_URL, HOST, PENDING_SQL, log, make_stream, sql
from bench.stages.procs import Server, start_worker, stop, wait_until_done, wait_workers_ready
from bench.stages.rows import (
    insert_events,
    message_count,
    reset_events,
    seed_outbound,
    state_counts,
)
from bench.stream import Stream, http_requests


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


def _steady_feed(
    args: argparse.Namespace, env: dict[str, str], warm: Stream, stream: Stream, monitor: Monitor
) -> tuple[int, loadgen.LoadResult, float | None]:
    """Warm the server and workers, then feed the stream at the steady rate while the
    monitor watches; the id before the first fed event, the feed's result, its end."""
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
    return watermark, fed, done


def _steady_result(
    args: argparse.Namespace,
    monitor: Monitor,
    watermark: int,
    fed: loadgen.LoadResult,
    done: float | None,
) -> dict:
    rows = sql(
        "SELECT id, extract(epoch FROM received_at), extract(epoch FROM processed_at) "
        "FROM events_zaloevent WHERE id > %s",
        [watermark],
    )
    observed = [monitor.seen[i] - float(r) for i, r, _p in rows if i in monitor.seen]
    db_side = [float(p) - float(r) for _i, r, p in rows if p is not None]
    return {
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
        watermark, fed, done = _steady_feed(args, env, warm, stream, monitor)
    finally:
        monitor.halt.set()
        for proc in procs:
            stop(proc)
    monitor.join(5)
    result = _steady_result(args, monitor, watermark, fed, done)
    log(
        f"steady: receipt-to-stored p50 {result['p50_s'] * 1000:.0f} ms, "
        f"p99 {result['p99_s'] * 1000:.0f} ms over {result['observed_n']} events"
    )
    return result
