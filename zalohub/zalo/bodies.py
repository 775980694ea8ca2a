"""Request bodies Zalo takes: OA consultation messages (API.md §2) and ZBS template
messages and templates (§4). Built here only, from plain values: the apps say what to
send, this module says how Zalo spells it."""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

# The consultation message kinds the hub sends (oa_send_<kind> when Zalo echoes them).
OA_SENDABLE = ("text", "image", "file")


def oa_message(kind: str, *, text: str = "", attachment: Mapping[str, Any] | None = None) -> dict:
    """The ``message`` object of a consultation message; ValueError for another kind.
    An image is an uploaded ``attachment_id`` or a ``url``; a file its upload ``token``."""
    attachment = attachment or {}
    if kind == "text":
        return {"text": text}
    if kind == "image":
        element = {
            "media_type": "image",
            **{k: v for k, v in attachment.items() if k in ("attachment_id", "url")},
        }
        body: dict[str, Any] = {
            "attachment": {
                "type": "template",
                "payload": {"template_type": "media", "elements": [element]},
            }
        }
        if text:
            body["text"] = text
        return body
    if kind == "file":
        return {"attachment": {"type": "file", "payload": {"token": attachment.get("token", "")}}}
    raise ValueError(f"a consultation message of kind {kind!r} cannot be sent")


def oa_message_parts(kind: str, message: Mapping[str, Any]) -> tuple[str, dict | None]:
    """``oa_message``'s text and attachment again, from the ``message`` object it made."""
    payload = message.get("attachment", {}).get("payload", {})
    if kind == "image":
        element = payload.get("elements", [{}])[0]
        return message.get("text", ""), {
            k: v for k, v in element.items() if k in ("attachment_id", "url")
        }
    if kind == "file":
        return "", {"token": payload.get("token", "")}
    return message.get("text", ""), None


def oa_message_request(*, user_id: str, message: Mapping[str, Any]) -> dict:
    """POST /v3.0/oa/message/cs: the message to one user, by their OA-scoped id."""
    return {"recipient": {"user_id": user_id}, "message": dict(message)}


@dataclass(frozen=True, slots=True)
class TemplateMessage:
    """A ZBS template message to a phone (business host) or a user id (OA host); Zalo
    deduplicates sends by ``tracking_id``."""

    template_id: str
    template_data: Mapping[str, Any]
    tracking_id: str
    phone: str = ""
    user_id: str = ""
    development: bool = False

    def body(self) -> dict[str, Any]:
        common: dict[str, Any] = {
            "template_id": self.template_id,
            "template_data": dict(self.template_data),
        }
        if self.user_id:
            body = {"user_id": self.user_id, **common}
            if self.tracking_id:
                body["tracking_id"] = self.tracking_id
            return body
        body = {"phone": self.phone, **common, "tracking_id": self.tracking_id}
        if self.development:
            body["mode"] = "development"
        return body


@dataclass(frozen=True, slots=True)
class TemplateParam:
    name: str | None
    type: int
    sample_value: str
    max_length: int


@dataclass(frozen=True, slots=True)
class TemplateButton:
    type: int
    title: Any
    content: Any


@dataclass(frozen=True, slots=True)
class TemplateRequest:
    """POST /template/create or /template/edit (API.md §4.3). ``template_id`` only for
    the edit of a rejected template."""

    name: str
    template_type: int
    tag: int
    body_text: str
    note: str
    tracking_id: str
    params: Sequence[TemplateParam] = ()
    buttons: Sequence[TemplateButton] = ()
    template_id: str = ""

    def body(self) -> dict[str, Any]:
        layout: dict[str, Any] = {
            "body": {"components": [{"PARAGRAPH": {"value": self.body_text}}]}
        }
        if self.buttons:
            items = [{"type": b.type, "title": b.title, "content": b.content} for b in self.buttons]
            layout["footer"] = {"components": [{"BUTTONS": {"items": items}}]}
        body: dict[str, Any] = {
            "template_name": self.name,
            "template_type": self.template_type,
            "tag": self.tag,
            "layout": layout,
            "params": [
                {
                    "type": p.type,
                    "name": p.name,
                    "sample_value": p.sample_value,
                    "max_length": p.max_length,
                }
                for p in self.params
            ],
            "note": self.note,
            "tracking_id": self.tracking_id,
        }
        if self.template_id:
            body["template_id"] = self.template_id
        return body
