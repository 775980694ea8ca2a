"""Benchmarks of the event pipeline on PostgreSQL (issue 3): ingest, processing, recovery.

    .venv/bin/python bench/pipeline.py            # full run
    .venv/bin/python bench/pipeline.py --quick    # smaller sizes, 10 s lease

It drops and recreates the database `zalohub_bench` on 127.0.0.1:5432 (user postgres),
migrates it with `zalohub migrate`, starts the hub under uvicorn on 127.0.0.1 and
`zalohub worker` processes, drives them with the load generator in bench/loadgen.py and
prints one table: each figure with its same-run baseline and the ratio. See README.md.

The stages live in `bench/stages/` (one module each); this file is the command and keeps
the names other benchmarks import (`from bench import pipeline as p; p.Server(...)`).
"""

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.stages.cli import main  # noqa: E402
from bench.stages.common import (  # noqa: E402
    ADMIN_DSN,
    BIN,
    DB_NAME,
    DB_URL,
    HOST,
    PENDING_SQL,
    bench_env,
    free_port,
    log,
    make_stream,
    recreate_database,
    seed_accounts,
    setup_django,
    sql,
)
from bench.stages.ingest import bench_ingest, load_summary, request_pool  # noqa: E402
from bench.stages.processing import Monitor, bench_processing, bench_steady  # noqa: E402
from bench.stages.procs import (  # noqa: E402
    Server,
    start_worker,
    stop,
    wait_until_done,
    wait_workers_ready,
)
from bench.stages.recovery import bench_recovery  # noqa: E402
from bench.stages.report import environment, ratio, report  # noqa: E402
from bench.stages.rows import (  # noqa: E402
    doubled_checks,
    insert_events,
    message_count,
    pending_count,
    reset_events,
    seed_outbound,
    state_counts,
)

__all__ = [
    "ADMIN_DSN",
    "BIN",
    "DB_NAME",
    "DB_URL",
    "HOST",
    "PENDING_SQL",
    "ROOT",
    "Monitor",
    "Server",
    "bench_env",
    "bench_ingest",
    "bench_processing",
    "bench_recovery",
    "bench_steady",
    "doubled_checks",
    "environment",
    "free_port",
    "insert_events",
    "load_summary",
    "log",
    "main",
    "make_stream",
    "message_count",
    "pending_count",
    "ratio",
    "recreate_database",
    "report",
    "request_pool",
    "reset_events",
    "seed_accounts",
    "seed_outbound",
    "setup_django",
    "sql",
    "start_worker",
    "state_counts",
    "stop",
    "wait_until_done",
    "wait_workers_ready",
]

if __name__ == "__main__":
    sys.exit(main())
