"""What each Zalo event does, by name (STYLE.md §3).

HANDLERS maps an event name to a function; IGNORED lists the events zalohub receives
but deliberately does nothing with, each with its reason. An unknown event is stored
and marked unknown, never dropped; one known to the catalogue but handled by nobody is
recorded. Other apps add handlers at start-up through the declared hooks: ``register``
for an event name, ``register_receipt_kind`` for a kind of receipt (zbs: ZNS), and
``hooks`` to hear of stored messages and state changes (the inbox).

Handlers run inside the worker's transaction: they write rows and never call Zalo
(anything that needs Zalo is enqueued as a task).
"""

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_noop

from zalohub.core.stored_text import Reason, reason, text
from zalohub.events import catalogue
from zalohub.events.models import (
    Direction,
    ErrorCategory,
    Message,
    Outcome,
    ZaloEvent,
    ZaloState,
)
from zalohub.events.processing import batch
from zalohub.events.processing.batch import event_time
from zalohub.partners.models import ZaloPartnerLink
from zalohub.partners.resolution import ZaloUser
from zalohub.zalo.webhook import WebhookEvent

logger = logging.getLogger(__name__)


class HandlerError(Exception):
    """A failure with the category and text an admin sees; retry says it may pass."""

    def __init__(
        self, message: str | Reason, *, category: str = ErrorCategory.WEBHOOK, retry: bool = False
    ) -> None:
        # A Reason is stored as its msgid and parameters (read in each reader's language).
        self.reason = message if isinstance(message, Reason) else text(message)
        super().__init__(str(self.reason))
        self.message = str(self.reason)
        self.category = category
        self.retry = retry


@dataclass(frozen=True)
class Result:
    outcome: str = Outcome.HANDLED
    message: Message | None = None


# A handler reads the typed event (zalo.webhook), never the payload's keys.
Handler = Callable[[ZaloEvent, WebhookEvent], Result]
HANDLERS: dict[str, Handler] = {}
# Received on purpose and left alone.
IGNORED: dict[str, str] = {
    "user_reacted_message": "reactions are not shown in the inbox yet",
    "oa_reacted_message": "reactions are not shown in the inbox yet",
    "user_click_chatnow": "opens the proactive window; nothing to store",
    "change_oa_template_tags": "template tags are read when templates sync",
}
# Receipt kinds (catalogue.RECEIPT_KINDS) that an app handles, by kind.
RECEIPT_HANDLERS: dict[str, Handler] = {}


def register(event_name: str) -> Callable[[Handler], Handler]:
    def decorator(func: Handler) -> Handler:
        HANDLERS[event_name] = func
        return func

    return decorator


def ignore_event(event_name: str, reason: str) -> None:
    """Receive ``event_name`` on purpose and leave it alone, saying why (another app's
    own event, such as diagnostics' probe)."""
    IGNORED.setdefault(event_name, reason)


def register_receipt_kind(kind: str) -> Callable[[Handler], Handler]:
    """Handle the receipts of ``kind`` (a key of catalogue.RECEIPT_KINDS)."""
    if kind not in catalogue.RECEIPT_KINDS:
        raise ValueError(f"unknown receipt kind {kind!r}; known: {sorted(catalogue.RECEIPT_KINDS)}")

    def decorator(func: Handler) -> Handler:
        RECEIPT_HANDLERS[kind] = func
        return func

    return decorator


def recorded() -> frozenset[str]:
    """Known events kept with their payload because nothing handles them yet."""
    return catalogue.EVENT_NAMES - HANDLERS.keys() - IGNORED.keys()


def dispatch(event: ZaloEvent) -> Result:
    """Run the event's handler, inside its worker's batch or as a batch of its own."""
    if batch.current() is None:
        with transaction.atomic(), batch.handling([event]):
            return dispatch(event)
    try:
        wire = batch.active().wire(event)
    except batch.BadPayload as exc:
        if exc.json_error:
            raise HandlerError(
                reason(gettext_noop("The stored payload is not JSON: %s"), exc.json_error)
            ) from None
        raise HandlerError(
            reason(gettext_noop("The stored payload is not a JSON object."))
        ) from None
    handler = HANDLERS.get(event.event_name)
    if handler is not None:
        return handler(event, wire)
    if event.event_name in IGNORED:
        return Result(outcome=Outcome.IGNORED)
    if event.event_name in catalogue.EVENT_NAMES:
        return Result(outcome=Outcome.RECORDED)
    logger.info("Unknown Zalo event %r stored as event %s", event.event_name, event.pk)
    return Result(outcome=Outcome.UNKNOWN)


# Message kinds by the suffix of user_send_* / oa_send_*.
KINDS = {
    "text": Message.Kind.TEXT,
    "image": Message.Kind.IMAGE,
    "gif": Message.Kind.GIF,
    "file": Message.Kind.FILE,
    "sticker": Message.Kind.STICKER,
    "link": Message.Kind.LINK,
    "location": Message.Kind.LOCATION,
    "audio": Message.Kind.AUDIO,
    "video": Message.Kind.VIDEO,
    "business_card": Message.Kind.BUSINESS_CARD,
    "template": Message.Kind.TEMPLATE,
    "list": Message.Kind.OTHER,
}


def require_oa(event: ZaloEvent) -> None:
    """Refuse an event of an OA the hub does not hold (a token error: authorize it). It
    waits: authorizing the OA hands it back to the workers (attribution.requeue_for_oa)."""
    if event.oa_id is None:
        raise HandlerError(
            reason(
                gettext_noop(
                    "The event names an OA that is not connected to this hub: it is "
                    "processed once the OA is authorized."
                )
            ),
            category=ErrorCategory.TOKEN,
        )


def event_link(event: ZaloEvent, wire: WebhookEvent) -> ZaloPartnerLink | None:
    """The partner link of the event's Zalo user, created as a shadow if unknown."""
    if event.oa is None or not event.zalo_user_id:
        return None
    user = ZaloUser(zalo_user_id=event.zalo_user_id, user_id_by_app=wire.user_id_by_app)
    return batch.active().link(event.oa, user, event_time(event))


def _store_message(event: ZaloEvent, wire: WebhookEvent, *, direction: str) -> Message:
    require_oa(event)
    kind = KINDS.get(event.event_name.split("_send_", 1)[-1], Message.Kind.OTHER)
    if existing := batch.active().message(event.oa_id, wire.msg_id):
        return existing
    message = Message(
        oa=event.oa,
        partner_link=event_link(event, wire),
        direction=direction,
        zalo_user_id=event.zalo_user_id,
        kind=kind,
        text=wire.text,
        attachments=list(wire.attachments),
        zalo_msg_id=wire.msg_id,
        quote_msg_id=wire.quote_msg_id,
        # An OA message we only learn of from Zalo's echo: Zalo has it, nothing more known.
        zalo_state=ZaloState.SENT if direction == Direction.OUTBOUND else "",
        sent_at=event_time(event),
        created_at=event_time(event),
    )
    return batch.active().add_message(message)


def handle_user_message(event: ZaloEvent, wire: WebhookEvent) -> Result:
    return Result(message=_store_message(event, wire, direction=Direction.INBOUND))


def handle_oa_echo(event: ZaloEvent, wire: WebhookEvent) -> Result:
    """Zalo echoes every OA message: ours (it confirms Sent) or one sent from Zalo's own
    chat tool or another system (store it, so the conversation is whole)."""
    require_oa(event)
    if ours := batch.active().message(event.oa_id, wire.msg_id) or _unsettled_send(event, wire):
        advance_state(ours, ZaloState.SENT, event_time(event))
        return Result(message=ours)
    return Result(message=_store_message(event, wire, direction=Direction.OUTBOUND))


def _unsettled_send(event: ZaloEvent, wire: WebhookEvent) -> Message | None:
    """Our own send, echoed before the worker that sent it kept Zalo's answer (the echo
    may overtake it): the one message On Queue to this user, with the echo's text. An
    echo from Zalo's chat tool names the admin who wrote it: never ours."""
    if not wire.msg_id or wire.admin_id:
        return None
    waiting = Message.objects.filter(
        oa_id=event.oa_id,
        direction=Direction.OUTBOUND,
        zalo_user_id=event.zalo_user_id,
        zalo_msg_id="",
        zalo_state=ZaloState.ON_QUEUE,
    )
    if wire.text:
        waiting = waiting.filter(text=wire.text)
    found = list(waiting.order_by("created_at", "id")[:2])
    if len(found) > 1:  # which one it is shows when their answers are kept
        raise HandlerError(
            reason(gettext_noop("Zalo's echo matches several messages still being sent.")),
            retry=True,
        )
    return batch.active().take_msg_id(found[0], wire.msg_id) if found else None


def advance_state(message: Message, state: str, when: datetime) -> bool:
    """Move a message's Zalo State forward (never back); written when the batch ends,
    and heard by the subscribers of hooks.on_message_state_changed."""
    current = batch.current()
    if current is not None:
        return current.advance(message, state, when)
    with transaction.atomic(), batch.handling([]) as alone:
        return alone.advance(message, state, when)


def receipt_time(event: ZaloEvent, wire: WebhookEvent) -> datetime:
    """When the receipt says the phone got (or showed) the message, never after the
    event reached us (the wire caps it); the event's time when it says nothing usable."""
    return wire.receipt_time or event_time(event)


def handle_received(event: ZaloEvent, wire: WebhookEvent) -> Result:
    for kind, matches in catalogue.RECEIPT_KINDS.items():
        if matches(wire):
            # Another kind's receipt (ZNS: the zbs app's); nobody registered: keep it.
            handler = RECEIPT_HANDLERS.get(kind)
            return handler(event, wire) if handler else Result(outcome=Outcome.RECORDED)
    require_oa(event)
    message = batch.active().message(event.oa_id, wire.msg_id)
    if message is None:
        return Result(outcome=Outcome.IGNORED)  # a message sent outside zalohub
    # The customer's phone has it: Delivered (Received is a ZNS template's receipt).
    advance_state(message, ZaloState.DELIVERED, receipt_time(event, wire))
    return Result(message=message)


def handle_seen(event: ZaloEvent, wire: WebhookEvent) -> Result:
    require_oa(event)
    when = receipt_time(event, wire)
    found = [batch.active().message(event.oa_id, msg_id) for msg_id in wire.msg_ids]
    seen = sorted({id(m): m for m in found if m}.values(), key=_in_thread_order)
    for message in seen:
        advance_state(message, ZaloState.READ, when)
    return Result(message=seen[-1]) if seen else Result(outcome=Outcome.IGNORED)


def _in_thread_order(message: Message) -> tuple[datetime, int]:
    return (message.created_at or timezone.now(), message.pk or 0)


for _kind in catalogue.USER_MESSAGE_KINDS:
    HANDLERS[f"user_send_{_kind}"] = handle_user_message
for _kind in catalogue.OA_MESSAGE_KINDS:
    HANDLERS[f"oa_send_{_kind}"] = handle_oa_echo
HANDLERS["user_received_message"] = handle_received
HANDLERS["user_seen_message"] = handle_seen
