"""CPU an accepted API send costs in one process, beside a django-ninja endpoint that
answers 202 with no work (issue 17): not a throughput, and no server.

    .venv/bin/python bench/api_send_cpu.py                      # PostgreSQL, zalohub_bench_api_cpu
    .venv/bin/python bench/api_send_cpu.py --db sqlite --threads 8
    .venv/bin/python bench/api_send_cpu.py --profile /tmp/send.prof --threads 1

It drops and recreates the database (or the SQLite file of ZALOHUB_DATA_DIR), migrates
it, seeds a connected OA and an API key, and sends ``--sends`` messages through Django's
test client (middleware, ninja, the group commit, the commit), ``--threads`` clients at
once (1: every batch holds one send; 8: batches form as under a server), each with its
own Idempotency-Key, to ``--users`` recipients in turn. ``time.process_time`` over the
sends (every thread of this process; PostgreSQL's own CPU is not in it) divided by the
202s, beside the same for the baseline (``bench/api_floor_urls.py``) in the same run,
in ``--rounds`` alternating rounds. Prints the median of the rounds, the ratio, the
task rows written and the batches.
"""

import argparse
import json
import os
import statistics
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.api_send import USER_BASE, _recreate, _seed  # noqa: E402
from bench.stages.common import HOST, bench_env, log  # noqa: E402

DB_NAME = "zalohub_bench_api_cpu"


def _bodies(oa: int, users: int, start: int, n: int) -> list[bytes]:
    return [
        json.dumps(
            {"oa": oa, "to": {"user_id": f"{USER_BASE + k % users}"}, "text": "Đơn hàng đã giao"}
        ).encode()
        for k in range(start, start + n)
    ]


def _run(kind: str, oa: int, key: str, args: argparse.Namespace, tag: str, start: int) -> float:
    """CPU seconds a 202 (every request must be one)."""
    from django.test import Client

    per = args.sends // args.threads
    bodies = _bodies(oa, args.users, start, per * args.threads)
    statuses: list[int] = []
    lock = threading.Lock()
    go = threading.Barrier(args.threads + 1)

    def client(n: int) -> None:
        c = Client()
        mine = bodies[n * per : (n + 1) * per]
        got = []
        go.wait()
        for k, body in enumerate(mine):
            if kind == "floor":
                r = c.post("/bench/floor/accept", body, content_type="application/json")
            else:
                headers = {"Authorization": f"Bearer {key}", "Idempotency-Key": f"{tag}-{n}-{k}"}
                r = c.post(
                    "/api/v1/messages", body, content_type="application/json", headers=headers
                )
            got.append(r.status_code)
        from django.db import connection

        connection.close()
        with lock:
            statuses.extend(got)

    threads = [threading.Thread(target=client, args=(n,)) for n in range(args.threads)]
    for t in threads:
        t.start()
    go.wait()
    cpu = time.process_time()
    for t in threads:
        t.join()
    cpu = time.process_time() - cpu
    bad = [s for s in statuses if s != 202]
    if bad:
        raise SystemExit(f"{kind}: {len(bad)} answers were not 202: {sorted(set(bad))}")
    return cpu / len(statuses)


def _reseed() -> tuple[int, str]:
    """A new key on the OA a run seeded (its recipients' conversations exist now)."""
    from bench.stream import OA_ID
    from zalohub.accounts.models import OfficialAccount
    from zalohub.api.keys import key_create
    from zalohub.api.models import Capability

    oa = OfficialAccount.objects.get(oa_id=OA_ID)
    _key, raw = key_create(
        name="bench", oas=[oa], capabilities=[Capability.SEND_MESSAGES], rate_limit_per_minute=10**7
    )
    return oa.pk, raw


def one_process_env(db: str) -> dict[str, str]:
    """The environment of a one-process CPU bench: PostgreSQL database ``db``, or SQLite."""
    env = bench_env(argparse.Namespace(lease=30))
    if db == "sqlite":
        env.pop("DATABASE_URL", None)
        os.environ.pop("DATABASE_URL", None)
    else:
        env["DATABASE_URL"] = f"postgres://postgres@{HOST}:5432/{db}"
    env["ZALOHUB_DATA_DIR"] = os.environ.get("ZALOHUB_DATA_DIR", "/tmp/zalohub-bench-api-cpu")
    return env


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--db", default=DB_NAME, help="PostgreSQL database recreated, or sqlite")
    parser.add_argument("--sends", type=int, default=400, help="a round, over all threads")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--users", type=int, default=5000, help="recipients sent to in turn")
    parser.add_argument("--profile", help="cProfile the API rounds into this file")
    parser.add_argument("--reuse", action="store_true", help="the database as a run left it")
    args = parser.parse_args()
    if not args.db.isidentifier():
        parser.error("--db: letters, digits and underscores")
    env = one_process_env(args.db)
    env["ZALOHUB_ALLOWED_HOSTS"] = "testserver"
    env["DJANGO_SETTINGS_MODULE"] = "bench.api_settings"
    Path(env["ZALOHUB_DATA_DIR"]).mkdir(parents=True, exist_ok=True)
    if not args.reuse:
        log(f"recreating {args.db}")
        _recreate(env, args.db)
    os.environ.update(env)
    import django

    django.setup()
    from django_tasks_db.models import DBTaskResult

    from zalohub.api.accept import committer
    from zalohub.events.models import Message

    oa, key = _reseed() if args.reuse else _seed()
    _run("api", oa, key, argparse.Namespace(**{**vars(args), "sends": 50 * args.threads}), "w", 0)
    _run("floor", oa, key, args, "wf", 0)
    tasks_before, messages_before = DBTaskResult.objects.count(), Message.objects.count()
    committer.reset_stats()
    profiler = None
    if args.profile:
        import cProfile

        profiler = cProfile.Profile(time.process_time)
    floors, sends = [], []
    for r in range(args.rounds):
        floors.append(_run("floor", oa, key, args, f"f{r}", 0))
        if profiler is not None:
            profiler.enable()
        sends.append(_run("api", oa, key, args, f"s{r}", (r + 1) * args.sends))
        if profiler is not None:
            profiler.disable()
        log(f"round {r + 1}: send {sends[-1] * 1000:.2f} ms, baseline {floors[-1] * 1000:.2f} ms")
    if profiler is not None:
        profiler.dump_stats(args.profile)
    stats = committer.stats()
    accepted = Message.objects.count() - messages_before
    tasks = DBTaskResult.objects.count() - tasks_before
    send, floor = statistics.median(sends), statistics.median(floors)
    print()
    print(
        f"CPU of this process per request, {'SQLite' if args.db == 'sqlite' else 'PostgreSQL'}, "
        f"Django test client, {args.threads} thread(s), {args.sends} sends a round, "
        f"median of {args.rounds} rounds{' (profiled)' if profiler else ''}"
    )
    print("| what | API send | baseline: ninja 202, no work | ratio |")
    print("|---|---:|---:|---:|")
    print(f"| CPU ms a 202 | {send * 1000:.2f} | {floor * 1000:.2f} | {floor / send:.2f} |")
    print(
        f"checks: {accepted} messages stored, {tasks} task rows written "
        f"({tasks / accepted:.3f} a send), {stats.get('batches', 0)} batches "
        f"(largest {stats.get('largest_batch', 0)}, failed {stats.get('failed_batches', 0)})"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
