"""How fast customers are answered (issue 19), aggregated by the database from facts the
inbox writes when they happen (``inbox.report_facts``), each derivable again from the
messages and the timeline (``zalohub report_facts`` finds and corrects drift); no
counters.

- First response: from a new conversation's first customer message to the first reply an
  agent wrote (a message with ``sent_by``), credited to that agent (else its holder).
- Resolution: from the conversation's last opening (its creation, or the last entry that
  opened it again) to a Resolved entry, credited to whoever resolved it.
- Outside the free window: a reply sent more than INBOX_FREE_WINDOW_HOURS after the
  customer's last message before it (or with none): Zalo bills those.

Counts and medians come per day, agent, OA and in total from one query per measure
(PostgreSQL: GROUPING SETS and ``percentile_cont``; SQLite, which has no percentile:
window functions pick each group's middle rows); only the results reach Python.
"""

from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import (
    Case,
    Count,
    DateTimeField,
    F,
    FloatField,
    Func,
    IntegerField,
    OuterRef,
    QuerySet,
    Subquery,
    Sum,
    Value,
    When,
)
from django.db.models.functions import Coalesce, TruncDate
from django.utils import timezone

from zalohub.events.models import Direction, Message
from zalohub.inbox.models import AgentReply, Conversation, Status, TimelineEntry

# A measure's counts and medians: (grouping, key) -> (count, median seconds or None);
# grouping is DAY, OA, AGENT (key: the day, the OA's or the agent's id) or TOTAL (None).
DAY, OA, AGENT, TOTAL = "day", "oa", "agent", "total"
Stats = dict[tuple[str, Any], tuple[int, float | None]]


@dataclass(frozen=True)
class Filters:
    oa_ids: tuple[int, ...]  # the OAs asked for, already limited to the reader's
    agent_id: int | None
    start: date
    end: date  # inclusive

    @property
    def since(self) -> datetime:
        return timezone.make_aware(datetime.combine(self.start, time.min))

    @property
    def until(self) -> datetime:
        return timezone.make_aware(datetime.combine(self.end + timedelta(days=1), time.min))


@dataclass
class Bucket:
    """One day, one agent or one OA (or all of them)."""

    new: int = 0
    resolved: int = 0
    replies: int = 0
    outside_window: int = 0
    first_response_median: float | None = None
    resolution_median: float | None = None
    source: tuple[Filters, str, Any] | None = field(default=None, repr=False, compare=False)

    @property
    def first_responses(self) -> list[float]:
        """The bucket's first response times, sorted: read when asked (the page shows
        the median only)."""
        return self._values(first_response_rows)

    @property
    def resolutions(self) -> list[float]:
        return self._values(resolution_rows)

    def _values(self, rows: Any) -> list[float]:
        if self.source is None:
            return []
        filters, grouping, key = self.source
        qs = rows(filters).exclude(r_seconds=None)
        if grouping == DAY:
            qs = qs.filter(r_day=_day_key(filters, key))
        elif grouping != TOTAL:
            qs = qs.filter(**{f"r_{grouping}": key})
        return [float(v) for v in qs.order_by("r_seconds").values_list("r_seconds", flat=True)]


@dataclass
class Report:
    filters: Filters
    days: dict[date, Bucket]
    agents: dict[int | None, Bucket]
    oas: dict[int, Bucket]
    total: Bucket


@contextmanager
def _planned() -> Iterator[None]:
    """A report's queries run without PostgreSQL's JIT (compiling them took longer than
    running them) and with room to sort a month's rows in memory: the default 4 MB sent
    the medians' sorts to disk at 1M messages (bench/inbox_queries.py)."""
    with transaction.atomic():
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SET LOCAL jit = off")
                cursor.execute("SET LOCAL work_mem = '32MB'")
        yield


class Seconds(Func):
    """``later - earlier`` in seconds (NULL when either is)."""

    arity = 2
    output_field = FloatField()

    def as_postgresql(self, compiler: Any, connection: Any, **extra_context: Any) -> Any:
        template = "CAST(EXTRACT(EPOCH FROM (%(expressions)s)) AS double precision)"
        return self.as_sql(
            compiler, connection, template=template, arg_joiner=" - ", **extra_context
        )

    def as_sqlite(self, compiler: Any, connection: Any, **extra_context: Any) -> Any:
        template = "((julianday(%(expressions)s)) * 86400.0)"
        joiner = ") - julianday("
        return self.as_sql(
            compiler, connection, template=template, arg_joiner=joiner, **extra_context
        )


class _DayBin(Func):
    """The start of the row's day, counted in whole days from the period's start
    (PostgreSQL's date_bin): correct while the zone's offset does not change within the
    period, and a third of the time of converting every row to the local date."""

    template = "date_bin('1 day'::interval, %(expressions)s)"
    output_field = DateTimeField()


def _binned(filters: Filters) -> bool:
    """Whether the period's days are all as long (no daylight saving change in it)."""
    if connection.vendor != "postgresql":
        return False
    zone = timezone.get_current_timezone()
    start = datetime.combine(filters.start, time.min)
    offsets = {
        (start + timedelta(days=n)).replace(tzinfo=zone).utcoffset()
        for n in range(_span(filters) + 1)
    }
    return len(offsets) == 1


def _day(field_name: str, filters: Filters) -> Func:
    if _binned(filters):
        return _DayBin(F(field_name), Value(filters.since, output_field=DateTimeField()))
    return TruncDate(field_name, tzinfo=timezone.get_current_timezone())


def _day_key(filters: Filters, day: date) -> Any:
    """What ``_day`` gives for the rows of ``day``."""
    return timezone.make_aware(datetime.combine(day, time.min)) if _binned(filters) else day


def first_response_rows(filters: Filters) -> QuerySet[Any]:
    """One row per conversation created in the period: r_day, r_oa, r_agent (its first
    replier, else its holder), r_seconds (None: not answered)."""
    rows = (
        Conversation.objects.filter(
            oa_id__in=filters.oa_ids, created_at__gte=filters.since, created_at__lt=filters.until
        )
        .annotate(
            r_day=_day("created_at", filters),
            r_oa=F("oa_id"),
            r_agent=Coalesce("first_replier_id", "assigned_to_id"),
            r_seconds=Seconds("first_reply_at", "first_inbound_at"),
        )
        .order_by()
    )
    if filters.agent_id is not None:
        rows = rows.filter(r_agent=filters.agent_id)
    return rows.values("r_day", "r_oa", "r_agent", "r_seconds")


def resolution_rows(filters: Filters) -> QuerySet[Any]:
    """One row per Resolved entry of the period: r_day, r_oa, r_agent (who resolved it),
    r_seconds (since the conversation was last opened)."""
    rows = TimelineEntry.objects.filter(
        kind=TimelineEntry.Kind.STATUS,
        status=Status.RESOLVED,
        conversation__oa_id__in=filters.oa_ids,
        created_at__gte=filters.since,
        created_at__lt=filters.until,
    )
    if filters.agent_id is not None:
        rows = rows.filter(actor_id=filters.agent_id)
    return (
        rows.annotate(
            r_day=_day("created_at", filters),
            r_oa=F("conversation__oa_id"),
            r_agent=F("actor_id"),
            r_seconds=Seconds("created_at", "opened_at"),
        )
        .order_by()
        .values("r_day", "r_oa", "r_agent", "r_seconds")
    )


def _as_day(value: Any) -> Any:
    """A day as the database gave it (SQLite: text; a day's start with date_bin)."""
    if isinstance(value, datetime):
        return value.astimezone(timezone.get_current_timezone()).date()
    return date.fromisoformat(value) if isinstance(value, str) else value


_GROUPINGS = ((DAY, "r_day"), (OA, "r_oa"), (AGENT, "r_agent"))


def _stats(rows: QuerySet[Any]) -> Stats:
    """Count and median of ``r_seconds`` per day, OA, agent and in total, in SQL."""
    inner, params = rows.query.sql_with_params()
    out: Stats = {}
    with _planned(), connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "SELECT GROUPING(r_day, r_oa, r_agent), r_day, r_oa, r_agent, COUNT(*),"  # noqa: S608
                " percentile_cont(0.5) WITHIN GROUP (ORDER BY r_seconds)"
                f" FROM ({inner}) AS facts"
                " GROUP BY GROUPING SETS ((r_day), (r_oa), (r_agent), ())",
                params,
            )
            sets = {3: DAY, 5: OA, 6: AGENT, 7: TOTAL}
            for bits, day, oa, agent, count, median in cursor.fetchall():
                grouping = sets[bits]
                key = {DAY: _as_day(day), OA: oa, AGENT: agent, TOTAL: None}[grouping]
                out[(grouping, key)] = (count, None if median is None else float(median))
            return out
        # SQLite: counts per (day, OA, agent), summed below; each grouping's median from
        # its middle row(s), ranked by window functions.
        cursor.execute(
            f"SELECT r_day, r_oa, r_agent, COUNT(*) FROM ({inner}) GROUP BY 1, 2, 3",  # noqa: S608
            params,
        )
        counts: dict[tuple[str, Any], int] = defaultdict(int)
        for day, oa, agent, count in cursor.fetchall():
            for key in ((DAY, _as_day(day)), (OA, oa), (AGENT, agent), (TOTAL, None)):
                counts[key] += count
        ranked = ", ".join(
            f"ROW_NUMBER() OVER (PARTITION BY {col} ORDER BY r_seconds) AS rn_{name},"
            f" COUNT(*) OVER (PARTITION BY {col}) AS n_{name}"
            for name, col in (*_GROUPINGS, (TOTAL, "1"))
        )
        medians = " UNION ALL ".join(
            f"SELECT '{name}', {col}, AVG(r_seconds) FROM ranked"  # noqa: S608
            f" WHERE rn_{name} IN ((n_{name} + 1) / 2, (n_{name} + 2) / 2) GROUP BY {col}"
            for name, col in (*_GROUPINGS, (TOTAL, "NULL"))
        )
        cursor.execute(
            f"WITH facts AS ({inner}), ranked AS (SELECT r_day, r_oa, r_agent, r_seconds,"  # noqa: S608
            f" {ranked} FROM facts WHERE r_seconds IS NOT NULL) {medians}",
            params,
        )
        found = {
            (grouping, _as_day(key) if grouping == DAY else key): float(median)
            for grouping, key, median in cursor.fetchall()
        }
    for key, count in counts.items():
        out[key] = (count, found.get(key))
    return out


def first_response_stats(filters: Filters) -> Stats:
    return _stats(first_response_rows(filters))


def resolution_stats(filters: Filters) -> Stats:
    return _stats(resolution_rows(filters))


def reply_counts(filters: Filters) -> list[tuple[date, int, int | None, int, int]]:
    """(day, OA, agent, replies, of them outside the free window), counted by the
    database from the AgentReply rows written with the replies."""
    rows = AgentReply.objects.filter(
        oa_id__in=filters.oa_ids, created_at__gte=filters.since, created_at__lt=filters.until
    )
    if filters.agent_id is not None:
        rows = rows.filter(agent_id=filters.agent_id)
    outside = Case(When(outside_window=True, then=Value(1)), default=Value(0))
    counted = (
        rows.annotate(day=_day("created_at", filters))
        .order_by()
        .values("day", "oa_id", "agent_id")
        .annotate(count=Count("pk"), outside=Sum(outside, output_field=IntegerField()))
        .values_list("day", "oa_id", "agent_id", "count", "outside")
    )
    with _planned():
        return [(_as_day(day), oa, agent, n, int(out or 0)) for day, oa, agent, n, out in counted]


def replies(filters: Filters) -> list[tuple[datetime, int, int | None, bool]]:
    """(sent at, OA, agent, outside the free window) of each agent's reply, derived from
    the messages themselves (what the AgentReply rows must say; for checks, not pages)."""
    free = timedelta(hours=settings.INBOX_FREE_WINDOW_HOURS)
    last_in = (
        Message.objects.filter(
            oa_id=OuterRef("oa_id"),
            zalo_user_id=OuterRef("zalo_user_id"),
            direction=Direction.INBOUND,
            created_at__lte=OuterRef("created_at"),
        )
        .order_by("-created_at", "-id")
        .values("created_at")[:1]
    )
    rows = Message.objects.filter(
        oa_id__in=filters.oa_ids,
        direction=Direction.OUTBOUND,
        sent_by__isnull=False,
        created_at__gte=filters.since,
        created_at__lt=filters.until,
    )
    if filters.agent_id is not None:
        rows = rows.filter(sent_by_id=filters.agent_id)
    fetched = rows.annotate(last_in=Subquery(last_in)).values_list(
        "created_at", "oa_id", "sent_by_id", "last_in"
    )
    return [(at, oa, agent, last is None or at - last > free) for at, oa, agent, last in fetched]


def build(filters: Filters) -> Report:
    """The report, from the per-day summary (``inbox.report_days``) when its days are the
    reader's (the active time zone is TIME_ZONE's), else from the facts."""
    from zalohub.inbox import report_days

    if report_days.serves(filters):
        return report_days.build(filters)
    return build_from_facts(filters)


def build_from_facts(filters: Filters) -> Report:
    """The report aggregated from the facts of the period (what the summary must give)."""
    return assemble(
        filters, first_response_stats(filters), resolution_stats(filters), reply_counts(filters)
    )


ReplyCounts = list[tuple[date, int, int | None, int, int]]


def assemble(filters: Filters, first: Stats, resolved: Stats, counts: ReplyCounts) -> Report:
    days = {
        filters.start + timedelta(days=n): Bucket(
            source=(filters, DAY, filters.start + timedelta(days=n))
        )
        for n in range(_span(filters))
    }
    agents: dict[int | None, Bucket] = {}
    oas: dict[int, Bucket] = {}
    total = Bucket(source=(filters, TOTAL, None))

    def bucket(grouping: str, key: Any) -> Bucket | None:
        if grouping == DAY:
            return days.get(key)
        if grouping == TOTAL:
            return total
        found = agents if grouping == AGENT else oas
        if key not in found:
            found[key] = Bucket(source=(filters, grouping, key))
        return found[key]

    for (grouping, key), (count, median) in first.items():
        if (b := bucket(grouping, key)) is not None:
            b.new, b.first_response_median = count, median
    for (grouping, key), (count, median) in resolved.items():
        if (b := bucket(grouping, key)) is not None:
            b.resolved, b.resolution_median = count, median
    for day, oa, agent, count, outside in counts:
        for b in (bucket(DAY, day), bucket(OA, oa), bucket(AGENT, agent), total):
            if b is not None:
                b.replies += count
                b.outside_window += outside
    return Report(filters=filters, days=days, agents=agents, oas=oas, total=total)


def _span(filters: Filters) -> int:
    return max(0, (filters.end - filters.start).days + 1)


def csv_rows(report: Report) -> list[list[Any]]:
    def seconds(value: float | None) -> str:
        return "" if value is None else f"{value:.0f}"

    rows: list[list[Any]] = []
    for day, bucket in report.days.items():
        rows.append(
            [
                day.isoformat(),
                bucket.new,
                bucket.resolved,
                seconds(bucket.first_response_median),
                seconds(bucket.resolution_median),
                bucket.replies,
                bucket.outside_window,
            ]
        )
    return rows
