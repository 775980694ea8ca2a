"""The reports' per-day summary (issue 19): a ``ReportDay`` row per day, OA and agent
holding the counts the page shows and the sorted durations its medians are taken from,
so that a report reads a few thousand rows instead of every fact of its period.

Derived only from the facts (``inbox.report_facts``): whenever facts change, the
transaction that changes them marks the days they fall in (an OA's day, in TIME_ZONE: a
*slice*) with a ``ReportDayDirty`` row, one INSERT, no lock; after its commit the
``settle_report_days`` task derives each marked slice again from the facts, replaces what
the summary held for it and removes the marks it read, one slice per transaction (a mark
added while it derives is not among them: the slice stays marked and is derived again).
A report derives the marked slices of its period from the facts as it reads
(``inbox.report_days``), so the page says what the facts say at any moment;
``rebuild`` (``zalohub report_facts [--check]``) compares every unmarked slice with its
derivation, counts the rows that differ and repairs them (first deriving the marked ones).

Two derivations of one slice (the task in two workers, a rebuild) take a lock on it
(PostgreSQL: a transaction-level advisory lock, one slice per transaction): the second
derives after the first commits. SQLite runs one writer at a time.
"""

import sys
import threading
from array import array
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, tzinfo
from time import monotonic
from typing import Any

from django.apps import apps as global_apps
from django.db import connection, transaction
from django.db.models import Case, Count, F, IntegerField, Max, Min, Sum, Value, When
from django.db.models.functions import Coalesce, TruncDate
from django.tasks import task
from django.utils import timezone

from zalohub.core import periodic, rowinsert
from zalohub.inbox.models import ReportDayDirty, Status, TimelineEntry
from zalohub.inbox.reports import Seconds

Slice = tuple[date, int]  # (day, OA)
CellKey = tuple[date, int | None]  # (day, agent) within one OA
CHUNK_DAYS = 31  # rebuild derives an OA's days this many at a time
SETTLE_SECONDS = 10  # of derivation in one run of the task; a follow-up does the rest


def pack(values: list[float]) -> bytes:
    """Sorted seconds as the summary keeps them: little-endian doubles, bit for bit."""
    packed = array("d", sorted(values))
    if sys.byteorder != "little":
        packed.byteswap()
    return packed.tobytes()


def unpack(data: bytes | memoryview | None) -> array:
    values = array("d")
    values.frombytes(bytes(data or b""))
    if sys.byteorder != "little":
        values.byteswap()
    return values


def zone() -> tzinfo:
    """The summary's days are TIME_ZONE's (the reports' own when no other is active)."""
    return timezone.get_default_timezone()


def day_of(moment: datetime) -> date:
    return timezone.localtime(moment, zone()).date()


def _start(day: date) -> datetime:
    return datetime.combine(day, time.min).replace(tzinfo=zone())


def models(apps: Any, *names: str) -> list[Any]:
    """The reports' models named (the facts' and the summary's), as ``apps`` has them: the
    project's, or a migration's, which may predate the summary (LookupError)."""
    return [apps.get_model("events" if name == "Message" else "inbox", name) for name in names]


@dataclass
class Cell:
    new: int = 0
    resolved: int = 0
    replies: int = 0
    outside_window: int = 0
    first_responses: list[float] = field(default_factory=list)
    resolutions: list[float] = field(default_factory=list)

    def values(self) -> tuple[Any, ...]:
        return (
            self.new,
            self.resolved,
            self.replies,
            self.outside_window,
            sorted(self.first_responses),
            sorted(self.resolutions),
        )


def derive(oa_id: int, first: date, last: date, apps: Any = global_apps) -> dict[CellKey, Cell]:
    """The summary of one OA's days ``first`` to ``last`` as the facts give it now: the
    same rows, credits and durations (the same SQL expressions) as the reports' queries
    over the facts (``inbox.reports``)."""
    conversation, timeline, reply = models(apps, "Conversation", "TimelineEntry", "AgentReply")
    since, until = _start(first), _start(last + timedelta(days=1))
    cells: dict[CellKey, Cell] = defaultdict(Cell)
    day = TruncDate("created_at", tzinfo=zone())
    new = (
        conversation.objects.filter(oa_id=oa_id, created_at__gte=since, created_at__lt=until)
        .annotate(
            d=day,
            a=Coalesce("first_replier_id", "assigned_to_id"),
            s=Seconds("first_reply_at", "first_inbound_at"),
        )
        .order_by()
        .values_list("d", "a", "s")
    )
    resolved = (
        timeline.objects.filter(
            kind=TimelineEntry.Kind.STATUS,
            status=Status.RESOLVED,
            conversation__oa_id=oa_id,
            created_at__gte=since,
            created_at__lt=until,
        )
        .annotate(d=day, a=F("actor_id"), s=Seconds("created_at", "opened_at"))
        .order_by()
        .values_list("d", "a", "s")
    )
    # A conversation counts on the day it was created, a resolution on its own; each
    # with its duration when it has one.
    for rows, count, durations in (
        (new, "new", "first_responses"),
        (resolved, "resolved", "resolutions"),
    ):
        for d, agent, seconds in rows:
            cell = cells[(d, agent)]
            setattr(cell, count, getattr(cell, count) + 1)
            if seconds is not None:
                getattr(cell, durations).append(float(seconds))
    outside = Case(When(outside_window=True, then=Value(1)), default=Value(0))
    replies = (
        reply.objects.filter(oa_id=oa_id, created_at__gte=since, created_at__lt=until)
        .annotate(d=day)
        .order_by()
        .values("d", "agent_id")
        .annotate(n=Count("pk"), out=Sum(outside, output_field=IntegerField()))
        .values_list("d", "agent_id", "n", "out")
    )
    for d, agent, n, out in replies:
        cell = cells[(d, agent)]
        cell.replies += n
        cell.outside_window += int(out or 0)
    return dict(cells)


def stored(oa_id: int, first: date, last: date, apps: Any = global_apps) -> dict[CellKey, Cell]:
    """What the summary holds for those days (rows of one key added together)."""
    (report_day,) = models(apps, "ReportDay")
    cells: dict[CellKey, Cell] = defaultdict(Cell)
    rows = report_day.objects.filter(oa_id=oa_id, day__gte=first, day__lte=last)
    for row in rows.order_by("pk"):
        cell = cells[(row.day, row.agent_id)]
        cell.new += row.new
        cell.resolved += row.resolved
        cell.replies += row.replies
        cell.outside_window += row.outside_window
        cell.first_responses += unpack(row.first_responses)
        cell.resolutions += unpack(row.resolutions)
    return dict(cells)


def _lock(slices: list[Slice]) -> None:
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        for day, oa_id in slices:
            cursor.execute(
                "SELECT pg_advisory_xact_lock(hashtext(%s))", [f"inbox.reportday:{oa_id}:{day}"]
            )


def mark(slices: Iterable[Slice]) -> None:
    """The facts of these OAs' days change in the current transaction: mark them to be
    derived again (one INSERT), and have the task do it after the commit."""
    wanted = sorted(set(slices))
    if not wanted:
        return
    # As SQL on PostgreSQL: the ORM's bulk_create was about a quarter of the inbox hook's
    # CPU in a send through the API (issue 17).
    rowinsert.insert_rows(ReportDayDirty, ("day", "oa_id"), wanted)
    transaction.on_commit(wake, robust=True)


class Waker:
    """Has a ``settle_report_days`` task start after each commit that marked days, with
    at most one enqueued per process and ``gather`` (the marks of that span settle
    together), and no query to know: the first commit enqueues a task due ``gather``
    later, and until then this process's commits need none (the task, not started yet,
    will read their marks); the first commit after it enqueues the next. Workers run a task
    no earlier than its due time on the same clock; a task lost all the same (deleted from
    the queue, the process gone before its enqueue) leaves its marks to the periodic sweep
    (``settle_left_marks``) within a minute, while pages derive marked days as they read."""

    def __init__(self, gather: timedelta) -> None:
        self.gather = gather
        self.clock = timezone.now
        self._lock = threading.Lock()
        self._due: datetime | None = None

    def __call__(self) -> None:
        now = self.clock()
        with self._lock:
            if self._due is not None and now < self._due:
                return
            self._due = due = now + self.gather
        try:
            settle_report_days.using(run_after=due).enqueue()
        except BaseException:
            self.forget()  # the next commit tries again
            raise

    def forget(self) -> None:
        """Believe no task of this process is waiting (a test's database rolled back)."""
        with self._lock:
            self._due = None


wake = Waker(gather=timedelta(seconds=1))


def settle(limit: int = 1000) -> int:
    """Derive the marked slices again, one per transaction, until none is left or the run
    has worked SETTLE_SECONDS (a busy day's constant ingest marks it again and again): the
    number derived; what is left, the task woken then settles. A slice's marks are read
    first and only those are removed with its new rows, so a mark committed during its
    derivation stays (and the slice is derived again)."""
    done, started = 0, monotonic()
    while True:
        marks: dict[Slice, list[int]] = defaultdict(list)
        for pk, day, oa_id in ReportDayDirty.objects.order_by("pk").values_list(
            "pk", "day", "oa_id"
        )[:limit]:
            marks[(day, oa_id)].append(pk)
        if not marks:
            return done
        for key in sorted(marks):
            if monotonic() - started >= SETTLE_SECONDS:
                wake()
                return done
            with transaction.atomic():
                replace([key])
                ReportDayDirty.objects.filter(pk__in=marks[key]).delete()
            done += 1


@task()
def settle_report_days() -> int:
    return settle()


@periodic.register("inbox.report_days", every_seconds=60)
def settle_left_marks() -> None:
    """Marks whose task was not enqueued (a process ended between commit and enqueue)."""
    if ReportDayDirty.objects.exists():
        settle()


def replace(slices: Iterable[Slice], apps: Any = global_apps) -> None:
    """Derive these OAs' days again from the facts and put them in the summary."""
    wanted = sorted(set(slices))
    if not wanted:
        return
    (report_day,) = models(apps, "ReportDay")
    with transaction.atomic():
        _lock(wanted)
        rows = []
        for day, oa_id in wanted:
            report_day.objects.filter(oa_id=oa_id, day=day).delete()
            for (d, agent), cell in derive(oa_id, day, day, apps).items():
                new, resolved, replies, outside, first, resolutions = cell.values()
                rows.append(
                    report_day(
                        day=d,
                        oa_id=oa_id,
                        agent_id=agent,
                        new=new,
                        resolved=resolved,
                        replies=replies,
                        outside_window=outside,
                        first_responses=pack(first),
                        resolutions=pack(resolutions),
                    )
                )
        report_day.objects.bulk_create(rows)


def conversation_slices(conversation_ids: Iterable[int], apps: Any = global_apps) -> set[Slice]:
    ids = list(conversation_ids)
    if not ids:  # most stored batches create no conversation: no query to build
        return set()
    (conversation,) = models(apps, "Conversation")
    rows = conversation.objects.filter(pk__in=ids).values_list("created_at", "oa_id")
    return {(day_of(at), oa_id) for at, oa_id in rows}


def conversations_changed(conversation_ids: Iterable[int]) -> None:
    """Conversations were created, answered first or changed hands: their days again."""
    mark(conversation_slices(conversation_ids))


def conversations_reassigned(conversation_ids: Iterable[int]) -> None:
    """A new holder is credited with a conversation nobody has answered yet (the first
    replier is credited once there is one): those conversations' days again."""
    (conversation,) = models(global_apps, "Conversation")
    unanswered = conversation.objects.filter(
        pk__in=list(conversation_ids), first_replier__isnull=True
    ).values_list("pk", flat=True)
    conversations_changed(list(unanswered))


def agent_removed(agent_id: int) -> None:
    """A user was deleted (the facts' links to them are nulled): their days again."""
    (report_day,) = models(global_apps, "ReportDay")
    mark(report_day.objects.filter(agent_id=agent_id).values_list("day", "oa_id"))


# ---- rebuild: compare every slice with its derivation, count and repair ----


def _span(oa_id: int, apps: Any) -> tuple[date, date] | None:
    """The first and last day an OA has facts or summary rows on."""
    conversation, timeline, reply, report_day = models(
        apps, "Conversation", "TimelineEntry", "AgentReply", "ReportDay"
    )
    bounds: list[Any] = []
    for qs, column in (
        (conversation.objects.filter(oa_id=oa_id), "created_at"),
        (
            timeline.objects.filter(
                conversation__oa_id=oa_id, kind=TimelineEntry.Kind.STATUS, status=Status.RESOLVED
            ),
            "created_at",
        ),
        (reply.objects.filter(oa_id=oa_id), "created_at"),
        (report_day.objects.filter(oa_id=oa_id), "day"),
    ):
        found = qs.aggregate(low=Min(column), high=Max(column))
        for value in found.values():
            if isinstance(value, datetime):
                bounds.append(day_of(value))
            elif value is not None:
                bounds.append(value)
    if not bounds:
        return None
    return min(bounds), max(bounds)


def rebuild(*, fix: bool = True, apps: Any = global_apps) -> int:
    """Compare the summary with the facts, OA by OA, a month at a time: the number of
    (day, OA, agent) rows that differ (missing, extra or other numbers); with ``fix``
    their days are derived again and replaced. Marked days (``ReportDayDirty``) are not
    compared: their facts changed since they were derived, and a report derives them as it
    reads; with ``fix`` the marked days are derived first (``settle``: a run's share, the
    task it wakes the rest)."""
    try:
        models(apps, "ReportDay")
    except LookupError:  # a migration older than the summary's table
        return 0
    try:
        marks = apps.get_model("inbox", "ReportDayDirty")
    except LookupError:  # a migration older than the marks' table
        marks = None
    if fix and marks is not None and apps is global_apps:
        settle()
    oa_ids = apps.get_model("accounts", "OfficialAccount").objects.values_list("pk", flat=True)
    differ = 0
    for oa_id in sorted(oa_ids):
        span = _span(oa_id, apps)
        if span is None:
            continue
        first, last = span
        while first <= last:
            end = min(last, first + timedelta(days=CHUNK_DAYS - 1))
            # Read before the summary and the facts: a day marked after is compared as it
            # was derived before its new facts (it differs, and is repaired, only if wrong).
            marked = (
                set()
                if marks is None
                else set(
                    marks.objects.filter(oa_id=oa_id, day__gte=first, day__lte=end).values_list(
                        "day", flat=True
                    )
                )
            )
            derived, held = derive(oa_id, first, end, apps), stored(oa_id, first, end, apps)
            wrong = {
                key
                for key in derived.keys() | held.keys()
                if key[0] not in marked
                and (derived[key].values() if key in derived else None)
                != (held[key].values() if key in held else None)
            }
            differ += len(wrong)
            if fix and wrong:
                replace({(day, oa_id) for day, _agent in wrong}, apps)
            first = end + timedelta(days=1)
    return differ


# ---- changes outside the inbox's own functions (the admin's forms, deletions) ----


def _conversation_saved(sender: Any, instance: Any, **kwargs: Any) -> None:
    conversations_changed([instance.pk])


def _conversation_deleting(sender: Any, instance: Any, **kwargs: Any) -> None:
    # Its resolutions go with it (a cascade): note their days while they are there.
    resolved = TimelineEntry.objects.filter(
        conversation_id=instance.pk, kind=TimelineEntry.Kind.STATUS, status=Status.RESOLVED
    ).values_list("created_at", flat=True)
    instance._report_slices = {(day_of(at), instance.oa_id) for at in resolved} | {
        (day_of(instance.created_at), instance.oa_id)
    }


def _conversation_deleted(sender: Any, instance: Any, **kwargs: Any) -> None:
    mark(getattr(instance, "_report_slices", set()))


def _user_deleted(sender: Any, instance: Any, **kwargs: Any) -> None:
    agent_removed(instance.pk)


def connect() -> None:
    from django.conf import settings
    from django.db.models.signals import post_delete, post_save, pre_delete

    from zalohub.inbox.models import Conversation

    post_save.connect(_conversation_saved, sender=Conversation, dispatch_uid="inbox.report_day")
    pre_delete.connect(_conversation_deleting, sender=Conversation, dispatch_uid="inbox.report_day")
    post_delete.connect(_conversation_deleted, sender=Conversation, dispatch_uid="inbox.report_day")
    post_delete.connect(
        _user_deleted, sender=settings.AUTH_USER_MODEL, dispatch_uid="inbox.report_day"
    )
