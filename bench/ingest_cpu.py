"""Where a saturated webhook server spends the CPU, per request: the hub and four baselines.

    .venv/bin/python bench/ingest_cpu.py                # 3 rounds of 8 s per server
    .venv/bin/python bench/ingest_cpu.py --rounds 5 --server-workers 4 --duration 15
    .venv/bin/python bench/ingest_cpu.py --rounds 5 --kinds bare,hub,hub_no_linger

On a 2-core machine the ingest ratio of ``pipeline.py`` compares two CPU-bound servers,
so what decides it is the CPU a request costs. This runs, in turn and under the same
saturating load (32 keep-alive connections), six servers built like ``pipeline.py``'s
(uvicorn ``--interface wsgi``, same Django project and middleware):

- **bare 200**: the webhook URL answered 200 at once (``bench/bare_urls.py``);
- **wait**: the same, after holding its thread ``--wait`` seconds with the GIL released,
  as a request waiting for its commit does (``bench/wait_urls.py``): what waiting alone
  costs, with no work done;
- **ingest, no store**: zalohub's own webhook view (signature, parsing, lookups) with
  its durable INSERT replaced by a stand-in that answers at once
  (``bench/ingest_floor_urls.py``): what ingest's Python costs;
- **ingest + wait**: the same, the stand-in holding the thread ``--store-wait`` seconds
  first: ingest's Python and waiting for a commit, without the commit;
- **hub**: zalohub's ingest, every webhook signed, unique and stored;
- **hub_no_linger**: the same without the group commit's linger
  (``ZALOHUB_WEBHOOK_BATCH_LINGER_SECONDS=0``).

and, for the measuring window, reads from /proc the CPU of the server's processes
(their main threads, which run uvicorn's event loop, apart from the others, which run
Django), of every PostgreSQL process and of the load generator, and the server's context
switches. Each figure is per answered request and beside the bare 200's of the same
round. Uses the database ``zalohub_bench`` like ``pipeline.py`` (do not run both at once).
"""

import argparse
import os
import resource
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench import loadgen  # noqa: E402
from bench import pipeline as p  # noqa: E402
from bench.stream import Stream  # noqa: E402

TICK = os.sysconf("SC_CLK_TCK")
# Each server's URLconf: the baselines' run with bench/bare_settings.py, the hub as is.
URLCONFS = {
    "bare": "bench.bare_urls",
    "wait": "bench.wait_urls",
    "no_store": "bench.ingest_floor_urls",
    "store_wait": "bench.ingest_floor_urls",
    "hub": "",
    "hub_no_linger": "",
}
# The hub's variants: what the group commit's linger is worth (kept only while it
# pays >= 3%; zalohub/events/ingestion/store.py).
HUB_ENV = {
    "hub": {},
    "hub_no_linger": {"ZALOHUB_WEBHOOK_BATCH_LINGER_SECONDS": "0"},
}


@dataclass
class Sample:
    main: float = 0.0  # seconds of CPU: the server processes' main threads
    others: float = 0.0  # the server processes' other threads
    postgres: float = 0.0
    loadgen: float = 0.0
    switches: int = 0  # the server's threads' context switches, voluntary or not

    def __sub__(self, other: "Sample") -> "Sample":
        return Sample(
            self.main - other.main,
            self.others - other.others,
            self.postgres - other.postgres,
            self.loadgen - other.loadgen,
            self.switches - other.switches,
        )


def _stat_cpu(path: str) -> float:
    fields = Path(path).read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK  # utime + stime


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except OSError:
                continue
            if ppid == pid:
                found.append(int(entry.name))
    return found


def sample(workers: list[int]) -> Sample:
    out = Sample()
    for pid in workers:
        for task in Path(f"/proc/{pid}/task").iterdir():
            try:
                cpu = _stat_cpu(str(task / "stat"))
                status = (task / "status").read_text()
            except OSError:
                continue
            if task.name == str(pid):
                out.main += cpu
            else:
                out.others += cpu
            out.switches += sum(
                int(line.split()[1]) for line in status.splitlines() if "ctxt_switches" in line
            )
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if "(postgres)" in (entry / "stat").read_text():
                    out.postgres += _stat_cpu(str(entry / "stat"))
            except OSError:
                continue
    usage = resource.getrusage(resource.RUSAGE_SELF)
    out.loadgen = usage.ru_utime + usage.ru_stime
    return out


def measure(kind: str, stream: Stream, args: argparse.Namespace, env: dict[str, str]) -> dict:
    hub = kind in HUB_ENV
    wait = {"wait": args.wait, "store_wait": args.store_wait}.get(kind, 0.0)
    server = p.Server(
        "zalohub.wsgi:application",
        env
        | {"BENCH_URLCONF": URLCONFS[kind], "BENCH_WAIT_SECONDS": str(wait)}
        | HUB_ENV.get(kind, {}),
        workers=args.server_workers,
        settings="zalohub.settings" if hub else "bench.bare_settings",
        interface="wsgi",
    )
    with server:
        assert server.proc is not None
        pool = p.request_pool(stream, server.port, unique=hub)
        warm = loadgen.saturate(p.HOST, server.port, pool, conns=32, warmup=0, duration=2.0)
        workers = _children(server.proc.pid)
        before, started = sample(workers), time.monotonic()
        run = loadgen.saturate(
            p.HOST, server.port, pool, conns=32, warmup=0, duration=args.duration
        )
        used, seconds = sample(workers) - before, time.monotonic() - started
        if hub:
            stream.payloads = stream.payloads[warm.sent + run.sent :]
    n = run.completed
    bad = {status: count for status, count in run.statuses.items() if status != 200}
    if bad or run.errors:
        raise RuntimeError(f"{kind}: non-200 answers {bad}, errors {dict(run.errors)}")
    return {
        "rate": n / seconds,
        "main_ms": used.main / n * 1000,
        "others_ms": used.others / n * 1000,
        "postgres_ms": used.postgres / n * 1000,
        "loadgen_ms": used.loadgen / n * 1000,
        "total_ms": (used.main + used.others + used.postgres + used.loadgen) / n * 1000,
        "switches": used.switches / n,
        "cores": (used.main + used.others + used.postgres + used.loadgen) / seconds,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--duration", type=float, default=8.0, help="measuring window, s")
    parser.add_argument("--server-workers", type=int, default=4)
    parser.add_argument("--wait", type=float, default=0.002, help="the wait baseline's hold, s")
    parser.add_argument(
        "--store-wait", type=float, default=0.0002, help="the ingest + wait baseline's hold, s"
    )
    parser.add_argument(
        "--kinds",
        default=",".join(URLCONFS),
        help=f"comma-separated servers to run, in this order (default: {','.join(URLCONFS)})",
    )
    args = parser.parse_args(argv)
    kinds = [kind for kind in args.kinds.split(",") if kind]
    if unknown := set(kinds) - set(URLCONFS):
        parser.error(f"unknown servers: {', '.join(sorted(unknown))}")
    if "bare" not in kinds:
        parser.error("the bare 200 is every ratio's baseline: keep it in --kinds")
    ns = argparse.Namespace(lease=30, tag=f"c{int(time.time()) % 100000:x}", users=5000)
    env = p.bench_env(ns)
    p.log(f"database {p.DB_NAME}: recreating and migrating")
    p.recreate_database(env)
    p.setup_django(env)
    p.seed_accounts()
    size = 4000 * (args.duration + 2) * args.rounds * len(set(kinds) & set(HUB_ENV))
    stream = p.make_stream(int(size), "c", ns)
    results: dict[str, list[dict]] = {kind: [] for kind in kinds}
    for round_ in range(1, args.rounds + 1):
        for kind in kinds:
            results[kind].append(measure(kind, stream, args, env))
            r = results[kind][-1]
            p.log(
                f"round {round_} {kind}: {r['rate']:,.0f}/s, {r['total_ms']:.3f} ms CPU a request"
            )

    def med(kind: str, key: str) -> float:
        return statistics.median(r[key] for r in results[kind])

    print()
    print(
        f"CPU per answered request, median of {args.rounds} rounds of {args.duration:.0f} s; "
        f"uvicorn --interface wsgi --workers {args.server_workers}; wait = {args.wait * 1000:g} ms,"
        f" store_wait = {args.store_wait * 1000:g} ms"
    )
    head = (
        f"{'server':<12}{'req/s':>9}{'ratio':>7}{'loop':>8}{'Django':>8}{'pg':>7}"
        f"{'loadgen':>9}{'total':>8}{'ratio':>7}{'switches':>10}"
    )
    print(head + "\n" + "-" * len(head))
    for kind in kinds:
        print(
            f"{kind:<12}{med(kind, 'rate'):>9,.0f}"
            f"{med(kind, 'rate') / med('bare', 'rate'):>7.2f}"
            f"{med(kind, 'main_ms'):>8.3f}{med(kind, 'others_ms'):>8.3f}"
            f"{med(kind, 'postgres_ms'):>7.3f}{med(kind, 'loadgen_ms'):>9.3f}"
            f"{med(kind, 'total_ms'):>8.3f}{med(kind, 'total_ms') / med('bare', 'total_ms'):>7.2f}"
            f"{med(kind, 'switches'):>10.1f}"
        )
    print(
        "(ms of CPU a request: loop = the server processes' main threads, Django = their "
        "other threads, pg = every PostgreSQL process; switches = the server threads' "
        "context switches a request; the first ratio is of req/s, the second of CPU)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
