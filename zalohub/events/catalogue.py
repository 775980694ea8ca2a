"""The webhook events zalohub knows Zalo sends (zalo/API.md §3), in one place.

Every other list is derived from this one: the handler table is filled from the message
kinds, and an event that is known here but neither handled nor ignored is *recorded*
(kept with its payload until an issue gives it a handler), computed at dispatch. A name
missing here is *unknown*: stored and marked, never dropped. The sandbox keeps its own
copy on purpose (it stands in for Zalo, not for the hub).
"""

from collections.abc import Callable
from typing import Any

# user_send_<kind>: a customer wrote to the OA.
USER_MESSAGE_KINDS = (
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
)
# oa_send_<kind>: Zalo's echo of a message the OA sent (from the hub or Zalo's tools).
OA_MESSAGE_KINDS = ("text", "image", "gif", "file", "sticker", "list", "link", "template")
RECEIPTS = ("user_received_message", "user_seen_message")

EVENT_NAMES: frozenset[str] = frozenset(
    {
        *(f"user_send_{kind}" for kind in USER_MESSAGE_KINDS),
        *(f"oa_send_{kind}" for kind in OA_MESSAGE_KINDS),
        *RECEIPTS,
        "follow",
        "unfollow",
        "user_submit_info",
        "update_user_info",
        "user_feedback",
        "user_click_response_button",
        "user_withdraw",
        "user_reacted_message",
        "oa_reacted_message",
        "user_click_chatnow",
        "add_user_to_tag",
        "remove_user_from_tag",
        "remove_tag",
        "change_oa_template_tags",
        "change_template_status",
        "change_template_quota",
        "change_template_quality",
        "change_oa_daily_quota",
    }
)


def _message(payload: dict[str, Any]) -> dict[str, Any]:
    message = payload.get("message")
    return message if isinstance(message, dict) else {}


def is_zns_receipt(payload: dict[str, Any]) -> bool:
    """A ZNS delivery shares user_received_message; it names a tracking id and a phone."""
    return bool(_message(payload).get("tracking_id") or payload.get("tracking_id"))


# Kinds of user_received_message other than an OA message's, told apart on the wire.
# An app handles one with events.handlers.register_receipt_kind; until then it is recorded.
RECEIPT_KINDS: dict[str, Callable[[dict[str, Any]], bool]] = {"zns": is_zns_receipt}
