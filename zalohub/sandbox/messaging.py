"""OA messages and media uploads on the openapi host (API.md §2.2-§2.4).

``message/cs`` applies Zalo's rules in order: the recipient must be a user of this OA
(-201), follow it (-213) and have interacted within 7 days (-230); the text is at most
2,000 characters (-201). Every accepted message is kept in the mailbox, so tests can
assert what the sandbox received, echoed (``oa_send_<kind>``, as Zalo does) and its
receipts are scheduled.
"""

import json
from pathlib import PurePath
from typing import Any

from django.http import HttpRequest, HttpResponse

from zalohub.sandbox import responses
from zalohub.sandbox.customers import schedule_receipts
from zalohub.sandbox.echoes import echo_send
from zalohub.sandbox.mailbox import SentMessage, Upload, new_msg_id
from zalohub.sandbox.openapi import oa_api
from zalohub.sandbox.state import SandboxState
from zalohub.sandbox.tokens import AccessGrant

MAX_TEXT = 2000  # "Giới hạn tối đa là 2.000 ký tự"
FREE_WINDOW = 48 * 3600  # inside: quota_type "reply" (free); 48 h-7 d: billed, not refused
SEND_WINDOW = 7 * 24 * 3600
MB = 1024 * 1024
# kind -> (allowed extensions, size limit). Zalo documents no gif limit (API.md §2.3
# says "—"); the file limit is used so a huge gif is still refused.
UPLOADS: dict[str, tuple[frozenset[str], int]] = {
    "image": (frozenset({"jpg", "jpeg", "png"}), 1 * MB),
    "gif": (frozenset({"gif"}), 5 * MB),
    "file": (frozenset({"pdf", "doc", "docx", "csv"}), 5 * MB),
}
# The first bytes each type must start with; csv is text and has none.
MAGIC = {
    "jpg": (b"\xff\xd8\xff",),
    "jpeg": (b"\xff\xd8\xff",),
    "png": (b"\x89PNG\r\n\x1a\n",),
    "gif": (b"GIF87a", b"GIF89a"),
    "pdf": (b"%PDF",),
    "doc": (b"\xd0\xcf\x11\xe0",),
    "docx": (b"PK\x03\x04",),
}


def _json_body(request: HttpRequest) -> dict[str, Any] | None:
    try:
        body = json.loads(request.body)
    except ValueError:
        return None
    return body if isinstance(body, dict) else None


def _invalid(field: str) -> HttpResponse:
    return responses.oa_error(-201, f"{field} is invalid!")


def _recipient(state: SandboxState, grant: AccessGrant, recipient: Any) -> str:
    """The OA-scoped user id a recipient names (``user_id``, or a customer's message)."""
    if not isinstance(recipient, dict):
        return ""
    raw = recipient.get("user_id")
    if isinstance(raw, str | int) and not isinstance(raw, bool) and raw != "":
        return str(raw)
    inbound = state.mailbox.inbound.get(str(recipient.get("message_id") or ""))
    return inbound.user_id if inbound and inbound.oa_id == grant.oa_id else ""


def _upload_of(
    state: SandboxState, grant: AccessGrant, key: Any, kinds: tuple[str, ...]
) -> Upload | HttpResponse:
    upload = state.mailbox.uploads.get(str(key or ""))
    if upload is None or upload.kind not in kinds or upload.oa_id != grant.oa_id:
        return _invalid("token" if kinds == ("file",) else "attachment_id")
    if upload.expired(state.now()):
        return responses.oa_error(-100)
    return upload


def _media(state: SandboxState, grant: AccessGrant, payload: dict[str, Any]) -> str | HttpResponse:
    elements = payload.get("elements")
    if not isinstance(elements, list) or len(elements) != 1 or not isinstance(elements[0], dict):
        return _invalid("elements")
    element = elements[0]
    media_type = element.get("media_type")
    if media_type not in ("image", "gif", "sticker"):
        return _invalid("media_type")
    if media_type == "image" and element.get("url"):
        url = element["url"]
        return (
            "image"
            if isinstance(url, str) and url.startswith(("http://", "https://"))
            else _invalid("url")
        )
    if media_type == "sticker":
        return "sticker" if element.get("attachment_id") else _invalid("attachment_id")
    if media_type == "gif" and not (element.get("width") and element.get("height")):
        return _invalid("width")  # required for gifs (API.md §2.2)
    found = _upload_of(state, grant, element.get("attachment_id"), ("image", "gif"))
    return found if isinstance(found, HttpResponse) else media_type


def _message_kind(state: SandboxState, grant: AccessGrant, message: Any) -> str | HttpResponse:
    """What the message is (text, image, gif, sticker, file, request_user_info), or the error."""
    if not isinstance(message, dict):
        return _invalid("message")
    text = message.get("text")
    if text is not None and not isinstance(text, str):
        return _invalid("text")
    if text and len(text) > MAX_TEXT:
        return _invalid("text")
    attachment = message.get("attachment")
    if attachment is None:
        return "text" if text and text.strip() else _invalid("text")
    payload = attachment.get("payload") if isinstance(attachment, dict) else None
    if not isinstance(payload, dict):
        return _invalid("attachment")
    if attachment.get("type") == "file":
        found = _upload_of(state, grant, payload.get("token"), ("file",))
        return found if isinstance(found, HttpResponse) else "file"
    if attachment.get("type") == "template":
        if payload.get("template_type") == "media":
            return _media(state, grant, payload)
        if payload.get("template_type") == "request_user_info":
            elements = payload.get("elements")
            ok = isinstance(elements, list) and len(elements) == 1
            return "request_user_info" if ok else _invalid("elements")
    return responses.oa_error(-233)


@oa_api("oa.message.cs", methods=("POST",))
def message_cs(request: HttpRequest, state: SandboxState, grant: AccessGrant) -> HttpResponse:
    body = _json_body(request)
    if body is None:
        return _invalid("body")
    with state.lock:
        user_id = _recipient(state, grant, body.get("recipient"))
        user = state.users.get(grant.oa_id, {}).get(user_id)
        if user is None:
            return _invalid("user_id")
        if not user["is_follower"]:
            return responses.oa_error(-213)
        now = state.now()
        last = user["last_interaction"]
        if last is None or now - float(last) > SEND_WINDOW:
            return responses.oa_error(-230)
        kind = _message_kind(state, grant, body.get("message"))
        if isinstance(kind, HttpResponse):
            return kind
        sent = SentMessage(
            message_id=new_msg_id(),
            oa_id=grant.oa_id,
            app_id=grant.app_id,
            user_id=user_id,
            kind=kind,
            message=body["message"],
            sent_time=int(now * 1000),
            quota_type="reply" if now - float(last) <= FREE_WINDOW else "sub_quota",
        )
        state.mailbox.record_sent(sent)
    echo_send(state, sent)
    schedule_receipts(state, sent)
    return responses.oa_ok(
        {
            # remain is a fixed "8" since 2026-01-01 (API.md §2.2); kept as the doc shows.
            "quota": {"quota_type": sent.quota_type, "remain": "8", "total": "8"},
            "message_id": sent.message_id,
            "user_id": user_id,
            "sent_time": str(sent.sent_time),
        }
    )


# Transaction and promotion ("UID") messages were discontinued on 2026-03-01 (API.md
# §2.2). No error for the retirement is documented; -209 "Not supported this api" is the
# table's closest text (-240 names the v2 API, -212 an unregistered one).
def _retired(request: HttpRequest, state: SandboxState, grant: AccessGrant) -> HttpResponse:
    return responses.oa_error(-209)


message_transaction = oa_api("oa.message.transaction", methods=("POST",))(_retired)
message_promotion = oa_api("oa.message.promotion", methods=("POST",))(_retired)


def _upload(
    request: HttpRequest, state: SandboxState, grant: AccessGrant, kind: str
) -> HttpResponse:
    stored = request.FILES.get("file")
    if stored is None:
        return _invalid("file")
    allowed, limit = UPLOADS[kind]
    ext = PurePath(stored.name or "").suffix.lower().lstrip(".")
    head = stored.read(16)
    stored.seek(0)
    if ext not in allowed or not head.startswith(MAGIC.get(ext, (b"",))):
        return _invalid("file")
    if (stored.size or 0) > limit:
        return responses.oa_error(-210)
    upload = Upload(
        key=new_msg_id() + new_msg_id()[:16],
        kind=kind,
        oa_id=grant.oa_id,
        app_id=grant.app_id,
        filename=stored.name or "",
        size=int(stored.size or 0),
        content_type=stored.content_type or "",
        uploaded_at=state.now(),
    )
    with state.lock:
        state.mailbox.add_upload(upload)
    field = "token" if kind == "file" else "attachment_id"
    return responses.oa_ok({field: upload.key})


@oa_api("oa.upload.image", methods=("POST",))
def upload_image(request: HttpRequest, state: SandboxState, grant: AccessGrant) -> HttpResponse:
    return _upload(request, state, grant, "image")


@oa_api("oa.upload.gif", methods=("POST",))
def upload_gif(request: HttpRequest, state: SandboxState, grant: AccessGrant) -> HttpResponse:
    return _upload(request, state, grant, "gif")


@oa_api("oa.upload.file", methods=("POST",))
def upload_file(request: HttpRequest, state: SandboxState, grant: AccessGrant) -> HttpResponse:
    return _upload(request, state, grant, "file")
