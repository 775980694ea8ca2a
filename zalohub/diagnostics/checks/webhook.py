"""Webhook receiving: genuine deliveries in the window, silence against the OA's usual
traffic, the self-test, and a wrong OA secret key, named only on evidence a forger cannot
produce by posting to the public URL (see ``wrong_secret``)."""

import json
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import QuerySet

# Texts are stored untranslated and rendered per reader (text.py): _ only marks them.
from django.utils.translation import gettext_lazy
from django.utils.translation import gettext_noop as _

from zalohub.accounts.models import OfficialAccount, ZaloApp
from zalohub.core.crypto import SecretUnavailable, reveal
from zalohub.diagnostics.categories import Category, next_step
from zalohub.diagnostics.checks import CheckResult, Evidence, Fact, links, when
from zalohub.diagnostics.models import Level, WebhookProbe
from zalohub.diagnostics.registry import Inputs, register_check
from zalohub.diagnostics.text import Msg, msg
from zalohub.events.models import Direction, RejectedRequest, ZaloEvent
from zalohub.zalo import webhook
from zalohub.zalo.signature import VARIANT_LABELS

PROBE_EVENT = "zalohub_probe"
BASELINE_DAYS = 7
MAX_REFUSED_LOOKED_AT = 500  # the newest refused requests read when looking for Zalo's retries
# Zalo's first retry comes 30 s after a refused delivery (API.md §3.1); copies closer
# together are a flood or duplicates (``simulate --duplicates``), not Zalo retrying.
RETRY_MIN_GAP = timedelta(seconds=20)


def window() -> timedelta:
    """The webhook check's window (ZALOHUB_DIAGNOSTICS_WEBHOOK_WINDOW_MINUTES)."""
    return timedelta(minutes=settings.DIAGNOSTICS_WEBHOOK_WINDOW_MINUTES)


def window_label() -> Msg:
    """The window as set: in minutes (ZALOHUB_DIAGNOSTICS_WEBHOOK_WINDOW_MINUTES)."""
    return msg(_("%d min"), settings.DIAGNOSTICS_WEBHOOK_WINDOW_MINUTES)


def customer_events(oa: OfficialAccount) -> QuerySet[ZaloEvent]:
    """Events Zalo delivered for the OA: the probes of the self-test are not traffic."""
    return ZaloEvent.objects.filter(oa=oa, direction=Direction.INBOUND).exclude(
        event_name=PROBE_EVENT
    )


def genuine_deliveries(oa: OfficialAccount, since: datetime) -> QuerySet[ZaloEvent]:
    """Deliveries whose signature verified, for any OA of the app, since ``since``: the
    OA secret key is per app, so any one of them proves the key right. Zalo's test
    deliveries count (they are signed by Zalo); only verified requests are ever stored."""
    return ZaloEvent.objects.filter(
        app_id=oa.app_id, direction=Direction.INBOUND, received_at__gte=since
    )


def silence_threshold(*, oa: OfficialAccount, now: datetime) -> timedelta | None:
    """How long a silence is unusual for this OA; None when there is too little traffic
    in the last 7 days to know what usual is."""
    recent = customer_events(oa).filter(received_at__gte=now - timedelta(days=BASELINE_DAYS))
    count = recent.count()
    if count < settings.DIAGNOSTICS_WEBHOOK_BASELINE_EVENTS:
        return None
    oldest = recent.order_by("received_at").values_list("received_at", flat=True).first()
    if oldest is None:  # gone since the count
        return None
    usual_gap = (now - oldest) / count
    floor = timedelta(hours=settings.DIAGNOSTICS_WEBHOOK_SILENT_MIN_HOURS)
    return max(floor, usual_gap * settings.DIAGNOSTICS_WEBHOOK_SILENT_FACTOR)


def duration(delta: timedelta) -> Msg:
    hours = delta.total_seconds() / 3600
    if hours < 1:
        return msg(_("%d min"), max(0, round(hours * 60)))
    if hours < 48:
        return msg(_("%.1f h"), hours)
    return msg(_("%d days"), round(hours / 24))


def has_signature(row: RejectedRequest) -> bool:
    return bool((row.headers or {}).get("x-zevent-signature"))


def _names_oa(body: str, oa: OfficialAccount) -> bool:
    try:
        payload = json.loads(body)
    except ValueError:
        return False
    if not isinstance(payload, dict):
        return False
    wire = webhook.head(payload, is_oa=lambda oa_id: oa_id == oa.oa_id)
    return wire.app_id == oa.app.app_id and bool(oa.oa_id) and wire.oa_id == oa.oa_id


@dataclass(frozen=True)
class WrongSecret:
    """Why the hub believes its OA secret key is not Zalo's."""

    reason: Msg
    refused: int  # refused signed requests in the window


def last_variant(app: ZaloApp) -> Msg:
    """Which variant of the signature Zalo's deliveries last matched (sources disagree on
    the formula, API.md §3.2), and when: what the key must be checked against."""
    if not app.webhook_mac_variant:
        return msg(_("No delivery has been accepted yet, under any variant of the signature."))
    return msg(
        _("The last delivery accepted (%(when)s) matched the signature variant: %(variant)s."),
        when=when(app.webhook_mac_matched_at),
        variant=VARIANT_LABELS.get(app.webhook_mac_variant, app.webhook_mac_variant),
    )


def _finding(app: ZaloApp, reason: Msg, refused: int) -> WrongSecret:
    return WrongSecret(
        msg(_("%(finding)s %(variant)s"), finding=reason, variant=last_variant(app)), refused
    )


def _signed_refusals(oa: OfficialAccount, since: datetime) -> list[RejectedRequest]:
    return [
        r
        for r in RejectedRequest.objects.filter(
            app_id=oa.app.app_id, status_code=401, received_at__gte=since
        ).order_by("-received_at")[:MAX_REFUSED_LOOKED_AT]
        if has_signature(r)
    ]


def _zalo_retries(
    oa: OfficialAccount, signed: list[RejectedRequest]
) -> tuple[int, datetime | None]:
    """Rule 3's count of refusals Zalo re-sent (the very bytes under the same signature,
    at least RETRY_MIN_GAP later), and when the first of them was refused."""
    first_seen: dict[tuple[str, str], datetime] = {}
    retried, started = 0, None
    for row in reversed(signed):  # oldest first: a retry follows its first delivery
        if not _names_oa(row.body, oa):
            continue
        # Zalo re-sends the very bytes and signature it was refused for (its num_retry
        # header is dropped by most servers and proxies: headers with "_" are).
        same = (row.body, str((row.headers or {}).get("x-zevent-signature")))
        if same in first_seen and row.received_at - first_seen[same] >= RETRY_MIN_GAP:
            retried += 1
            started = min(started or first_seen[same], first_seen[same])
        first_seen.setdefault(same, row.received_at)
    return retried, started


def wrong_secret(
    *, oa: OfficialAccount, now: datetime, probe: WebhookProbe | None
) -> WrongSecret | None:
    """A wrong OA secret key, on evidence only; forged requests alone are never enough.

    Red when one of these holds:
    1. the OA is Connected and its app has no OA secret key, or it cannot be decrypted
       (the hub's own state, not anything a request says);
    2. Zalo's own test delivery (the self-test, in the window) reached the hub and was
       refused for its signature;
    3. all of: the OA is Connected (Zalo delivers only to an app the OA granted); in the
       window a signed request naming this app and this OA was refused, then came again,
       the same bytes under the same signature, at least RETRY_MIN_GAP later: Zalo
       re-sending on its schedule what the hub refused (API.md §3.1), which a stray
       forgery or a burst of copies does not do; and no genuine delivery was
       accepted for the app since the first of those refusals (the same window: had the
       key been right, Zalo's deliveries since would have passed).
    Only what happened since the app was last saved counts: refusals under a key that
    has since been replaced prove nothing about the new one. The finding names the
    signature variant Zalo's deliveries last matched.
    """
    app = oa.app
    since = max(now - window(), app.updated_at) if app.updated_at else now - window()
    connected = oa.status == OfficialAccount.Status.CONNECTED
    try:
        key = reveal(app.oa_secret_key, what="OA secret key")
    except SecretUnavailable as exc:
        cannot = msg(_("The app's OA secret key cannot be read: %s"), str(exc))
        return _finding(app, cannot, 0) if connected else None
    if not key and connected:
        none = msg(_("The app has no OA secret key: enter the one from Zalo's console."))
        return _finding(app, none, 0)
    signed = _signed_refusals(oa, since)
    if (
        probe
        and probe.signature_refused
        and probe.sent_at >= since
        and not genuine_deliveries(oa, probe.sent_at).exists()
    ):
        text = _(
            "Zalo's test delivery (self-test at %s) reached the hub and its signature "
            "was refused: the OA secret key stored on the Zalo app is not Zalo's."
        )
        return _finding(app, msg(text, when(probe.sent_at)), len(signed))
    if not connected or not signed:
        return None
    retried, started = _zalo_retries(oa, signed)
    # The same window: from Zalo's first refused delivery on. Had the key been right,
    # Zalo's deliveries since would have been accepted; one that was proves the key.
    if not retried or started is None or genuine_deliveries(oa, started).exists():
        return None
    text = _(
        "%(n)d signed webhook request(s) refused for their signature in the last "
        "%(window)s, %(retried)d of them re-sent by Zalo, and no genuine delivery "
        "accepted: the OA secret key stored on the Zalo app is probably wrong."
    )
    found = msg(text, n=len(signed), window=window_label(), retried=retried)
    return _finding(app, found, len(signed))


def _probe_fact(probe: WebhookProbe) -> Msg:
    if probe.pending:
        return msg(
            _("%(at)s — %(what)s: waiting for Zalo's delivery."),
            at=when(probe.sent_at),
            what=msg(WebhookProbe.Method(probe.method).label),
        )
    return msg(
        _("%(at)s — %(what)s: %(result)s"),
        at=when(probe.sent_at),
        what=msg(WebhookProbe.Method(probe.method).label),
        result=probe.result_text,
    )


def latest_probe(oa: OfficialAccount) -> WebhookProbe | None:
    return WebhookProbe.objects.filter(oa=oa).first()


_UNSET = object()


def _verdict(
    *,
    oa: OfficialAccount,
    now: datetime,
    last_at: datetime | None,
    threshold: timedelta | None,
    probe: WebhookProbe | None,
    wrong: WrongSecret | None,
) -> tuple[str, Msg]:
    """The check's level and summary: the first of these that holds."""
    probe_failed = (
        probe is not None
        and probe.method == WebhookProbe.Method.ZALO_DELIVERY
        and not probe.pending
        and not probe.arrived
        and (last_at is None or probe.sent_at > last_at)
    )
    if wrong is not None:
        return Level.RED, wrong.reason
    if probe_failed:
        assert probe is not None
        return Level.RED, msg(_("Zalo's test delivery did not arrive: %s"), probe.result_text)
    if last_at and threshold and now - last_at > threshold:
        return Level.RED, msg(
            _("No event for %(silent)s, usually one every %(gap)s: Zalo stopped delivering."),
            silent=duration(now - last_at),
            gap=duration(threshold / settings.DIAGNOSTICS_WEBHOOK_SILENT_FACTOR),
        )
    if last_at and threshold and now - last_at > threshold / 2:
        return Level.AMBER, msg(_("Quieter than usual: no event for %s."), duration(now - last_at))
    if last_at is None and probe is not None and probe.arrived:
        return Level.GREEN, msg(
            _("Zalo's test delivery arrived at %s; no customer event yet."), when(probe.sent_at)
        )
    if last_at is None:
        return Level.AMBER, msg(
            _("No event received yet: run the self-test and send a message to the OA.")
        )
    if threshold is None:
        return Level.GREEN, msg(_("Events arrive (too little traffic for a baseline)."))
    return Level.GREEN, msg(_("Events arrive as usual."))


def check_webhook(
    *,
    oa: OfficialAccount,
    now: datetime,
    probe: WebhookProbe | object | None = _UNSET,
    wrong: WrongSecret | object | None = _UNSET,
) -> CheckResult:
    since = now - window()
    last = customer_events(oa).order_by("-received_at").only("received_at").first()
    last_at = last.received_at if last else None
    threshold = silence_threshold(oa=oa, now=now)
    if probe is _UNSET:
        probe = latest_probe(oa)
    assert probe is None or isinstance(probe, WebhookProbe)
    if wrong is _UNSET:
        wrong = wrong_secret(oa=oa, now=now, probe=probe)
    assert wrong is None or isinstance(wrong, WrongSecret)
    level, summary = _verdict(
        oa=oa, now=now, last_at=last_at, threshold=threshold, probe=probe, wrong=wrong
    )
    facts: list[Fact] = [
        (msg(_("Webhook URL")), oa.webhook_url),
        (msg(_("Window")), window_label()),
        (msg(_("Genuine deliveries in the window")), str(genuine_deliveries(oa, since).count())),
        (msg(_("Last accepted event")), when(last_at)),
        (msg(_("Usual silence limit")), duration(threshold) if threshold else "—"),
        (msg(_("Last self-test")), _probe_fact(probe) if probe else "—"),
        (msg(_("Signature variant")), last_variant(oa.app)),
    ]
    evidence = [
        Evidence(msg(_("Received events")), links.events(oa, direction__exact=Direction.INBOUND)),
    ]
    if wrong is not None and wrong.refused:
        evidence.append(
            Evidence(
                msg(_("Refused webhook requests (window)")),
                links.rejected(oa, received_at__gte=since, status_code=401),
                wrong.refused,
            )
        )
    broken = level != Level.GREEN
    return CheckResult(
        key="webhook",
        title=msg(_("Webhook receiving")),
        level=level,
        summary=summary,
        category=Category.WEBHOOK if broken else "",
        next_step=next_step(Category.WEBHOOK) if broken else "",
        facts=facts,
        evidence=evidence,
    )


@register_check("webhook", title=gettext_lazy("Webhook receiving"), position=20)
def run_check(inputs: Inputs) -> CheckResult:
    return check_webhook(oa=inputs.oa, now=inputs.now, probe=inputs.probe, wrong=inputs.wrong)
