"""Removing secrets from what is logged: headers, query strings, form and JSON bodies."""

import json
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

REDACTED = "[redacted]"
# Names of fields that carry credentials anywhere on Zalo's wire.
SENSITIVE = {
    "access_token",
    "refresh_token",
    "secret_key",
    "app_secret",
    "oa_secret_key",
    "code",
    "code_verifier",
    "appsecret_proof",
    "authorization",
    "cookie",
    "set-cookie",
    "password",
    "x-zevent-signature",
}


def _is_sensitive(key: object) -> bool:
    return isinstance(key, str) and key.lower() in SENSITIVE


def redact_value(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: REDACTED if _is_sensitive(k) else redact_value(v) for k, v in value.items()}
    if isinstance(value, list):
        return [redact_value(v) for v in value]
    return value


def redact_url(url: str) -> str:
    parts = urlsplit(url)
    if not parts.query:
        return url
    pairs = [(k, REDACTED if _is_sensitive(k) else v) for k, v in parse_qsl(parts.query, True)]
    return urlunsplit(parts._replace(query=urlencode(pairs, safe='[]{}:,"')))


def redact_text(text: str) -> str:
    """A body as text: JSON and form bodies are redacted field by field."""
    if not text:
        return text
    stripped = text.lstrip()
    if stripped[:1] in "{[":
        try:
            return json.dumps(redact_value(json.loads(text)), ensure_ascii=False, indent=2)
        except ValueError:
            pass
    if "=" in text and "\n" not in text and " " not in text.strip():
        pairs = parse_qsl(text, keep_blank_values=True)
        if pairs:
            return urlencode([(k, REDACTED if _is_sensitive(k) else v) for k, v in pairs])
    return text


def redact_body(body: Any) -> str:
    if body is None:
        return ""
    if isinstance(body, (dict, list)):
        return json.dumps(redact_value(body), ensure_ascii=False, indent=2, default=str)
    if isinstance(body, bytes):
        body = body.decode("utf-8", "replace")
    return redact_text(str(body))


def redact_headers(headers: dict[str, str]) -> dict[str, str]:
    return {k: REDACTED if _is_sensitive(k) else v for k, v in headers.items()}
