"""The reports' summary on the write side (issue 19): what a transaction that changes the
facts of a busy OA-day adds to itself, now (a mark: one INSERT into inbox.ReportDayDirty)
and before (the day derived again from the facts under its advisory lock, what
``report_summary.replace`` still does, now in the background task).

Run:  DATABASE_URL=postgres://postgres@127.0.0.1:5432/<a copy of bench/inbox_queries.py's
      database, migrated> PYTHONPATH=. .venv/bin/python bench/report_day_marks.py [--repeat 50]

It picks the OA-day with the most agent replies, then times, alternately in the same run, a
transaction that marks it (``report_summary.mark``, with the task's enqueue after the
commit: this process's wake, which after the first needs no query) and one that derives
it (each committed), beside a transaction that only updates one row to itself as the
baseline (a batch's own write and commit), and the mark's INSERT alone (no enqueue); it
prints p50/max of each, what each adds to the baseline's p50, and their ratio. The marks
and the task it made are removed at the end.
"""

import argparse
import os
import statistics
import time

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "zalohub.settings")

import django

django.setup()

from django.db import transaction  # noqa: E402
from django.db.models import Count, F  # noqa: E402
from django_tasks_db.models import DBTaskResult  # noqa: E402

from zalohub.inbox import report_summary  # noqa: E402
from zalohub.inbox.models import AgentReply, ReportDay, ReportDayDirty  # noqa: E402


def tasks_after(before: set) -> list:
    return [pk for pk in DBTaskResult.objects.values_list("pk", flat=True) if pk not in before]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=50)
    args = parser.parse_args()
    busiest = (
        AgentReply.objects.values("oa_id", "created_at__date")
        .annotate(n=Count("pk"))
        .order_by("-n")
        .first()
    )
    assert busiest is not None, "no facts"
    key = (busiest["created_at__date"], busiest["oa_id"])
    print(f"OA-day {key}: {busiest['n']} agent replies")
    before = set(DBTaskResult.objects.values_list("pk", flat=True))
    first = ReportDayDirty.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
    marked, derived, empty, inserted = [], [], [], []
    # Another OA's row: the derivation replaces the busy day's.
    row = ReportDay.objects.exclude(oa_id=key[1]).values_list("pk", flat=True)[0]

    def write() -> None:
        """The batch's own write (the baseline): a row updated to itself."""
        ReportDay.objects.filter(pk=row).update(new=F("new"))

    for _ in range(args.repeat):
        for times, extra in (
            (empty, lambda: None),
            (derived, lambda: report_summary.replace([key])),
            (marked, lambda: report_summary.mark([key])),
            (inserted, lambda: ReportDayDirty.objects.create(day=key[0], oa_id=key[1])),
        ):
            start = time.perf_counter()
            with transaction.atomic():
                write()
                extra()
            times.append(time.perf_counter() - start)
    ReportDayDirty.objects.filter(pk__gt=first).delete()
    DBTaskResult.objects.filter(pk__in=tasks_after(before)).delete()
    runs = (
        ("write only", empty),
        ("mark's INSERT", inserted),
        ("mark (now)", marked),
        ("derive (before)", derived),
    )
    for name, values in runs:
        print(
            f"{name:16} p50 {statistics.median(values) * 1000:7.2f} ms"
            f"  max {max(values) * 1000:7.2f} ms"
        )
    base = statistics.median(empty)
    added = [statistics.median(values) - base for values in (marked, derived, inserted)]
    print(
        f"added to the baseline's p50: mark {added[0] * 1000:.2f} ms,"
        f" derive {added[1] * 1000:.2f} ms, the mark's INSERT alone {added[2] * 1000:.2f} ms"
    )
    print(f"derive/mark p50 ratio: {statistics.median(derived) / statistics.median(marked):.0f}x")


if __name__ == "__main__":
    main()
