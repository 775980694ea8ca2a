"""What a row of the code table holds: the kind (what the caller does), the category,
the sentence staff read and, where the category's general step is too vague, a next step."""

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
SEND = "send"


@dataclass(frozen=True, slots=True)
class Code:
    kind: ErrorKind
    category: str = ""
    # None, not "": a lazy text's truth would translate it, and this table is read at
    # import, before any language is active.
    explanation: Promise | str | None = None  # in the words staff read (Zalo's is terse)
    next_step: Promise | str | None = None  # when the category's general step is too vague
    name: str = ""  # a short English name, when Zalo's answer may carry no message
    # The code is about the OA, not the message: the OA's sends wait (all of them, held
    # in a retryable state) until Zalo accepts one again.
    holds_oa: bool = False


R, A, Q, B, P = (
    ErrorKind.RETRYABLE,
    ErrorKind.AUTH,
    ErrorKind.QUOTA,
    ErrorKind.BLOCKED,
    ErrorKind.PERMANENT,
)
TOKEN_AGAIN = _("The access token is not valid: authorize the OA again.")
APP_ID_INVALID = _("The app id is not valid.")
APP_SECRET_INVALID = _("The app secret key is not valid.")
PROOF_INVALID = _("The appsecret_proof sent with the call is not valid.")
# -230 and -232: the same situation in Zalo's two wordings.
OUTSIDE_WINDOW_STEP = _(
    "The customer has not written to the OA in 7 days: wait until they do, or send an "
    "approved ZBS template instead."
)
AT_NIGHT = _(
    "Zalo does not send this type of message at night (22:00 to 06:00): send it again after 06:00."
)
