"""Recomputing health: by the worker every few minutes, and on demand from the page."""

import logging
from datetime import datetime

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from zalohub.accounts.models import OfficialAccount
from zalohub.core import periodic
from zalohub.diagnostics.alerts import reconcile_incidents
from zalohub.diagnostics.checks.run import OAHealth, oa_health
from zalohub.diagnostics.checks.webhook import genuine_deliveries, window
from zalohub.diagnostics.models import HealthSnapshot, Level, WebhookProbe
from zalohub.diagnostics.probe import webhook_selftest, zalo_can_deliver_on_request

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
            reconcile_incidents(health=health)
    return health


def health_refresh_after_fix(
    *, oa_id: int, reason: str = "", only_if: frozenset[str] | None = None
) -> bool:
    """Something that may fix the OA happened (accounts.signals.oa_fixed and the hooks in
    apps.py): recompute its health now if it is not green, so that a fixed OA's alert
    and banner go at once. ``only_if``: the checks this event can fix; the health is
    recomputed only when one of them is not green (messages arriving fix the webhook
    check, not a rejected template: without it, an OA amber for another reason ran
    every check after every batch of its messages). A failure here must never undo the
    fix: it is logged. True when it recomputed."""
    # One indexed query: this runs after every send and every batch of messages.
    unhealthy = HealthSnapshot.objects.filter(oa_id=oa_id).exclude(level=Level.GREEN)
    checks = unhealthy.values_list("checks", flat=True).first()
    if checks is None:
        return False  # nothing to clear
    if only_if is not None and not any(
        check.get("key") in only_if and check.get("level") != Level.GREEN for check in checks
    ):
        return False  # what is wrong is nothing this event can fix
    oa = OfficialAccount.objects.select_related("app").filter(pk=oa_id).first()
    if oa is None:
        return False
    try:
        with transaction.atomic():
            health_refresh(oa=oa)
    except Exception:
        logger.exception("Recomputing the health of OA %s after %s failed", oa_id, reason)
        return False
    return True


def _needs_zalo_probe(oa: OfficialAccount, now: datetime) -> bool:
    """Nothing from Zalo for a window and no self-test in it (or the last one failed): ask
    Zalo for a test delivery (where it takes one), so a Zalo that stopped delivering is
    seen within the window even when customers are quiet, and its repair at the next run."""
    if oa.status != OfficialAccount.Status.CONNECTED or not zalo_can_deliver_on_request():
        return False
    since = now - window()
    if genuine_deliveries(oa, since).exists():
        return False
    latest = WebhookProbe.objects.filter(oa=oa).first()
    if latest is not None and not latest.pending and not latest.arrived:
        return True  # failing: try again each run, so a fixed Zalo side is seen at once
    return latest is None or latest.sent_at < since


def health_refresh_all(*, probe: bool = False) -> list[OAHealth]:
    results = []
    for oa in OfficialAccount.objects.select_related("app").order_by("pk"):
        try:
            if probe and _needs_zalo_probe(oa, timezone.now()):
                webhook_selftest(oa=oa)
            results.append(health_refresh(oa=oa))
        except Exception:
            logger.exception("Health check of OA %s failed", oa.pk)
    return results


@periodic.register("diagnostics.health", every_seconds=settings.DIAGNOSTICS_HEALTH_EVERY_SECONDS)
def run_health_checks() -> int:
    return len(health_refresh_all(probe=True))
