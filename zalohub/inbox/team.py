"""The team's actions on a conversation (issue 19): status, notes with mentions, labels,
and what a customer's message does to a snoozed or resolved conversation. Each is a
timeline entry (who, when) shown in the thread; none of them ever reaches Zalo.
"""

import re
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any

from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import Count, Max, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from zalohub.inbox import report_facts
from zalohub.inbox.models import (
    Conversation,
    Label,
    Mention,
    OAMembership,
    Status,
    TimelineEntry,
)
from zalohub.inbox.rollup import notify_on_commit

MENTION = re.compile(r"@([\w.+-]+)", re.UNICODE)
NOTE_MAX = 4000


class TeamRefused(ValueError):
    """A request the inbox cannot carry out; the message says why, for the agent."""


def _entry(conversation_id: int, **fields: Any) -> TimelineEntry:
    return TimelineEntry.objects.create(conversation_id=conversation_id, **fields)


def conversation_set_status(
    *,
    conversation: Conversation,
    status: str,
    actor: Any,
    snoozed_until: datetime | None = None,
) -> bool:
    """Move the conversation to ``status`` (Snoozed: until ``snoozed_until``, or until the
    customer writes when None). False when it already was there."""
    if status not in Status.values:
        raise TeamRefused(_("Unknown status."))
    if status != Status.SNOOZED:
        snoozed_until = None
    elif snoozed_until is not None and snoozed_until <= timezone.now():
        raise TeamRefused(_("Choose a time in the future."))
    now = timezone.now()
    with transaction.atomic():
        qs = Conversation.objects.filter(pk=conversation.pk)
        if status != Status.SNOOZED:
            qs = qs.exclude(status=status)
        done = qs.update(status=status, snoozed_until=snoozed_until, updated_at=now)
        if done:
            _entry(
                conversation.pk,
                kind=TimelineEntry.Kind.STATUS,
                status=status,
                snoozed_until=snoozed_until,
                actor=actor,
                created_at=now,
            )
            if status == Status.RESOLVED:
                report_facts.stamp_resolutions([conversation.pk])
            notify_on_commit(conversation.oa_id)
    conversation.status, conversation.snoozed_until = status, snoozed_until
    return bool(done)


def conversations_resolve(*, conversations: QuerySet[Conversation], actor: Any) -> int:
    """Resolve a selection: the ones not resolved yet, each with its timeline entry."""
    now = timezone.now()
    with transaction.atomic():
        rows = list(
            conversations.exclude(status=Status.RESOLVED)
            .select_for_update()
            .values_list("pk", "oa_id")
        )
        Conversation.objects.filter(pk__in=[pk for pk, _oa in rows]).update(
            status=Status.RESOLVED, snoozed_until=None, updated_at=now
        )
        TimelineEntry.objects.bulk_create(
            TimelineEntry(
                conversation_id=pk,
                kind=TimelineEntry.Kind.STATUS,
                status=Status.RESOLVED,
                actor=actor,
                created_at=now,
            )
            for pk, _oa in rows
        )
        report_facts.stamp_resolutions([pk for pk, _oa in rows])
        for oa_id in sorted({oa for _pk, oa in rows}):
            notify_on_commit(oa_id)
    return len(rows)


def assignment_recorded(*, conversation: Conversation, assignee: Any, actor: Any) -> None:
    _entry(
        conversation.pk,
        kind=TimelineEntry.Kind.ASSIGNED,
        assignee=assignee,
        actor=actor,
    )


def colleagues(conversation: Conversation) -> QuerySet[Any]:
    """Who may be mentioned: the OA's members (active)."""
    members = OAMembership.objects.filter(oa_id=conversation.oa_id).values("user_id")
    return get_user_model().objects.filter(is_active=True, pk__in=members).order_by("username")


def note_add(*, conversation: Conversation, actor: Any, text: str) -> TimelineEntry:
    """A private note in the thread: never sent to Zalo. @username notifies a colleague."""
    text = text.replace("\r\n", "\n").strip()
    if not text:
        raise TeamRefused(_("The note is empty."))
    if len(text) > NOTE_MAX:
        raise TeamRefused(_("A note holds at most %(n)d characters.") % {"n": NOTE_MAX})
    names = {name.rstrip(".").lower() for name in MENTION.findall(text)}
    with transaction.atomic():
        entry = _entry(conversation.pk, kind=TimelineEntry.Kind.NOTE, actor=actor, text=text)
        if names:
            mentioned = [
                user
                for user in colleagues(conversation)
                if user.get_username().lower() in names and user.pk != actor.pk
            ]
            Mention.objects.bulk_create(Mention(entry=entry, user=user) for user in mentioned)
        Conversation.objects.filter(pk=conversation.pk).update(updated_at=timezone.now())
        notify_on_commit(conversation.oa_id)
    return entry


def mentions_unread(user: Any) -> QuerySet[Mention]:
    return (
        Mention.objects.filter(user=user, read_at__isnull=True)
        .select_related("entry__conversation", "entry__actor")
        .order_by("-entry__created_at")
    )


def mentions_mark_read(*, user: Any, conversation: Conversation) -> int:
    return Mention.objects.filter(
        user=user, read_at__isnull=True, entry__conversation=conversation
    ).update(read_at=timezone.now())


def labels_set(*, conversation: Conversation, label_ids: Sequence[int], actor: Any) -> None:
    wanted = set(Label.objects.filter(pk__in=label_ids).values_list("pk", flat=True))
    current = set(conversation.labels.values_list("pk", flat=True))
    if wanted == current:
        return
    with transaction.atomic():
        conversation.labels.set(wanted)
        added = Label.objects.filter(pk__in=wanted - current).values_list("name", flat=True)
        removed = Label.objects.filter(pk__in=current - wanted).values_list("name", flat=True)
        text = " ".join([*(f"+{n}" for n in added), *(f"-{n}" for n in removed)])
        _entry(conversation.pk, kind=TimelineEntry.Kind.LABEL, actor=actor, text=text)
        Conversation.objects.filter(pk=conversation.pk).update(updated_at=timezone.now())
        notify_on_commit(conversation.oa_id)


def snooze_until(choice: str, now: datetime | None = None) -> datetime | None:
    """The snooze menu's choices: until the customer writes (None), or a time."""
    now = now or timezone.now()
    spans = {
        "1h": timedelta(hours=1),
        "4h": timedelta(hours=4),
        "1d": timedelta(days=1),
        "1w": timedelta(weeks=1),
    }
    if choice == "customer":
        return None
    if choice in spans:
        return now + spans[choice]
    raise TeamRefused(_("Choose how long to snooze."))


def status_counts(qs: QuerySet[Conversation]) -> dict[str, int]:
    counts = dict.fromkeys(Status.values, 0)
    rows = qs.order_by().values("status").annotate(n=Count("id")).values_list("status", "n")
    for status, n in rows:
        counts[status] = n
    return counts


def timeline_mark(conversation: Conversation) -> str:
    """Changes when the thread's timeline or the conversation's status does (the live
    thread compares it, beside the messages' fingerprint)."""
    return timeline_marks([conversation])[conversation.pk]


def last_entries(conversation_ids: Iterable[int]) -> dict[int, int]:
    """The newest timeline entry's id of each of these conversations that has one."""
    return dict(
        TimelineEntry.objects.filter(conversation_id__in=list(conversation_ids))
        .values("conversation_id")
        .annotate(m=Max("pk"))
        .values_list("conversation_id", "m")
    )


def timeline_marks(conversations: Iterable[Conversation]) -> dict[int, str]:
    """``timeline_mark`` of each conversation, by its id, in one statement."""
    conversations = list(conversations)
    last = last_entries(c.pk for c in conversations)
    return {c.pk: f"{last.get(c.pk) or 0}{c.status[:1]}" for c in conversations}
