"""Webhooks while inbox pages are open (issue 18): ack p50/p99 at a fixed offered rate
with 0, 50 and 500 open inbox streams, all served by `zalohub serve` on loopback.

    .venv/bin/python bench/serve_streams.py                 # 0, 50, 500 streams; ~3 min
    .venv/bin/python bench/serve_streams.py --streams 0 --streams 12 --seconds 10

It drops and recreates the database `zalohub_bench_serve` on 127.0.0.1:5432 (user
postgres), migrates it, seeds one Connected OA, `--agents` CS agents who are members of
it (logged in: one session each) and `--conversations` conversations with 50 messages
each. For each stream count it starts `zalohub serve --workers W`, opens the streams
from a second process (bench/serve_streams.py --client: asyncio, one connection per
stream, reconnecting as EventSource does when a stream ends), waits until all are open,
then offers pre-signed unique webhooks at `--rate` for `--seconds` with bench/loadgen.py
(open loop: latency from when each request was due) and stops everything. Pages: every
other stream is an inbox list page, the others a conversation page (conversation
i // 2 mod --conversations); stream i belongs to agent i mod --agents, so pages spread
over agents as real tabs do. The baseline is the same run with 0 streams; the table
gives each p99 against it. Checks: every webhook acked as new is stored, every stream
answered 200 and ticked.
"""

import argparse
import asyncio
import json
import os
import signal
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench import loadgen  # noqa: E402
from bench.stages import hub  # noqa: E402
from bench.stages.common import BIN, HOST, free_port, log, sql  # noqa: E402
from bench.stream import OA_ID, http_requests, make_stream, user_id  # noqa: E402

DB_NAME = "zalohub_bench_serve"
SECRET_KEY = "bench-serve-streams-django-secret-key-not-for-production-0123456789"


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--streams", type=int, action="append", help="open streams (repeatable)")
    p.add_argument("--rate", type=float, default=300.0, help="offered webhooks/s")
    p.add_argument("--seconds", type=float, default=20.0, help="length of each fixed run")
    p.add_argument("--conns", type=int, default=16, help="load generator connections")
    p.add_argument("--workers", type=int, default=4, help="zalohub serve --workers")
    p.add_argument("--threads", type=int, default=10, help="zalohub serve --threads")
    p.add_argument(
        "--shape",
        choices=["serve", "wsgi"],
        default="serve",
        help="serve: `zalohub serve` (default); wsgi: the shape it replaces, "
        "`uvicorn --interface wsgi zalohub.wsgi:application` (README before issue 18)",
    )
    p.add_argument("--agents", type=int, default=100)
    p.add_argument("--conversations", type=int, default=50)
    p.add_argument(
        "--repeat",
        type=int,
        default=1,
        help="rounds of every stream count in turn; the table gives medians and each "
        "round's ratio (on a shared machine one round can swing a lot)",
    )
    p.add_argument("--json", type=Path, help="write the raw results here")
    p.add_argument("--client", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--port", type=int, help=argparse.SUPPRESS)
    p.add_argument("--plan", type=Path, help=argparse.SUPPRESS)
    return p


# --- the stream client (a process of its own) ---------------------------------------------


class Tally:
    def __init__(self) -> None:
        self.open = 0
        self.started = 0  # streams answered 200 at least once
        self.connects = 0
        self.not_ok = 0
        self.ticks = 0
        self.events = 0
        self.errors = 0


async def one_stream(port: int, cookie: str, query: str, tally: Tally, stop: asyncio.Event):
    request = (
        f"GET /inbox/events/{query} HTTP/1.1\r\nHost: {HOST}\r\n"
        f"Cookie: sessionid={cookie}\r\nAccept: text/event-stream\r\n\r\n"
    ).encode()
    first = True
    while not stop.is_set():
        try:
            reader, writer = await asyncio.open_connection(HOST, port)
        except OSError:
            tally.errors += 1
            await asyncio.sleep(1.0)
            continue
        tally.connects += 1
        try:
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            if head[9:12] != b"200":
                tally.not_ok += 1
                await asyncio.sleep(1.0)
                continue
            tally.open += 1
            if first:
                tally.started, first = tally.started + 1, False
            try:
                while chunk := await reader.read(65536):
                    tally.ticks += chunk.count(b": tick")
                    tally.events += chunk.count(b"event: ")
            finally:
                tally.open -= 1
        except (OSError, asyncio.IncompleteReadError):
            tally.errors += 1
        finally:
            writer.close()
        await asyncio.sleep(1.0)  # EventSource's retry: 1000


async def client_main(port: int, plan: list[tuple[str, str]]) -> dict:
    tally, stop = Tally(), asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    tasks = []
    for cookie, query in plan:  # opened over ~2 s, as pages would be
        tasks.append(asyncio.create_task(one_stream(port, cookie, query, tally, stop)))
        await asyncio.sleep(2.0 / max(1, len(plan)))
    while not stop.is_set():
        print(f"open {tally.started} {tally.open}", flush=True)
        await asyncio.sleep(0.5)
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    summary = {k: v for k, v in vars(tally).items() if k not in ("open", "started")}
    return summary


# --- the run -------------------------------------------------------------------------------


def bench_env() -> dict[str, str]:
    return hub.hub_env(DB_NAME, secret_key=SECRET_KEY, data_dir="/tmp/zalohub-bench-serve")


def prepare(env: dict[str, str], args: argparse.Namespace) -> list[tuple[str, str]]:
    """A fresh database; the agents' sessions and their pages' queries, one per stream."""
    hub.fresh_hub(DB_NAME, env)
    from zalohub.accounts.models import OfficialAccount
    from zalohub.events.models import Direction, Message
    from zalohub.inbox.models import Conversation

    oa = OfficialAccount.objects.get(oa_id=OA_ID)
    conversations = []
    for i in range(args.conversations):
        uid = user_id(900_000 + i)
        conversations.append(Conversation.objects.create(oa=oa, zalo_user_id=uid).pk)
        Message.objects.bulk_create(
            Message(oa=oa, zalo_user_id=uid, direction=Direction.INBOUND, text=f"tin {k}")
            for k in range(50)
        )
    cookies = hub.agents(args.agents)
    top = max(args.streams)
    pages = [""] + [f"?c={pk}" for pk in conversations]  # a list page, then threads
    return [
        (
            cookies[i % args.agents],
            pages[0] if i % 2 == 0 else pages[1 + (i // 2) % len(conversations)],
        )
        for i in range(top)
    ]


def start_server(env: dict[str, str], args: argparse.Namespace) -> tuple[subprocess.Popen, int]:
    if args.shape == "serve":
        return hub.start_serve(env, "--workers", str(args.workers), "--threads", str(args.threads))
    port = free_port()  # uvicorn's WSGI pool is 10 threads a process
    command = [str(BIN / "python"), "-m", "uvicorn", "zalohub.wsgi:application"]
    command += ["--interface", "wsgi", "--workers", str(args.workers), "--port", str(port)]
    command += ["--no-access-log", "--log-level", "warning"]
    proc = subprocess.Popen(command, env=env, cwd=ROOT)
    hub.wait_healthy(port, proc)
    return proc, port


def open_streams(env, port: int, plan: list[tuple[str, str]], tmp: Path) -> subprocess.Popen:
    plan_file = tmp / f"plan-{port}.json"
    plan_file.write_text(json.dumps(plan))
    command = [str(BIN / "python"), __file__, "--client", "--port", str(port)]
    proc = subprocess.Popen(
        [*command, "--plan", str(plan_file)], env=env, cwd=ROOT, stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None
    deadline = time.time() + 180
    for line in proc.stdout:
        # Every stream answered once (some are reconnecting at any moment: each ends
        # after 20-25 s and its page comes back a second later).
        if line.startswith("open ") and int(line.split()[1]) >= len(plan):
            threading.Thread(target=proc.stdout.read, daemon=True).start()  # keep the pipe open
            return proc
        if time.time() > deadline:
            raise RuntimeError(f"streams did not open: {line.strip()}")
    raise RuntimeError("the stream client ended")


def close_streams(proc: subprocess.Popen) -> dict:
    proc.send_signal(signal.SIGTERM)
    proc.wait(30)
    summary = Path(proc.args[-1]).with_suffix(".summary.json")
    return json.loads(summary.read_text())


def scenario(n: int, env, args, plan, requests: list[bytes], tmp: Path) -> dict:
    server, port = start_server(env, args)
    clients = None
    try:
        if n:
            clients = open_streams(env, port, plan[:n], tmp)
        log(f"{n} streams open; {args.rate:.0f} webhooks/s for {args.seconds:.0f} s")
        before = sql("SELECT count(*) FROM events_zaloevent")[0][0]
        res = loadgen.fixed_rate(HOST, port, requests, rate=args.rate, conns=args.conns)
        stored = sql("SELECT count(*) FROM events_zaloevent")[0][0] - before
        streams = close_streams(clients) if clients else {}
    finally:
        if clients and clients.poll() is None:
            clients.kill()
        [code] = hub.stop(server)
    lat = res.latencies
    return {
        "streams": n,
        "p50_ms": loadgen.percentile(lat, 50) * 1000,
        "p99_ms": loadgen.percentile(lat, 99) * 1000,
        "max_ms": max(lat) * 1000 if lat else float("nan"),
        "sent": res.sent,
        "ok": res.statuses.get(200, 0),
        "duplicates": res.ok_bodies_duplicate,
        "statuses": dict(res.statuses),
        "errors": dict(res.errors),
        "stored": stored,
        "stream_client": streams,
        "server_exit": code,
    }


def report(results: list[dict], args: argparse.Namespace) -> None:
    rounds = [results[i : i + len(args.streams)] for i in range(0, len(results), len(args.streams))]
    print()
    print(
        f"{'zalohub serve' if args.shape == 'serve' else 'uvicorn --interface wsgi'} "
        f"--workers {args.workers} --threads {args.threads}; {args.rate:.0f} "
        f"webhooks/s offered for {args.seconds:.0f} s a run; {len(rounds)} round(s); "
        f"{os.cpu_count()} CPUs, load average now "
        f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}"
    )
    head = f"{'streams':>8} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8} {'ratio p99':>10}  rounds"
    print(head)
    print("-" * len(head))
    for k, n in enumerate(args.streams):
        mine = [r[k] for r in rounds]
        ratios = [r[k]["p99_ms"] / r[0]["p99_ms"] for r in rounds if r[0]["streams"] == 0]
        p50 = statistics.median(r["p50_ms"] for r in mine)
        p99 = statistics.median(r["p99_ms"] for r in mine)
        top = max(r["max_ms"] for r in mine)
        ratio = statistics.median(ratios) if ratios else float("nan")
        each = ", ".join(f"{r['p99_ms']:.1f}" for r in mine)
        print(f"{n:>8} {p50:>8.2f} {p99:>8.2f} {top:>8.1f} {ratio:>10.2f}  p99s {each}")
    print("target: p99 <= 20 ms with 500 streams, ratio <= 1.5 against 0 streams (medians)")
    print()
    for r in results:
        s = r["stream_client"]
        print(
            f"  {r['streams']:>4} streams: {r['ok']}/{r['sent']} acked, {r['stored']} stored, "
            f"statuses {r['statuses']}, errors {r['errors'] or 0}, server exit {r['server_exit']}"
            + (
                f"; streams: {s['connects']} connects, {s['not_ok']} refused, "
                f"{s['ticks']} ticks, {s['events']} events, {s['errors']} broken"
                if s
                else ""
            )
        )


def main() -> int:
    args = parser().parse_args()
    if args.client:
        plan = [tuple(x) for x in json.loads(args.plan.read_text())]
        summary = asyncio.run(client_main(args.port, plan))
        args.plan.with_suffix(".summary.json").write_text(json.dumps(summary))
        return 0
    args.streams = sorted(set(args.streams or [0, 50, 500]))
    env = bench_env()
    tmp = Path(env["ZALOHUB_DATA_DIR"])
    tmp.mkdir(parents=True, exist_ok=True)
    log(f"preparing {DB_NAME}: {args.agents} agents, {args.conversations} conversations")
    plan = prepare(env, args)
    per_run = int(args.rate * args.seconds)
    runs = [n for _ in range(args.repeat) for n in args.streams]
    stream = make_stream(per_run * len(runs), tag="s", users=5000)
    results = []
    for k, n in enumerate(runs):
        part = type(stream)(payloads=stream.payloads[k * per_run : (k + 1) * per_run])
        requests = http_requests(part, host=HOST, port=0)
        results.append(scenario(n, env, args, plan, requests, tmp))
        log(f"{n} streams: p50 {results[-1]['p50_ms']:.2f} ms, p99 {results[-1]['p99_ms']:.2f} ms")
    report(results, args)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
