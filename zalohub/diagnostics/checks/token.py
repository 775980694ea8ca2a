"""Token / authorization: the OA's status, its two expiries, the last refresh error."""

from datetime import datetime, timedelta

from django.conf import settings
from django.utils.translation import gettext as _

from zalohub.accounts.models import OfficialAccount
from zalohub.diagnostics.categories import Category, next_step
from zalohub.diagnostics.checks import CheckResult, Evidence, links, when
from zalohub.diagnostics.models import Level
from zalohub.events.models import ErrorCategory, ProcessingState, ZaloEvent

Status = OfficialAccount.Status


def _level(oa: OfficialAccount, now: datetime) -> tuple[str, str]:
    warn = timedelta(days=settings.DIAGNOSTICS_REFRESH_WARN_DAYS)
    if oa.status == Status.DRAFT:
        return Level.AMBER, _("Not authorized yet: press “Authorize Account”.")
    if oa.status in (Status.EXPIRED, Status.ERROR):
        return Level.RED, _("The account is %(status)s: %(reason)s") % {
            "status": oa.get_status_display(),
            "reason": oa.last_error or oa.last_refresh_error or _("authorize it again."),
        }
    refresh_at = oa.refresh_token_expires_at
    if refresh_at and refresh_at <= now:
        return Level.RED, _("The refresh token expired on %s: authorize again.") % when(refresh_at)
    if oa.token_expires_at and oa.token_expires_at <= now:
        if oa.last_refresh_error:
            return Level.RED, _("The access token expired and refreshing it fails: %s") % (
                oa.last_refresh_error
            )
        return Level.AMBER, _("The access token expired; the worker will refresh it.")
    if not oa.access_token:
        return Level.RED, _("Connected but no access token is stored: authorize again.")
    if refresh_at and refresh_at - now <= warn:
        return Level.AMBER, _(
            "The refresh token expires on %s: authorize the account again before then."
        ) % when(refresh_at)
    if oa.last_refresh_error:
        return Level.AMBER, _("The last refresh failed (it will be retried): %s") % (
            oa.last_refresh_error
        )
    return Level.GREEN, _("Connected; the access token is valid until %s.") % when(
        oa.token_expires_at
    )


def check_token(*, oa: OfficialAccount, now: datetime) -> CheckResult:
    level, summary = _level(oa, now)
    since = now - timedelta(hours=24)
    token_failures = ZaloEvent.objects.filter(
        oa=oa,
        processing_state=ProcessingState.ERROR,
        error_category=ErrorCategory.TOKEN,
        error_at__gte=since,
    ).count()
    evidence = [
        Evidence(_("OA account"), links.oa_form(oa)),
        Evidence(
            _("Failed authorization calls (24 h)"),
            links.api_logs(oa, ok__exact=0, error_kind="auth", created_at__gte=since),
        ),
    ]
    if token_failures:
        evidence.append(
            Evidence(
                _("Events failed for the token (24 h)"),
                links.events(oa, error_category__exact=ErrorCategory.TOKEN, error_at__gte=since),
                token_failures,
            )
        )
    return CheckResult(
        key="token",
        title=_("Token / authorization"),
        level=level,
        summary=summary,
        category=Category.TOKEN if level != Level.GREEN else "",
        next_step=next_step(Category.TOKEN) if level != Level.GREEN else "",
        facts=[
            (_("Status"), str(oa.get_status_display())),
            (_("Access token expires at"), when(oa.token_expires_at)),
            (_("Refresh token expires at"), when(oa.refresh_token_expires_at)),
            (_("Last refreshed at"), when(oa.last_refreshed_at)),
            (_("Last refresh error"), oa.last_refresh_error or "—"),
            (_("Last error"), oa.last_error or "—"),
        ],
        evidence=evidence,
    )
