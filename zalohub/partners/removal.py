"""What a confirmed data removal does to partners' tables (``core.removal``); it runs
last, after the apps that find the person's rows through their link or partner.

- The Zalo link loses the user id (a placeholder instead), the profile, tags and notes.
- The partner, when no other OA links to it, is anonymized, and so are the partners
  once merged into it (the same person: their redirects keep name, phones and notes);
  when another OA links to it, the partner stays (the customer of that OA).
- The merge journal keeps each merge and its undo; the snapshots of an anonymized
  partner lose its name, email, notes and references, and every snapshot and report
  loses the person's ids. Duplicate suggestions and identity decisions lose the values
  (phones, names, ids) they give as evidence.
"""

from typing import Any

from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from zalohub.core.removal import REMOVED, Counts, Person, register_remover
from zalohub.partners.models import (
    DuplicateSuggestion,
    IdentityDecision,
    MergeJournal,
    NameSource,
    Partner,
    PartnerPhone,
    ZaloPartnerLink,
    ZaloTagging,
)

REMOVED_NAME = "Removed customer %(n)d"  # stored like the "Zalo user" placeholder
# A merge snapshot's copy of a partner's own fields (partners.merge._fields).
SNAPSHOT_FIELDS = ("survivor_before", "merged_before", "survivor_after")


def partners_merged_into(partner_pk: int) -> list[int]:
    """Every partner whose redirect leads to ``partner_pk`` (merged into it, or into one
    merged into it)."""
    found: list[int] = []
    frontier = [partner_pk]
    while frontier:
        frontier = list(
            Partner.objects.filter(merged_into_id__in=frontier)
            .exclude(pk__in=[partner_pk, *found])
            .values_list("pk", flat=True)
        )
        found.extend(frontier)
    return found


def _link(person: Person) -> Counts:
    if person.link_pk is None:
        return {"link": False}
    tags = ZaloTagging.objects.filter(link_id=person.link_pk).delete()[0]
    ZaloPartnerLink.objects.filter(pk=person.link_pk).update(
        zalo_user_id=person.placeholder,
        user_id_by_app="",
        display_name="",
        avatar="",
        user_alias="",
        tag_names=[],
        zalo_notes=[],
        evidence={},
        is_sensitive=None,
        sync_error="",
        sync_error_i18n=None,
        profile_due_at=None,
    )
    IdentityDecision.objects.filter(link_id=person.link_pk).update(evidence={})
    partner = ZaloPartnerLink.objects.filter(pk=person.link_pk).values("partner_id")
    others = ZaloPartnerLink.objects.filter(partner_id__in=partner).exclude(pk=person.link_pk)
    return {"link": True, "tags": tags, "other_links": others.count()}


def _partners(person: Person) -> Counts:
    if person.partner_pk is None:
        return {}
    if not person.partner_removed:
        # The customer of other OAs too: their data stays there.
        return {"partner": "kept"}
    pks = person.removed_partner_pks
    for pk in pks:
        Partner.objects.filter(pk=pk).update(
            name=REMOVED_NAME % {"n": person.request_id},
            name_key="",
            name_source=NameSource.STAFF,
            email="",
            notes="",
            external_refs={},
            updated_at=timezone.now(),
        )
    PartnerPhone.objects.filter(partner_id__in=pks).delete()
    IdentityDecision.objects.filter(partner_id__in=pks).update(evidence={})
    return {"partner": "anonymized", "merged_partners": len(pks) - 1}


def _anonymized_fields(fields: Any, person: Person) -> Any:
    if not isinstance(fields, dict):
        return fields
    return {
        **fields,
        "name": REMOVED_NAME % {"n": person.request_id},
        "email": "",
        "notes": "",
        "external_refs": {},
    }


def _journals(person: Person) -> int:
    scrub = person if person.partner_removed else person.zalo_ids_only()
    partners = [pk for pk in (person.partner_pk, *person.merged_partner_pks) if pk]
    removed = set(person.removed_partner_pks)
    changed = 0
    journals = MergeJournal.objects.filter(
        Q(survivor_id__in=partners) | Q(merged_id__in=partners)
    ).values_list("pk", "survivor_id", "merged_id", "snapshot", "report", "undo_report")
    for pk, survivor, merged, snapshot, report, undo_report in list(journals):
        new_snapshot = dict(snapshot)
        if survivor in removed:
            for key in ("survivor_before", "survivor_after"):
                new_snapshot[key] = _anonymized_fields(snapshot.get(key), person)
        if merged in removed:
            merged_before = snapshot.get("merged_before")
            new_snapshot["merged_before"] = _anonymized_fields(merged_before, person)
        new = (scrub.scrub_json(new_snapshot), scrub.scrub_json(report))
        new_undo = scrub.scrub_json(undo_report)
        if (new[0], new[1], new_undo) != (snapshot, report, undo_report):
            MergeJournal.objects.filter(pk=pk).update(
                snapshot=new[0], report=new[1], undo_report=new_undo
            )
            changed += 1
    return changed


def _suggestions(person: Person) -> int:
    partners = [pk for pk in (person.partner_pk, *person.merged_partner_pks) if pk]
    removed = set(person.removed_partner_pks)
    changed = 0
    rows = DuplicateSuggestion.objects.filter(
        Q(first_id__in=partners) | Q(second_id__in=partners)
    ).values_list("pk", "first_id", "second_id", "reasons")
    for pk, first, second, reasons in list(rows):
        if first in removed or second in removed:
            # Every value a reason gives is one the two partners share: hers.
            new = [
                {**r, "value": REMOVED} if isinstance(r, dict) and "value" in r else r
                for r in reasons
            ]
        else:
            new = person.zalo_ids_only().scrub_json(reasons)
        if new != reasons:
            DuplicateSuggestion.objects.filter(pk=pk).update(reasons=new)
            changed += 1
    return changed


@register_remover(
    "partners",
    position=90,
    labels={
        "tags": _("Zalo tags removed"),
        "partner": _("Partner"),
        "merged_partners": _("Partners merged into it, anonymized"),
        "other_links": _("Links on other OAs (kept)"),
        "merge_journals": _("Merge journal entries cleaned"),
        "duplicate_suggestions": _("Duplicate suggestions cleaned"),
    },
)
def remove(person: Person) -> Counts:
    counts = _link(person)
    counts.update(_partners(person))
    counts["merge_journals"] = _journals(person)
    counts["duplicate_suggestions"] = _suggestions(person)
    return counts
