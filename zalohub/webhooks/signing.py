"""Signing in the Standard Webhooks format with the ``standardwebhooks`` library:
``webhook-id`` (the delivery's, the same on every retry), ``webhook-timestamp`` (this
attempt's) and ``webhook-signature`` (``v1,<base64>``, one per secret that signs: after
a rotation the previous secret signs alongside until its time runs out)."""

import base64
import secrets
from datetime import UTC, datetime

from standardwebhooks import Webhook

PREFIX = "whsec_"


def new_secret() -> str:
    """A new signing secret, ``whsec_`` and 32 random bytes in base64."""
    return PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def new_webhook_id() -> str:
    return "msg_" + secrets.token_urlsafe(18)


def signers(
    secret: str,
    previous: str = "",
    previous_until: datetime | None = None,
    now: datetime | None = None,
) -> list[Webhook]:
    """The Webhook objects that sign now: the current secret, and the previous one while
    its overlap lasts."""
    now = now or datetime.now(UTC)
    keys = [secret]
    if previous and previous_until is not None and previous_until > now:
        keys.append(previous)
    return [Webhook(key) for key in keys]


def sign_headers(
    signing: list[Webhook], *, webhook_id: str, body: str, at: datetime | None = None
) -> dict[str, str]:
    at = at or datetime.now(UTC)
    signature = " ".join(w.sign(msg_id=webhook_id, timestamp=at, data=body) for w in signing)
    return {
        "webhook-id": webhook_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": signature,
        "content-type": "application/json",
        "user-agent": "zalohub-webhooks/1",
    }
