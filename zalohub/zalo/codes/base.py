"""Zalo's error codes, one table: for each code its kind (what the caller does: retry,
refresh, wait, give up), its category (which of the troubleshooting guide's five it
falls in), what it means and, where a code deserves one, the next step. Diagnostics,
sends and ZBS all read this table (through ``zalo.errors``); nothing else lists codes.
"""

import enum
from dataclasses import dataclass

# Django's lazy gettext is not one of our modules: the wire stays free of models and
# settings, and a text is translated only when a page shows it.
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _


class ErrorKind(enum.StrEnum):
    RETRYABLE = "retryable"  # network, timeouts, 5xx, 429 / -32: back off and try again
    AUTH = "auth"  # token invalid or expired: refresh once, then retry once
    QUOTA = "quota"  # a quota is spent: wait for it to reset
    BLOCKED = "blocked"  # the recipient cannot be reached now (blocked, window, opt-out)
    PERMANENT = "permanent"  # a bad request or configuration: retrying changes nothing


# The troubleshooting guide's categories a code can name (the hub stores these values);
# a code naming none falls in "token" when its kind is AUTH and in "send" otherwise.
TOKEN = "token"
RECIPIENT = "recipient"
TEMPLATE = "template"


@dataclass(frozen=True, slots=True)
class Code:
    kind: ErrorKind
    category: str = ""
    # None, not "": a lazy text's truth would translate it, and this table is read at
    # import, before any language is active.
    explanation: Promise | str | None = None  # in the words staff read (Zalo's is terse)
    next_step: Promise | str | None = None  # when the category's general step is too vague
    name: str = ""  # a short English name, when Zalo's answer may carry no message


R, A, Q, B, P = (
    ErrorKind.RETRYABLE,
    ErrorKind.AUTH,
    ErrorKind.QUOTA,
    ErrorKind.BLOCKED,
    ErrorKind.PERMANENT,
)
_TOKEN_AGAIN = _("The access token is not valid: authorize the OA again.")

CODES: dict[int, Code] = {
    # Zalo is busy or failing: retried later.
    -32: Code(
        R,
        explanation=_("Zalo's rate limit was exceeded: the call is retried later."),
        next_step=_("Zalo's call limit for this minute is spent; sending resumes on its own."),
    ),
    -100: Code(R),
    -200: Code(R),
    # The OA's authorization (OA API, ZNS, OAuth).
    -124: Code(A, TOKEN, _TOKEN_AGAIN),
    -216: Code(A, TOKEN, _TOKEN_AGAIN),
    -220: Code(A, TOKEN, _("The access token has expired or was removed: authorize the OA again.")),
    -14014: Code(
        A,
        TOKEN,
        _("The refresh token is not valid: authorize the OA again."),
        name="Invalid refresh token",
    ),
    -1241: Code(P, TOKEN),
    -242: Code(P, TOKEN),
    -104: Code(P, TOKEN),
    -204: Code(P, TOKEN),
    -205: Code(P, TOKEN),
    -219: Code(P, TOKEN),
    -14002: Code(P, TOKEN, _("The app id is not valid."), name="Invalid app id"),
    -14004: Code(P, TOKEN, _("The app secret key is not valid."), name="Invalid app secret key"),
    # OAuth requests.
    -14003: Code(
        P,
        explanation=_("The redirect URI does not match the callback registered in Zalo's console."),
        name="Invalid redirect URI (must match the callback registered in Zalo's console)",
    ),
    -14005: Code(
        P,
        explanation=_("The authorization code is not valid, has expired or was already used."),
        name="Invalid, expired or already used authorization code",
    ),
    -14018: Code(P, explanation=_("The grant type is not valid."), name="Invalid grant type"),
    # Quotas.
    -211: Code(
        Q,
        next_step=_(
            "The OA's quota for this feature is spent; check it in Zalo OA Developer Console."
        ),
    ),
    -218: Code(Q),
    -311: Code(Q),
    -115: Code(Q),
    -126: Code(Q),
    -144: Code(
        Q,
        explanation=_("The OA's daily ZBS sending limit is used up."),
        next_step=_("The OA's daily ZNS quota is spent; sending resumes after Zalo's daily reset."),
    ),
    -1441: Code(Q),
    -147: Code(Q, TEMPLATE, _("The template's daily quota is used up.")),
    -1471: Code(Q),
    -1472: Code(Q),
    -160: Code(Q),
    -238: Code(Q),
    -241: Code(Q),
    # The recipient cannot be reached now (OA consultation messages).
    -213: Code(B, explanation=_("The customer does not follow the OA.")),
    -217: Code(B),
    -227: Code(B),
    -230: Code(
        B,
        explanation=_("The customer has not interacted with the OA in the last 7 days."),
        next_step=_(
            "The customer has not written to the OA in 7 days: wait until they do, or send an "
            "approved ZBS template instead."
        ),
    ),
    -232: Code(B),
    -234: Code(B),
    -244: Code(B),
    -305: Code(B),
    # ... and ZNS / ZBS recipients.
    -114: Code(
        B,
        explanation=_(
            "The recipient is not active on Zalo, refused the message or uses an old Zalo."
        ),
    ),
    -118: Code(B, RECIPIENT, _("No Zalo account uses this phone number, or it is disabled.")),
    -119: Code(B),
    -133: Code(B),
    -139: Code(B),
    -140: Code(B),
    -141: Code(B, explanation=_("The customer refused ZBS messages from this OA.")),
    # The recipient cannot be identified.
    -108: Code(P, RECIPIENT, _("The phone number is not valid (use the 84xxxxxxxxx format).")),
    # The template: not approved, disabled, wrong data for it.
    -109: Code(P, TEMPLATE, _("The template id is not valid.")),
    -1091: Code(P, TEMPLATE),
    -111: Code(P, TEMPLATE),
    -112: Code(P, TEMPLATE),
    -1121: Code(P, TEMPLATE, _("A parameter is longer than the template allows.")),
    -1122: Code(P, TEMPLATE, _("A parameter of the template is missing.")),
    -1124: Code(P, TEMPLATE, _("A parameter does not have the format the template asks for.")),
    -117: Code(P, TEMPLATE),
    -131: Code(P, TEMPLATE, _("The template is not approved on Zalo.")),
    -132: Code(P, TEMPLATE, _("A parameter of the template is not valid.")),
    -145: Code(P, TEMPLATE),
    -146: Code(P, TEMPLATE, _("Zalo disabled the template for its low quality.")),
    -249: Code(P, TEMPLATE),
    # The request.
    -201: Code(P, explanation=_("A parameter of the call is not valid.")),
}
