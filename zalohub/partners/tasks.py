"""The partners' background work: profile fetches and keeping the duplicate queue current.

A profile fetch's state lives on the link (``profile_due_at``); a task carries only link
ids, so a task lost with its worker costs nothing: the periodic job finds the links
still due and asks again.
"""

from datetime import timedelta

from django.db.models import QuerySet
from django.tasks import task
from django.utils import timezone

from zalohub.core import periodic
from zalohub.partners.duplicates import ScanResult, duplicates_scan
from zalohub.partners.models import ZaloPartnerLink
from zalohub.partners.services import link_sync_profile

# A claimed fetch not finished by then (its worker died) is due again.
CLAIM = timedelta(minutes=2)
# Links due longer than this have no task on the way (a task claims within seconds).
LOST_AFTER = timedelta(minutes=1)
CHUNK = 200


def _claim(link_id: int) -> bool:
    now = timezone.now()
    return bool(
        ZaloPartnerLink.objects.filter(pk=link_id, profile_due_at__lte=now).update(
            profile_due_at=now + CLAIM
        )
    )


@task(queue_name="zalo")
def fetch_profiles(link_ids: list[int]) -> str:
    """Fetch the profiles still due among ``link_ids``, in each app's call budget; what
    the budget leaves for later comes back as one task for when the window opens."""
    fetched = failed = 0
    waits: dict[int, float] = {}  # app pk -> seconds until its next window
    later: list[int] = []
    due = ZaloPartnerLink.objects.filter(pk__in=link_ids, profile_due_at__lte=timezone.now())
    for link in due.select_related("oa__app", "partner").order_by("pk"):
        if link.app_id in waits:
            later.append(link.pk)
            continue
        if not _claim(link.pk):
            continue  # another task has it, or it was fetched meanwhile
        result = link_sync_profile(link=link)
        if result.wait:
            waits[link.app_id] = result.wait
            later.append(link.pk)
        elif result.error:
            failed += 1
        else:
            fetched += 1
    if later:
        wait = max(waits.values())
        run_after = timezone.now() + timedelta(seconds=wait)
        ZaloPartnerLink.objects.filter(pk__in=later).update(profile_due_at=run_after)
        fetch_profiles.using(run_after=run_after).enqueue(later)
    return f"{fetched} fetched, {failed} failed, {len(later)} waiting for the call budget"


def enqueue_profile_fetches(link_ids: list[int]) -> None:
    """One task per chunk of links (a task row costs more than the ids it carries)."""
    for start in range(0, len(link_ids), CHUNK):
        fetch_profiles.enqueue(link_ids[start : start + CHUNK])


def lost_fetches() -> QuerySet[ZaloPartnerLink]:
    return ZaloPartnerLink.objects.filter(profile_due_at__lt=timezone.now() - LOST_AFTER)


@periodic.register("partners.profile_fetches", every_seconds=60)
def requeue_profile_fetches() -> int:
    ids = list(lost_fetches().order_by("profile_due_at").values_list("pk", flat=True)[:5000])
    enqueue_profile_fetches(ids)
    return len(ids)


@periodic.register("partners.duplicates_scan", every_seconds=3600)
def scan_duplicates() -> ScanResult:
    return duplicates_scan()
