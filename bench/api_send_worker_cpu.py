"""CPU the worker spends on API sends, per message sent, in one process (issue 17): not
a throughput.

    .venv/bin/python bench/api_send_worker_cpu.py                 # PostgreSQL, 20 batches of 5
    .venv/bin/python bench/api_send_worker_cpu.py --db sqlite --batches 40 --batch 8

It drops and recreates the database (or the SQLite file of ZALOHUB_DATA_DIR), starts the
sandbox Zalo in this process (loopback), connects its Support OA through its consent
page, stores ``--batches`` batches of ``--batch`` API sends as the group commit stores
them (``zalohub.api.accept``: no task row, the workers' sends loop finds them) and then
runs the sends loop's turns (``events.outbound.queued.send_due``) until none is due and
django-tasks-db's worker on the ``zalo`` queue until it is empty (a send's retry is a
task), in this process. ``time.process_time`` over that run (the loop, the sandbox's
answers, the HTTP client: everything of this process; PostgreSQL's own CPU is not in
it) divided by the messages sent, and the task rows the round wrote, in ``--rounds``
rounds. Every message must end Sent.
"""

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.api_send import _recreate  # noqa: E402
from bench.api_send_cpu import one_process_env  # noqa: E402
from bench.stages.common import HOST, log  # noqa: E402

DB_NAME = "zalohub_bench_api_worker"


def _connect_oa():  # -> OfficialAccount
    from django.conf import settings

    from tests.helpers import consent
    from zalohub.accounts.models import OfficialAccount, ZaloApp
    from zalohub.accounts.oauth import oauth_complete, oauth_start
    from zalohub.sandbox.server import SandboxServer
    from zalohub.sandbox.state import SandboxState
    from zalohub.sandbox.world import demo_world
    from zalohub.zalo import reset_client

    world = demo_world()
    server = SandboxServer(SandboxState(world=world))
    url = server.start(host=HOST, port=0)
    settings.ZALO_OAUTH_BASE_URL = f"{url}/oauth"
    settings.ZALO_OPENAPI_BASE_URL = f"{url}/openapi"
    settings.ZALO_BUSINESS_BASE_URL = f"{url}/business"
    reset_client()
    spec = world["apps"][0]
    app = ZaloApp.objects.create(
        name=spec["name"],
        app_id=spec["app_id"],
        secret_key=spec["secret_key"],
        oa_secret_key=spec["oa_secret_key"],
    )
    oa = OfficialAccount.objects.create(app=app, name="Support")
    return oauth_complete(app_id=app.app_id, params=consent(oauth_start(oa=oa)))


def _queue(oa, key, batches: int, size: int, tag: str) -> list[int]:
    from django.db import transaction

    from zalohub.api import accept
    from zalohub.sandbox.world import SON_SUPPORT_USER_ID

    messages = []
    for b in range(batches):
        sends = [
            accept.Send(
                key=key,
                oa_id=oa.pk,
                user_id=SON_SUPPORT_USER_ID,
                kind="text",
                text=f"Đơn {tag}-{b}-{n} đã giao",
                attachment=None,
                confirm_unverified=False,
                idempotency_key="",
                digest="",
                request_id="",
            )
            for n in range(size)
        ]
        with transaction.atomic():
            outcomes = accept._accept(sends)
        assert all(isinstance(o, tuple) and o[0] == 202 for o in outcomes), outcomes
        messages += [json.loads(o[1])["message_id"] for o in outcomes]
    return messages


def _work() -> None:
    from django_tasks_db.management.commands.db_worker import Worker

    from zalohub.events.outbound import queued

    while queued.send_due("bench"):
        pass
    Worker(
        queue_names=["zalo"],
        interval=0.01,
        batch=True,
        backend_name="default",
        startup_delay=False,
        max_tasks=None,
        worker_id="bench",
        excluded_queue_names=[],
    ).run()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--db", default=DB_NAME, help="PostgreSQL database recreated, or sqlite")
    parser.add_argument("--batches", type=int, default=20)
    parser.add_argument("--batch", type=int, default=5, help="sends a batch")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    if not args.db.isidentifier():
        parser.error("--db: letters, digits and underscores")
    env = one_process_env(args.db)
    env["ZALO_MODE"] = "sandbox"
    env["ZALO_RATE_LIMIT_PER_MINUTE"] = env["ZALOHUB_ZALO_SENDS_PER_OA_PER_MINUTE"] = "1000000"
    Path(env["ZALOHUB_DATA_DIR"]).mkdir(parents=True, exist_ok=True)
    log(f"recreating {args.db}")
    _recreate(env, args.db)
    os.environ.update(env)
    import django

    django.setup()
    from django_tasks_db.models import DBTaskResult

    from zalohub.api.keys import key_create
    from zalohub.api.models import Capability
    from zalohub.events.models import Message

    oa = _connect_oa()
    key, _raw = key_create(
        name="bench", oas=[oa], capabilities=[Capability.SEND_MESSAGES], rate_limit_per_minute=10**7
    )
    _queue(oa, key, 2, args.batch, "warm")
    _work()
    cpus, rows = [], []
    for r in range(args.rounds):
        tasks = DBTaskResult.objects.count()
        ids = _queue(oa, key, args.batches, args.batch, f"r{r}")
        cpu = time.process_time()
        _work()
        cpu = time.process_time() - cpu
        states = set(Message.objects.filter(pk__in=ids).values_list("zalo_state", flat=True))
        if states != {"sent"}:
            raise SystemExit(f"round {r + 1}: messages ended {states}, not all sent")
        cpus.append(cpu / len(ids))
        # The rows the round wrote: the batches' (none of the sends') and the worker's.
        rows.append((DBTaskResult.objects.count() - tasks) / len(ids))
        log(f"round {r + 1}: {cpus[-1] * 1000:.2f} ms a message sent, {rows[-1]:.2f} task rows")
    print()
    print(
        f"Worker CPU of this process per message sent (sandbox Zalo in the process), "
        f"{'SQLite' if args.db == 'sqlite' else 'PostgreSQL'}, {args.batches} batches of "
        f"{args.batch} a round, median of {args.rounds} rounds"
    )
    print("| what | figure |")
    print("|---|---:|")
    print(f"| CPU ms a message sent | {statistics.median(cpus) * 1000:.2f} |")
    print(f"| task rows a message (batches + worker) | {statistics.median(rows):.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
