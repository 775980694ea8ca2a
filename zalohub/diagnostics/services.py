"""Recomputing health: by the worker every few minutes, and on demand from the page."""

import logging

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from zalohub.accounts.models import OfficialAccount
from zalohub.core import periodic
from zalohub.diagnostics.alerts import sync_incidents
from zalohub.diagnostics.checks.run import OAHealth, oa_health
from zalohub.diagnostics.models import HealthSnapshot

logger = logging.getLogger(__name__)


def health_refresh(*, oa: OfficialAccount, alert: bool = True) -> OAHealth:
    """Run every check of the OA, store the result, and raise or clear its alerts."""
    health = oa_health(oa=oa, now=timezone.now())
    with transaction.atomic():
        HealthSnapshot.objects.update_or_create(
            oa=oa,
            defaults={
                "level": health.level,
                "checks": [c.as_dict() for c in health.checks],
                "computed_at": health.computed_at,
            },
        )
        if alert:
            sync_incidents(health=health)
    return health


def health_refresh_all() -> list[OAHealth]:
    results = []
    for oa in OfficialAccount.objects.select_related("app").order_by("pk"):
        try:
            results.append(health_refresh(oa=oa))
        except Exception:
            logger.exception("Health check of OA %s failed", oa.pk)
    return results


@periodic.register("diagnostics.health", every_seconds=settings.DIAGNOSTICS_HEALTH_EVERY_SECONDS)
def run_health_checks() -> int:
    return len(health_refresh_all())
