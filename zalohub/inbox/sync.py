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

from django.db import transaction
from django.db.models import F, Q
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


def conversation_for_message(message: Message) -> Conversation:
    conversation, _created = Conversation.objects.get_or_create(
        oa_id=message.oa_id,
        zalo_user_id=message.zalo_user_id,
        defaults={
            "partner_link_id": message.partner_link_id,
            "last_message_at": message.created_at,
        },
    )
    return conversation


def message_stored(message: Message) -> None:
    """Fold a new message into its conversation: last message, unread, window."""
    if not message.zalo_user_id:
        return
    conversation = conversation_for_message(message)
    when: datetime = message.created_at or timezone.now()
    now = timezone.now()
    changes: dict[str, Any] = {"updated_at": now}
    if message.direction == Direction.INBOUND:
        changes["unread_count"] = F("unread_count") + 1
    Conversation.objects.filter(pk=conversation.pk).update(**changes)
    # Each field only moves forward, so a late (older) message never hides a newer one.
    Conversation.objects.filter(
        Q(last_message_at__lte=when) | Q(last_message__isnull=True), pk=conversation.pk
    ).update(last_message=message, last_message_at=when)
    if message.direction == Direction.INBOUND:
        Conversation.objects.filter(
            Q(last_inbound_at__lt=when) | Q(last_inbound_at__isnull=True), pk=conversation.pk
        ).update(last_inbound_at=when)
    if message.partner_link_id and conversation.partner_link_id != message.partner_link_id:
        Conversation.objects.filter(pk=conversation.pk).update(
            partner_link_id=message.partner_link_id
        )
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
