"""Partner-link actions that talk to Zalo: Sync Profile (one link or a selection)."""

import logging
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db.models import Q, QuerySet
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from zalohub.accounts.tokens import TokenUnavailable, call_with_token
from zalohub.partners.models import DuplicateSuggestion, ZaloPartnerLink
from zalohub.zalo import ZaloError, call_context, get_client

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class SyncResult:
    link: ZaloPartnerLink
    error: str = ""


def link_sync_profile(*, link: ZaloPartnerLink) -> SyncResult:
    """Fetch the user's latest name and avatar from Zalo and record when."""
    oa = link.oa
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
        error = _("Zalo did not return the profile: %(error)s") % {"error": exc}
        ZaloPartnerLink.objects.filter(pk=link.pk).update(sync_error=error[:1000])
        link.refresh_from_db()
        return SyncResult(link=link, error=error)
    fields = {"synced_at": timezone.now(), "sync_error": ""}
    if profile.display_name:
        fields["display_name"] = profile.display_name[:200]
    if profile.avatar:
        fields["avatar"] = profile.avatar[:500]
    if profile.is_follower is not None:
        fields["is_follower"] = bool(profile.is_follower)
    if profile.user_id_by_app and not link.user_id_by_app:
        fields["user_id_by_app"] = profile.user_id_by_app
    ZaloPartnerLink.objects.filter(pk=link.pk).update(**fields)
    link.refresh_from_db()
    return SyncResult(link=link)


def links_sync_profiles(*, links: QuerySet[ZaloPartnerLink]) -> list[SyncResult]:
    return [link_sync_profile(link=link) for link in links.select_related("oa__app")]


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
