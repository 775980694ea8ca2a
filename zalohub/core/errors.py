"""Optional error reporting with ``sentry-sdk`` (``pip install zalohub[sentry]``) when
``SENTRY_DSN`` is set.

Nothing that can hold a credential leaves the hub: every event passes ``before_send``,
which runs the API logs' redaction (``zalohub.apilog.redact``) over all of it (request
URL, query string, headers, extra data, breadcrumbs, exception messages), and the SDK is
started without local variables, request bodies (webhooks carry customers' messages) or
personal data. Each event is tagged with the request id (``zalohub.core.requestid``), so
a report leads to the log lines and API logs of the same request or event.
"""

import re
from typing import Any

from zalohub.apilog.redact import REDACTED, SENSITIVE, redact_value

_NAMES = "|".join(sorted((re.escape(name) for name in SENSITIVE), key=len, reverse=True))
# key=value in a URL, form body or message; "key": "value" in JSON text; a bearer token.
_PAIR = re.compile(rf"(?i)\b({_NAMES})=([^&\s\"'<>]+)")
_JSON_PAIR = re.compile(rf'(?i)"({_NAMES})"(\s*:\s*)"(?:[^"\\]|\\.)*"')
_BEARER = re.compile(r"(?i)\b(bearer)\s+[A-Za-z0-9._~+/=-]+")


def scrub_text(text: str) -> str:
    """A string with every credential-named value in it replaced."""
    text = _PAIR.sub(rf"\1={REDACTED}", text)
    text = _JSON_PAIR.sub(rf'"\1"\2"{REDACTED}"', text)
    return _BEARER.sub(rf"\1 {REDACTED}", text)


def scrub(value: Any) -> Any:
    """Redact by key (as the API logs do), then every string left for embedded pairs."""
    value = redact_value(value)
    if isinstance(value, dict):
        return {key: scrub(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [scrub(item) for item in value]
    if isinstance(value, str):
        return scrub_text(value)
    return value


def before_send(event: dict[str, Any], hint: dict[str, Any]) -> dict[str, Any]:
    from zalohub.core import requestid

    if request_id := requestid.current():
        event.setdefault("tags", {})["request_id"] = request_id
    request = event.get("request")
    if isinstance(request, dict):
        request.pop("cookies", None)
        request.pop("data", None)
    return scrub(event)


def before_breadcrumb(crumb: dict[str, Any], hint: dict[str, Any]) -> dict[str, Any]:
    return scrub(crumb)


def init_sentry(dsn: str, *, environment: str = "", **options: Any) -> bool:
    """Start error reporting; False when sentry-sdk is not installed. ``options`` go to
    ``sentry_sdk.init`` (the tests pass a local ``transport``)."""
    try:
        import sentry_sdk
    except ImportError:
        return False
    sentry_sdk.init(
        dsn=dsn,
        environment=environment or None,
        before_send=before_send,  # type: ignore[arg-type]  # an Event is a TypedDict
        before_breadcrumb=before_breadcrumb,
        include_local_variables=False,
        max_request_body_size="never",
        **options,
    )
    return True
