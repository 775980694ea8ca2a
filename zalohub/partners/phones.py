"""Phone numbers as Zalo wants them (84xxxxxxxxx), and the values that must join nothing."""

import re

import phonenumbers
from django.conf import settings

# Numbers people type when a form insists on one; they identify nobody. The last two
# are the sample numbers of Zalo's own documentation, which integrations copy.
_PLACEHOLDER_NATIONAL = re.compile(r"^(\d)\1+$|^0?123456789$|^0?987654321$")
BUILTIN_BLOCKED = frozenset({"84123456789", "84987654321"})


class InvalidPhone(ValueError):
    """Not a valid Vietnamese number; the text says why."""


def normalize_phone(raw: str) -> str:
    """``raw`` as 84xxxxxxxxx, or InvalidPhone: only valid Vietnamese numbers are used."""
    text = (raw or "").strip()
    if not text:
        raise InvalidPhone("empty")
    digits = re.sub(r"[^\d+]", "", text)
    # Zalo writes numbers as 84xxxxxxxxx without a plus; people write 0xxxxxxxxx.
    if digits.startswith("84") and not digits.startswith("+"):
        digits = "+" + digits
    try:
        number = phonenumbers.parse(digits, "VN")
    except phonenumbers.NumberParseException as exc:
        raise InvalidPhone(str(exc)) from None
    if phonenumbers.region_code_for_number(number) != "VN":
        raise InvalidPhone("not a Vietnamese number")
    if not phonenumbers.is_valid_number(number):
        raise InvalidPhone("not a valid number")
    return f"{number.country_code}{number.national_number}"


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
