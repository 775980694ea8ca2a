"""Webhook signatures: X-ZEvent-Signature = "mac=" + sha256(appId + body + timestamp + key).

Sources disagree on the first term (app id or OA id) and on whether the header carries
the "mac=" prefix, so verification accepts each documented variant and says which one
matched.
"""

import hashlib
import hmac


def webhook_mac(*, first: str, raw_body: str, timestamp: str, secret_key: str) -> str:
    data = f"{first}{raw_body}{timestamp}{secret_key}".encode()
    return hashlib.sha256(data).hexdigest()


def verify_webhook(
    *, header: str, raw_body: str, timestamp: str, secret_key: str, app_id: str, oa_id: str = ""
) -> str | None:
    """The name of the variant that matched ("app_id" or "oa_id"), or None if none did."""
    given = header.strip()
    if given.lower().startswith("mac="):
        given = given[4:]
    given = given.strip().lower()
    if not given or not secret_key:
        return None
    for name, first in (("app_id", app_id), ("oa_id", oa_id)):
        if not first:
            continue
        expected = webhook_mac(
            first=first, raw_body=raw_body, timestamp=timestamp, secret_key=secret_key
        )
        if hmac.compare_digest(expected, given):
            return name
    return None
