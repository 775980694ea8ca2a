"""Keeps each Conversation row in step with the messages stored for it.

Inbound storage (the event handlers) and ``message_send`` both create messages with
``Message.objects.create``, so a post_save receiver sees every new message, inside the
transaction that stores it. Receipts move a message's Zalo State with a queryset
update (no signal): the receipt handlers are wrapped so live pages are woken, and the
pages read the states from the message rows themselves.
"""

import logging
from datetime import datetime
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Case, DateTimeField, F, Q, Value, When
from django.db.models.signals import post_save
from django.utils import timezone

from zalohub.events import handlers
from zalohub.events.models import Direction, Message, ZaloEvent
from zalohub.inbox import live
from zalohub.inbox.models import Conversation

logger = logging.getLogger(__name__)
# Events that change a stored message without saving it (receipts, our echoes).
WAKING_EVENTS = (
    "user_received_message",
    "user_seen_message",
    *(f"oa_send_{kind}" for kind in ("text", "image", "gif", "file", "sticker", "list", "link")),
)


def notify_on_commit(oa_id: int) -> None:
    transaction.on_commit(lambda: live.notify(oa_id))


def message_stored(message: Message) -> None:
    """Fold a new message into its conversation: last message, unread, window.

    One UPDATE for a known conversation (the common case); a new one is created."""
    if not message.zalo_user_id:
        return
    when: datetime = message.created_at or timezone.now()
    inbound = message.direction == Direction.INBOUND
    is_newest = Q(last_message_at__lte=when) | Q(last_message__isnull=True)
    changes: dict[str, Any] = {
        "updated_at": timezone.now(),
        "last_message": Case(
            When(is_newest, then=Value(message.pk)),
            default=F("last_message"),
            output_field=Conversation._meta.get_field("last_message"),
        ),
        "last_message_at": Case(
            When(is_newest, then=Value(when)),
            default=F("last_message_at"),
            output_field=DateTimeField(),
        ),
    }
    if inbound:
        changes["unread_count"] = F("unread_count") + 1
        changes["last_inbound_at"] = Case(
            When(Q(last_inbound_at__lt=when) | Q(last_inbound_at__isnull=True), then=Value(when)),
            default=F("last_inbound_at"),
            output_field=DateTimeField(),
        )
    if message.partner_link_id:
        changes["partner_link_id"] = message.partner_link_id
    updated = Conversation.objects.filter(
        oa_id=message.oa_id, zalo_user_id=message.zalo_user_id
    ).update(**changes)
    if not updated:
        try:
            with transaction.atomic():
                Conversation.objects.create(
                    oa_id=message.oa_id,
                    zalo_user_id=message.zalo_user_id,
                    partner_link_id=message.partner_link_id,
                    last_message=message,
                    last_message_at=when,
                    last_inbound_at=when if inbound else None,
                    unread_count=1 if inbound else 0,
                )
        except IntegrityError:
            # Another worker created it a moment ago: fold into theirs.
            Conversation.objects.filter(
                oa_id=message.oa_id, zalo_user_id=message.zalo_user_id
            ).update(**changes)
    notify_on_commit(message.oa_id)


def _on_message_saved(sender: type, instance: Message, created: bool, **kwargs: Any) -> None:
    if created and not kwargs.get("raw"):
        message_stored(instance)


def _waking(handler: handlers.Handler) -> handlers.Handler:
    def wrapped(event: ZaloEvent, payload: dict[str, Any]) -> handlers.Result:
        result = handler(event, payload)
        if event.oa_id:
            notify_on_commit(event.oa_id)
        return result

    wrapped.__wrapped__ = handler  # type: ignore[attr-defined]
    wrapped.__name__ = getattr(handler, "__name__", "handler")
    return wrapped


def connect() -> None:
    post_save.connect(_on_message_saved, sender=Message, dispatch_uid="inbox.message_stored")
    for name in WAKING_EVENTS:
        handler = handlers.HANDLERS.get(name)
        if handler is not None and not hasattr(handler, "__wrapped__"):
            handlers.HANDLERS[name] = _waking(handler)
