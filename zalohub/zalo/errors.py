"""Zalo's error codes and what each means for the caller: retry, refresh, or give up.

Zalo answers most errors with HTTP 200 and a negative ``error`` field; the OAuth
endpoints use ``error_name``/``error_description`` as well. Everything that decides
whether a failed call is worth retrying lives here, so no other module parses errors.
"""

import enum

# Django's lazy gettext is not one of our modules: the wire stays free of models and
# settings, and an explanation is translated only when a page shows it.
from django.utils.translation import gettext_lazy as _


class ErrorKind(enum.StrEnum):
    RETRYABLE = "retryable"  # network, timeouts, 5xx, 429 / -32: back off and try again
    AUTH = "auth"  # token invalid or expired: refresh once, then retry once
    QUOTA = "quota"  # a quota is spent: wait for it to reset
    BLOCKED = "blocked"  # the recipient cannot be reached now (blocked, window, opt-out)
    PERMANENT = "permanent"  # a bad request or configuration: retrying changes nothing


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


_RETRYABLE = {-32, -100, -200}
_AUTH = {-216, -220, -124, -14014}
_QUOTA = {-211, -218, -311, -115, -126, -144, -1441, -147, -1471, -1472, -160, -238, -241}
_BLOCKED = {
    -213,
    -217,
    -227,
    -230,
    -232,
    -234,
    -244,
    -305,  # OA consultation messages
    -114,
    -118,
    -119,
    -133,
    -139,
    -140,
    -141,  # ZNS / ZBS recipients
}

# What a code is about, beyond whether to retry: which of the troubleshooting guide's
# categories a failure falls in (events, ZBS sends and diagnostics all read these).
# The OA's authorization (OA API, ZNS, OAuth).
TOKEN_CODES = frozenset(
    {-216, -220, -124, -1241, -242, -104, -204, -205, -219, -14002, -14004, -14014}
)
# The recipient cannot be identified: no valid phone, no Zalo account behind it.
RECIPIENT_CODES = frozenset({-108, -118})
# The template: not approved, disabled, its own quota, wrong data for it.
TEMPLATE_CODES = frozenset(
    {-109, -1091, -111, -112, -1121, -1122, -1124, -117, -131, -132, -145, -146, -147, -249}
)

# Short readable names for the codes an admin meets most (the full text comes from Zalo).
OAUTH_CODES = {
    -14002: "Invalid app id",
    -14003: "Invalid redirect URI (must match the callback registered in Zalo's console)",
    -14004: "Invalid app secret key",
    -14005: "Invalid, expired or already used authorization code",
    -14014: "Invalid refresh token",
    -14018: "Invalid grant type",
}


# What a code means, in the words staff read (Zalo's own message is English and terse;
# it stays in the API log). Codes the troubleshooting guide and the sandbox meet.
EXPLANATIONS = {
    -32: _("Zalo's rate limit was exceeded: the call is retried later."),
    -108: _("The phone number is not valid (use the 84xxxxxxxxx format)."),
    -109: _("The template id is not valid."),
    -1121: _("A parameter is longer than the template allows."),
    -1122: _("A parameter of the template is missing."),
    -1124: _("A parameter does not have the format the template asks for."),
    -114: _("The recipient is not active on Zalo, refused the message or uses an old Zalo."),
    -118: _("No Zalo account uses this phone number, or it is disabled."),
    -124: _("The access token is not valid: authorize the OA again."),
    -131: _("The template is not approved on Zalo."),
    -132: _("A parameter of the template is not valid."),
    -141: _("The customer refused ZBS messages from this OA."),
    -144: _("The OA's daily ZBS sending limit is used up."),
    -146: _("Zalo disabled the template for its low quality."),
    -147: _("The template's daily quota is used up."),
    -201: _("A parameter of the call is not valid."),
    -213: _("The customer does not follow the OA."),
    -216: _("The access token is not valid: authorize the OA again."),
    -220: _("The access token has expired or was removed: authorize the OA again."),
    -230: _("The customer has not interacted with the OA in the last 7 days."),
    -14002: _("The app id is not valid."),
    -14003: _("The redirect URI does not match the callback registered in Zalo's console."),
    -14004: _("The app secret key is not valid."),
    -14005: _("The authorization code is not valid, has expired or was already used."),
    -14014: _("The refresh token is not valid: authorize the OA again."),
    -14018: _("The grant type is not valid."),
}


def explain(code: int | None = None, *, http_status: int | None = None) -> str:
    """What a Zalo code (or, without one, an HTTP status) means, in the active language;
    "" when there is nothing more to say than Zalo's own message."""
    if code is not None and code in EXPLANATIONS:
        return str(EXPLANATIONS[code])
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


# A gateway in front of Zalo answered for it (502 Bad Gateway, 504 Gateway Timeout): the
# request got past the gateway and Zalo may have acted on it, as after a timeout.
GATEWAY_STATUSES = frozenset({502, 504})


def answered_by_gateway(code: int | None, *, http_status: int | None) -> bool:
    """A gateway answered instead of Zalo: the call may have taken effect all the same."""
    return code is None and http_status in GATEWAY_STATUSES


def classify(code: int | None, *, http_status: int | None = None) -> ErrorKind:
    """Kind of failure for a Zalo error code (or, without one, an HTTP status)."""
    if code is None:
        if http_status is not None and (http_status >= 500 or http_status == 429):
            return ErrorKind.RETRYABLE
        if http_status == 401:
            return ErrorKind.AUTH
        return ErrorKind.PERMANENT if http_status else ErrorKind.RETRYABLE
    if code in _RETRYABLE:
        return ErrorKind.RETRYABLE
    if code in _AUTH:
        return ErrorKind.AUTH
    if code in _QUOTA:
        return ErrorKind.QUOTA
    if code in _BLOCKED:
        return ErrorKind.BLOCKED
    return ErrorKind.PERMANENT


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
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.http_status = http_status
        self.kind = kind or classify(code, http_status=http_status)
        self.endpoint = endpoint
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
