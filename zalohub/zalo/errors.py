"""Zalo's error codes and what each means for the caller: retry, refresh, or give up.

Zalo answers most errors with HTTP 200 and a negative ``error`` field; the OAuth
endpoints use ``error_name``/``error_description`` as well. Everything that decides
whether a failed call is worth retrying lives here, so no other module parses errors.
"""

from collections.abc import Mapping

# Django's lazy gettext is not one of our modules: the wire stays free of models and
# settings, and an explanation is translated only when a page shows it.
from django.utils.translation import gettext_lazy as _

from zalohub.zalo.codes import CODES, RECIPIENT, TEMPLATE, TOKEN, ErrorKind, host_of, lookup

# What each kind means, in the words staff read (the values are codes in the database).
KIND_LABELS = {
    ErrorKind.RETRYABLE: _("temporary: retried"),
    ErrorKind.AUTH: _("authorization"),
    ErrorKind.QUOTA: _("quota used up"),
    ErrorKind.BLOCKED: _("recipient unreachable"),
    ErrorKind.PERMANENT: _("permanent"),
}


def kind_label(kind: str) -> str:
    """The label of an ErrorKind value ("" stays "")."""
    try:
        return str(KIND_LABELS[ErrorKind(kind)])
    except ValueError:
        return kind


def _codes(category: str) -> frozenset[int]:
    return frozenset(code for code, entry in CODES.items() if entry.category == category)


# What a code is about, beyond whether to retry: which of the troubleshooting guide's
# categories a failure falls in (events, ZBS sends and diagnostics all read these).
TOKEN_CODES = _codes(TOKEN)  # the OA's authorization (OA API, ZNS, OAuth)
RECIPIENT_CODES = _codes(RECIPIENT)  # no valid phone, no Zalo account behind it
TEMPLATE_CODES = _codes(TEMPLATE)  # not approved, disabled, its own quota, wrong data
# Short readable names, for an answer that carries no message of its own.
OAUTH_CODES = {code: entry.name for code, entry in CODES.items() if entry.name}
EXPLANATIONS = {c: entry.explanation for c, entry in CODES.items() if entry.explanation is not None}
NEXT_STEPS = {c: entry.next_step for c, entry in CODES.items() if entry.next_step is not None}
# Codes about the OA rather than the message (-227): the OA's sends wait until it recovers.
HOLDS_OA = frozenset(code for code, entry in CODES.items() if entry.holds_oa)


def explain(code: int | None = None, *, http_status: int | None = None, host: str = "") -> str:
    """What a Zalo code (or, without one, an HTTP status) means, in the active language,
    on ``host`` when given (codes.lookup); "" when there is nothing more to say than
    Zalo's own message."""
    entry = lookup(code, host) if code is not None else None
    if entry is not None and entry.explanation is not None:
        return str(entry.explanation)
    if code is None and http_status is not None:
        if http_status == 429:
            return str(_("Zalo is limiting the calls (HTTP 429): the call is retried later."))
        if http_status >= 500:
            return str(
                _("Zalo is unavailable (HTTP %(status)s): the call is retried later.")
                % {"status": http_status}
            )
        if http_status == 401:
            return str(_("Zalo refused the access token (HTTP 401)."))
    return ""


def category(
    code: int | None, *, kind: str = "", http_status: int | None = None, host: str = ""
) -> str:
    """The troubleshooting guide's category of a failed call: the code's own (on
    ``host`` when given), else "token" for an authorization failure and "send" for any
    other."""
    entry = lookup(code, host) if code is not None else None
    if entry is not None and entry.category:
        return entry.category
    resolved = kind or classify(code or None, http_status=http_status).value
    return TOKEN if resolved == ErrorKind.AUTH else "send"


# A gateway in front of Zalo answered for it (502 Bad Gateway, 504 Gateway Timeout): the
# request got past the gateway and Zalo may have acted on it, as after a timeout.
GATEWAY_STATUSES = frozenset({502, 504})


def answered_by_gateway(code: int | None, *, http_status: int | None) -> bool:
    """A gateway answered instead of Zalo: the call may have taken effect all the same."""
    return code is None and http_status in GATEWAY_STATUSES


def classify(code: int | None, *, http_status: int | None = None, host: str = "") -> ErrorKind:
    """Kind of failure for a Zalo error code (on ``host`` when given), or, without one,
    an HTTP status."""
    if code is None:
        if http_status is not None and (http_status >= 500 or http_status == 429):
            return ErrorKind.RETRYABLE
        if http_status == 401:
            return ErrorKind.AUTH
        return ErrorKind.PERMANENT if http_status else ErrorKind.RETRYABLE
    entry = lookup(code, host)
    return entry.kind if entry is not None else ErrorKind.PERMANENT


class ZaloError(Exception):
    """A failed call to Zalo: Zalo's code and message (when it sent one) and what to do."""

    def __init__(
        self,
        message: str,
        *,
        code: int | None = None,
        kind: ErrorKind | None = None,
        http_status: int | None = None,
        endpoint: str = "",
        retry_after: float | None = None,
        outcome_unknown: bool = False,
        params: Mapping[str, str | int] | None = None,
    ) -> None:
        # With ``params``, ``message`` is the hub's own English msgid (marked with
        # gettext_noop): kept apart so that it can be stored and read in any language.
        self.msgid = message if params is not None else ""
        self.params: dict[str, str | int] = dict(params or {})
        if params is not None:
            message = message % self.params
        super().__init__(message)
        self.message = message
        self.code = code
        self.http_status = http_status
        self.endpoint = endpoint
        # Which host answered (a code may mean one thing on one and another on the next).
        self.host = host_of(endpoint)
        self.kind = kind or classify(code, http_status=http_status, host=self.host)
        self.retry_after = retry_after
        # The request may have reached Zalo but no answer came back: Zalo may have acted
        # on it, so a non-idempotent call must not be repeated blindly.
        self.outcome_unknown = outcome_unknown or answered_by_gateway(code, http_status=http_status)

    @property
    def retryable(self) -> bool:
        return self.kind is ErrorKind.RETRYABLE

    def __str__(self) -> str:
        prefix = f"Zalo error {self.code}: " if self.code is not None else ""
        return f"{prefix}{self.message}"

    def __repr__(self) -> str:
        return f"ZaloError(code={self.code!r}, kind={self.kind.value!r}, message={self.message!r})"


def error_from_body(body: object) -> tuple[int, str] | None:
    """(code, message) when a decoded Zalo body reports an error, else None."""
    if not isinstance(body, dict):
        return None
    raw = body.get("error")
    if raw in (None, 0, "0", ""):
        # OAuth failures sometimes carry only error_name / error_description.
        if body.get("error_name") and not body.get("access_token"):
            text = body.get("error_description") or body.get("error_name")
            return 0, str(text)
        return None
    try:
        code = int(raw)
    except (TypeError, ValueError):
        # Non-numeric "error" (e.g. an OAuth style "access_denied").
        return 0, str(body.get("error_description") or raw)
    if code == 0:
        return None
    message = (
        body.get("message")
        or body.get("error_description")
        or body.get("error_name")
        or OAUTH_CODES.get(code)
        or "Unknown error"
    )
    return code, str(message)
