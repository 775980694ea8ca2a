"""API send accepted (202 after commit) vs a django-ninja endpoint answering 202 with no
work, in the same run and the same server processes (issue 17).

    .venv/bin/python bench/api_send.py                  # WSGI, 4 uvicorn workers
    .venv/bin/python bench/api_send.py --interface asgi --redis
    .venv/bin/python bench/api_send.py --ceiling        # also a send stored as one row

It drops and recreates the database `zalohub_bench_api` (or --db's) on 127.0.0.1:5432
(`--db sqlite`: the SQLite file of ZALOHUB_DATA_DIR, removed first), migrates it,
seeds a connected OA and an API key, and starts uvicorn (settings
bench.api_settings: the hub's URLs plus the baseline at /bench/floor/accept). No worker
runs: a send is measured up to its 202, which comes after the commit of its outbound
event (zalohub.api.accept; a worker's sends loop makes its message and sends it).
Closed loop for the capacity (requests/s answered 202), each request with its own
Idempotency-Key (or none, --no-idempotency); then an open loop at 300
requests/s for the latency percentiles. Prints one table: figure, baseline, ratio.
With --ceiling, the same two loops against bench/api_floor_urls.py's one-row send (a
send accepted as ingest accepts a webhook: the design's ceiling, not the hub's send).
"""

import argparse
import json
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench import loadgen  # noqa: E402
from bench.stages.common import ADMIN_DSN, BIN, HOST, bench_env, log, seed_accounts  # noqa: E402
from bench.stages.procs import Server  # noqa: E402
from bench.stream import OA_ID  # noqa: E402

DB_NAME = "zalohub_bench_api"
USER_BASE = 2512000000000000001


def _recreate(env: dict[str, str], db_name: str) -> None:
    import subprocess

    import psycopg

    if db_name == "sqlite":
        for name in ("zalohub.sqlite3", "zalohub.sqlite3-wal", "zalohub.sqlite3-shm"):
            (Path(env["ZALOHUB_DATA_DIR"]) / name).unlink(missing_ok=True)
    else:
        with psycopg.connect(ADMIN_DSN, autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {db_name} WITH (FORCE)")
            conn.execute(f"CREATE DATABASE {db_name}")
    subprocess.run(
        [str(BIN / "zalohub"), "migrate", "--verbosity", "0"], env=env, cwd=ROOT, check=True
    )


def _seed() -> tuple[int, str]:
    from zalohub.accounts.models import OfficialAccount
    from zalohub.api.keys import key_create
    from zalohub.api.models import Capability

    seed_accounts()
    oa = OfficialAccount.objects.get(oa_id=OA_ID)
    _key, raw = key_create(
        name="bench",
        oas=[oa],
        capabilities=[Capability.SEND_MESSAGES],
        rate_limit_per_minute=10_000_000,
    )
    return oa.pk, raw


def _request(path: str, body: bytes, headers: dict[str, str]) -> bytes:
    head = [f"POST {path} HTTP/1.1", f"Host: {HOST}", "Content-Type: application/json"]
    head += [f"{k}: {v}" for k, v in headers.items()]
    head.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(head) + "\r\n\r\n").encode() + body


def _requests(kind: str, oa: int, key: str, idempotency: bool, tag: str, users: int):
    n = 0
    while True:
        n += 1
        # An ERP writes to many customers: each one's conversation row is its own.
        user_id = f"{USER_BASE + n % users}"
        body = json.dumps({"oa": oa, "to": {"user_id": user_id}, "text": "Đơn hàng đã giao"})
        body = body.encode()
        if kind == "floor":
            yield _request("/bench/floor/accept", body, {})
            continue
        headers = {"Authorization": f"Bearer {key}"}
        if idempotency:
            headers["Idempotency-Key"] = f"{tag}-{n}"
        yield _request(
            "/bench/floor/one_row" if kind == "ceiling" else "/api/v1/messages", body, headers
        )


def _saturate(server: Server, requests, args: argparse.Namespace) -> loadgen.LoadResult:
    return loadgen.saturate(
        HOST,
        server.port,
        requests,
        conns=args.conns,
        warmup=args.warmup,
        duration=args.duration,
        ok=202,
    )


def _fixed(server: Server, requests, args: argparse.Namespace) -> loadgen.LoadResult:
    pool = [next(requests) for _ in range(int(args.rate * args.fixed_seconds))]
    return loadgen.fixed_rate(HOST, server.port, pool, rate=args.rate, conns=32, ok=202)


def _ms(result: loadgen.LoadResult, p: float) -> float:
    return loadgen.percentile(result.latencies, p) * 1000


def _row(name: str, value: str, base: str, ratio: str, target: str) -> str:
    return f"| {name} | {value} | {base} | {ratio} | {target} |"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--interface", choices=["wsgi", "asgi"], default="wsgi")
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--conns", type=int, default=32)
    parser.add_argument("--warmup", type=float, default=2.0)
    parser.add_argument("--duration", type=float, default=10.0)
    parser.add_argument("--rate", type=float, default=300.0)
    parser.add_argument("--fixed-seconds", type=float, default=10.0)
    parser.add_argument("--users", type=int, default=5000, help="recipients sent to in turn")
    parser.add_argument("--no-idempotency", action="store_true")
    parser.add_argument("--redis", action="store_true", help="rate limit counted in Redis db 4")
    parser.add_argument("--lease", type=int, default=30)
    parser.add_argument(
        "--ceiling",
        action="store_true",
        help="also a send accepted as one row, as ingest accepts a webhook (api_floor_urls)",
    )
    parser.add_argument(
        "--db", default=DB_NAME, help="PostgreSQL database dropped and recreated, or sqlite"
    )
    args = parser.parse_args()
    env = bench_env(args)
    if not args.db.isidentifier():
        parser.error("--db: letters, digits and underscores")
    if args.db == "sqlite":
        env.pop("DATABASE_URL", None)
        os.environ.pop("DATABASE_URL", None)
    else:
        env["DATABASE_URL"] = f"postgres://postgres@{HOST}:5432/{args.db}"
    env["ZALOHUB_DATA_DIR"] = os.environ.get("ZALOHUB_DATA_DIR", "/tmp/zalohub-bench-api")
    if args.redis:
        env["ZALOHUB_REDIS_URL"] = "redis://127.0.0.1:6379/4"
    if args.interface == "asgi":
        env["ZALOHUB_DB_CONN_MAX_AGE"] = "0"
    log(f"recreating {args.db}")
    _recreate(env, args.db)
    os.environ.update(env)
    import django

    django.setup()
    oa, key = _seed()
    idem = not args.no_idempotency
    app = "zalohub.wsgi:application" if args.interface == "wsgi" else "zalohub.asgi:application"
    with Server(
        app, env, workers=args.workers, settings="bench.api_settings", interface=args.interface
    ) as server:
        log("warming both endpoints")
        _saturate(
            server,
            _requests("floor", oa, key, idem, "w0", args.users),
            argparse.Namespace(conns=args.conns, warmup=0, duration=2.0),
        )
        _saturate(
            server,
            _requests("api", oa, key, idem, "w1", args.users),
            argparse.Namespace(conns=args.conns, warmup=0, duration=2.0),
        )
        log("closed loop: baseline, then API send")
        floor = _saturate(server, _requests("floor", oa, key, idem, "f", args.users), args)
        sends = _saturate(server, _requests("api", oa, key, idem, "s", args.users), args)
        log(f"open loop at {args.rate:.0f}/s: baseline, then API send")
        floor_fixed = _fixed(server, _requests("floor", oa, key, idem, "ff", args.users), args)
        sends_fixed = _fixed(server, _requests("api", oa, key, idem, "sf", args.users), args)
        if args.ceiling:
            log("the ceiling: closed loop, then open loop")
            ceiling = _saturate(server, _requests("ceiling", oa, key, idem, "c", args.users), args)
            ceiling_fixed = _fixed(
                server, _requests("ceiling", oa, key, idem, "cf", args.users), args
            )
    from zalohub.events.models import ZaloEvent

    # Each send accepted is its outbound event, Received (no worker runs to queue it).
    stored = ZaloEvent.objects.filter(direction="out").count()
    events = ZaloEvent.objects.filter(direction="out", processing_state="received").count()
    accepted = sum(r.statuses[202] for r in (sends, sends_fixed))
    warm_accepted = stored - accepted
    print()
    print(
        f"API send, {args.interface}, {args.workers} uvicorn workers, {args.conns} conns, "
        f"{args.users} recipients in turn, "
        f"Idempotency-Key {'per request' if idem else 'none'}, rate limit in "
        f"{'Redis' if args.redis else 'the database'}, "
        f"{'SQLite' if args.db == 'sqlite' else 'PostgreSQL'}"
    )
    print("| what | API send | baseline: ninja 202, no work | ratio | target |")
    print("|---|---:|---:|---:|---|")
    print(
        _row(
            "accepted/s (closed loop)",
            f"{sends.rate:,.0f}/s",
            f"{floor.rate:,.0f}/s",
            f"{sends.rate / floor.rate:.2f}" if floor.rate else "-",
            "≥ 1,000/s, ratio ≥ 0.5",
        )
    )
    print(
        _row(
            f"p50 / p99 at {args.rate:.0f}/s offered",
            f"{_ms(sends_fixed, 50):.1f} / {_ms(sends_fixed, 99):.1f} ms",
            f"{_ms(floor_fixed, 50):.1f} / {_ms(floor_fixed, 99):.1f} ms",
            f"{_ms(sends_fixed, 99) / _ms(floor_fixed, 99):.2f} (p99)",
            "p99 ≤ 20 ms",
        )
    )
    if args.ceiling:
        print(
            _row(
                f"ceiling, one row a send: accepted/s; p50 / p99 at {args.rate:.0f}/s",
                f"{ceiling.rate:,.0f}/s; {_ms(ceiling_fixed, 50):.1f} / "
                f"{_ms(ceiling_fixed, 99):.1f} ms",
                f"{floor.rate:,.0f}/s",
                f"{ceiling.rate / floor.rate:.2f}" if floor.rate else "-",
                "(what such a send could reach)",
            )
        )
        rows = ZaloEvent.objects.filter(event_name="oa_send_text", direction="in").count()
        print(
            f"ceiling checks: statuses closed {dict(ceiling.statuses)} open "
            f"{dict(ceiling_fixed.statuses)}; rows stored {rows} (its 202s measured "
            f"{ceiling.statuses[202] + ceiling_fixed.statuses[202]})"
        )
    print()
    print(
        f"checks: statuses closed {dict(sends.statuses)} open {dict(sends_fixed.statuses)}; "
        f"baseline {dict(floor.statuses)} / {dict(floor_fixed.statuses)}; errors "
        f"{dict(sends.errors) or 0}; sends stored {stored} (202s measured {accepted}, "
        f"warm-up {warm_accepted}); of them Received {events}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
