"""Zalo's webhook payloads read into typed events (API.md §3).

Two readings of one parsed body. ``head`` is what the webhook endpoint needs before the
INSERT (name, OA, user, app, claimed time, the dedupe key): it runs once per request on
the hot path, so it reads only those keys. ``parse`` is the worker's: everything a
handler reads, once per event. Nothing else in the hub reads a webhook's keys.
"""

import hashlib
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, NamedTuple

# Zalo sends epoch milliseconds; its own doc sample has 12 digits, so accept a range.
_EPOCH_MS = range(10**11, 10**14)
NAME_MAX = 64  # the longest event name kept (the events table's column)
# Whether an id is a known OA of the app the webhook came for (see ``orient``).
IsOA = Callable[[str], bool]
# The header one source says Zalo adds to ZNS webhooks (API.md §3.1, unconfirmed).
ZNS_SERVER_HEADER = "x-zevent-server"


class WebhookHead(NamedTuple):
    """A tuple, not a dataclass: built once per request, and a tuple is built fastest."""

    name: str
    oa_id: str
    # The Zalo user's OA-scoped id, whichever way the event flows (``orient``); the phone
    # (or its hash) a ZNS receipt names.
    user_id: str
    app_id: str  # as the body says ("" when absent)
    time: datetime | None  # as the body claims it (not capped: see ``capped``)
    msg_id: str

    def dedupe_key(self, raw: bytes) -> str:
        """The same event delivered twice has the same key: its msg_id, or its body."""
        if self.msg_id and self.name != "user_seen_message":
            return f"{self.name}:{self.msg_id}"[:160]
        # Management events, receipts with msg_ids lists: a redelivery repeats the body.
        return f"{self.name}:sha256:{hashlib.sha256(raw).hexdigest()}"[:160]


@dataclass(frozen=True, slots=True)
class WebhookEvent:
    name: str
    oa_id: str
    user_id: str  # as WebhookHead.user_id
    app_id: str  # as the body says ("" when absent)
    time: datetime | None  # as the body claims it (not capped: see ``capped``)
    msg_id: str
    user_id_by_app: str
    msg_ids: tuple[str, ...]  # the messages it is about (a seen receipt names several)
    quote_msg_id: str
    text: str
    attachments: tuple[Any, ...]
    # When the phone got or showed the message (receipts), capped at the arrival time
    # given to ``parse``; None when the receipt says nothing usable.
    receipt_time: datetime | None
    tracking_id: str  # a ZNS send's own id, echoed in its delivery receipt
    # Who sent an OA message from Zalo's own chat tool (its echo says); "" for API sends.
    admin_id: str
    info: Mapping[str, Any]  # user_submit_info's details
    quota: int | None  # change_*_quota's new value
    template_id: str
    status: str  # change_template_status's new status
    reason: str
    quality: str
    # Zalo's ZNS server sent it (its X-ZEvent-Server header): a receipt is a ZNS template's
    # even without a tracking id.
    zns_server: bool = False
    payload: Mapping[str, Any] = field(repr=False, compare=False, default_factory=dict)


def _message(payload: Mapping[str, Any]) -> Mapping[str, Any]:
    message = payload.get("message")
    return message if isinstance(message, dict) else {}


def _id(node: Any) -> str:
    return str(node.get("id") or "") if isinstance(node, dict) else str(node or "")


# What a ZNS receipt may name as its recipient instead of a user id: a phone (84..., +84...
# or 0...) or its SHA-256 hash (API.md §3.6). Zalo's user and OA ids are 16-19 digits.
_PHONE_OR_HASH = re.compile(r"\+?84\d{8,10}|0\d{9,10}|[0-9a-fA-F]{64}")


def _oa_sends(name: str, payload: Mapping[str, Any]) -> bool:
    """Whether the documentation puts the OA on the sender side of this event: its echoes
    and reactions, and a ZNS delivery receipt (one naming a tracking id, API.md §3.6)."""
    if name.startswith("oa_send") or name == "oa_reacted_message":
        return True
    if name != "user_received_message":
        return False
    message = payload.get("message")
    nested = message.get("tracking_id") if isinstance(message, dict) else None
    return bool(nested or payload.get("tracking_id"))  # flat: API.md §3.6, CONFLICT


def orient(
    name: str, payload: Mapping[str, Any], sender: str, recipient: str, is_oa: IsOA | None
) -> tuple[str, str]:
    """(OA id, the other party) of an event that names a sender and a recipient.

    Sources disagree on which side is the OA for receipts (API.md §3.3-§3.6), so a known
    OA of the app decides, for every event kind: whichever of the two ``is_oa`` knows is
    the OA. When it knows neither (an OA not connected yet, or no ``is_oa``), the side
    the documentation gives, unless that side is a phone or its hash (a ZNS recipient).
    """
    oa, other = (sender, recipient) if _oa_sends(name, payload) else (recipient, sender)
    if is_oa is not None:
        if oa and is_oa(oa):
            return oa, other
        if other and is_oa(other):
            return other, oa
    if _PHONE_OR_HASH.fullmatch(oa) and not _PHONE_OR_HASH.fullmatch(other):
        return other, oa
    return oa, other


def oa_candidates(payload: Mapping[str, Any]) -> tuple[str, ...]:
    """Every id of the payload that may be its OA (to look them up at once)."""
    found = (
        str(payload.get("oa_id") or payload.get("oaId") or ""),
        _id(payload.get("sender")),
        _id(payload.get("recipient")),
    )
    return tuple(i for i in found if i)


def _parties(name: str, payload: Mapping[str, Any], is_oa: IsOA | None) -> tuple[str, str]:
    """(OA id, Zalo user id, or the phone a ZNS receipt names) of an event."""
    flat = str(payload.get("oa_id") or payload.get("oaId") or "")
    if "follower" in payload:
        return flat, _id(payload.get("follower"))
    sender, recipient = _id(payload.get("sender")), _id(payload.get("recipient"))
    if sender or recipient:
        if not flat:
            return orient(name, payload, sender, recipient, is_oa)
        if sender == flat or recipient == flat:
            return flat, recipient if sender == flat else sender
        return flat, orient(name, payload, sender, recipient, is_oa)[1]
    return flat, str(payload.get("user_id") or "")


def _admin(sender: Any) -> str:
    return str(sender.get("admin_id") or "") if isinstance(sender, dict) else ""


def _time(raw: Any) -> datetime | None:
    try:
        millis = int(str(raw))
    except (TypeError, ValueError):
        return None
    if millis not in _EPOCH_MS:
        return None
    return datetime.fromtimestamp(millis / 1000, tz=UTC)


def _receipt_time(
    payload: Mapping[str, Any], message: Mapping[str, Any], received_at: datetime | None
) -> datetime | None:
    # A flat ZNS receipt (API.md §3.6, CONFLICT) has its delivery time at the top level.
    raw = message.get("delivery_time") or message.get("seen_time") or payload.get("delivery_time")
    try:
        when = datetime.fromtimestamp(int(str(raw)) / 1000, tz=UTC)
    except (TypeError, ValueError, OverflowError, OSError):
        return None
    return capped(when, received_at)


def capped(claimed: datetime | None, received_at: datetime | None) -> datetime | None:
    """A time the payload claims, but never after the event reached us: a signed payload
    may claim any time, and one far in the future would pin its conversation to the top
    of the inbox. The arrival time when nothing usable is claimed."""
    if received_at is None:
        return claimed
    return claimed if claimed is not None and claimed < received_at else received_at


def _quota(payload: Mapping[str, Any]) -> int | None:
    quota = payload.get("quota")
    value = quota.get("new_value") if isinstance(quota, dict) else quota
    try:
        return int(str(value)) if value not in (None, "") else None
    except ValueError:
        return None


def head(payload: Mapping[str, Any], *, is_oa: IsOA | None = None) -> WebhookHead:
    """What the webhook endpoint needs of a parsed body, and no more (the hot path).
    ``is_oa``: which ids are known OAs of the app, to tell the OA from the user."""
    name = str(payload.get("event_name") or "")[:NAME_MAX]
    oa_id, user_id = _parties(name, payload, is_oa)
    message = payload.get("message")
    msg_id = (message.get("msg_id") if isinstance(message, dict) else None) or payload.get("msg_id")
    app_id = str(payload.get("app_id") or "")
    return WebhookHead(
        name, oa_id, user_id, app_id, _time(payload.get("timestamp")), str(msg_id or "")
    )


def from_zns_server(headers: Mapping[str, Any] | None) -> bool:
    """Whether a webhook's headers (as kept with its event) say Zalo's ZNS server sent it."""
    for name, value in (headers or {}).items():
        if str(name).lower() == ZNS_SERVER_HEADER:
            return str(value).strip().upper() == "ZNS"
    return False


def parse(
    payload: Mapping[str, Any],
    *,
    received_at: datetime | None = None,
    is_oa: IsOA | None = None,
    headers: Mapping[str, Any] | None = None,
) -> WebhookEvent:
    """The whole typed event; receipt times capped at ``received_at`` when given; the OA
    told from the user by ``is_oa`` (as ``head``); ``headers``, the request's as kept with
    the event (``from_zns_server``)."""
    top = head(payload, is_oa=is_oa)
    message = _message(payload)
    if top.name == "user_seen_message":
        ids = message.get("msg_ids") or ([top.msg_id] if top.msg_id else [])
        msg_ids = tuple(str(i) for i in ids if i) if isinstance(ids, list) else ()
    else:
        msg_ids = (top.msg_id,) if top.msg_id else ()
    attachments = message.get("attachments")
    info = payload.get("info")
    status = payload.get("status")
    return WebhookEvent(
        name=top.name,
        oa_id=top.oa_id,
        user_id=top.user_id,
        app_id=top.app_id,
        time=top.time,
        msg_id=top.msg_id,
        user_id_by_app=str(payload.get("user_id_by_app") or ""),
        msg_ids=msg_ids,
        quote_msg_id=str(message.get("quote_msg_id") or ""),
        text=str(message.get("text") or ""),
        attachments=tuple(attachments) if isinstance(attachments, list) else (),
        receipt_time=_receipt_time(payload, message, received_at),
        tracking_id=str(message.get("tracking_id") or payload.get("tracking_id") or ""),
        admin_id=_admin(payload.get("sender")) or _admin(payload.get("recipient")),
        info=info if isinstance(info, dict) else {},
        quota=_quota(payload),
        template_id=str(payload.get("template_id") or ""),
        status=str((status.get("new_status") if isinstance(status, dict) else status) or ""),
        reason=str(payload.get("reason") or ""),
        quality=str(payload.get("quality") or ""),
        zns_server=from_zns_server(headers),
        payload=payload,
    )
