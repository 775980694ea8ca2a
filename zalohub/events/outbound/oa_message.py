"""Outbound OA messages: queued as rows, sent once by the outbound pipeline.

``message_send`` stores the message (Zalo State On Queue) and an outbound event, and
enqueues the send task; ``messages_queue`` stores several at once (the API's sends,
batched by ``zalohub.api.accept``) with no task: the workers' sends loop finds them
(``outbound.queued``). This module is the OA message *sender*: how to call Zalo for it
and how to read a refusal; the claim, the settling, the retries and the sweeper are
``zalohub.events.outbound``'s. Zalo does not deduplicate OA messages, so a call whose
outcome is unknown is never made again on its own: Resend makes a new attempt.
"""

import json
import logging
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.db import connection, transaction
from django.tasks import task
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop
from django_tasks_db.utils import exclusive_transaction

from zalohub.accounts.models import OfficialAccount
from zalohub.core.rowinsert import insert_linked
from zalohub.core.setwise import update_rows
from zalohub.core.stored_text import Reason, reason_fields, zalo_reason
from zalohub.events import hooks
from zalohub.events.models import (
    Direction,
    ErrorCategory,
    Message,
    ProcessingState,
    ZaloEvent,
    ZaloState,
)
from zalohub.events.outbound import (
    PENDING,
    Attempt,
    Failure,
    Sender,
    Sent,
    queued,
    send_event,
    send_outbound,
)
from zalohub.partners.models import ZaloPartnerLink
from zalohub.zalo import ZaloError, bodies, errors, get_client

# Kept importable from here, where callers queue and send OA messages.
__all__ = [
    "OA_MESSAGES",
    "PENDING",
    "Queued",
    "SendRefused",
    "message_send",
    "messages_queue",
    "send_outbound",
]
logger = logging.getLogger(__name__)
MAX_TEXT = 2000  # Zalo's limit for a consultation text
SENDABLE = (Message.Kind.TEXT, Message.Kind.IMAGE, Message.Kind.FILE)


class SendRefused(ValueError):
    """The message cannot be queued as given; the text says why, for the person."""


def _zalo_message(message: Message) -> dict[str, Any]:
    attachment = message.attachments[0] if message.attachments else {}
    try:
        return bodies.oa_message(message.kind, text=message.text, attachment=attachment)
    except ValueError:
        raise SendRefused(_("Messages of kind %s cannot be sent.") % message.kind) from None


def _validate(kind: str, text: str, attachment: dict[str, Any] | None) -> None:
    if kind == Message.Kind.TEXT:
        if not text.strip():
            raise SendRefused(_("The message is empty."))
        if len(text) > MAX_TEXT:
            raise SendRefused(
                _("The message is %(n)d characters long; Zalo accepts at most %(max)d.")
                % {"n": len(text), "max": MAX_TEXT}
            )
    elif kind == Message.Kind.IMAGE:
        if not attachment or not (attachment.get("attachment_id") or attachment.get("url")):
            raise SendRefused(_("An image message needs an uploaded image."))
    elif kind == Message.Kind.FILE:
        if not attachment or not attachment.get("token"):
            raise SendRefused(_("A file message needs an uploaded file."))
    else:
        raise SendRefused(_("Messages of kind %s cannot be sent.") % kind)


def _queue_event(
    message: Message, *, dedupe_key: str = "", headers: dict[str, str] | None = None
) -> ZaloEvent:
    oa = message.oa
    event = ZaloEvent.objects.create(
        app_id=oa.app_id,
        oa=oa,
        direction=Direction.OUTBOUND,
        event_name=f"oa_send_{message.kind}",
        dedupe_key=dedupe_key or f"out:{message.pk}:{secrets.token_hex(8)}",
        headers=headers or {},
        raw_body=json.dumps(
            bodies.oa_message_request(user_id=message.zalo_user_id, message=_zalo_message(message)),
            ensure_ascii=False,
        ),
        zalo_user_id=message.zalo_user_id,
        processing_state=ProcessingState.QUEUED,
        conversation_key=f"{oa.oa_id}:{message.zalo_user_id}",
        message=message,
    )
    transaction.on_commit(lambda: send_event.enqueue(event.pk))
    return event


def message_send(
    *,
    oa: OfficialAccount,
    user_id: str,
    text: str = "",
    kind: str = "text",
    attachment: dict[str, Any] | None = None,
    actor: Any = None,
    quote_msg_id: str = "",
    business: bool = False,
    confirm_unverified: bool = False,
    dedupe_key: str = "",
    headers: dict[str, str] | None = None,
) -> Message:
    """Queue a consultation message to a Zalo user of the OA (sent by a worker).

    ``business``: quotes, reminders and other business content (other systems' sends)
    rather than a reply in a conversation. Those go to an unverified shadow contact only
    with ``confirm_unverified``: nobody has confirmed who that customer is yet.
    ``dedupe_key`` and ``headers``: its event's (an API send's Idempotency-Key,
    ``zalohub.api.accept``); a dedupe key taken raises IntegrityError.
    """
    send_checks(user_id=user_id, text=text, kind=kind, attachment=attachment)
    link = ZaloPartnerLink.objects.filter(oa=oa, zalo_user_id=user_id).first()
    if link is not None and shadow_refused(
        is_shadow=link.is_shadow, business=business, confirm_unverified=confirm_unverified
    ):
        raise SendRefused(
            _(
                "%(name)s is an unverified shadow contact: verify who it is on Zalo Partners, "
                "or confirm that this business message may go to them anyway."
            )
            % {"name": link.display_name or user_id}
        )
    with transaction.atomic():
        message = Message.objects.create(
            oa=oa,
            partner_link=link,
            direction=Direction.OUTBOUND,
            zalo_user_id=user_id,
            kind=kind,
            text=text,
            attachments=[attachment] if attachment else [],
            quote_msg_id=quote_msg_id,
            zalo_state=ZaloState.ON_QUEUE,
            sent_by=actor if getattr(actor, "pk", None) else None,
        )
        _queue_event(message, dedupe_key=dedupe_key, headers=headers)
    return message


def send_checks(
    *,
    user_id: str,
    text: str = "",
    kind: str = "text",
    attachment: dict[str, Any] | None = None,
) -> None:
    """What message_send refuses before it reads anything (SendRefused)."""
    _validate(kind, text, attachment)
    if not user_id:
        raise SendRefused(_("The recipient has no Zalo user id on this OA."))


def shadow_refused(*, is_shadow: bool, business: bool, confirm_unverified: bool) -> bool:
    """Whether message_send refuses a send to this link (an unverified shadow contact)."""
    return business and is_shadow and not confirm_unverified


@dataclass(frozen=True)
class Queued:
    """One message for ``messages_queue``, checked as message_send checks one
    (``send_checks``; its link read, and not ``shadow_refused``)."""

    oa_id: int  # the OA's primary key
    app_id: int
    oa_zalo_id: str  # the OA's id at Zalo (the conversation key)
    user_id: str
    link_id: int | None
    kind: str
    text: str
    attachment: dict[str, Any] | None
    request_id: str  # the request that queued it (zalohub.core.requestid)


def messages_queue(items: Sequence[Queued]) -> list[tuple[int, int]]:
    """Queue several messages as message_send queues one, in the caller's transaction
    and with one statement per table: each one's (message id, event id), in order.

    The rows are INSERTed as one JSON parameter a table, the messages and their events
    in one statement on PostgreSQL (``core.rowinsert.insert_linked``); then the messages
    reach hooks.on_message_stored as one batch (no post_save is sent). No task
    is enqueued: the committed events are what the workers' sends loop looks for
    (``outbound.queued``), so the batch writes no task row."""
    if not items:
        return []
    now = timezone.now()
    messages = [
        Message(
            oa_id=item.oa_id,
            partner_link_id=item.link_id,
            direction=Direction.OUTBOUND,
            zalo_user_id=item.user_id,
            kind=item.kind,
            text=item.text,
            attachments=[item.attachment] if item.attachment else [],
            zalo_state=ZaloState.ON_QUEUE,
            created_at=now,
        )
        for item in items
    ]
    columns: tuple[str, ...] = ("oa_id", "direction", "zalo_user_id", "partner_link_id")
    columns += ("kind", "text", "attachments", "zalo_state", "created_at")
    event_columns: tuple[str, ...] = ("app_id", "oa_id", "direction", "event_name")
    event_columns += ("dedupe_key", "raw_body")
    event_columns += ("headers", "zalo_user_id", "processing_state", "conversation_key")
    event_columns += ("request_id", "received_at", "next_attempt_at")
    pairs = insert_linked(
        Message,
        columns,
        [[getattr(m, c) for c in columns] for m in messages],
        ZaloEvent,
        event_columns,
        [
            [
                item.app_id,
                item.oa_id,
                Direction.OUTBOUND,
                f"oa_send_{item.kind}",
                f"out:{{id}}:{secrets.token_hex(8)}",  # {id}: the message's
                json.dumps(
                    bodies.oa_message_request(user_id=item.user_id, message=_zalo_message(message)),
                    ensure_ascii=False,
                ),
                {},
                item.user_id,
                ProcessingState.QUEUED,
                f"{item.oa_zalo_id}:{item.user_id}",
                item.request_id,
                now,
                now,
            ]
            for item, message in zip(items, messages, strict=True)
        ],
        link="message_id",
        fill=("dedupe_key",),
    )
    for message, (pk, _event_pk) in zip(messages, pairs, strict=True):
        message.pk = pk
        message._state.adding = False
    hooks.messages_stored(messages)
    # No task row: the sends loop of the workers finds the committed rows (``queued``).
    transaction.on_commit(queued.wake)
    return pairs


ACCEPTED_NAMES = tuple(f"oa_send_{kind}" for kind in SENDABLE)


def accepted_queue(*, limit: int = 200) -> int:
    """Queue the API sends accepted as their event alone (``zalohub.api.accept``:
    outbound, Received, no message yet), oldest first: each gets its message as
    ``messages_queue`` stores one (its link, its conversation and the live inbox by the
    stored-messages hook; created when the send was accepted) and becomes Queued, due
    now, for the sends loop. One transaction; the rows locked on PostgreSQL (SKIP LOCKED:
    workers take different ones), in an exclusive transaction on SQLite; a row that is no
    longer Received by then (an admin's Mark Error) is left as it is, and one whose body
    is no longer a send (a data removal replaced it) becomes an Error, never sent. How
    many were taken."""
    postgres = connection.vendor == "postgresql"
    rows = ZaloEvent.objects.filter(
        direction=Direction.OUTBOUND,
        processing_state=ProcessingState.RECEIVED,
        message__isnull=True,
        event_name__in=ACCEPTED_NAMES,
    ).order_by("id")
    if postgres:
        rows = rows.select_for_update(skip_locked=True)
    fields = ("oa_id", "event_name", "raw_body", "zalo_user_id", "received_at")
    with transaction.atomic() if postgres else exclusive_transaction():
        events = list(rows.only(*fields)[:limit])
        if not events:
            return 0
        linked = ZaloPartnerLink.objects.filter(
            oa_id__in={e.oa_id for e in events}, zalo_user_id__in={e.zalo_user_id for e in events}
        )
        links = {
            (oa_id, user_id): pk
            for oa_id, user_id, pk in linked.values_list("oa_id", "zalo_user_id", "pk")
        }
        messages = []
        readable = []
        for event in events:
            assert event.oa_id is not None  # accepted for an OA of the key's
            kind = event.event_name.removeprefix("oa_send_")
            parts = _stored_send(event, kind)
            if isinstance(parts, Reason):
                # Never sent, and never in the way of the others: an Error for the admin.
                ZaloEvent.objects.filter(pk=event.pk).update(
                    processing_state=ProcessingState.ERROR,
                    error_category=ErrorCategory.SEND,
                    error_at=timezone.now(),
                    **reason_fields("error_message", parts),
                )
                continue
            text, attachment = parts
            readable.append(event)
            messages.append(
                Message(
                    oa_id=event.oa_id,
                    partner_link_id=links.get((event.oa_id, event.zalo_user_id)),
                    direction=Direction.OUTBOUND,
                    zalo_user_id=event.zalo_user_id,
                    kind=kind,
                    text=text,
                    attachments=[attachment] if attachment else [],
                    zalo_state=ZaloState.ON_QUEUE,
                    created_at=event.received_at,
                )
            )
        if not messages:
            return len(events)
        Message.objects.bulk_create(messages)
        hooks.messages_stored(messages)
        now = timezone.now()
        update_rows(
            ZaloEvent,
            {
                event.pk: {
                    "message_id": message.pk,
                    "processing_state": ProcessingState.QUEUED,
                    "next_attempt_at": now,
                }
                for event, message in zip(readable, messages, strict=True)
            },
        )
    return len(events)


def _stored_send(event: ZaloEvent, kind: str) -> tuple[str, dict[str, Any] | None] | Reason:
    """The text and attachment of an accepted send, read from its stored body (what Zalo
    will get), or why it cannot be: a body no longer a send (a data removal replaced it)
    is never sent."""
    try:
        payload = json.loads(event.raw_body)
    except ValueError as exc:
        return Reason(gettext_noop("The stored payload is not JSON: %s"), (str(exc),))
    message = payload.get("message") if isinstance(payload, dict) else None
    if not isinstance(message, dict):
        return Reason(gettext_noop("This outbound event has no message to send again."))
    return bodies.oa_message_parts(kind, message)


@task(queue_name="zalo")
def send_events(event_ids: list[int]) -> int:
    """Send each of these queued events (a batch of ``messages_queue``'s, from before
    its sends went without a task row: kept for such rows still queued), in order, each as
    its own task would (``send_outbound``: its own claim, attempt row, settle and retry
    task), with no task row of its own. An event whose attempt raised is logged and left
    as it stands for the sweeper (its lease runs out: ``recover_stuck_sends``; never
    claimed: ``requeue_lost_sends``), and the others are still sent. Should this task be
    lost, requeue_lost_sends gives each event a task. The events tried."""
    for pk in event_ids:
        try:
            send_outbound(event_id=pk, worker_id="task")
        except Exception:
            logger.exception("Sending outbound event %s failed; the sweeper takes it up", pk)
            if not connection.in_atomic_block:
                connection.close_if_unusable_or_obsolete()  # a broken connection: a new one
    return len(event_ids)


def _call(attempt: Attempt, access_token: str) -> Sent:
    message = attempt.event.message
    assert message is not None  # the pipeline settles a message-less event before calling
    sent = get_client().oa.send_message(
        access_token=access_token,
        recipient={"user_id": message.zalo_user_id},
        message=_zalo_message(message),
    )
    return Sent(msg_id=sent.message_id, sent_ms=sent.sent_time_ms)


def _classify(attempt: Attempt, exc: ZaloError) -> Failure:
    return Failure(category=errors.category(exc.code, kind=exc.kind), text=zalo_reason(exc))


OA_MESSAGES = Sender(
    kind="oa_message",
    event_names=frozenset(f"oa_send_{kind}" for kind in SENDABLE),
    message_kinds=frozenset(SENDABLE),
    call=_call,
    classify=_classify,
    retry_unknown=False,
    resend=_queue_event,
)
