"""Tasks and periodic jobs: template syncs and bulk sends (a stuck template send is the
outbound pipeline's sweeper's, like every send)."""

import logging

from django.conf import settings
from django.tasks import task

from zalohub.accounts.models import OfficialAccount
from zalohub.accounts.tokens import TokenUnavailable
from zalohub.core import periodic
from zalohub.core.stored_text import reason_fields
from zalohub.zalo import ZaloError
from zalohub.zbs import bulk  # noqa: F401  (registers bulk_task)
from zalohub.zbs.models import ZbsSettings
from zalohub.zbs.services import oa_settings, quota_refresh, templates_sync

logger = logging.getLogger(__name__)


@task(queue_name="zalo")
def sync_templates(oa_pk: int) -> str:
    oa = OfficialAccount.objects.get(pk=oa_pk)
    try:
        result = templates_sync(oa=oa)
        quota_refresh(oa=oa)
    except (ZaloError, TokenUnavailable) as exc:
        ZbsSettings.objects.filter(pk=oa_settings(oa).pk).update(
            **reason_fields("last_sync_error", exc)
        )
        return f"failed: {exc}"
    return f"{len(result.created)} new, {len(result.updated)} updated"


@periodic.register("zbs.sync", every_seconds=settings.ZBS_SYNC_SECONDS)
def sync_all() -> int:
    """Templates and quota of every connected OA, as often as ZBS_SYNC_SECONDS."""
    oas = OfficialAccount.objects.filter(status=OfficialAccount.Status.CONNECTED)
    for oa in oas:
        sync_templates.enqueue(oa.pk)
    return oas.count()
