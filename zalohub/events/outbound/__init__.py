"""One outbound pipeline: every send to Zalo is an attempt in the same claim / call /
settle / backoff / sweep machine; kinds differ only by the sender they register
(``register_sender`` in their AppConfig.ready)."""

from django.utils.translation import gettext as _

from zalohub.events.models import PENDING, Message, ZaloEvent
from zalohub.events.outbound.attempt import NO_ANSWER, send_outbound
from zalohub.events.outbound.registry import (
    Attempt,
    Failure,
    Sender,
    Sent,
    register_sender,
    sender_for_event,
    sender_for_message,
    unregister_sender,
)
from zalohub.events.outbound.settle import backoff
from zalohub.events.outbound.sweep import INTERRUPTED, recover_stuck_sends, requeue_lost_sends
from zalohub.events.outbound.tasks import send_event


class NoSender(LookupError):
    """No registered kind of send takes this message."""


def resend(message: Message) -> ZaloEvent:
    """A new attempt for a failed outbound message, by the sender of its kind."""
    sender = sender_for_message(message)
    if sender is None:
        raise NoSender(_("Messages of kind %s cannot be sent.") % message.kind)
    return sender.resend(message)


__all__ = [
    "INTERRUPTED",
    "NO_ANSWER",
    "PENDING",
    "Attempt",
    "Failure",
    "NoSender",
    "Sender",
    "Sent",
    "backoff",
    "recover_stuck_sends",
    "register_sender",
    "requeue_lost_sends",
    "resend",
    "send_event",
    "send_outbound",
    "sender_for_event",
    "sender_for_message",
    "unregister_sender",
]
