"""What a commit that marks a report day pays after it to have the settle task run
(``report_summary.wake``), against the look it replaced in the same run: before, every such
commit asked django-tasks-db's table whether a ``settle_report_days`` task was waiting (one
SELECT ... LIMIT 1 over the ready tasks); now a process enqueues one due a second later and,
until then, its commits ask nothing.

Run:  [DATABASE_URL=postgres://...] ZALOHUB_DATA_DIR=... PYTHONPATH=. \\
      .venv/bin/python bench/report_day_wake.py [--calls 2000] [--other-tasks 1000]

It enqueues one task (so that both find one waiting) beside ``--other-tasks`` ready tasks of
another path (a busy queue), then times, alternately in rounds, ``--calls`` of the previous
look and of the wake within its gathering span: wall time (perf_counter) and this process's
CPU (process_time) per call, and their ratios. Everything it enqueued is removed at the end.
"""

import argparse
import os
import statistics
import time

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "zalohub.settings")

import django

django.setup()

from datetime import timedelta  # noqa: E402

from django_tasks_db.models import DBTaskResult  # noqa: E402

from zalohub.events.outbound.tasks import send_event  # noqa: E402
from zalohub.inbox import report_summary  # noqa: E402


def previous_look() -> None:
    """The wake as it was before: a look for a waiting task (one found: no enqueue)."""
    waiting = DBTaskResult.objects.ready().filter(
        task_path=report_summary.settle_report_days.module_path
    )
    if not waiting.exists():
        report_summary.settle_report_days.enqueue()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--other-tasks", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    before = set(DBTaskResult.objects.values_list("pk", flat=True))
    for _ in range(args.other_tasks):
        send_event.enqueue(0)  # never run: removed at the end
    report_summary.settle_report_days.enqueue()  # the waiting task the previous look finds
    # The gathering span longer than the run: every call below is within it.
    report_summary.wake.gather = timedelta(hours=1)
    report_summary.wake()
    timings: dict[str, tuple[list[float], list[float]]] = {"previous": ([], []), "now": ([], [])}
    try:
        for _ in range(args.rounds):
            for name, call in (("previous", previous_look), ("now", report_summary.wake)):
                wall, cpu = time.perf_counter(), time.process_time()
                for _ in range(args.calls):
                    call()
                timings[name][0].append((time.perf_counter() - wall) / args.calls)
                timings[name][1].append((time.process_time() - cpu) / args.calls)
    finally:
        made = DBTaskResult.objects.exclude(pk__in=before)
        made.delete()
    for name, (wall, cpu) in timings.items():
        print(
            f"{name:9} wall {statistics.median(wall) * 1e6:9.2f} us/call"
            f"  cpu {statistics.median(cpu) * 1e6:9.2f} us/call (median of {args.rounds} rounds)"
        )
    (pw, pc), (nw, nc) = ((statistics.median(w), statistics.median(c)) for w, c in timings.values())
    print(f"now/previous: wall {nw / pw:.4f}, cpu {nc / pc:.4f}")


if __name__ == "__main__":
    main()
