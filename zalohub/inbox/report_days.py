"""The reports read from the per-day summary (issue 19, ``inbox.report_summary``): a
period's counts are the sums of its (day, OA, agent) rows, its medians those of the
durations the rows keep, so the page's numbers are exactly what the facts give
(``reports.build_from_facts``, which a test compares) from a few thousand rows.

PostgreSQL takes the medians with ``percentile_cont`` over the rows' durations, by day,
OA, agent and in total (GROUPING SETS), as the facts' query does; other databases get
them here, the middle value or the mean of the two middle ones, as SQLite's window query
over the facts does.
"""

from collections import defaultdict
from typing import Any

from django.db import connection
from django.utils import timezone

from zalohub.inbox.models import ReportDay
from zalohub.inbox.reports import (
    AGENT,
    DAY,
    OA,
    TOTAL,
    Filters,
    ReplyCounts,
    Report,
    Stats,
    _planned,
    assemble,
)

_SETS = {3: DAY, 5: OA, 6: AGENT, 7: TOTAL}  # GROUPING(day, oa_id, agent_id) -> grouping


def serves(filters: Filters) -> bool:
    """The summary's days are TIME_ZONE's: it answers readers in that zone."""
    return timezone.get_current_timezone_name() == timezone.get_default_timezone_name()


def build(filters: Filters) -> Report:
    if connection.vendor == "postgresql":
        return assemble(filters, *_postgresql(filters))
    return assemble(filters, *_computed(filters))


def _where(filters: Filters) -> tuple[str, list[Any]]:
    sql = "r.oa_id = ANY(%s) AND r.day >= %s AND r.day <= %s"
    params: list[Any] = [list(filters.oa_ids), filters.start, filters.end]
    if filters.agent_id is not None:
        sql += " AND r.agent_id = %s"
        params.append(filters.agent_id)
    return sql, params


def _key(grouping: str, day: Any, oa: Any, agent: Any) -> tuple[str, Any]:
    return (grouping, {DAY: day, OA: oa, AGENT: agent, TOTAL: None}[grouping])


def _postgresql(filters: Filters) -> tuple[Stats, Stats, ReplyCounts]:
    where, params = _where(filters)
    table = ReportDay._meta.db_table
    counts: dict[tuple[str, Any], list[int]] = {}
    replies: ReplyCounts = []
    medians: dict[tuple[str, tuple[str, Any]], float | None] = {}
    durations = " UNION ALL ".join(
        f"SELECT '{measure}' AS m, r.day, r.oa_id, r.agent_id, v.value::float8 AS s"  # noqa: S608
        f" FROM {table} r CROSS JOIN LATERAL jsonb_array_elements(r.{measure}) AS v(value)"
        f" WHERE {where}"
        for measure in ("first_responses", "resolutions")
    )
    with _planned(), connection.cursor() as cursor:
        cursor.execute(
            "SELECT GROUPING(r.day, r.oa_id, r.agent_id), r.day, r.oa_id, r.agent_id,"  # noqa: S608
            " SUM(r.new), SUM(r.resolved), SUM(r.replies), SUM(r.outside_window)"
            f" FROM {table} r WHERE {where} GROUP BY GROUPING SETS"
            " ((r.day, r.oa_id, r.agent_id), (r.day), (r.oa_id), (r.agent_id), ())",
            params,
        )
        for bits, day, oa, agent, new, resolved, n, outside in cursor.fetchall():
            if new is None:  # the total of no rows at all
                continue
            if bits == 0:
                if n:
                    replies.append((day, oa, agent, int(n), int(outside)))
            else:
                counts[_key(_SETS[bits], day, oa, agent)] = [int(new), int(resolved)]
        cursor.execute(
            "SELECT x.m, GROUPING(x.day, x.oa_id, x.agent_id), x.day, x.oa_id, x.agent_id,"  # noqa: S608
            " percentile_cont(0.5) WITHIN GROUP (ORDER BY x.s)"
            f" FROM ({durations}) AS x"
            " GROUP BY x.m, GROUPING SETS ((x.day), (x.oa_id), (x.agent_id), ())",
            params * 2,
        )
        for measure, bits, day, oa, agent, median in cursor.fetchall():
            medians[(measure, _key(_SETS[bits], day, oa, agent))] = float(median)
    return (
        _stats(counts, medians, 0, "first_responses"),
        _stats(counts, medians, 1, "resolutions"),
        replies,
    )


def _stats(
    counts: dict[tuple[str, Any], list[int]],
    medians: dict[tuple[str, tuple[str, Any]], float | None],
    index: int,
    measure: str,
) -> Stats:
    """A measure's Stats as the facts' query gives them: the groups it has rows in."""
    return {
        key: (numbers[index], medians.get((measure, key)))
        for key, numbers in counts.items()
        if numbers[index]
    }


def _median(values: list[float]) -> float | None:
    """SQLite's: the middle value, or the mean of the two middle ones (AVG)."""
    if not values:
        return None
    values.sort()
    n = len(values)
    low, high = values[(n + 1) // 2 - 1], values[(n + 2) // 2 - 1]
    return low if low is high else (low + high) / 2


def _computed(filters: Filters) -> tuple[Stats, Stats, ReplyCounts]:
    rows = ReportDay.objects.filter(
        oa_id__in=filters.oa_ids, day__gte=filters.start, day__lte=filters.end
    )
    if filters.agent_id is not None:
        rows = rows.filter(agent_id=filters.agent_id)
    counts: dict[tuple[str, Any], list[int]] = defaultdict(lambda: [0, 0])
    values: dict[tuple[str, tuple[str, Any]], list[float]] = defaultdict(list)
    cells: dict[tuple[Any, int, int | None], list[int]] = defaultdict(lambda: [0, 0])
    for row in rows.order_by("day", "oa_id", "agent_id", "pk"):
        cell = cells[(row.day, row.oa_id, row.agent_id)]
        cell[0] += row.replies
        cell[1] += row.outside_window
        for grouping in (DAY, OA, AGENT, TOTAL):
            key = _key(grouping, row.day, row.oa_id, row.agent_id)
            counts[key][0] += row.new
            counts[key][1] += row.resolved
            values[("first_responses", key)] += row.first_responses
            values[("resolutions", key)] += row.resolutions
    medians = {key: _median(found) for key, found in values.items()}
    replies = [(day, oa, agent, n, out) for (day, oa, agent), (n, out) in cells.items() if n]
    return (
        _stats(counts, medians, 0, "first_responses"),
        _stats(counts, medians, 1, "resolutions"),
        replies,
    )
