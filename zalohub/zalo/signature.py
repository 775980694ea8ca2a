"""Webhook signatures: X-ZEvent-Signature = "mac=" + sha256(first + body + timestamp + key).

Sources disagree (API.md §3.2, both CONFLICT): on the first term (the app id, as
documented, or the OA id) and on the key (the OA secret key, as documented and as most
code does, or the app secret key); and on whether the header carries the "mac="
prefix. Verification accepts each variant and says which one matched, so that what
Zalo really sends can be seen (recorded on the app, shown to its admin).
"""

import hashlib
import hmac

# Django's lazy gettext is not one of our modules: a label is translated when shown.
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

# Variant -> (first term, key), in the order tried: the documented one first. The names
# are stored (events, the app), at most 16 characters; the first two are the names
# stored before the app secret key was tried.
APP_ID_OA_KEY = "app_id"
OA_ID_OA_KEY = "oa_id"
APP_ID_APP_KEY = "app_id+app_key"
OA_ID_APP_KEY = "oa_id+app_key"
VARIANTS = (APP_ID_OA_KEY, OA_ID_OA_KEY, APP_ID_APP_KEY, OA_ID_APP_KEY)
VARIANT_LABELS: dict[str, Promise] = {
    APP_ID_OA_KEY: _("App ID + OA secret key (as documented)"),
    OA_ID_OA_KEY: _("OA ID + OA secret key"),
    APP_ID_APP_KEY: _("App ID + app secret key"),
    OA_ID_APP_KEY: _("OA ID + app secret key"),
}


def variant_label(variant: str) -> str:
    """The variant's label in the active language; an unknown name as it is."""
    label = VARIANT_LABELS.get(variant)
    return str(label) if label is not None else variant


def webhook_mac(*, first: str, raw_body: str, timestamp: str, secret_key: str) -> str:
    data = f"{first}{raw_body}{timestamp}{secret_key}".encode()
    return hashlib.sha256(data).hexdigest()


def verify_webhook(
    *,
    header: str,
    raw_body: str,
    timestamp: str,
    secret_key: str,
    app_id: str,
    oa_id: str = "",
    app_secret_key: str = "",
) -> str | None:
    """The name of the variant that matched (one of VARIANTS), or None if none did.
    ``secret_key`` is the OA secret key; without it nothing is accepted."""
    given = header.strip()
    if given.lower().startswith("mac="):
        given = given[4:]
    given = given.strip().lower()
    if not given or not secret_key:
        return None
    tries = (
        (APP_ID_OA_KEY, app_id, secret_key),
        (OA_ID_OA_KEY, oa_id, secret_key),
        (APP_ID_APP_KEY, app_id, app_secret_key),
        (OA_ID_APP_KEY, oa_id, app_secret_key),
    )
    for name, first, key in tries:
        if not first or not key:
            continue
        expected = webhook_mac(first=first, raw_body=raw_body, timestamp=timestamp, secret_key=key)
        if hmac.compare_digest(expected, given):
            return name
    return None
