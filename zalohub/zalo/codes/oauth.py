"""The OAuth v4 token endpoint's codes (API.md §1.6: the only ones seen from Zalo)."""

from django.utils.translation import gettext_lazy as _

from zalohub.zalo.codes.base import APP_ID_INVALID, APP_SECRET_INVALID, TOKEN, A, Code, P

OAUTH_CODES: dict[int, Code] = {
    -14014: Code(
        A,
        TOKEN,
        _("The refresh token is not valid: authorize the OA again."),
        name="Invalid refresh token",
    ),
    -14002: Code(P, TOKEN, APP_ID_INVALID, name="Invalid app id"),
    -14004: Code(P, TOKEN, APP_SECRET_INVALID, name="Invalid app secret key"),
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
}
