"""What each Zalo event does, by name (STYLE.md §3).

HANDLERS maps an event name to a function; IGNORED lists the events zalohub receives
but deliberately does nothing with, each with its reason. An unknown event is stored
and marked unknown, never dropped. Other apps add or replace handlers at start-up with
``register`` (inbox, zbs and partners complete the ones recorded here).

Handlers run inside the worker's transaction: they write rows and never call Zalo
(anything that needs Zalo is enqueued as a task).
"""

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from zalohub.events import batch
from zalohub.events.models import (
    Direction,
    ErrorCategory,
    Message,
    Outcome,
    ZaloEvent,
    ZaloState,
)
from zalohub.partners.models import ZaloPartnerLink
from zalohub.partners.resolution import ZaloUser

logger = logging.getLogger(__name__)


class HandlerError(Exception):
    """A failure with the category and text an admin sees; retry says it may pass."""

    def __init__(
        self, message: str, *, category: str = ErrorCategory.WEBHOOK, retry: bool = False
    ) -> None:
        super().__init__(message)
        self.message = message
        self.category = category
        self.retry = retry


@dataclass(frozen=True)
class Result:
    outcome: str = Outcome.HANDLED
    message: Message | None = None


Handler = Callable[[ZaloEvent, dict[str, Any]], Result]
HANDLERS: dict[str, Handler] = {}
# Received on purpose and left alone.
IGNORED: dict[str, str] = {
    "user_reacted_message": "reactions are not shown in the inbox yet",
    "oa_reacted_message": "reactions are not shown in the inbox yet",
    "user_click_chatnow": "opens the proactive window; nothing to store",
    "add_user_to_tag": "tags are managed in Zalo's OA manager",
    "remove_user_from_tag": "tags are managed in Zalo's OA manager",
    "remove_tag": "tags are managed in Zalo's OA manager",
    "change_oa_template_tags": "template tags are read when templates sync",
}
# Later issues complete these; until then the event is kept with its payload.
RECORDED = {
    "update_user_info",
    "change_template_status",
    "change_template_quota",
    "change_template_quality",
    "change_oa_daily_quota",
    "user_feedback",
    "user_click_response_button",
    "user_withdraw",
}


def register(event_name: str) -> Callable[[Handler], Handler]:
    def decorator(func: Handler) -> Handler:
        HANDLERS[event_name] = func
        return func

    return decorator


def dispatch(event: ZaloEvent) -> Result:
    """Run the event's handler, inside its worker's batch or as a batch of its own."""
    if batch.current() is None:
        with transaction.atomic(), batch.handling([event]):
            return dispatch(event)
    try:
        payload = batch.active().payload(event)
    except batch.BadPayload as exc:
        if exc.json_error:
            raise HandlerError(_("The stored payload is not JSON: %s") % exc.json_error) from None
        raise HandlerError(_("The stored payload is not a JSON object.")) from None
    handler = HANDLERS.get(event.event_name)
    if handler is not None:
        return handler(event, payload)
    if event.event_name in IGNORED:
        return Result(outcome=Outcome.IGNORED)
    if event.event_name in RECORDED:
        return Result(outcome=Outcome.RECORDED)
    logger.info("Unknown Zalo event %r stored as event %s", event.event_name, event.pk)
    return Result(outcome=Outcome.UNKNOWN)


_message_part = batch.message_part
_time = batch.event_time


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


def _require_oa(event: ZaloEvent) -> None:
    if event.oa_id is None:
        raise HandlerError(
            _("The event names an OA that is not connected to this hub (authorize it first)."),
            category=ErrorCategory.TOKEN,
        )


def event_link(event: ZaloEvent, payload: dict[str, Any]) -> ZaloPartnerLink | None:
    """The partner link of the event's Zalo user, created as a shadow if unknown."""
    if event.oa is None or not event.zalo_user_id:
        return None
    user = ZaloUser(
        zalo_user_id=event.zalo_user_id,
        user_id_by_app=str(payload.get("user_id_by_app") or ""),
    )
    return batch.active().link(event.oa, user, _time(event))


def _store_message(event: ZaloEvent, payload: dict[str, Any], *, direction: str) -> Message:
    _require_oa(event)
    part = _message_part(payload)
    msg_id = str(part.get("msg_id") or "")
    kind = KINDS.get(event.event_name.split("_send_", 1)[-1], Message.Kind.OTHER)
    if existing := batch.active().message(event.oa_id, msg_id):
        return existing
    attachments = part.get("attachments")
    message = Message(
        oa_id=event.oa_id,
        partner_link=event_link(event, payload),
        direction=direction,
        zalo_user_id=event.zalo_user_id,
        kind=kind,
        text=str(part.get("text") or ""),
        attachments=attachments if isinstance(attachments, list) else [],
        zalo_msg_id=msg_id,
        quote_msg_id=str(part.get("quote_msg_id") or ""),
        # An OA message we only learn of from Zalo's echo: Zalo has it, nothing more known.
        zalo_state=ZaloState.SENT if direction == Direction.OUTBOUND else "",
        sent_at=_time(event),
        created_at=_time(event),
    )
    return batch.active().add_message(message)


def handle_user_message(event: ZaloEvent, payload: dict[str, Any]) -> Result:
    return Result(message=_store_message(event, payload, direction=Direction.INBOUND))


def handle_oa_echo(event: ZaloEvent, payload: dict[str, Any]) -> Result:
    """Zalo echoes every OA message: ours (it confirms Sent) or one sent from Zalo's own
    chat tool (store it, so the conversation is whole)."""
    _require_oa(event)
    msg_id = str(_message_part(payload).get("msg_id") or "")
    if ours := batch.active().message(event.oa_id, msg_id):
        _advance(ours, ZaloState.SENT, _time(event))
        return Result(message=ours)
    return Result(message=_store_message(event, payload, direction=Direction.OUTBOUND))


def _advance(message: Message, state: str, when: datetime) -> bool:
    """Move a message's Zalo State forward; written when the batch ends."""
    current = batch.current()
    if current is not None:
        return current.advance(message, state, when)
    with transaction.atomic(), batch.handling([]) as alone:
        return alone.advance(message, state, when)


def _receipt_time(payload: dict[str, Any], event: ZaloEvent) -> datetime:
    part = _message_part(payload)
    raw = part.get("delivery_time") or part.get("seen_time")
    try:
        when = datetime.fromtimestamp(int(str(raw)) / 1000, tz=UTC)
    except (TypeError, ValueError, OverflowError, OSError):
        return _time(event)
    return min(when, event.received_at or timezone.now())  # as event_time: not after it came


def is_zns_receipt(payload: dict[str, Any]) -> bool:
    """A ZNS delivery shares the event name; it names a tracking id and a phone."""
    part = _message_part(payload)
    return bool(part.get("tracking_id") or payload.get("tracking_id"))


def handle_received(event: ZaloEvent, payload: dict[str, Any]) -> Result:
    if is_zns_receipt(payload):
        # Template receipts are the zbs app's; until it registers, keep the event.
        handler = HANDLERS.get("zns_receipt")
        return handler(event, payload) if handler else Result(outcome=Outcome.RECORDED)
    _require_oa(event)
    msg_id = str(_message_part(payload).get("msg_id") or "")
    message = batch.active().message(event.oa_id, msg_id)
    if message is None:
        return Result(outcome=Outcome.IGNORED)  # a message sent outside zalohub
    # The customer's phone has it: Delivered (Received is a ZNS template's receipt).
    _advance(message, ZaloState.DELIVERED, _receipt_time(payload, event))
    return Result(message=message)


def handle_seen(event: ZaloEvent, payload: dict[str, Any]) -> Result:
    _require_oa(event)
    when = _receipt_time(payload, event)
    ids = batch.msg_ids(event.event_name, payload)
    found = [batch.active().message(event.oa_id, msg_id) for msg_id in ids]
    seen = sorted({id(m): m for m in found if m}.values(), key=_in_thread_order)
    for message in seen:
        _advance(message, ZaloState.READ, when)
    return Result(message=seen[-1]) if seen else Result(outcome=Outcome.IGNORED)


def _in_thread_order(message: Message) -> tuple[datetime, int]:
    return (message.created_at or timezone.now(), message.pk or 0)


for _kind in (
    "text",
    "image",
    "gif",
    "file",
    "sticker",
    "link",
    "location",
    "audio",
    "video",
    "business_card",
):
    HANDLERS[f"user_send_{_kind}"] = handle_user_message
for _kind in ("text", "image", "gif", "file", "sticker", "list", "link", "template"):
    HANDLERS[f"oa_send_{_kind}"] = handle_oa_echo
HANDLERS["user_received_message"] = handle_received
HANDLERS["user_seen_message"] = handle_seen
