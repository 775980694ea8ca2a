"""All checks of one OA, worst first."""

from dataclasses import dataclass
from datetime import datetime

from django.utils import timezone

from zalohub.accounts.models import OfficialAccount
from zalohub.diagnostics.checks import CheckResult, worst
from zalohub.diagnostics.checks.refused import check_refused
from zalohub.diagnostics.checks.sends import check_recipients, check_sends, failure_tally
from zalohub.diagnostics.checks.templates import check_templates
from zalohub.diagnostics.checks.token import check_token
from zalohub.diagnostics.checks.webhook import check_webhook, wrong_secret
from zalohub.diagnostics.probe import settle_pending

ORDER = ("token", "webhook", "refused", "sends", "templates", "recipients")


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
    wrong = wrong_secret(oa=oa, now=now, probe=probe)
    checks = [
        check_token(oa=oa, now=now),
        check_webhook(oa=oa, now=now, probe=probe, wrong=wrong),
        check_refused(oa=oa, now=now, wrong=wrong),
        check_sends(oa=oa, now=now, tally=tally),
        check_templates(oa=oa, now=now, tally=tally),
        check_recipients(oa=oa, now=now, tally=tally),
    ]
    return OAHealth(oa=oa, level=worst([c.level for c in checks]), checks=checks, computed_at=now)
