"""The business host's codes: ZBS Template Message, formerly ZNS (API.md §4.5). -100 is
the OA table's too, with another meaning there (an expired upload)."""

from django.utils.translation import gettext_lazy as _

from zalohub.zalo.codes.base import (
    APP_SECRET_INVALID,
    PROOF_INVALID,
    RECIPIENT,
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

_NIGHT_TEMPLATE = _(
    "Zalo does not send this template at night (22:00 to 06:00): send it again after 06:00."
)

ZNS_CODES: dict[int, Code] = {
    # "Unknown error": nothing about the request says it would fail again.
    -100: Code(
        R,
        SEND,
        _("Zalo's template host reported an unknown error: the call is retried."),
        next_step=_(
            "If it keeps failing, contact Zalo support with the time of the send and its "
            "tracking id."
        ),
    ),
    # The app, the OA and their authorization.
    -124: Code(A, TOKEN, TOKEN_AGAIN),
    -1241: Code(P, TOKEN, PROOF_INVALID),
    -101: Code(P, TOKEN, _("The Zalo app is not valid.")),
    -102: Code(P, TOKEN, _("The Zalo app does not exist.")),
    -103: Code(P, TOKEN, _("The Zalo app is not activated.")),
    -104: Code(P, TOKEN, APP_SECRET_INVALID),
    -105: Code(P, TOKEN, _("The Zalo app is not linked to any OA.")),
    -125: Code(P, TOKEN, _("The OA id is not valid.")),
    -138: Code(P, TOKEN, _("The Zalo app has no permission for this.")),
    # What the OA may send, its Zalo Cloud Account.
    -120: Code(P, explanation=_("The OA has no permission for this feature.")),
    -1202: Code(P, explanation=_("The OA has no permission to send media.")),
    -135: Code(
        P,
        explanation=_(
            "The OA has no permission to send ZBS messages (it must be verified and on a "
            "paid plan)."
        ),
    ),
    -1351: Code(P, explanation=_("The OA is blocked from sending ZBS messages.")),
    -136: Code(P, explanation=_("The app must be linked to a Zalo Cloud Account.")),
    -1381: Code(P, explanation=_("The extension has no permission on the Zalo Cloud Account.")),
    # The request.
    -106: Code(P, explanation=_("Zalo does not support this method.")),
    -107: Code(P, explanation=_("The message id is not valid.")),
    -121: Code(P, explanation=_("The request body was empty.")),
    -122: Code(P, explanation=_("The request body was not valid JSON.")),
    -123: Code(P, explanation=_("Zalo could not decrypt the RSA-encrypted data.")),
    -128: Code(P, explanation=_("The encoding key is missing.")),
    -129: Code(P, explanation=_("Zalo could not generate the RSA key.")),
    -142: Code(P, explanation=_("The RSA key does not exist.")),
    -143: Code(P, explanation=_("The RSA key already exists.")),
    -148: Code(P, explanation=_("The journey token is missing.")),
    -149: Code(P, explanation=_("The journey token is not valid.")),
    -1491: Code(P, explanation=_("The journey token is of the wrong type.")),
    -150: Code(P, explanation=_("The journey token has expired.")),
    -152: Code(P, explanation=_("Zalo could not get the end-to-end encryption key.")),
    -153: Code(P, explanation=_("The encrypted data is not valid.")),
    -158: Code(P, explanation=_("The uploaded file is too large.")),
    -159: Code(P, explanation=_("The uploaded file's format is not valid.")),
    -161: Code(P, explanation=_("The sending mode is not valid.")),
    # Quotas.
    -115: Code(Q, explanation=_("The ZBS quota or the account's balance is used up.")),
    -126: Code(Q, explanation=_("The development mode's quota is used up.")),
    -137: Code(Q, explanation=_("The Zalo Cloud Account could not be charged: top it up.")),
    -144: Code(
        Q,
        explanation=_("The OA's daily ZBS sending limit is used up."),
        next_step=_("The OA's daily ZNS quota is spent; sending resumes after Zalo's daily reset."),
    ),
    -1441: Code(Q, explanation=_("The OA's monthly promotion limit is used up.")),
    -147: Code(Q, TEMPLATE, _("The template's daily quota is used up.")),
    -1471: Code(Q, explanation=_("The customer reached the monthly limit of follow-up messages.")),
    -1472: Code(Q, explanation=_("The customer reached the daily limit of promotion messages.")),
    -160: Code(
        Q,
        explanation=_("The daily limit for creating, editing or uploading templates is used up."),
    ),
    # The recipient cannot be reached now.
    -110: Code(B, explanation=_("The customer's Zalo version cannot show this message.")),
    -114: Code(
        B,
        explanation=_(
            "The recipient is not active on Zalo, refused the message or uses an old Zalo."
        ),
    ),
    -118: Code(B, RECIPIENT, _("No Zalo account uses this phone number, or it is disabled.")),
    -119: Code(B, explanation=_("This Zalo account cannot receive messages.")),
    -133: Code(B, explanation=_NIGHT_TEMPLATE),
    -134: Code(B, explanation=_("The customer has not opted in (a code Zalo no longer uses).")),
    -139: Code(B, explanation=_("The customer refused this type of template.")),
    -140: Code(B, explanation=_("The customer cannot receive this message under Zalo's policy.")),
    -141: Code(B, explanation=_("The customer refused ZBS messages from this OA.")),
    # The recipient cannot be identified.
    -108: Code(P, RECIPIENT, _("The phone number is not valid (use the 84xxxxxxxxx format).")),
    # The template: not approved, disabled, wrong data for it.
    -109: Code(P, TEMPLATE, _("The template id is not valid.")),
    -1091: Code(P, TEMPLATE, _("This template cannot be edited (only a rejected one can).")),
    -111: Code(P, TEMPLATE, _("The template data is empty.")),
    -112: Code(P, TEMPLATE, _("The template data has a type Zalo does not know.")),
    -1121: Code(P, TEMPLATE, _("A parameter is longer than the template allows.")),
    -1122: Code(P, TEMPLATE, _("A parameter of the template is missing.")),
    -1123: Code(P, TEMPLATE, _("Zalo could not make the QR code from a parameter.")),
    -1124: Code(P, TEMPLATE, _("A parameter does not have the format the template asks for.")),
    -113: Code(P, TEMPLATE, _("A button of the template is not valid.")),
    -1131: Code(P, TEMPLATE, _("A button's type is not valid.")),
    -1132: Code(P, TEMPLATE, _("A button's content is not valid.")),
    -116: Code(P, TEMPLATE, _("The text of the template is not valid.")),
    -117: Code(P, TEMPLATE, _("The app or the OA has no access to this template.")),
    -1201: Code(P, TEMPLATE, _("The OA has no permission to send promotion (tag 3) templates.")),
    -127: Code(
        P,
        TEMPLATE,
        _("A template in development mode can only be sent to the app's or the OA's admins."),
    ),
    -130: Code(P, TEMPLATE, _("The content is longer than Zalo allows.")),
    -131: Code(P, TEMPLATE, _("The template is not approved on Zalo.")),
    -132: Code(P, TEMPLATE, _("A parameter of the template is not valid.")),
    -145: Code(P, TEMPLATE, _("The OA is not allowed to send this type of content.")),
    -146: Code(P, TEMPLATE, _("Zalo disabled the template for its low quality.")),
    -151: Code(P, TEMPLATE, _("The template is not an end-to-end encrypted template.")),
    -162: Code(
        P,
        TEMPLATE,
        _("Sending beyond the quota (mode 3) is not allowed for this template's tag."),
    ),
}
