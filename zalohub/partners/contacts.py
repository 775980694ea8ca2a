"""Partners as staff, imports and other systems (the API) create them: one way in, so
every phone is stored as Zalo writes it (84xxxxxxxxx) whoever typed it."""

from collections.abc import Iterable
from typing import Any

from django.db import transaction

from zalohub.partners.models import NameSource, Partner, PartnerPhone
from zalohub.partners.phones import normalize_phone


def partner_add_phone(
    *,
    partner: Partner,
    phone: str,
    source: str = PartnerPhone.Source.API,
    verified: bool = False,
) -> PartnerPhone:
    """Record a phone of the partner, however written; InvalidPhone says why not."""
    number = normalize_phone(phone)
    found, created = PartnerPhone.objects.get_or_create(
        partner=partner, number=number, defaults={"source": source, "verified": verified}
    )
    if not created and verified and not found.verified:
        PartnerPhone.objects.filter(pk=found.pk).update(verified=True)
        found.verified = True
    return found


def partner_create(
    *,
    name: str,
    phones: Iterable[str] = (),
    email: str = "",
    external_refs: dict[str, Any] | None = None,
    source: str = PartnerPhone.Source.API,
) -> Partner:
    """A new partner with its phones; nothing is created if one phone is not valid."""
    numbers = list(dict.fromkeys(normalize_phone(raw) for raw in phones))
    with transaction.atomic():
        partner = Partner.objects.create(
            name=name[:200],
            email=email,
            external_refs=external_refs or {},
            # Named by whoever created it: a Zalo profile never renames it.
            name_source=NameSource.STAFF,
        )
        for number in numbers:
            partner_add_phone(partner=partner, phone=number, source=source)
    return partner
