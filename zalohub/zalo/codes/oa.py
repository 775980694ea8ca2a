"""The OA API's codes (openapi host; API.md §2.5, and the older codes it lists)."""

from django.utils.translation import gettext_lazy as _

from zalohub.zalo.codes.base import (
    APP_ID_INVALID,
    AT_NIGHT,
    OUTSIDE_WINDOW_STEP,
    PROOF_INVALID,
    SEND,
    TEMPLATE,
    TOKEN,
    TOKEN_AGAIN,
    A,
    B,
    Code,
    P,
    Q,
    R,
)

OA_CODES: dict[int, Code] = {
    # Zalo is busy or failing: retried later.
    -32: Code(
        R,
        explanation=_("Zalo's rate limit was exceeded: the call is retried later."),
        next_step=_("Zalo's call limit for this minute is spent; sending resumes on its own."),
    ),
    # "attachment_id was expired" here; the business host's -100 is another error (zns.py).
    -100: Code(
        P,
        SEND,
        _(
            "The uploaded image or file has expired (Zalo keeps uploads 7 days): upload it "
            "again and send a new message."
        ),
    ),
    -200: Code(R, explanation=_("Zalo could not send the message: the call is retried.")),
    -214: Code(R, explanation=_("Zalo is still processing the article: try again later.")),
    # The OA's authorization.
    -216: Code(A, TOKEN, TOKEN_AGAIN),
    -220: Code(A, TOKEN, _("The access token has expired or was removed: authorize the OA again.")),
    -242: Code(P, TOKEN, PROOF_INVALID),
    -204: Code(P, TOKEN, _("The OA is disabled on Zalo.")),
    -205: Code(P, TOKEN, _("The OA does not exist on Zalo.")),
    -219: Code(P, TOKEN, _("The Zalo app was removed or disabled.")),
    # Older codes (a 2023 SDK's table, API.md §2.5).
    -202: Code(P, TOKEN, _("Zalo refused the request's signature (MAC).")),
    -207: Code(P, TOKEN, _("The OA has not registered this app as a third party.")),
    -208: Code(P, TOKEN, _("The OA has no secret key.")),
    -215: Code(P, TOKEN, APP_ID_INVALID),
    # The OA, its package and what the app may call.
    -209: Code(
        P,
        explanation=_(
            "Zalo does not support this API for the app (the app is not activated, or the "
            "API was retired)."
        ),
    ),
    -212: Code(P, explanation=_("The app has not registered this API in Zalo's console.")),
    -221: Code(P, explanation=_("The OA must be verified to use this feature.")),
    -223: Code(
        P, explanation=_("The OA has not granted this API to the app, or reached its limit for it.")
    ),
    -224: Code(P, explanation=_("The OA's package must be upgraded to use this feature.")),
    -227: Code(
        B,
        SEND,
        _(
            "Zalo reports the account banned or inactive for more than 45 days: the OA's "
            "sends wait until Zalo accepts them again."
        ),
        _(
            "Open Zalo OA Manager (oa.zalo.me) and check the OA's status and Zalo's notices; "
            "reactivate the OA or settle the ban with Zalo. Held messages are sent on their "
            "own once Zalo accepts the OA's sends again."
        ),
        holds_oa=True,
    ),
    -235: Code(P, explanation=_("This API does not support this type of OA.")),
    -237: Code(P, explanation=_("The group is disabled (its group messaging package expired).")),
    -240: Code(P, explanation=_("Zalo's v2 message API is shut down: messages go through v3.")),
    -320: Code(
        P, explanation=_("The app must be linked to a Zalo Cloud Account to use paid features.")
    ),
    -403: Code(P, explanation=_("The OA is not a member of the group.")),
    -1340: Code(P, explanation=_("Zalo cannot find this form.")),
    -1341: Code(P, explanation=_("The OA has no access to this form.")),
    # Quotas.
    -211: Code(
        Q,
        explanation=_("The OA's quota for this feature is used up."),
        next_step=_(
            "The OA's quota for this feature is spent; check it in Zalo OA Developer Console."
        ),
    ),
    -218: Code(
        Q, explanation=_("The customer has received as many messages as Zalo allows for now.")
    ),
    -238: Code(Q, explanation=_("The quota package (asset) is already used or disabled.")),
    -241: Code(Q, explanation=_("The quota package (asset) is already used.")),
    -321: Code(
        Q,
        explanation=_(
            "The app's Zalo Cloud Account is out of money or cannot be charged: top it up."
        ),
    ),
    -311: Code(
        Q, explanation=_("The quota for replying to the customer is used up (an older rule).")
    ),
    # The recipient cannot be reached now.
    -213: Code(B, explanation=_("The customer does not follow the OA.")),
    -217: Code(B, explanation=_("The customer blocked invitations from the OA.")),
    -222: Code(
        B, explanation=_("The account has been inactive for more than 45 days (an older code).")
    ),
    -230: Code(
        B,
        explanation=_("The customer has not interacted with the OA in the last 7 days."),
        next_step=OUTSIDE_WINDOW_STEP,
    ),
    -232: Code(
        B,
        explanation=_(
            "The customer has not interacted with the OA, or their last interaction expired."
        ),
        next_step=OUTSIDE_WINDOW_STEP,
    ),
    -234: Code(B, explanation=AT_NIGHT),
    -244: Code(B, explanation=_("The customer has restricted this type of message from the OA.")),
    -305: Code(
        B, explanation=_("The OA cannot reply to the customer after 48 hours (an older rule).")
    ),
    # The message itself.
    -201: Code(P, explanation=_("A parameter of the call is not valid.")),
    -210: Code(
        P,
        explanation=_("A parameter exceeds Zalo's limit (a file too large, a text too long)."),
    ),
    -233: Code(P, explanation=_("Zalo does not support this type of message.")),
    -248: Code(P, explanation=_("Zalo refused the message as against its platform standards.")),
    -249: Code(P, TEMPLATE, _("This template cannot be sent by UID: send it by phone.")),
}
