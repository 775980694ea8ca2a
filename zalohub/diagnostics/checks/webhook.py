"""Webhook receiving: silence against the OA's usual traffic, refused requests, self-test."""

from datetime import datetime, timedelta

from django.conf import settings
from django.utils.translation import gettext as _

from zalohub.accounts.models import OfficialAccount
from zalohub.diagnostics.categories import Category, next_step
from zalohub.diagnostics.checks import CheckResult, Evidence, links, when
from zalohub.diagnostics.models import Level, WebhookProbe
from zalohub.events.models import Direction, RejectedRequest, ZaloEvent

PROBE_EVENT = "zalohub_probe"
BASELINE_DAYS = 7


def customer_events(oa: OfficialAccount):  # type: ignore[no-untyped-def]
    """Events Zalo delivered for the OA: the probes of the self-test are not traffic."""
    return ZaloEvent.objects.filter(oa=oa, direction=Direction.INBOUND).exclude(
        event_name=PROBE_EVENT
    )


def silence_threshold(*, oa: OfficialAccount, now: datetime) -> timedelta | None:
    """How long a silence is unusual for this OA; None when there is too little traffic
    in the last 7 days to know what usual is."""
    recent = customer_events(oa).filter(received_at__gte=now - timedelta(days=BASELINE_DAYS))
    count = recent.count()
    if count < settings.DIAGNOSTICS_WEBHOOK_BASELINE_EVENTS:
        return None
    oldest = recent.order_by("received_at").values_list("received_at", flat=True).first()
    usual_gap = (now - oldest) / count
    floor = timedelta(hours=settings.DIAGNOSTICS_WEBHOOK_SILENT_MIN_HOURS)
    return max(floor, usual_gap * settings.DIAGNOSTICS_WEBHOOK_SILENT_FACTOR)


def _duration(delta: timedelta) -> str:
    hours = delta.total_seconds() / 3600
    if hours < 1:
        return _("%d min") % max(0, round(hours * 60))
    if hours < 48:
        return _("%.1f h") % hours
    return _("%d days") % round(hours / 24)


def check_webhook(*, oa: OfficialAccount, now: datetime) -> CheckResult:
    hour_ago = now - timedelta(hours=1)
    last = customer_events(oa).order_by("-received_at").only("received_at").first()
    last_at = last.received_at if last else None
    threshold = silence_threshold(oa=oa, now=now)
    rejected = RejectedRequest.objects.filter(app_id=oa.app.app_id)
    refused_hour = rejected.filter(received_at__gte=hour_ago)
    # 401: a missing or wrong signature, almost always a wrong OA secret key on our side.
    bad_signature = refused_hour.filter(status_code=401)
    bad_since_last = bad_signature.filter(received_at__gt=last_at) if last_at else bad_signature
    probe = WebhookProbe.objects.filter(oa=oa).first()

    level, summary = Level.GREEN, _("Events arrive as usual.")
    if bad_since_last.exists():
        level, summary = (
            Level.RED,
            _(
                "%(n)d webhook request(s) refused for a bad signature in the last hour and none "
                "accepted since: the OA secret key stored on the Zalo app is probably wrong."
            )
            % {"n": bad_signature.count()},
        )
    elif probe and not probe.arrived and (last_at is None or probe.sent_at > last_at):
        level, summary = (
            Level.RED,
            _("The self-test probe did not arrive: %s") % (probe.answer or _("no answer")),
        )
    elif last_at and threshold and now - last_at > threshold:
        level, summary = (
            Level.RED,
            _("No event for %(silent)s, usually one every %(gap)s: Zalo stopped delivering.")
            % {
                "silent": _duration(now - last_at),
                "gap": _duration(threshold / settings.DIAGNOSTICS_WEBHOOK_SILENT_FACTOR),
            },
        )
    elif last_at and threshold and now - last_at > threshold / 2:
        level, summary = (
            Level.AMBER,
            _("Quieter than usual: no event for %s.") % _duration(now - last_at),
        )
    elif refused_hour.exists():
        level, summary = (
            Level.AMBER,
            _("%d webhook request(s) refused in the last hour; events are accepted since.")
            % refused_hour.count(),
        )
    elif last_at is None:
        level, summary = (
            Level.AMBER,
            _("No event received yet: run the self-test and send a message to the OA."),
        )
    elif threshold is None:
        summary = _("Events arrive (too little traffic for a baseline).")

    facts = [
        (_("Webhook URL"), oa.webhook_url),
        (_("Last accepted event"), when(last_at)),
        (_("Usual silence limit"), _duration(threshold) if threshold else "—"),
        (_("Refused in the last hour"), str(refused_hour.count())),
        (_("Refused for a bad signature"), str(bad_signature.count())),
    ]
    if probe:
        facts.append(
            (
                _("Last self-test"),
                _("%(at)s: %(result)s")
                % {
                    "at": when(probe.sent_at),
                    "result": _("arrived") if probe.arrived else _("did not arrive"),
                },
            )
        )
    evidence = [
        Evidence(_("Received events"), links.events(oa, direction__exact=Direction.INBOUND)),
        Evidence(
            _("Refused webhook requests (1 h)"),
            links.rejected(oa, received_at__gte=hour_ago),
            refused_hour.count(),
        ),
    ]
    broken = level != Level.GREEN
    return CheckResult(
        key="webhook",
        title=_("Webhook receiving"),
        level=level,
        summary=summary,
        category=Category.WEBHOOK if broken else "",
        next_step=next_step(Category.WEBHOOK) if broken else "",
        facts=facts,
        evidence=evidence,
    )
