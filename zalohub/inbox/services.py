"""The inbox's business logic: plain functions views, tasks and the CLI all call."""

import enum
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from datetime import timezone as dt_timezone
from typing import Any

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.db import connection, transaction
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from zalohub.events.actions import message_resend
from zalohub.events.models import Direction, Message, ZaloEvent, ZaloState
from zalohub.events.outbound.oa_message import SendRefused, message_send
from zalohub.inbox import access, report_summary, search
from zalohub.inbox.models import Conversation, SentImage
from zalohub.inbox.rollup import notify_on_commit
from zalohub.inbox.uploads import upload_rule, upload_to_zalo

VIETNAM = dt_timezone(timedelta(hours=7))  # Zalo's dates are Vietnam's (UTC+7, no DST)


class Scope(enum.StrEnum):
    ALL = "all"
    MINE = "mine"
    UNASSIGNED = "unassigned"


class Band(enum.StrEnum):
    FREE = "free"  # inside the free window after the customer's last interaction
    BILLED = "billed"  # still allowed, charged by Zalo
    CLOSED = "closed"  # Zalo refuses consultation messages (-230)
    UNKNOWN = "unknown"  # no interaction on record: Zalo decides


@dataclass(frozen=True)
class ReplyWindow:
    band: Band
    last_interaction_at: datetime | None
    band_ends_at: datetime | None  # when this band gives way to the next
    remaining: timedelta | None

    @property
    def open(self) -> bool:
        return self.band != Band.CLOSED


class ConcurrentReply(SendRefused):
    """Someone else answered since the page was loaded: read it before sending."""


def last_interaction(conversation: Conversation) -> datetime | None:
    link = conversation.partner_link
    times = [conversation.last_inbound_at, link.last_interaction_at if link else None]
    if link is not None and link.zalo_last_interaction_on is not None:
        # Zalo's user detail gives only the day (Vietnam's): its start, the earliest it
        # can have been, for an interaction the hub did not see.
        day = link.zalo_last_interaction_on
        times.append(datetime(day.year, day.month, day.day, tzinfo=VIETNAM))
    known = [t for t in times if t is not None]
    return max(known) if known else None


def reply_window(conversation: Conversation, now: datetime | None = None) -> ReplyWindow:
    """Which band a consultation reply falls in now, and for how long."""
    now = now or timezone.now()
    last = last_interaction(conversation)
    if last is None:
        return ReplyWindow(Band.UNKNOWN, None, None, None)
    free_until = last + timedelta(hours=settings.INBOX_FREE_WINDOW_HOURS)
    closes_at = last + timedelta(days=settings.INBOX_REPLY_WINDOW_DAYS)
    if now < free_until:
        return ReplyWindow(Band.FREE, last, free_until, free_until - now)
    if now < closes_at:
        return ReplyWindow(Band.BILLED, last, closes_at, closes_at - now)
    return ReplyWindow(Band.CLOSED, last, None, None)


def display_name(conversation: Conversation) -> str:
    if conversation.partner_link is not None:
        return conversation.customer_name()
    return _("Zalo user %(id)s") % {"id": conversation.zalo_user_id[-6:]}


def conversation_list(
    *,
    user: Any,
    oa_id: int | None = None,
    scope: str = Scope.ALL,
    query: str = "",
    status: str | None = None,
    limit: int = 50,
) -> QuerySet[Conversation]:
    """The conversations the user may see, newest message first (of one status, if given)."""
    qs = Conversation.objects.all()
    if status is not None:
        qs = qs.filter(status=status)
    if oa_id is not None:
        qs = qs.filter(oa_id=oa_id)
    if not access.is_inbox_admin(user):
        qs = qs.filter(oa__in=access.visible_oas(user))
    if scope == Scope.MINE:
        qs = qs.filter(assigned_to=user)
    elif scope == Scope.UNASSIGNED:
        qs = qs.filter(assigned_to__isnull=True)
    if query := query.strip():
        qs = qs.filter(search.conversation_match(query))
    return (
        qs.select_related("oa", "last_message", "assigned_to", "partner_link__partner")
        # The OA's tokens are encrypted: decrypting them for every row costs more than
        # the query itself, and the list needs only names.
        .defer("oa__access_token", "oa__refresh_token", "oa__description")
        .order_by("-last_message_at", "-id")[:limit]
    )


def thread_messages(conversation: Conversation, limit: int = 200) -> list[Message]:
    """The newest ``limit`` messages of the conversation, oldest first."""
    recent = (
        Message.objects.filter(oa_id=conversation.oa_id, zalo_user_id=conversation.zalo_user_id)
        .select_related("sent_by")
        .order_by("-created_at", "-id")[:limit]
    )
    return list(reversed(recent))


State = tuple[tuple[tuple[int, str], ...], tuple[tuple[int, int, str], ...]]


def thread_state(conversation: Conversation, limit: int = 100) -> State:
    """What the thread's fingerprint is drawn from: the newest messages' (id, Zalo State),
    and the attempts of those a failed send left On Queue (their retry line changes)."""
    return threads_state([conversation], limit)[conversation.pk]


def threads_state(conversations: Iterable[Conversation], limit: int = 100) -> dict[int, State]:
    """``thread_state`` of each conversation, by its id: the newest messages of all of them
    in one statement on PostgreSQL (a LATERAL join on each thread's index; one a thread
    elsewhere), their waiting attempts in one more."""
    conversations = list(conversations)
    rows: dict[int, list[tuple[int, str]]] = {c.pk: [] for c in conversations}
    if connection.vendor == "postgresql" and len(conversations) > 1:
        table = connection.ops.quote_name(Message._meta.db_table)
        values = ", ".join(["(%s, %s, %s)"] * len(conversations))
        params: list[Any] = [v for c in conversations for v in (c.pk, c.oa_id, c.zalo_user_id)]
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT t.cid, m.id, m.zalo_state FROM (VALUES {values}) AS t(cid, oa, zuser) "  # noqa: S608  (the model's table; placeholders)
                f"CROSS JOIN LATERAL (SELECT id, zalo_state, created_at FROM {table} "
                "WHERE oa_id = t.oa AND zalo_user_id = t.zuser "
                "ORDER BY created_at DESC, id DESC LIMIT %s) m "
                "ORDER BY t.cid, m.created_at DESC, m.id DESC",
                [*params, limit],
            )
            for cid, pk, state in cursor.fetchall():
                rows[cid].append((pk, state))
    else:
        for c in conversations:
            rows[c.pk] = list(
                Message.objects.filter(oa_id=c.oa_id, zalo_user_id=c.zalo_user_id)
                .order_by("-created_at", "-id")
                .values_list("id", "zalo_state")[:limit]
            )
    waiting = {
        pk: cid
        for cid, thread in rows.items()
        for pk, state in thread
        if state == ZaloState.ON_QUEUE
    }
    attempts: dict[int, list[tuple[int, int, str]]] = {cid: [] for cid in rows}
    if waiting:
        for pk, message, tries, state in (
            ZaloEvent.objects.filter(message_id__in=list(waiting))
            .order_by("id")
            .values_list("id", "message_id", "attempts", "processing_state")
        ):
            attempts[waiting[message]].append((pk, tries, state))
    return {cid: (tuple(thread), tuple(attempts[cid])) for cid, thread in rows.items()}


def fingerprint_of(
    conversation: Conversation,
    rows: tuple[tuple[int, str], ...],
    attempts: tuple[tuple[int, int, str], ...],
) -> str:
    """The thread's fingerprint from its state (``thread_state``) and its assignee."""
    return str(hash((conversation.assigned_to_id, rows, attempts)) & 0xFFFFFFFF)


def thread_fingerprint(conversation: Conversation, limit: int = 100) -> str:
    """Changes whenever a message is added to the thread or changes its Zalo State, and
    when the conversation changes hands (the thread's header says who holds it)."""
    return fingerprint_of(conversation, *thread_state(conversation, limit))


def conversations_mark_read(conversations: Iterable[Conversation]) -> int:
    """Mark read those of these conversations with unread messages (as the database has
    them now), each shown by an agent's open page, and wake their OAs' pages: how many
    were. A row another transaction holds (a worker storing its customer's message) is
    passed over, never waited on: the next round marks it, and a wait there could close
    a deadlock."""
    oa_of = {c.pk: c.oa_id for c in conversations}
    if not oa_of:
        return 0
    with transaction.atomic():
        free = list(
            Conversation.objects.filter(pk__in=list(oa_of), unread_count__gt=0)
            .select_for_update(skip_locked=True)
            .order_by("pk")
            .values_list("pk", flat=True)
        )
        if not free:
            return 0
        done = Conversation.objects.filter(pk__in=free).update(
            unread_count=0, updated_at=timezone.now()
        )
        for oa_id in {oa_of[pk] for pk in free}:
            notify_on_commit(oa_id)
    return done


def conversation_mark_read(*, conversation: Conversation) -> bool:
    done = Conversation.objects.filter(pk=conversation.pk, unread_count__gt=0).update(
        unread_count=0, updated_at=timezone.now()
    )
    if done:
        conversation.unread_count = 0
        notify_on_commit(conversation.oa_id)
    return bool(done)


def conversation_assign(
    *, conversation: Conversation, assignee: Any, actor: Any, only_if_unassigned: bool = False
) -> bool:
    """Give the conversation to ``assignee`` (None: nobody). With ``only_if_unassigned``
    the conditional update says who won when two agents take it at once."""
    qs = Conversation.objects.filter(pk=conversation.pk)
    if only_if_unassigned:
        qs = qs.filter(assigned_to__isnull=True)
    done = qs.update(assigned_to=assignee, updated_at=timezone.now())
    conversation.refresh_from_db(fields=["assigned_to", "updated_at"])
    if done:
        report_summary.conversations_reassigned([conversation.pk])
        notify_on_commit(conversation.oa_id)
    return bool(done)


def _check_can_send(conversation: Conversation, now: datetime) -> None:
    link = conversation.partner_link
    if link is not None and link.is_follower is False:
        raise SendRefused(
            _(
                "%(name)s no longer follows this OA: Zalo refuses consultation messages to "
                "people who do not follow it."
            )
            % {"name": display_name(conversation)}
        )
    # The thread's own decision: Zalo's quota where it answers, else computed here.
    # Imported here: reply_check builds on window, which builds on this module.
    from zalohub.inbox.reply_check import check_reply_window

    check_reply_window(conversation, now)


def _check_not_overtaken(conversation: Conversation, actor: Any, seen_message_id: int) -> None:
    newer = (
        Message.objects.filter(
            oa_id=conversation.oa_id,
            zalo_user_id=conversation.zalo_user_id,
            direction=Direction.OUTBOUND,
            pk__gt=seen_message_id,
        )
        .exclude(sent_by=actor)
        .select_related("sent_by")
        .order_by("-id")
        .first()
    )
    if newer is not None:
        who = newer.sent_by.get_username() if newer.sent_by else _("Someone")
        raise ConcurrentReply(
            _(
                "%(who)s answered this conversation meanwhile. Read their answer; press Send "
                "again to send yours anyway."
            )
            % {"who": who}
        )


def conversation_reply(
    *,
    conversation: Conversation,
    actor: Any,
    text: str = "",
    upload: UploadedFile | None = None,
    seen_message_id: int | None = None,
) -> Message:
    """Answer the customer through the pipeline's ``message_send``.

    ``seen_message_id`` is the newest message the agent's page showed: when another
    agent's answer is newer, ConcurrentReply asks the agent to read it first.
    """
    now = timezone.now()
    # Browsers post new lines as CRLF; Zalo counts characters, so keep plain LF.
    text = text.replace("\r\n", "\n").strip("\n")
    if upload is None and not text.strip():
        raise SendRefused(_("The message is empty."))
    rule = upload_rule(upload) if upload is not None else None
    _check_can_send(conversation, now)
    if seen_message_id is not None:
        _check_not_overtaken(conversation, actor, seen_message_id)
    attachment = (
        upload_to_zalo(oa=conversation.oa, upload=upload, rule=rule)
        if upload is not None and rule is not None
        else None
    )
    with transaction.atomic():
        message = message_send(
            oa=conversation.oa,
            user_id=conversation.zalo_user_id,
            text=text if rule is None or rule.kind == "image" else "",
            kind=rule.kind if rule else Message.Kind.TEXT,
            attachment=attachment,
            actor=actor,
        )
        if upload is not None and rule is not None and rule.kind == "image":
            # Zalo gives back only an id: keep the picture, so the thread can show it.
            upload.seek(0)
            SentImage.objects.create(
                message=message,
                name=(attachment or {}).get("name", ""),
                content_type=rule.content_type,
                content=upload.read(),
            )
        # Answering an unassigned conversation takes it.
        if Conversation.objects.filter(pk=conversation.pk, assigned_to__isnull=True).update(
            assigned_to=actor
        ):
            report_summary.conversations_reassigned([conversation.pk])
    if rule is not None and rule.kind == "file" and text.strip():
        # Zalo sends a file without a caption: the text follows as its own message.
        message_send(oa=conversation.oa, user_id=conversation.zalo_user_id, text=text, actor=actor)
    return message


def inbox_resend(*, message: Message) -> ZaloEvent:
    # Its move back On Queue reaches the live pages through the state hook (rollup).
    return message_resend(message=message)
