"""Token / authorization: the OA's status, its two expiries, the last refresh error."""

from datetime import datetime, timedelta

from django.conf import settings

# Texts are stored untranslated and rendered per reader (text.py): _ only marks them.
from django.utils.translation import gettext_lazy
from django.utils.translation import gettext_noop as _

from zalohub.accounts.models import OfficialAccount
from zalohub.core.stored_text import stored_reason
from zalohub.diagnostics.categories import Category, next_step
from zalohub.diagnostics.checks import CheckResult, Evidence, links, when
from zalohub.diagnostics.models import Level
from zalohub.diagnostics.registry import Inputs, register_check
from zalohub.diagnostics.text import msg
from zalohub.events.models import ErrorCategory, ProcessingState, ZaloEvent

Status = OfficialAccount.Status


def _level(oa: OfficialAccount, now: datetime) -> tuple[str, str]:
    warn = timedelta(days=settings.DIAGNOSTICS_REFRESH_WARN_DAYS)
    if oa.status == Status.DRAFT:
        return Level.AMBER, msg(_("Not authorized yet: press “Authorize Account”."))
    if oa.status in (Status.EXPIRED, Status.ERROR):
        return Level.RED, msg(
            _("The account is %(status)s: %(reason)s"),
            status=_status(oa),
            reason=stored_reason(oa, "last_error")
            or stored_reason(oa, "last_refresh_error")
            or msg(_("authorize it again.")),
        )
    refresh_at = oa.refresh_token_expires_at
    if refresh_at and refresh_at <= now:
        return Level.RED, msg(
            _("The refresh token expired on %s: authorize again."), when(refresh_at)
        )
    if oa.token_expires_at and oa.token_expires_at <= now:
        if oa.last_refresh_error:
            return Level.RED, msg(
                _("The access token expired and refreshing it fails: %s"),
                stored_reason(oa, "last_refresh_error"),
            )
        return Level.AMBER, msg(_("The access token expired; the worker will refresh it."))
    if not oa.access_token:
        return Level.RED, msg(_("Connected but no access token is stored: authorize again."))
    if refresh_at and refresh_at - now <= warn:
        return Level.AMBER, msg(
            _("The refresh token expires on %s: authorize the account again before then."),
            when(refresh_at),
        )
    if oa.last_refresh_error:
        return Level.AMBER, msg(
            _("The last refresh failed (it will be retried): %s"),
            stored_reason(oa, "last_refresh_error"),
        )
    return Level.GREEN, msg(
        _("Connected; the access token is valid until %s."), when(oa.token_expires_at)
    )


def _status(oa: OfficialAccount) -> str:
    try:
        return msg(Status(oa.status).label)
    except ValueError:
        return oa.status


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
        Evidence(msg(_("OA account")), links.oa_form(oa)),
        Evidence(
            msg(_("Failed authorization calls (24 h)")),
            links.api_logs(oa, ok__exact=0, error_kind="auth", created_at__gte=since),
        ),
    ]
    if token_failures:
        evidence.append(
            Evidence(
                msg(_("Events failed for the token (24 h)")),
                links.events(oa, error_category__exact=ErrorCategory.TOKEN, error_at__gte=since),
                token_failures,
            )
        )
    return CheckResult(
        key="token",
        title=msg(_("Token / authorization")),
        level=level,
        summary=summary,
        category=Category.TOKEN if level != Level.GREEN else "",
        next_step=next_step(Category.TOKEN) if level != Level.GREEN else "",
        facts=[
            (msg(_("Status")), _status(oa)),
            (msg(_("Access token expires at")), when(oa.token_expires_at)),
            (msg(_("Refresh token expires at")), when(oa.refresh_token_expires_at)),
            (msg(_("Last refreshed at")), when(oa.last_refreshed_at)),
            (msg(_("Last refresh error")), stored_reason(oa, "last_refresh_error") or "—"),
            (msg(_("Last error")), stored_reason(oa, "last_error") or "—"),
        ],
        evidence=evidence,
    )


@register_check("token", title=gettext_lazy("Token / authorization"), position=10)
def run_check(inputs: Inputs) -> CheckResult:
    return check_token(oa=inputs.oa, now=inputs.now)
