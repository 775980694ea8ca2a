"""How fast customers are answered (issue 19), computed from the messages and the
conversations' timeline each time, never from counters that could drift.

- First response: from a new conversation's first customer message to the first reply an
  agent wrote (a message with ``sent_by``), credited to that agent.
- Resolution: from the conversation's last opening (its creation, or the last entry that
  opened it again) to a Resolved entry, credited to whoever resolved it.
- Outside the free window: a reply sent more than INBOX_FREE_WINDOW_HOURS after the
  customer's last message before it (or with none): Zalo bills those.
"""

import statistics
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, tzinfo
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import (
    Case,
    Count,
    DateTimeField,
    F,
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
from zalohub.inbox.models import Conversation, Status, TimelineEntry


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
    """One day, one agent or one OA."""

    new: int = 0
    resolved: int = 0
    replies: int = 0
    outside_window: int = 0
    first_responses: list[float] = field(default_factory=list)
    resolutions: list[float] = field(default_factory=list)

    @property
    def first_response_median(self) -> float | None:
        return statistics.median(self.first_responses) if self.first_responses else None

    @property
    def resolution_median(self) -> float | None:
        return statistics.median(self.resolutions) if self.resolutions else None


@dataclass
class Report:
    filters: Filters
    days: dict[date, Bucket]
    agents: dict[int | None, Bucket]
    oas: dict[int, Bucket]
    total: Bucket


@contextmanager
def _planned() -> Iterator[None]:
    """A report's queries run without PostgreSQL's JIT: their correlated subqueries push
    the planner's estimate past ``jit_above_cost``, and compiling them took longer than
    the whole query without it (375 ms of a 900 ms query, bench/inbox_queries.py)."""
    with transaction.atomic():
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SET LOCAL jit = off")
        yield


def _day(value: datetime, zone: tzinfo) -> date:
    # The zone looked up once per report: timezone.localtime looks it up again for each
    # row (a third of a 30-day report's time, bench/inbox_queries.py).
    return value.astimezone(zone).date()


def _thread(direction: str) -> QuerySet[Message]:
    return Message.objects.filter(
        oa_id=OuterRef("oa_id"), zalo_user_id=OuterRef("zalo_user_id"), direction=direction
    )


def first_responses(filters: Filters) -> list[tuple[datetime, int, int | None, float | None]]:
    """(created, OA, replier, seconds) of each conversation created in the period."""
    first_in = _thread(Direction.INBOUND).order_by("created_at", "id").values("created_at")[:1]
    reply = (
        _thread(Direction.OUTBOUND)
        .filter(sent_by__isnull=False, created_at__gte=OuterRef("first_in"))
        .order_by("created_at", "id")
    )
    rows = (
        Conversation.objects.filter(
            oa_id__in=filters.oa_ids, created_at__gte=filters.since, created_at__lt=filters.until
        )
        .annotate(first_in=Subquery(first_in))
        .annotate(
            reply_at=Subquery(reply.values("created_at")[:1]),
            replier=Subquery(reply.values("sent_by_id")[:1]),
        )
        .values_list("created_at", "oa_id", "replier", "first_in", "reply_at", "assigned_to_id")
        # Unordered: the list's default order made PostgreSQL walk every conversation by
        # recency instead of reading the period's from inbox_conv_oa_created.
        .order_by()
    )
    out = []
    with _planned():
        fetched = list(rows)
    for created, oa_id, replier, first_in_at, reply_at, holder in fetched:
        seconds = (reply_at - first_in_at).total_seconds() if first_in_at and reply_at else None
        who = replier if replier is not None else holder
        if filters.agent_id is None or who == filters.agent_id:
            out.append((created, oa_id, who, seconds))
    return out


def resolutions(filters: Filters) -> list[tuple[datetime, int, int | None, float]]:
    """(resolved at, OA, resolver, seconds since it was last opened)."""
    opened = (
        TimelineEntry.objects.filter(
            conversation_id=OuterRef("conversation_id"),
            kind=TimelineEntry.Kind.STATUS,
            status=Status.OPEN,
            created_at__lt=OuterRef("created_at"),
        )
        .order_by("-created_at", "-id")
        .values("created_at")[:1]
    )
    entries = TimelineEntry.objects.filter(
        kind=TimelineEntry.Kind.STATUS,
        status=Status.RESOLVED,
        conversation__oa_id__in=filters.oa_ids,
        created_at__gte=filters.since,
        created_at__lt=filters.until,
    )
    if filters.agent_id is not None:
        entries = entries.filter(actor_id=filters.agent_id)
    rows = entries.annotate(
        opened_at=Coalesce(
            Subquery(opened), F("conversation__created_at"), output_field=DateTimeField()
        )
    ).values_list("created_at", "conversation__oa_id", "actor_id", "opened_at")
    with _planned():
        fetched = list(rows)
    return [(at, int(oa), actor, (at - since).total_seconds()) for at, oa, actor, since in fetched]


def _agent_replies(filters: Filters) -> QuerySet[Any]:  # Messages, annotated with last_in
    """The agents' replies of the period, each with the customer's last message before it."""
    last_in = (
        _thread(Direction.INBOUND)
        .filter(created_at__lte=OuterRef("created_at"))
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
    return rows.annotate(last_in=Subquery(last_in))


def replies(filters: Filters) -> list[tuple[datetime, int, int | None, bool]]:
    """(sent at, OA, agent, outside the free window) of each agent's reply."""
    free = timedelta(hours=settings.INBOX_FREE_WINDOW_HOURS)
    out: list[tuple[datetime, int, int | None, bool]] = []
    with _planned():
        fetched = list(
            _agent_replies(filters).values_list("created_at", "oa_id", "sent_by_id", "last_in")
        )
    for at, oa, agent, last in fetched:
        out.append((at, oa, agent, last is None or at - last > free))
    return out


def reply_counts(filters: Filters) -> list[tuple[date, int, int | None, int, int]]:
    """(day, OA, agent, replies, of them outside the free window): what ``replies`` says,
    counted by the database instead of read row by row (most of a report's rows)."""
    free = timedelta(hours=settings.INBOX_FREE_WINDOW_HOURS)
    # Inside when the customer wrote within the free window before it; no message at all
    # (NULL) is outside. One reference to the subquery: each costs an index lookup per row.
    outside = Case(
        When(last_in__gte=F("created_at") - free, then=Value(0)),
        default=Value(1),
        output_field=IntegerField(),
    )
    rows = (
        _agent_replies(filters)
        .annotate(day=TruncDate("created_at", tzinfo=timezone.get_current_timezone()))
        .order_by()
        .values("day", "oa_id", "sent_by_id")
        .annotate(count=Count("id"), outside=Sum(outside))
        .values_list("day", "oa_id", "sent_by_id", "count", "outside")
    )
    with _planned():
        return [(day, oa, agent, n, int(out or 0)) for day, oa, agent, n, out in rows]


def build(filters: Filters) -> Report:
    days = {filters.start + timedelta(days=n): Bucket() for n in range(_span(filters))}
    agents: dict[int | None, Bucket] = defaultdict(Bucket)
    oas: dict[int, Bucket] = defaultdict(Bucket)
    total = Bucket()
    zone = timezone.get_current_timezone()

    def buckets(at: datetime | date, oa: int, agent: int | None) -> list[Bucket]:
        found = [agents[agent], oas[oa], total]
        day = at if not isinstance(at, datetime) else _day(at, zone)
        if day in days:
            found.append(days[day])
        return found

    for at, oa, agent, seconds in first_responses(filters):
        for bucket in buckets(at, oa, agent):
            bucket.new += 1
            if seconds is not None:
                bucket.first_responses.append(seconds)
    for at, oa, actor, seconds in resolutions(filters):
        for bucket in buckets(at, oa, actor):
            bucket.resolved += 1
            bucket.resolutions.append(seconds)
    for day, oa, agent, count, outside in reply_counts(filters):
        for bucket in buckets(day, oa, agent):
            bucket.replies += count
            bucket.outside_window += outside
    return Report(filters=filters, days=days, agents=dict(agents), oas=dict(oas), total=total)


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
