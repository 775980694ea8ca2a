"""What passed through the sandbox's OA: messages the OA sent, customers' messages, uploads.

Kept per OA in memory (not in the state file): tests assert "the sandbox received it"
and count sends; receipts look messages up here. Callers hold the state's lock.
"""

import secrets
from dataclasses import asdict, dataclass, field
from typing import Any

UPLOAD_TTL = 7 * 24 * 3600  # "uploaded files are kept 7 days" (API.md §2.3)
# Sent messages kept per OA; a benchmark sending millions must not exhaust memory.
MAX_SENT_PER_OA = 50_000


def new_msg_id() -> str:
    # Zalo's ids look like "63ecf43f0df7dba892e6": 20 hex characters.
    return secrets.token_hex(10)


@dataclass
class SentMessage:
    """A message an OA sent through ``message/cs``, and how far it got on the phone."""

    message_id: str
    oa_id: str
    app_id: str
    user_id: str
    kind: str  # text | image | gif | sticker | file | request_user_info
    message: dict[str, Any]
    sent_time: int  # epoch ms, sandbox clock
    quota_type: str
    status: str = "sent"  # sent -> received -> seen
    received_time: int | None = None
    seen_time: int | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class InboundMessage:
    """A message a simulated customer sent to an OA."""

    msg_id: str
    oa_id: str
    user_id: str
    event_name: str
    timestamp: int  # epoch ms
    text: str = ""  # what the customer wrote (the conversation API shows it)


@dataclass
class Upload:
    key: str  # attachment_id (image, gif) or token (file)
    kind: str  # image | gif | file
    oa_id: str
    app_id: str
    filename: str
    size: int
    content_type: str
    uploaded_at: float  # sandbox clock, epoch seconds

    def expired(self, now: float) -> bool:
        return now - self.uploaded_at > UPLOAD_TTL


@dataclass
class Mailbox:
    sent: dict[str, dict[str, SentMessage]] = field(default_factory=dict)  # oa -> id -> msg
    inbound: dict[str, InboundMessage] = field(default_factory=dict)  # msg_id -> msg
    uploads: dict[str, Upload] = field(default_factory=dict)

    def record_sent(self, message: SentMessage) -> None:
        per_oa = self.sent.setdefault(message.oa_id, {})
        per_oa[message.message_id] = message
        while len(per_oa) > MAX_SENT_PER_OA:
            del per_oa[next(iter(per_oa))]

    def find_sent(self, message_id: str) -> SentMessage | None:
        for per_oa in self.sent.values():
            if message_id in per_oa:
                return per_oa[message_id]
        return None

    def sent_messages(
        self, *, oa_id: str | None = None, user_id: str | None = None
    ) -> list[SentMessage]:
        oas = [oa_id] if oa_id else list(self.sent)
        return [
            m
            for o in oas
            for m in self.sent.get(o, {}).values()
            if user_id is None or m.user_id == user_id
        ]

    def record_inbound(self, message: InboundMessage) -> None:
        self.inbound[message.msg_id] = message

    def add_upload(self, upload: Upload) -> Upload:
        self.uploads[upload.key] = upload
        return upload

    def counts(self) -> dict[str, int]:
        return {
            "sent": sum(len(v) for v in self.sent.values()),
            "inbound": len(self.inbound),
            "uploads": len(self.uploads),
        }
