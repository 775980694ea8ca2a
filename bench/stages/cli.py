"""Benchmarks of the event pipeline on PostgreSQL (issue 3): ingest, processing, recovery.

The command line of `bench/pipeline.py`: its flags, the sizes they imply, and the run.
"""

import argparse
import json
import time
from pathlib import Path

from bench.stages import scale
from bench.stages.common import (
    DB_NAME,
    bench_env,
    log,
    recreate_database,
    seed_accounts,
    setup_django,
)
from bench.stages.ingest import bench_ingest
from bench.stages.processing import bench_processing, bench_steady
from bench.stages.recovery import bench_recovery
from bench.stages.report import environment, report

PARTS = ["ingest", "processing", "steady", "recovery"]


def parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="smaller sizes, shorter lease")
    parser.add_argument(
        "--only",
        choices=PARTS,
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
    parser.add_argument(
        "--prefill",
        type=int,
        default=0,
        help="processed history rows in the events table before the parts run (issue 18)",
    )
    parser.add_argument(
        "--retention",
        action="store_true",
        help="with --prefill: delete the history's oldest day during the fixed-rate ingest",
    )
    parser.add_argument("--json", type=Path, help="also write the raw results here")
    return parser


def sizes(args: argparse.Namespace) -> argparse.Namespace:
    """The durations and counts a full or a quick run uses."""
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
    return args


def run(args: argparse.Namespace, env: dict[str, str], parts: list[str]) -> dict:
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
    return res


def main(argv: list[str] | None = None) -> int:
    args = sizes(parser().parse_args(argv))
    parts = args.only or PARTS
    env = bench_env(args)
    log(f"database {DB_NAME}: recreating and migrating")
    recreate_database(env)
    setup_django(env)
    seed_accounts()
    if args.prefill:
        log(f"prefill: {args.prefill:,} processed events")
        scale.prefill(args.prefill)
    res = run(args, env, parts)
    res["prefill"] = args.prefill
    print(report(args, res))
    log(f"done in {res['total_seconds']:.0f}s")
    if args.json:
        args.json.write_text(json.dumps(res, indent=2, default=str))
    return 0
