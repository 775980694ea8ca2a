"""Alerts: a check that turns red opens an incident and mails the admins once; when it
is no longer red the incident closes with a recovery notice. The in-app banner shows
the open incidents and the recent recoveries (context.py)."""

import functools
import logging
from datetime import datetime

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import translation
from django.utils.translation import gettext as _

from zalohub.core.roles import ZALO_ADMIN
from zalohub.diagnostics.checks import CheckResult
from zalohub.diagnostics.checks.run import OAHealth
from zalohub.diagnostics.models import Incident, Level
from zalohub.diagnostics.text import stored

logger = logging.getLogger(__name__)


def alert_recipients() -> list[str]:
    users = get_user_model().objects.filter(
        Q(groups__name=ZALO_ADMIN) | Q(is_superuser=True), is_active=True
    )
    emails = {u.email for u in users if u.email}
    return sorted(emails | set(settings.DIAGNOSTICS_ALERT_EMAILS))


def _health_url(incident: Incident) -> str:
    from django.urls import reverse

    return settings.PUBLIC_URL + reverse("admin:diagnostics_healthsnapshot_changelist")


def _mail(subject: str, body: str) -> None:
    recipients = alert_recipients()
    if not recipients:
        logger.warning("Health alert not mailed, no admin has an email: %s", subject)
        return
    try:
        send_mail(subject, body, None, recipients, fail_silently=False)
    except Exception:  # a mail server down must not stop the health job
        logger.exception("Could not mail the health alert %r", subject)


def _texts(check: CheckResult) -> dict[str, object]:
    return {"summary": stored(check.summary), "next_step": stored(check.next_step)}


def _in_site_language(check: CheckResult) -> CheckResult:
    """Mails go out in the site's language, not in that of whoever pressed Recompute."""
    return CheckResult.from_dict(check.as_dict())


def _alert(incident: Incident, check: CheckResult) -> None:
    with translation.override(settings.LANGUAGE_CODE):
        _alert_mail(incident, _in_site_language(check))
    Incident.objects.filter(pk=incident.pk).update(alerted_at=incident.opened_at)


def _alert_mail(incident: Incident, check: CheckResult) -> None:
    subject = _("[zalohub] %(oa)s: %(check)s is red") % {
        "oa": incident.oa.name,
        "check": check.title,
    }
    body = "\n\n".join(
        [
            check.summary,
            _("Next step: %s") % (check.next_step or "—"),
            _("Health page: %s") % _health_url(incident),
        ]
    )
    _mail(subject, body)


def _recovered(incident: Incident, check: CheckResult, now: datetime) -> None:
    with translation.override(settings.LANGUAGE_CODE):
        _recovered_mail(incident, _in_site_language(check), now)
    Incident.objects.filter(pk=incident.pk).update(recovery_alerted_at=now)


def _recovered_mail(incident: Incident, check: CheckResult, now: datetime) -> None:
    subject = _("[zalohub] %(oa)s: %(check)s recovered") % {
        "oa": incident.oa.name,
        "check": check.title,
    }
    body = "\n\n".join(
        [
            _("Broken since %(since)s, recovered at %(now)s.")
            % {"since": incident.opened_at.isoformat(), "now": now.isoformat()},
            _("Now: %s") % check.summary,
            _("Health page: %s") % _health_url(incident),
        ]
    )
    _mail(subject, body)


def reconcile_incidents(*, health: OAHealth) -> tuple[list[Incident], list[Incident]]:
    """Open an incident for each newly red check, close those that are not red any more.
    Returns (opened, resolved); their mails go out after the commit."""
    oa, now = health.oa, health.computed_at
    opened: list[Incident] = []
    resolved: list[Incident] = []
    open_now = {i.check_key: i for i in Incident.objects.filter(oa=oa, resolved_at__isnull=True)}
    for check in health.checks:
        incident = open_now.get(check.key)
        if check.level == Level.RED and incident is None:
            try:
                with transaction.atomic():
                    incident = Incident.objects.create(
                        oa=oa,
                        check_key=check.key,
                        category=check.category,
                        summary=check.summary,
                        next_step=check.next_step,
                        texts=_texts(check),
                        opened_at=now,
                    )
            except IntegrityError:
                continue  # another worker opened it first: it alerts, not us
            opened.append(incident)
            transaction.on_commit(functools.partial(_alert, incident, check))
        elif check.level == Level.RED and incident is not None:
            Incident.objects.filter(pk=incident.pk).update(
                summary=check.summary, texts=_texts(check)
            )
        elif incident is not None and Incident.objects.filter(
            pk=incident.pk, resolved_at__isnull=True
        ).update(resolved_at=now):
            # Conditional: only the run that closes it sends the recovery notice.
            incident.resolved_at = now
            resolved.append(incident)
            transaction.on_commit(functools.partial(_recovered, incident, check, now))
    return opened, resolved
