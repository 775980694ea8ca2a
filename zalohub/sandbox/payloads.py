"""Zalo-shaped webhook events (API.md §3.3-§3.5), keys in the order Zalo's samples use.

Ids and the timestamp are strings (epoch ms for the timestamp), never numbers. User
events carry ``sender`` = the user's OA-scoped id and ``recipient`` = the OA; the OA's
echoes (``oa_send_*``) the other way round; receipts either way (``oa_sends``: Zalo's
ZNS receipts and the receipts of real OAs name the OA as the sender, other sources the
user); follow and template events use a flat ``oa_id``.
"""

import hashlib
import secrets
from typing import Any

# Customer message kinds the sandbox can play (event name: user_send_<kind>).
KINDS = (
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
PLACEHOLDER_PDF = b"%PDF-1.4\n% zalohub sandbox placeholder\n%%EOF\n"


def _envelope(
    *, app_id: str, user_id: str, oa_id: str, by_app: str, event_name: str, oa_sends: bool = False
) -> dict[str, Any]:
    sender, recipient = (oa_id, user_id) if oa_sends else (user_id, oa_id)
    event: dict[str, Any] = {"app_id": app_id, "sender": {"id": sender}}
    if by_app:  # a captured real event had none: optional (API.md §3.5)
        event["user_id_by_app"] = by_app
    event["recipient"] = {"id": recipient}
    event["event_name"] = event_name
    return event


def media_url(base: str, msg_id: str, ext: str) -> str:
    return f"{base}/_sandbox/media/{msg_id}.{ext}"


def default_attachment(kind: str, *, base: str, msg_id: str, text: str = "") -> dict[str, Any]:
    """A plausible ``attachments[0]`` for a customer's message of ``kind``."""
    if kind in ("image", "gif"):
        ext = "gif" if kind == "gif" else "jpg"
        url = media_url(base, msg_id, ext)
        payload: dict[str, Any] = {"thumbnail": url, "url": url}
    elif kind == "file":
        payload = {
            "size": str(len(PLACEHOLDER_PDF)),
            "name": "don-hang.pdf",
            "checksum": hashlib.md5(PLACEHOLDER_PDF).hexdigest(),  # noqa: S324 (Zalo's MD5)
            "type": "pdf",
            "url": media_url(base, msg_id, "pdf"),
        }
    elif kind == "sticker":
        payload = {"id": secrets.token_hex(10), "url": media_url(base, msg_id, "png")}
    elif kind == "link":
        payload = {
            "thumbnail": media_url(base, msg_id, "jpg"),
            "description": text or "Bảng giá sản phẩm",
            "url": f"{base}/_sandbox/media/{msg_id}.html",
        }
    elif kind == "location":
        # Coordinates arrive as strings (API.md §3.5); these are Hồ Chí Minh City's centre.
        payload = {"coordinates": {"latitude": "10.7769", "longitude": "106.7009"}}
    elif kind == "audio":
        payload = {"url": media_url(base, msg_id, "amr")}
    elif kind == "video":
        payload = {
            "url": media_url(base, msg_id, "mp4"),
            "thumbnail": media_url(base, msg_id, "jpg"),
            "description": text or "",
        }
    elif kind == "business_card":
        payload = {
            "thumbnail": media_url(base, msg_id, "jpg"),
            "description": '{"phone":"84912345678","qrCodeUrl":""}',
            "url": "",
        }
        return {"type": "link", "payload": payload}
    else:
        raise ValueError(f"unknown message kind {kind!r}; expected one of {KINDS}")
    return {"type": kind, "payload": payload}


def user_send(
    *,
    app_id: str,
    oa_id: str,
    user_id: str,
    by_app: str,
    kind: str,
    msg_id: str,
    timestamp: str,
    text: str = "",
    attachment: dict[str, Any] | None = None,
    quote_msg_id: str | None = None,
) -> dict[str, Any]:
    """``user_send_<kind>``: a customer's message to the OA."""
    if kind not in KINDS:
        raise ValueError(f"unknown message kind {kind!r}; expected one of {KINDS}")
    event = _envelope(
        app_id=app_id, user_id=user_id, oa_id=oa_id, by_app=by_app, event_name=f"user_send_{kind}"
    )
    message: dict[str, Any] = {}
    if kind == "text":
        message["text"] = text
        message["msg_id"] = msg_id
    else:
        message["msg_id"] = msg_id
        if text and kind in ("image", "gif"):
            message["text"] = text  # a caption
        message["attachments"] = [attachment] if attachment else []
    if quote_msg_id:
        message["quote_msg_id"] = quote_msg_id
    event["message"] = message
    event["timestamp"] = timestamp
    return event


def user_received(
    *,
    app_id: str,
    oa_id: str,
    user_id: str,
    by_app: str,
    msg_id: str,
    timestamp: str,
    delivery_time: str,
    oa_sends: bool = False,
) -> dict[str, Any]:
    """``user_received_message`` for an OA message: one ``message.msg_id``."""
    event = _envelope(
        app_id=app_id,
        user_id=user_id,
        oa_id=oa_id,
        by_app=by_app,
        event_name="user_received_message",
        oa_sends=oa_sends,
    )
    event["timestamp"] = timestamp
    event["message"] = {"msg_id": msg_id, "delivery_time": delivery_time}
    return event


def user_seen(
    *,
    app_id: str,
    oa_id: str,
    user_id: str,
    by_app: str,
    msg_ids: list[str],
    timestamp: str,
    oa_sends: bool = False,
) -> dict[str, Any]:
    """``user_seen_message``: ``message.msg_ids`` is a list (API.md §3.4)."""
    event = _envelope(
        app_id=app_id,
        user_id=user_id,
        oa_id=oa_id,
        by_app=by_app,
        event_name="user_seen_message",
        oa_sends=oa_sends,
    )
    event["timestamp"] = timestamp
    event["message"] = {"msg_ids": list(msg_ids)}
    return event


def follow(
    *,
    app_id: str,
    oa_id: str,
    user_id: str,
    by_app: str,
    followed: bool,
    source: str,
    timestamp: str,
) -> dict[str, Any]:
    """``follow`` / ``unfollow``, in the official sample's key order."""
    event: dict[str, Any] = {"oa_id": oa_id, "follower": {"id": user_id}}
    if by_app:
        event["user_id_by_app"] = by_app
    event["event_name"] = "follow" if followed else "unfollow"
    event["source"] = source
    event["app_id"] = app_id
    event["timestamp"] = timestamp
    return event


def submit_info(
    *,
    app_id: str,
    oa_id: str,
    user_id: str,
    by_app: str,
    info: dict[str, Any],
    timestamp: str,
) -> dict[str, Any]:
    """``user_submit_info``: what the customer typed into the request-info form."""
    event = _envelope(
        app_id=app_id, user_id=user_id, oa_id=oa_id, by_app=by_app, event_name="user_submit_info"
    )
    event["timestamp"] = timestamp
    event["info"] = dict(info)
    return event


def zns_received(
    *,
    app_id: str,
    oa_id: str,
    recipient: str,
    msg_id: str,
    tracking_id: str,
    delivery_time: str,
    timestamp: str,
    oa_sends: bool = True,
) -> dict[str, Any]:
    """A ZNS delivery receipt (API.md §3.6): the phone (or user id) that got the template
    message, its ``tracking_id`` echoed; the OA is the sender unless ``oa_sends`` is off."""
    sender, to = (oa_id, recipient) if oa_sends else (recipient, oa_id)
    return {
        "sender": {"id": sender},
        "recipient": {"id": to},
        "event_name": "user_received_message",
        "message": {"delivery_time": delivery_time, "msg_id": msg_id, "tracking_id": tracking_id},
        "app_id": app_id,
        "timestamp": timestamp,
    }


def template_status(
    *,
    app_id: str,
    oa_id: str,
    template_id: str,
    previous: str,
    status: str,
    reason: str,
    timestamp: str,
) -> dict[str, Any]:
    """``change_template_status`` (API.md §3.5), in the published shape's key order."""
    return {
        "oa_id": oa_id,
        "app_id": app_id,
        "event_name": "change_template_status",
        "template_id": template_id,
        "status": {"prev_status": previous, "new_status": status},
        "reason": reason,
        "timestamp": timestamp,
    }


# What Zalo names the echo of each kind of message the API sends (oa_send_<kind>). The
# echo of a request-info form is not documented; "list" is Zalo's name for the template
# of elements it is one of.
ECHO_KINDS = {
    "text": "text",
    "image": "image",
    "gif": "gif",
    "sticker": "sticker",
    "file": "file",
    "request_user_info": "list",
}


def oa_send(
    *,
    app_id: str,
    oa_id: str,
    user_id: str,
    by_app: str,
    kind: str,
    msg_id: str,
    timestamp: str,
    text: str = "",
    attachment: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """``oa_send_<kind>``: Zalo's echo of a message the OA sent through the API (no
    ``sender.admin_id``: that names an admin writing in Zalo's own chat tool)."""
    event = _envelope(
        app_id=app_id,
        user_id=user_id,
        oa_id=oa_id,
        by_app=by_app,
        event_name=f"oa_send_{ECHO_KINDS[kind]}",
        oa_sends=True,
    )
    message: dict[str, Any] = {}
    if text:
        message["text"] = text
    message["msg_id"] = msg_id
    if attachment is not None:
        message["attachments"] = [attachment]
    event["message"] = message
    event["timestamp"] = timestamp
    return event
