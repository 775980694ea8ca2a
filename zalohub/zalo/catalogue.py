"""The webhook events Zalo sends (zalo/API.md §3), in one place.

Every other list of event names is derived from this one: the hub's handler table is
filled from the message kinds, and an event known here but neither handled nor ignored
is *recorded*. A name missing here is *unknown*: stored and marked, never dropped. The
sandbox keeps its own copy on purpose (it stands in for Zalo, not for the hub); a test
feeds both the same samples.
"""

from django.utils.translation import gettext_noop

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

# Events Zalo may send that the hub stores as *recorded* (API.md §3.4), by family: never
# "unknown". Group (GMF) spellings differ between Zalo's pages (CONFLICT): both are here.
_GROUP_KINDS = (*USER_MESSAGE_KINDS, "list", "template")
OTHER_EVENTS: dict[str, tuple[str, ...]] = {
    "group": (
        "create_group",
        "user_join_group",
        "user_request_join_group",
        "accept_request_join_group",
        "reject_request_join_group",
        "react_request_join_group_accept",
        "react_request_join_group_reject",
        "user_out_group",
        "user_leave_group",
        "add_group_admin",
        "remove_group_admin",
        "update_group_info",
        "delete_group",
        *(f"user_send_group_{kind}" for kind in USER_MESSAGE_KINDS),
        *(f"oa_send_group_{kind}" for kind in _GROUP_KINDS),
    ),
    "call": ("oa_send_consent", "user_reply_consent", "user_call_oa", "oa_call_user"),
    "anonymous": (
        *(f"anonymous_send_{kind}" for kind in ("text", "image", "file", "sticker")),
        *(f"oa_send_anonymous_{kind}" for kind in ("text", "image", "file", "sticker")),
    ),
    "widget": ("widget_interaction_accepted", "widget_failed_to_sync_user_external_id"),
    "journey": ("event_journey_acknowledged", "event_journey_time_out"),
    "shop": ("shop_has_order", "extension_purchased"),
}
# What each family is called (msgids: the admin translates them when it shows them).
FAMILY_LABELS = {
    "group": gettext_noop("Group chat (GMF)"),
    "call": gettext_noop("Call"),
    "anonymous": gettext_noop("Anonymous chat"),
    "widget": gettext_noop("Widget"),
    "journey": gettext_noop("ZNS journey"),
    "shop": gettext_noop("Shop and extensions"),
}

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
        *(name for names in OTHER_EVENTS.values() for name in names),
    }
)


def family(name: str) -> str:
    """The kind of event a name is, in words an admin reads (English msgid, see
    FAMILY_LABELS): "" for the ones the hub handles as messages, receipts or the like."""
    for kind, names in OTHER_EVENTS.items():
        if name in names:
            return kind
    return ""
