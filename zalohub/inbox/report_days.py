"""The reports read from the per-day summary (issue 19, ``inbox.report_summary``): a
period's counts are the sums of its (day, OA, agent) rows, its medians those of the
durations the rows keep, so the page's numbers are exactly what the facts give
(``reports.build_from_facts``, which a test compares) from a few hundred rows.

The medians are taken here, not in SQL: each row's durations come sorted and packed, so a
group's are joined and sorted in C (Python's sort merges the rows' runs), several times
faster than PostgreSQL's ``percentile_cont`` over GROUPING SETS, which sorts every value
once per grouping and again within each group (bench/inbox_queries.py). The middle value,
or the two middle ones interpolated as the facts' query does: PostgreSQL's
``percentile_cont`` (lo + (hi - lo) * 0.5), SQLite's AVG ((lo + hi) / 2).

A day whose facts changed since it was derived (marked, ``ReportDayDirty``, until the
background task derives it) is derived here from the facts instead: only those days, so
the page is exact before the task has run.
"""

from array import array
from collections import defaultdict
from typing import Any

from django.db import connection
from django.utils import timezone

from zalohub.inbox.models import ReportDay, ReportDayDirty
from zalohub.inbox.report_summary import derive, unpack
from zalohub.inbox.reports import (
    AGENT,
    DAY,
    OA,
    TOTAL,
    Filters,
    ReplyCounts,
    Report,
    Stats,
    assemble,
)


def serves(filters: Filters) -> bool:
    """The summary's days are TIME_ZONE's: it answers readers in that zone."""
    return timezone.get_current_timezone_name() == timezone.get_default_timezone_name()


def _median(values: array) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    n = len(ordered)
    low, high = ordered[(n - 1) // 2], ordered[n // 2]
    if n % 2:
        return low
    if connection.vendor == "postgresql":
        return low + (high - low) * 0.5
    return (low + high) / 2


Row = tuple[Any, int, int | None, int, int, int, int, array, array]


def _rows(filters: Filters) -> list[Row]:
    """The period's summary rows, a marked day's derived from the facts now."""
    period = {"oa_id__in": filters.oa_ids, "day__gte": filters.start, "day__lte": filters.end}
    # The marks first: a day marked after this read was derived before that mark's facts,
    # the summary then holds it as it was.
    marked = set(ReportDayDirty.objects.filter(**period).values_list("day", "oa_id"))
    rows = ReportDay.objects.filter(**period)
    if filters.agent_id is not None:
        rows = rows.filter(agent_id=filters.agent_id)
    fields = ("day", "oa_id", "agent_id", "new", "resolved", "replies", "outside_window")
    found: list[Row] = [
        (day, oa, agent, new, resolved, replies, outside, unpack(first), unpack(resolutions))
        for day, oa, agent, new, resolved, replies, outside, first, resolutions in rows.order_by(
            "day", "oa_id", "agent_id", "pk"
        ).values_list(*fields, "first_responses", "resolutions")
        if (day, oa) not in marked
    ]
    for day, oa in sorted(marked):
        for (d, agent), cell in sorted(derive(oa, day, day).items(), key=lambda i: str(i[0])):
            if filters.agent_id is not None and agent != filters.agent_id:
                continue
            new, resolved, replies, outside, first, resolutions = cell.values()
            found.append(
                (
                    d,
                    oa,
                    agent,
                    new,
                    resolved,
                    replies,
                    outside,
                    array("d", first),
                    array("d", resolutions),
                )
            )
    return found


def build(filters: Filters) -> Report:
    counts: dict[tuple[str, Any], list[int]] = defaultdict(lambda: [0, 0])
    values: dict[tuple[int, tuple[str, Any]], array] = defaultdict(lambda: array("d"))
    cells: dict[tuple[Any, int, int | None], list[int]] = defaultdict(lambda: [0, 0])
    for day, oa, agent, new, resolved, replies, outside, first, resolutions in _rows(filters):
        cell = cells[(day, oa, agent)]
        cell[0] += replies
        cell[1] += outside
        durations = (first, resolutions)
        for key in ((DAY, day), (OA, oa), (AGENT, agent), (TOTAL, None)):
            counts[key][0] += new
            counts[key][1] += resolved
            for measure in (0, 1):
                if durations[measure]:
                    values[(measure, key)] += durations[measure]
    stats: list[Stats] = [
        {
            key: (numbers[measure], _median(values.get((measure, key), array("d"))))
            for key, numbers in counts.items()
            if numbers[measure]
        }
        for measure in (0, 1)
    ]
    reply_counts: ReplyCounts = [
        (day, oa, agent, n, out) for (day, oa, agent), (n, out) in cells.items() if n
    ]
    return assemble(filters, stats[0], stats[1], reply_counts)
