"""The facts the reports aggregate (issue 19), written when they happen and derivable
again from the messages and the timeline, so that drift can be found and repaired.

- A conversation's first response: ``first_inbound_at`` (the customer's first message),
  ``first_reply_at`` and ``first_replier`` (the first message an agent wrote at or after
  it), stamped when the batch that changes them is stored.
- A Resolved timeline entry's ``opened_at``: the conversation's last Open entry before
  it, else its creation, stamped with the entry.
- An ``AgentReply`` per message an agent wrote, with whether it went outside the free
  window (more than INBOX_FREE_WINDOW_HOURS after the customer's last message before
  it, or with none), written with the message.

Each live write runs the same derivation as ``rebuild`` on the rows it touches, inside
the transaction that stores the message or the entry: the two cannot disagree unless a
row is changed behind the hub's back (an edited time, a restored backup), which
``rebuild`` (``zalohub report_facts``) finds, counts and corrects.
"""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from django.apps import apps as global_apps
from django.conf import settings
from django.db.models import OuterRef, Q, Subquery
from django.db.models.functions import Coalesce
from django.utils.dateparse import parse_datetime

from zalohub.events.models import Direction, Message
from zalohub.inbox import report_summary
from zalohub.inbox.models import Status, TimelineEntry

BATCH = 2000


def _thread(message_model: Any, direction: str) -> Any:
    return message_model.objects.filter(
        oa_id=OuterRef("oa_id"), zalo_user_id=OuterRef("zalo_user_id"), direction=direction
    )


# Times are read ordered by time alone: a tie-break on id would make the database sort
# every earlier message of a busy thread (events_msg_thread has no id) for each lookup.


def _first_in(message_model: Any) -> Subquery:
    first = _thread(message_model, Direction.INBOUND).order_by("created_at")
    return Subquery(first.values("created_at")[:1])


def _first_reply_at(message_model: Any, since: str) -> Subquery:
    """When the first agent's reply at or after ``since`` (a time column) went."""
    reply = (
        _thread(message_model, Direction.OUTBOUND)
        .filter(sent_by__isnull=False, created_at__gte=OuterRef(since))
        .order_by("created_at")
    )
    return Subquery(reply.values("created_at")[:1])


def _replier(message_model: Any, at: str) -> Subquery:
    """Who wrote the agent's reply sent at ``at`` (the lowest id of a tie)."""
    reply = (
        _thread(message_model, Direction.OUTBOUND)
        .filter(sent_by__isnull=False, created_at=OuterRef(at))
        .order_by("id")
    )
    return Subquery(reply.values("sent_by_id")[:1])


def _opened_at(timeline_model: Any, conversation_model: Any) -> Coalesce:
    opened = (
        timeline_model.objects.filter(
            conversation_id=OuterRef("conversation_id"),
            kind=TimelineEntry.Kind.STATUS,
            status=Status.OPEN,
            created_at__lt=OuterRef("created_at"),
        )
        .order_by("-created_at", "-id")
        .values("created_at")[:1]
    )
    created = conversation_model.objects.filter(pk=OuterRef("conversation_id")).values(
        "created_at"
    )[:1]
    return Coalesce(Subquery(opened), Subquery(created))


def _agent_replies(message_model: Any, reply_model: Any, rows: Any) -> list[Any]:
    """The AgentReply each agent's message of ``rows`` derives to (unsaved)."""
    last_in = (
        _thread(message_model, Direction.INBOUND)
        .filter(created_at__lte=OuterRef("created_at"))
        .order_by("-created_at")
        .values("created_at")[:1]
    )
    free = timedelta(hours=settings.INBOX_FREE_WINDOW_HOURS)
    found = (
        rows.filter(direction=Direction.OUTBOUND, sent_by__isnull=False)
        .annotate(last_in=Subquery(last_in))
        .values_list("pk", "oa_id", "sent_by_id", "created_at", "last_in")
        .order_by("pk")
    )
    return [
        reply_model(
            message_id=pk,
            oa_id=oa,
            agent_id=agent,
            created_at=at,
            outside_window=last is None or at - last > free,
        )
        for pk, oa, agent, at, last in found
    ]


# ---- live: inside the transaction that stores the messages or the entries ----


def _as_datetime(value: Any) -> datetime | None:
    """A time read back by a raw cursor: SQLite's comes as text or naive (UTC)."""
    if value is None:
        return None
    parsed = value if isinstance(value, datetime) else parse_datetime(str(value))
    if parsed is not None and parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed


def first_response_candidates(
    messages: Iterable[Message], stored: Iterable[tuple[Any, ...]]
) -> list[int]:
    """Which conversations the messages may change the first response of: a customer's
    message earlier than the conversation's first (or its first), an agent's reply earlier
    than its first reply (or its first). ``stored``: (pk, OA, user, first_inbound_at,
    first_reply_at) of the conversations as they were."""
    earliest: dict[tuple[int, str], list[datetime | None]] = {}
    for message in messages:
        if not message.zalo_user_id or message.created_at is None:
            continue
        slot = earliest.setdefault((message.oa_id, message.zalo_user_id), [None, None])
        agent = message.direction == Direction.OUTBOUND and message.sent_by_id is not None
        index = 0 if message.direction == Direction.INBOUND else 1 if agent else None
        if index is not None:
            seen = slot[index]
            slot[index] = message.created_at if seen is None else min(seen, message.created_at)
    wanted = []
    for pk, oa_id, user_id, first_in, first_reply in stored:
        inbound, reply = earliest.get((oa_id, user_id), [None, None])
        first_in, first_reply = _as_datetime(first_in), _as_datetime(first_reply)
        if (inbound is not None and (first_in is None or inbound < first_in)) or (
            reply is not None and (first_reply is None or reply < first_reply)
        ):
            wanted.append(pk)
    return wanted


def messages_stored(
    messages: Sequence[Message], stored: Iterable[tuple[Any, ...]], *, created_at: datetime
) -> None:
    """The facts a batch of stored messages changes, and the summary's days they fall in
    (``inbox.report_summary``), marked once for the batch. ``stored``: (pk, OA, user,
    first_inbound_at, first_reply_at, created_at) of the batch's conversations as the
    upsert left them; those created now (``created_at``) are new in the summary."""
    rows = list(stored)
    candidates = set(first_response_candidates(messages, [row[:5] for row in rows]))
    _stamp_first_responses(sorted(candidates))
    # The upsert returned each conversation's day and OA (stamping changes neither): the
    # days of those stamped or created now, without reading the rows again.
    slices: set[report_summary.Slice] = set()
    for pk, oa_id, *_rest, at in rows:
        when = _as_datetime(at)
        if when is not None and (pk in candidates or when == created_at):
            slices.add((report_summary.day_of(when), oa_id))
    slices |= _record_agent_replies(messages)
    report_summary.mark(slices)


def stamp_first_responses(conversation_ids: Sequence[int]) -> None:
    """Derive the conversations' first response again, and their days in the summary."""
    _stamp_first_responses(conversation_ids)
    report_summary.conversations_changed(conversation_ids)


def _stamp_first_responses(conversation_ids: Sequence[int], apps: Any = global_apps) -> None:
    """Derive the conversations' first response again (three UPDATEs, each reading the
    column the one before wrote)."""
    if not conversation_ids:
        return
    message, conversation = report_summary.models(apps, "Message", "Conversation")
    rows = conversation.objects.filter(pk__in=list(conversation_ids))
    rows.update(first_inbound_at=_first_in(message))
    rows.update(first_reply_at=_first_reply_at(message, "first_inbound_at"))
    rows.update(first_replier_id=_replier(message, "first_reply_at"))


def stamp_resolutions(conversation_ids: Sequence[int], apps: Any = global_apps) -> None:
    """The Resolved entries just written for these conversations get their ``opened_at``."""
    if not conversation_ids:
        return
    conversation, timeline = report_summary.models(apps, "Conversation", "TimelineEntry")
    new = timeline.objects.filter(
        conversation_id__in=list(conversation_ids),
        kind=TimelineEntry.Kind.STATUS,
        status=Status.RESOLVED,
        opened_at__isnull=True,
    )
    slices = {
        (report_summary.day_of(at), oa_id)
        for at, oa_id in new.values_list("created_at", "conversation__oa_id")
    }
    new.update(opened_at=_opened_at(timeline, conversation))
    report_summary.mark(slices)


def record_agent_replies(messages: Sequence[Message]) -> None:
    report_summary.mark(_record_agent_replies(messages))


def _record_agent_replies(messages: Sequence[Message]) -> set[tuple[Any, int]]:
    """One AgentReply per message an agent wrote among ``messages``; and a customer's
    message stored late (older than agent replies already in its thread, as Zalo's
    history is) derives those replies' window again. The summary's days they fall in."""
    ids = [
        m.pk
        for m in messages
        if m.direction == Direction.OUTBOUND and m.sent_by_id is not None and m.pk
    ]
    earliest: dict[tuple[int, str], datetime] = {}
    for m in messages:
        if m.direction == Direction.INBOUND and m.zalo_user_id and m.created_at is not None:
            key = (m.oa_id, m.zalo_user_id)
            earliest[key] = min(earliest.get(key, m.created_at), m.created_at)
    if earliest:
        # Normally an empty index range: nothing in a thread is newer than a new message.
        later = Q()
        for (oa_id, user_id), at in earliest.items():
            later |= Q(oa_id=oa_id, zalo_user_id=user_id, created_at__gte=at)
        ids += Message.objects.filter(
            later, direction=Direction.OUTBOUND, sent_by__isnull=False
        ).values_list("pk", flat=True)
    if not ids:
        return set()
    message, reply = report_summary.models(global_apps, "Message", "AgentReply")
    derived = _agent_replies(message, reply, message.objects.filter(pk__in=ids))
    reply.objects.bulk_create(
        derived,
        update_conflicts=True,
        unique_fields=["message"],
        update_fields=["oa", "agent", "created_at", "outside_window"],
    )
    return {(report_summary.day_of(r.created_at), r.oa_id) for r in derived}


# ---- rebuild: derive every fact again, count and correct what differs ----


@dataclass
class Drift:
    """How many rows ``rebuild`` found different from their derivation (and corrected)."""

    first_responses: int = 0
    resolutions: int = 0
    replies_added: int = 0
    replies_changed: int = 0
    replies_removed: int = 0
    summary_rows: int = 0  # (day, OA, agent) rows of inbox.report_summary

    @property
    def total(self) -> int:
        return (
            self.first_responses
            + self.resolutions
            + self.replies_added
            + self.replies_changed
            + self.replies_removed
            + self.summary_rows
        )


def _ranges(model: Any, batch: int, rows: Any = None) -> Iterable[tuple[int, int]]:
    qs = rows if rows is not None else model.objects.all()
    top = qs.order_by("-pk").values_list("pk", flat=True).first()
    if top is None:
        return
    start = qs.order_by("pk").values_list("pk", flat=True).first() or 0
    while start <= top:
        yield start, start + batch
        start += batch


def _rebuild_first_responses(apps: Any, batch: int, fix: bool) -> int:
    message, conversation = report_summary.models(apps, "Message", "Conversation")
    changed = 0
    for low, high in _ranges(conversation, batch):
        rows = conversation.objects.filter(pk__gte=low, pk__lt=high)
        derived = (
            rows.annotate(d_in=_first_in(message))
            .annotate(d_at=_first_reply_at(message, "d_in"))
            .annotate(d_by=_replier(message, "d_at"))
        )
        wrong = [
            pk
            for pk, have_in, have_at, have_by, d_in, d_at, d_by in derived.values_list(
                "pk",
                "first_inbound_at",
                "first_reply_at",
                "first_replier_id",
                "d_in",
                "d_at",
                "d_by",
            )
            if (have_in, have_at, have_by) != (d_in, d_at, d_by)
        ]
        changed += len(wrong)
        if fix and wrong:
            _stamp_first_responses(wrong, apps)
    return changed


def _rebuild_resolutions(apps: Any, batch: int, fix: bool) -> int:
    conversation, timeline = report_summary.models(apps, "Conversation", "TimelineEntry")
    resolved = timeline.objects.filter(kind=TimelineEntry.Kind.STATUS, status=Status.RESOLVED)
    changed = 0
    for low, high in _ranges(timeline, batch, resolved):
        rows = resolved.filter(pk__gte=low, pk__lt=high)
        wrong = [
            pk
            for pk, have, derived in rows.annotate(d=_opened_at(timeline, conversation))
            .values_list("pk", "opened_at", "d")
            .order_by()
            if have != derived
        ]
        changed += len(wrong)
        if fix and wrong:
            timeline.objects.filter(pk__in=wrong).update(
                opened_at=_opened_at(timeline, conversation)
            )
    return changed


def _rebuild_replies(apps: Any, batch: int, fix: bool, drift: Drift) -> None:
    message, reply = report_summary.models(apps, "Message", "AgentReply")
    fields = ("oa_id", "agent_id", "created_at", "outside_window")
    agents = message.objects.filter(direction=Direction.OUTBOUND, sent_by__isnull=False)
    top = max(
        agents.order_by("-pk").values_list("pk", flat=True).first() or 0,
        reply.objects.order_by("-pk").values_list("pk", flat=True).first() or 0,
    )
    for low in range(0, top + 1, batch):
        window = {"pk__gte": low, "pk__lt": low + batch}
        derived = {
            r.message_id: r
            for r in _agent_replies(message, reply, message.objects.filter(**window))
        }
        stored = {r.message_id: r for r in reply.objects.filter(**window)}
        missing = [r for pk, r in derived.items() if pk not in stored]
        extra = [pk for pk in stored if pk not in derived]
        changed = [
            r
            for pk, r in derived.items()
            if pk in stored and any(getattr(r, f) != getattr(stored[pk], f) for f in fields)
        ]
        drift.replies_added += len(missing)
        drift.replies_removed += len(extra)
        drift.replies_changed += len(changed)
        if fix:
            reply.objects.bulk_create(missing)
            reply.objects.filter(pk__in=extra).delete()
            reply.objects.bulk_update(changed, list(fields))


def rebuild(*, fix: bool = True, batch: int = BATCH, apps: Any = global_apps) -> Drift:
    """Derive every report fact from the messages and the timeline, in batches; count
    the rows that differ from what was written live, and correct them unless ``fix`` is
    False. The data migration that introduced the facts runs it to fill them in."""
    drift = Drift()
    drift.first_responses = _rebuild_first_responses(apps, batch, fix)
    drift.resolutions = _rebuild_resolutions(apps, batch, fix)
    _rebuild_replies(apps, batch, fix, drift)
    # The summary last: derived from the facts as they now are.
    drift.summary_rows = report_summary.rebuild(fix=fix, apps=apps)
    return drift
