"""Zalo's webhook payloads read into typed events (API.md §3).

Two readings of one parsed body. ``head`` is what the webhook endpoint needs before the
INSERT (name, OA, user, app, claimed time, the dedupe key): it runs once per request on
the hot path, so it reads only those keys. ``parse`` is the worker's: everything a
handler reads, once per event. Nothing else in the hub reads a webhook's keys.
"""

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, NamedTuple

# Zalo sends epoch milliseconds; its own doc sample has 12 digits, so accept a range.
_EPOCH_MS = range(10**11, 10**14)
NAME_MAX = 64  # the longest event name kept (the events table's column)


class WebhookHead(NamedTuple):
    """A tuple, not a dataclass: built once per request, and a tuple is built fastest."""

    name: str
    oa_id: str
    user_id: str  # the Zalo user's OA-scoped id, whichever way the event flows
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
    user_id: str  # the Zalo user's OA-scoped id, whichever way the event flows
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
    info: Mapping[str, Any]  # user_submit_info's details
    quota: int | None  # change_*_quota's new value
    template_id: str
    status: str  # change_template_status's new status
    reason: str
    quality: str
    payload: Mapping[str, Any] = field(repr=False, compare=False, default_factory=dict)


def _message(payload: Mapping[str, Any]) -> Mapping[str, Any]:
    message = payload.get("message")
    return message if isinstance(message, dict) else {}


def _id(node: Any) -> str:
    return str(node.get("id") or "") if isinstance(node, dict) else str(node or "")


def _parties(name: str, payload: Mapping[str, Any]) -> tuple[str, str]:
    """(OA id, Zalo user id) of an event, whichever way it flows."""
    sender, recipient = _id(payload.get("sender")), _id(payload.get("recipient"))
    oa_id = str(payload.get("oa_id") or payload.get("oaId") or "")
    if name.startswith("oa_send") or name == "oa_reacted_message":
        return oa_id or sender, recipient
    if "follower" in payload:
        return oa_id, _id(payload.get("follower"))
    if sender or recipient:
        return oa_id or recipient, sender
    return oa_id, str(payload.get("user_id") or "")


def _time(raw: Any) -> datetime | None:
    try:
        millis = int(str(raw))
    except (TypeError, ValueError):
        return None
    if millis not in _EPOCH_MS:
        return None
    return datetime.fromtimestamp(millis / 1000, tz=UTC)


def _receipt_time(message: Mapping[str, Any], received_at: datetime | None) -> datetime | None:
    raw = message.get("delivery_time") or message.get("seen_time")
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


def head(payload: Mapping[str, Any]) -> WebhookHead:
    """What the webhook endpoint needs of a parsed body, and no more (the hot path)."""
    name = str(payload.get("event_name") or "")[:NAME_MAX]
    oa_id, user_id = _parties(name, payload)
    message = payload.get("message")
    msg_id = (message.get("msg_id") if isinstance(message, dict) else None) or payload.get("msg_id")
    app_id = str(payload.get("app_id") or "")
    return WebhookHead(
        name, oa_id, user_id, app_id, _time(payload.get("timestamp")), str(msg_id or "")
    )


def parse(payload: Mapping[str, Any], *, received_at: datetime | None = None) -> WebhookEvent:
    """The whole typed event; receipt times capped at ``received_at`` when given."""
    top = head(payload)
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
        receipt_time=_receipt_time(message, received_at),
        tracking_id=str(message.get("tracking_id") or payload.get("tracking_id") or ""),
        info=info if isinstance(info, dict) else {},
        quota=_quota(payload),
        template_id=str(payload.get("template_id") or ""),
        status=str((status.get("new_status") if isinstance(status, dict) else status) or ""),
        reason=str(payload.get("reason") or ""),
        quality=str(payload.get("quality") or ""),
        payload=payload,
    )
