"""All checks of one OA, worst first."""

from dataclasses import dataclass
from datetime import datetime

from django.utils import timezone

from zalohub.accounts.models import OfficialAccount

# Diagnostics' own checks register themselves (registry.register_check) on import.
from zalohub.diagnostics.checks import (  # noqa: F401
    CheckResult,
    refused,
    templates,
    token,
    webhook,
    worst,
)
from zalohub.diagnostics.checks.sends import failure_tally
from zalohub.diagnostics.checks.webhook import wrong_secret
from zalohub.diagnostics.probe import settle_pending
from zalohub.diagnostics.registry import Inputs, registered


@dataclass
class OAHealth:
    oa: OfficialAccount
    level: str
    checks: list[CheckResult]
    computed_at: datetime

    def check(self, key: str) -> CheckResult:
        return next(c for c in self.checks if c.key == key)


def oa_health(*, oa: OfficialAccount, now: datetime | None = None) -> OAHealth:
    now = now or timezone.now()
    tally = failure_tally(oa=oa, now=now)
    probe = settle_pending(oa)  # a self-test waiting for Zalo's delivery: settled first
    inputs = Inputs(
        oa=oa,
        now=now,
        tally=tally,
        probe=probe,
        wrong=wrong_secret(oa=oa, now=now, probe=probe),
    )
    checks = [check.run(inputs) for check in registered()]
    return OAHealth(oa=oa, level=worst([c.level for c in checks]), checks=checks, computed_at=now)
