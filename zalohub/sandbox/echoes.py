"""Zalo's echo of each message an OA sends through the API (``oa_send_<kind>``, API.md
§3.3-§3.4): sender = the OA, recipient = the user, no ``admin_id`` (that names an admin
writing in Zalo's chat tool), ``msg_id`` = the ``message_id`` the send answered.

Emitted to every app linked to the OA, as soon as the send is accepted: it may reach a
hub before the send's own answer is kept there, as it may from Zalo. Off with the
webhook setting ``echo`` (``webhooks.WebhookConfig``).
"""

from typing import Any

from zalohub.sandbox import payloads
from zalohub.sandbox.customers import Emitted, emit
from zalohub.sandbox.mailbox import SentMessage
from zalohub.sandbox.state import SandboxState


def _attachment(state: SandboxState, sent: SentMessage) -> dict[str, Any] | None:
    """What the echo's ``attachments[0]`` says of the message sent (None: text only)."""
    body = sent.message.get("attachment")
    if not isinstance(body, dict) or not isinstance(body.get("payload"), dict):
        return None
    payload: dict[str, Any] = body["payload"]
    base, msg_id = state.base_url, sent.message_id
    if sent.kind in ("image", "gif"):
        element = (payload.get("elements") or [{}])[0]
        ext = "gif" if sent.kind == "gif" else "jpg"
        url = element.get("url") or payloads.media_url(base, msg_id, ext)
        return {"type": sent.kind, "payload": {"thumbnail": url, "url": url}}
    if sent.kind == "sticker":
        element = (payload.get("elements") or [{}])[0]
        sticker_id = str(element.get("attachment_id") or "")
        url = payloads.media_url(base, msg_id, "png")
        return {"type": "sticker", "payload": {"id": sticker_id, "url": url}}
    if sent.kind == "file":
        upload = state.mailbox.uploads.get(str(payload.get("token") or ""))
        name = upload.filename if upload else "file"
        kept = {
            "size": str(upload.size if upload else 0),
            "name": name,
            "type": name.rsplit(".", 1)[-1].lower(),
            "url": payloads.media_url(base, msg_id, "pdf"),
        }
        return {"type": "file", "payload": kept}
    return dict(body)  # a request-info form: the template as the OA sent it


def echo_send(state: SandboxState, sent: SentMessage) -> Emitted | None:
    """Echo one accepted ``message/cs`` send to the OA's apps (None: echoes are off)."""
    if not state.webhooks.config.echo:
        return None
    with state.lock:
        user = state.users.get(sent.oa_id, {}).get(sent.user_id) or {}
        attachment = _attachment(state, sent)
    text = sent.message.get("text")
    name = f"oa_send_{payloads.ECHO_KINDS[sent.kind]}"

    def build(app_id: str, by_app: str) -> dict[str, Any]:
        return payloads.oa_send(
            app_id=app_id,
            oa_id=sent.oa_id,
            user_id=sent.user_id,
            by_app=by_app,
            kind=sent.kind,
            msg_id=sent.message_id,
            timestamp=str(sent.sent_time),
            text=text if isinstance(text, str) else "",
            attachment=attachment,
        )

    return Emitted(name, sent.message_id, emit(state, oa_id=sent.oa_id, build=build, user=user))
