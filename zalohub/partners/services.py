"""Partner-link actions that talk to Zalo: Sync Profile (one link, a selection, or in
the background for a user seen for the first time), and the OA's partner audit."""

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db.models import Q, QuerySet
from django.dispatch import Signal
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from zalohub.accounts.tokens import TokenUnavailable, call_with_token
from zalohub.core.stored_text import reason, reason_fields
from zalohub.partners.models import (
    DuplicateSuggestion,
    NameSource,
    Partner,
    ZaloPartnerLink,
    name_key,
)
from zalohub.partners.tags import link_set_tags
from zalohub.zalo import ZaloError, call_context, get_client
from zalohub.zalo.oa import UserProfile

logger = logging.getLogger(__name__)


# The app's per-minute call budget (DESIGN.md "Rate"): the events app installs its rate
# windows here at start-up, as partners may not import events. It takes the app's pk
# and answers 0 when a call may go now, else the seconds until the next window.
CallBudget = Callable[[str], float]
# A profile fetch that found Zalo unreachable is tried again after this.
PROFILE_RETRY = timedelta(minutes=5)
_call_budget: CallBudget | None = None


def register_call_budget(budget: CallBudget | None) -> None:
    global _call_budget
    _call_budget = budget


# Sent when a link's Zalo profile was stored (the inbox shows the new name at once).
profile_synced = Signal()  # sender=ZaloPartnerLink, link=ZaloPartnerLink


@dataclass(frozen=True)
class SyncResult:
    link: ZaloPartnerLink
    error: str = ""
    # Seconds until the app's call budget allows the call (nothing was asked of Zalo).
    wait: float = 0.0


def _profile_fields(link: ZaloPartnerLink, profile: UserProfile) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "synced_at": timezone.now(),
        "sync_error": "",
        "sync_error_i18n": None,
        "profile_due_at": None,
        "user_alias": profile.user_alias[:200],
        "zalo_notes": list(profile.notes),
    }
    if profile.is_sensitive is not None:
        fields["is_sensitive"] = profile.is_sensitive
    if day := profile.last_interaction_on:
        fields["zalo_last_interaction_on"] = day
    if profile.display_name:
        fields["display_name"] = profile.display_name[:200]
    if profile.avatar:
        fields["avatar"] = profile.avatar[:500]
    if profile.is_follower is not None:
        fields["is_follower"] = bool(profile.is_follower)
    if profile.user_id_by_app and not link.user_id_by_app:
        fields["user_id_by_app"] = profile.user_id_by_app
    return fields


def _follow_zalo_name(link: ZaloPartnerLink, name: str) -> None:
    """The partner takes the Zalo name unless someone gave it one (staff, the customer)."""
    name = name[:200]
    Partner.objects.filter(pk=link.partner_id, name_source=NameSource.ZALO).exclude(
        name=name
    ).update(name=name, name_key=name_key(name), updated_at=timezone.now())


def link_sync_profile(*, link: ZaloPartnerLink) -> SyncResult:
    """Fetch the user's Zalo profile (name, avatar, alias, tags, notes) within the app's
    call budget, keep it on the link, and give the name to a partner that follows Zalo's.

    Used by Sync Profile and by the background fetch of a user seen for the first time."""
    oa = link.oa
    if _call_budget is not None and (wait := _call_budget(str(oa.app_id))):
        # Nothing asked of Zalo: the fetch stays due, for when the next window opens.
        due = timezone.now() + timedelta(seconds=wait)
        ZaloPartnerLink.objects.filter(pk=link.pk).update(profile_due_at=due)
        error = _(
            "The app's Zalo calls for this minute are used up; the profile will be fetched "
            "in %(seconds)d s."
        ) % {"seconds": max(1, round(wait))}
        return SyncResult(link=link, error=error, wait=wait)
    try:
        with call_context(oa=oa.pk, app=oa.app_id, ref_type="partner_link", ref_id=link.pk):
            profile = call_with_token(
                oa,
                lambda token: get_client().oa.get_user_detail(
                    access_token=token, user_id=link.zalo_user_id
                ),
            )
    except (ZaloError, TokenUnavailable) as exc:
        # A user who blocked or left the OA cannot be read: keep the old profile, say why.
        # Zalo being unreachable, or an OA not (yet, or no longer) authorized, is worth
        # another try later (no call is made without a token); Zalo's refusal is not.
        retry = exc.retryable or isinstance(exc, TokenUnavailable)
        due = timezone.now() + PROFILE_RETRY
        why = reason(gettext_noop("Zalo did not return the profile: %(error)s"), error=exc)
        error = str(why)
        ZaloPartnerLink.objects.filter(pk=link.pk).update(
            profile_due_at=due if retry else None, **reason_fields("sync_error", why)
        )
        link.refresh_from_db()
        return SyncResult(link=link, error=error)
    ZaloPartnerLink.objects.filter(pk=link.pk).update(**_profile_fields(link, profile))
    # Tags into the tables the Zalo Partners list filters on (and tag_names with them).
    link_set_tags(link=link, names=profile.tag_names)
    # The alias the OA's staff gave the user on Zalo is the name they know them by.
    if shown := (profile.user_alias or profile.display_name):
        _follow_zalo_name(link, shown)
    link.refresh_from_db()
    profile_synced.send(sender=ZaloPartnerLink, link=link)
    return SyncResult(link=link)


def links_request_profiles(*, links: QuerySet[ZaloPartnerLink]) -> list[int]:
    """Ask the worker to fetch these profiles (within the call budget); their ids."""
    ids = list(links.values_list("pk", flat=True))
    if ids:
        ZaloPartnerLink.objects.filter(pk__in=ids).update(profile_due_at=timezone.now())
        # Imported here: the task module imports this one.
        from zalohub.partners.tasks import enqueue_profile_fetches

        enqueue_profile_fetches(ids)
    return ids


def stale_links() -> QuerySet[ZaloPartnerLink]:
    """Links whose profile was never synced, or not within the configured days."""
    cutoff = timezone.now() - timedelta(days=settings.PARTNER_PROFILE_STALE_DAYS)
    return ZaloPartnerLink.objects.filter(Q(synced_at__isnull=True) | Q(synced_at__lt=cutoff))


@dataclass(frozen=True)
class AuditCheck:
    key: str
    label: str
    ok: bool
    detail: str
    url: str = ""


def oa_partner_audit(*, oa_id: int) -> list[AuditCheck]:
    """The seed's success checkpoint for one OA, each check with the evidence behind it."""
    links = ZaloPartnerLink.objects.filter(oa_id=oa_id)
    total = links.count()
    shadows = links.filter(is_shadow=True).count()
    partner_ids = links.values("partner_id")
    open_pairs = DuplicateSuggestion.objects.filter(status=DuplicateSuggestion.Status.OPEN).filter(
        Q(first_id__in=partner_ids) | Q(second_id__in=partner_ids)
    )
    duplicates = open_pairs.count()
    stale = stale_links().filter(oa_id=oa_id).count()
    base = reverse("admin:partners_zalopartnerlink_changelist") + f"?oa__id__exact={oa_id}"
    days = settings.PARTNER_PROFILE_STALE_DAYS
    return [
        AuditCheck(
            "list",
            _("The OA has an auditable Zalo Partners list"),
            shadows == 0,
            _("%(total)d link(s), %(shadows)d shadow contact(s) still to verify")
            % {"total": total, "shadows": shadows},
            f"{base}&is_shadow__exact=1",
        ),
        AuditCheck(
            "duplicates",
            _("Customers on several OAs were checked for duplicates"),
            duplicates == 0,
            _("%d open duplicate suggestion(s) involve this OA's partners") % duplicates,
            reverse("admin:partners_duplicatesuggestion_changelist") + "?status__exact=open",
        ),
        AuditCheck(
            "profiles",
            _("Profiles in use are current"),
            stale == 0,
            _("%(stale)d profile(s) not synced within %(days)d days")
            % {"stale": stale, "days": days},
            f"{base}&profile=stale",
        ),
    ]
