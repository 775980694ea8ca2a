"""Merging two partners into one, journaled so that it can be undone exactly.

Every foreign key that targets a Partner is found by walking Django's model metadata
(DESIGN.md: partners never imports the apps above it), so models added later are merged
without touching this module. A row that would collide with one of the survivor's on a
unique key is left where it is and reported, never deleted.
"""

from collections import defaultdict
from typing import Any

from django.apps import apps
from django.db import models, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from zalohub.partners import hooks
from zalohub.partners.models import (
    DuplicateSuggestion,
    IdentityDecision,
    MergeJournal,
    Partner,
    ZaloPartnerLink,
)

# Fields of a partner an admin may choose to take from the merged one.
CHOOSABLE = ("name", "email", "notes")
# Relations the merge handles itself rather than moving.
_SKIP = {("partners", "partner"), ("partners", "mergejournal"), ("partners", "duplicatesuggestion")}


class MergeRefused(ValueError):
    """The merge cannot be done as asked; the text says why, for the admin."""


class MergeConflict(MergeRefused):
    def __init__(self, conflicts: list[dict[str, Any]]) -> None:
        self.conflicts = conflicts
        names = ", ".join(c["oa"] for c in conflicts)
        super().__init__(
            _(
                "Both partners have a Zalo link on the same OA (%(oas)s): one person has one "
                "id per OA, so check they are one customer, then confirm to keep both links."
            )
            % {"oas": names}
        )


def _partner_references() -> list[tuple[type[models.Model], str]]:
    """(model, field name) of every foreign key to Partner outside the merge's own rows."""
    found = []
    for model in apps.get_models():
        if (model._meta.app_label, model._meta.model_name) in _SKIP:
            continue
        for field in model._meta.get_fields():
            if isinstance(field, models.ForeignKey) and field.related_model is Partner:
                found.append((model, field.name))
    return found


def _unique_keys(model: type[models.Model], field: str) -> list[list[str]]:
    """The other fields of each unique constraint that includes ``field``."""
    keys = []
    for constraint in model._meta.constraints:
        if isinstance(constraint, models.UniqueConstraint) and field in constraint.fields:
            keys.append([f for f in constraint.fields if f != field])
    return keys


def _link_conflicts(survivor: Partner, merged: Partner) -> list[dict[str, Any]]:
    theirs = {link.oa_id: link for link in merged.zalo_links.select_related("oa")}
    return [
        {"oa": link.oa.name, "survivor_link": link.pk, "merged_link": theirs[link.oa_id].pk}
        for link in survivor.zalo_links.select_related("oa")
        if link.oa_id in theirs
    ]


def _fields(partner: Partner) -> dict[str, Any]:
    return {
        "name": partner.name,
        "email": partner.email,
        "notes": partner.notes,
        "external_refs": partner.external_refs,
        "is_shadow": partner.is_shadow,
    }


def _audit(survivor: Partner) -> list[dict[str, Any]]:
    """Re-audit the survivor's links: what an admin should look at after the merge."""
    findings: list[dict[str, Any]] = []
    by_oa: dict[int, list[ZaloPartnerLink]] = defaultdict(list)
    by_app: dict[int, set[str]] = defaultdict(set)
    for link in survivor.zalo_links.select_related("oa"):
        by_oa[link.oa_id].append(link)
        if link.user_id_by_app:
            by_app[link.app_id].add(link.user_id_by_app)
    for links in by_oa.values():
        if len(links) > 1:
            findings.append(
                {
                    "kind": "two_ids_on_one_oa",
                    "oa": links[0].oa.name,
                    "links": [link.pk for link in links],
                }
            )
    for app_id, ids in by_app.items():
        if len(ids) > 1:
            findings.append({"kind": "two_ids_by_app", "app": app_id, "ids": sorted(ids)})
    return findings


def partner_merge(
    *,
    survivor: Partner,
    merged: Partner,
    actor: Any = None,
    take: tuple[str, ...] = (),
    keep_conflicting_links: bool = False,
) -> MergeJournal:
    """Move everything of ``merged`` onto ``survivor`` in one transaction, journaled."""
    if survivor.pk == merged.pk:
        raise MergeRefused(_("A partner cannot be merged into itself."))
    unknown = set(take) - set(CHOOSABLE)
    if unknown:
        raise MergeRefused(_("These fields cannot be taken: %s") % ", ".join(sorted(unknown)))
    with transaction.atomic():
        # Lock both rows in id order, so two admins merging the same pair queue up.
        locked = {
            p.pk: p
            for p in Partner.objects.select_for_update()
            .filter(pk__in=[survivor.pk, merged.pk])
            .order_by("pk")
        }
        survivor, merged = locked[survivor.pk], locked[merged.pk]
        if survivor.merged_into_id or merged.merged_into_id:
            raise MergeRefused(_("One of these partners was already merged; reload and retry."))
        conflicts = _link_conflicts(survivor, merged)
        if conflicts and not keep_conflicting_links:
            raise MergeConflict(conflicts)
        snapshot: dict[str, Any] = {
            "survivor_before": _fields(survivor),
            "merged_before": _fields(merged),
            "moved": [],
            "left": [],
            "link_shadow": {},
            "suggestions": [],
        }
        for model, field in _partner_references():
            rows = model._default_manager.filter(**{field: merged})
            left: set[Any] = set()
            for key in _unique_keys(model, field):
                theirs = set(model._default_manager.filter(**{field: survivor}).values_list(*key))
                for pk, *values in rows.values_list("pk", *key):
                    if tuple(values) in theirs:
                        left.add(pk)
            pks = sorted(set(rows.values_list("pk", flat=True)) - left)
            label = model._meta.label_lower
            if pks:
                model._default_manager.filter(pk__in=pks).update(**{field: survivor})
                snapshot["moved"].append({"model": label, "field": field, "pks": pks})
            if left:
                snapshot["left"].append({"model": label, "field": field, "pks": sorted(left)})
        for field in take:
            setattr(survivor, field, getattr(merged, field))
        survivor.external_refs = {**merged.external_refs, **survivor.external_refs}
        survivor.is_shadow = survivor.is_shadow and merged.is_shadow
        survivor.save()
        # What the survivor became, so the journal shows before and after side by side.
        snapshot["survivor_after"] = _fields(survivor)
        Partner.objects.filter(pk=merged.pk).update(merged_into=survivor)
        for suggestion in DuplicateSuggestion.objects.filter(
            first__in=[survivor, merged], second__in=[survivor, merged]
        ):
            snapshot["suggestions"].append({"pk": suggestion.pk, "status": suggestion.status})
            suggestion.status = DuplicateSuggestion.Status.MERGED
            suggestion.save(update_fields=["status"])
        if not survivor.is_shadow:
            for link in survivor.zalo_links.filter(is_shadow=True):
                snapshot["link_shadow"][str(link.pk)] = True
            survivor.zalo_links.update(is_shadow=False)
        report = {"conflicts": conflicts, "audit": _audit(survivor), "left": snapshot["left"]}
        journal = MergeJournal.objects.create(
            survivor=survivor,
            merged=merged,
            actor=actor if getattr(actor, "pk", None) else None,
            snapshot=snapshot,
            report=report,
        )
        IdentityDecision.objects.create(
            partner=survivor,
            kind=IdentityDecision.Kind.JOINED,
            evidence={"merge": journal.pk, "merged_partner": merged.pk},
            actor=journal.actor,
        )
        hooks.merged(journal)
    return journal


def partner_merge_undo(*, journal: MergeJournal, actor: Any = None) -> MergeJournal:
    """Put every row the merge moved back where it was; report what arrived since."""
    with transaction.atomic():
        journal = MergeJournal.objects.select_for_update().get(pk=journal.pk)
        if journal.undone_at:
            raise MergeRefused(_("This merge was already undone."))
        survivor = Partner.objects.select_for_update().get(pk=journal.survivor_id)
        merged = Partner.objects.select_for_update().get(pk=journal.merged_id)
        if MergeJournal.objects.filter(
            merged=survivor, created_at__gt=journal.created_at, undone_at__isnull=True
        ).exists():
            raise MergeRefused(_("The survivor was merged again since; undo that merge first."))
        snapshot = journal.snapshot
        not_back = []
        for entry in snapshot["moved"]:
            model = apps.get_model(entry["model"])
            field = entry["field"]
            rows = model._default_manager.filter(pk__in=entry["pks"], **{field: survivor})
            back = rows.update(**{field: merged})
            if back != len(entry["pks"]):
                not_back.append({"model": entry["model"], "missing": len(entry["pks"]) - back})
        for name, value in snapshot["survivor_before"].items():
            setattr(survivor, name, value)
        survivor.save()
        for name, value in snapshot["merged_before"].items():
            setattr(merged, name, value)
        merged.merged_into = None
        merged.save()
        for item in snapshot["suggestions"]:
            DuplicateSuggestion.objects.filter(pk=item["pk"]).update(status=item["status"])
        pks = [int(pk) for pk in snapshot["link_shadow"]]
        ZaloPartnerLink.objects.filter(pk__in=pks).update(is_shadow=True)
        moved_links: list[int] = next(
            (e["pks"] for e in snapshot["moved"] if e["model"] == "partners.zalopartnerlink"), []
        )
        since = journal.created_at
        stayed = sum(
            link.messages.filter(created_at__gt=since).count() for link in survivor.zalo_links.all()
        )
        went_back = sum(
            link.messages.filter(created_at__gt=since).count()
            for link in ZaloPartnerLink.objects.filter(pk__in=moved_links)
        )
        journal.undone_at = timezone.now()
        journal.undone_by = actor if getattr(actor, "pk", None) else None
        journal.undo_report = {
            "messages_since_merge_staying_with_survivor": stayed,
            "messages_since_merge_moving_back_with_their_link": went_back,
            "rows_not_moved_back": not_back,
        }
        journal.save()
        hooks.unmerged(journal)
    return journal
