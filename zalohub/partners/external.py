"""Partners as other systems know them: by their own id (``external_refs``), by phone."""

from typing import Any

from django.db import connection, transaction
from django.db.models import QuerySet, TextField
from django.db.models.fields.json import KeyTextTransform
from django.db.models.functions import Cast

from zalohub.partners.models import NameSource, Partner, PartnerPhone
from zalohub.partners.phones import normalize_phone


def partners_by_ref(*, system: str, reference: str) -> QuerySet[Partner]:
    """Partners (not merged away) whose reference in ``system`` is ``reference``."""
    return (
        Partner.objects.filter(merged_into__isnull=True)
        # Cast: a key transform's own "exact" would read the reference as JSON.
        .annotate(_ref=Cast(KeyTextTransform(system, "external_refs"), TextField()))
        .filter(_ref=reference)
    )


def partners_by_phone(*, phone: str) -> QuerySet[Partner]:
    """Partners with this number, typed in any form (InvalidPhone if it is none)."""
    number = normalize_phone(phone)
    ids = PartnerPhone.objects.filter(number=number).values("partner_id")
    return Partner.objects.filter(pk__in=ids, merged_into__isnull=True)


def _lock_reference(system: str, reference: str) -> None:
    """Two upserts of one new reference at once must not make two partners: on
    PostgreSQL they queue on a lock of the reference until the first commits (SQLite's
    write transactions are one at a time already)."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT pg_advisory_xact_lock(hashtext(%s))", [f"partner-ref:{system}:{reference}"]
            )


def partner_upsert_by_ref(
    *,
    system: str,
    reference: str,
    name: str | None = None,
    email: str | None = None,
    phones: list[str] | None = None,
) -> tuple[Partner, bool]:
    """The partner known to ``system`` as ``reference``, created or updated with what is
    given (phones are added, never removed); (partner, created). InvalidPhone when a
    phone is not a valid Vietnamese number: then nothing is written."""
    numbers = list(dict.fromkeys(normalize_phone(p) for p in phones or []))
    with transaction.atomic():
        _lock_reference(system, reference)
        partner = partners_by_ref(system=system, reference=reference).order_by("id").first()
        created = partner is None
        if partner is None:
            partner = Partner(
                name=name or reference,
                name_source=NameSource.STAFF,
                external_refs={system: reference},
            )
        changes: dict[str, Any] = {}
        if name is not None and not created and partner.name != name:
            changes["name"] = name
        if email is not None and partner.email != email:
            changes["email"] = email
        for field, value in changes.items():
            setattr(partner, field, value)
        if created or changes:
            partner.save()
        have = set(partner.phones.values_list("number", flat=True)) if not created else set()
        PartnerPhone.objects.bulk_create(
            [
                PartnerPhone(partner=partner, number=n, source=PartnerPhone.Source.API)
                for n in numbers
                if n not in have
            ]
        )
    return partner, created
