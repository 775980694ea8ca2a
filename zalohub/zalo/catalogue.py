"""The webhook events Zalo sends (zalo/API.md §3), in one place.

Every other list of event names is derived from this one: the hub's handler table is
filled from the message kinds, and an event known here but neither handled nor ignored
is *recorded*. A name missing here is *unknown*: stored and marked, never dropped. The
sandbox keeps its own copy on purpose (it stands in for Zalo, not for the hub); a test
feeds both the same samples.
"""

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
USER_MESSAGES = frozenset(f"user_send_{kind}" for kind in USER_MESSAGE_KINDS)
OA_MESSAGES = frozenset(f"oa_send_{kind}" for kind in OA_MESSAGE_KINDS)

EVENT_NAMES: frozenset[str] = frozenset(
    {
        *USER_MESSAGES,
        *OA_MESSAGES,
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
