"""The webhook events the hub knows, as zalo.catalogue lists them, and the kinds of
``user_received_message`` it tells apart.

The names live in ``zalohub.zalo.catalogue`` (the wire's one list); everything here is
derived from it: the handler table is filled from the message kinds, and an event that
is known but neither handled nor ignored is *recorded*, computed at dispatch.
"""

from collections.abc import Callable

from zalohub.zalo.catalogue import (
    EVENT_NAMES,
    OA_MESSAGE_KINDS,
    OA_MESSAGES,
    RECEIPTS,
    USER_MESSAGE_KINDS,
    USER_MESSAGES,
)
from zalohub.zalo.webhook import WebhookEvent

__all__ = [
    "EVENT_NAMES",
    "OA_MESSAGES",
    "OA_MESSAGE_KINDS",
    "RECEIPTS",
    "RECEIPT_KINDS",
    "USER_MESSAGES",
    "USER_MESSAGE_KINDS",
    "is_zns_receipt",
]


def is_zns_receipt(event: WebhookEvent) -> bool:
    """A ZNS delivery shares user_received_message; it names a tracking id and a phone,
    or came with Zalo's ZNS server header (API.md §3.6). Without either, an OA message's."""
    return bool(event.tracking_id) or event.zns_server


# Kinds of user_received_message other than an OA message's, told apart on the wire.
# An app handles one with events.handlers.register_receipt_kind; until then it is recorded.
RECEIPT_KINDS: dict[str, Callable[[WebhookEvent], bool]] = {"zns": is_zns_receipt}
