"""Phone numbers as Zalo wants them (84xxxxxxxxx), and the values that must join nothing."""

import re

import phonenumbers
from django.conf import settings
from django.utils.translation import gettext as _

# Numbers people type when a form insists on one; they identify nobody. The last two
# are the sample numbers of Zalo's own documentation, which integrations copy.
_PLACEHOLDER_NATIONAL = re.compile(r"^(\d)\1+$|^0?123456789$|^0?987654321$")
BUILTIN_BLOCKED = frozenset({"84123456789", "84987654321"})


class InvalidPhone(ValueError):
    """Not a valid Vietnamese number; the text says why, in the reader's language."""


def _not_valid() -> InvalidPhone:
    return InvalidPhone(
        _("This is not a valid Vietnamese phone number: write it like 0912 345 678.")
    )


def normalize_phone(raw: str) -> str:
    """``raw`` as 84xxxxxxxxx, or InvalidPhone: only valid Vietnamese numbers are used.

    Staff type numbers every way ("0912 345 678", "+84 912-345-678", "0912345678");
    one spelling per number is what lets the duplicate scan and phone sends match them."""
    text = (raw or "").strip()
    if not text:
        raise InvalidPhone(_("Enter a phone number."))
    digits = re.sub(r"[^\d+]", "", text)
    # Zalo writes numbers as 84xxxxxxxxx without a plus; people write 0xxxxxxxxx.
    if digits.startswith("84") and not digits.startswith("+"):
        digits = "+" + digits
    try:
        number = phonenumbers.parse(digits, "VN")
    except phonenumbers.NumberParseException:
        raise _not_valid() from None
    if number.country_code != 84:
        raise InvalidPhone(
            _("This is not a Vietnamese phone number: Zalo reaches numbers of Vietnam (+84) only.")
        )
    if not phonenumbers.is_valid_number(number):
        raise _not_valid()
    return f"{number.country_code}{number.national_number}"


def format_phone(number: str) -> str:
    """A stored 84xxxxxxxxx as Vietnamese staff read it ("0912 345 678"); other text as is."""
    try:
        parsed = phonenumbers.parse("+" + number if number.startswith("84") else number, "VN")
    except phonenumbers.NumberParseException:
        return number
    if not phonenumbers.is_valid_number(parsed):
        return number
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.NATIONAL)


def is_blocked_phone(normalized: str) -> bool:
    """A placeholder or configured test number: never evidence of anybody's identity."""
    national = normalized[2:] if normalized.startswith("84") else normalized
    return (
        normalized in BUILTIN_BLOCKED
        or normalized in settings.PARTNER_BLOCKED_PHONES
        or bool(_PLACEHOLDER_NATIONAL.match(national))
    )


def is_blocked_user_id(user_id: str) -> bool:
    """Test ids configured by the business (e.g. staff's own test accounts)."""
    return not user_id or user_id in settings.PARTNER_BLOCKED_USER_IDS
