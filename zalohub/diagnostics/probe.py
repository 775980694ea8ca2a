"""The webhook self-test: does Zalo reach the hub?

The hub posting to its own URL would prove only that the hub reaches itself, so it is
not done. Instead:

- where Zalo can be asked to deliver a test event (the sandbox that stands in for
  Zalo: ``POST /_sandbox/webhooks/emit``), the hub asks it to deliver a signed probe to
  the webhook URL *Zalo* holds for the app, then looks for the probe among the stored
  events. It travels as a customer's message does: Zalo's URL, Zalo's key, the proxy,
  the signature check. Zalo's answer says why it did not arrive (no webhook URL at
  Zalo, unreachable, refused signature);
- live Zalo offers no such request: the self-test then looks for the last genuine
  (signature-verified) delivery from Zalo within the webhook window, and says so.

The probe's event_name marks it: it is never counted as customer traffic. Asking Zalo
returns at once; the probe is settled later (``probe_settle``, from the health check),
because under ASGI the hub serves sync views one at a time and could not receive the
delivery while the self-test's own request waits for it."""

import logging
import secrets
import time
from datetime import timedelta
from typing import Any

import httpx
from django.conf import settings
from django.utils import timezone

# Texts are stored untranslated and rendered per reader (text.py): _ only marks them.
from django.utils.translation import gettext_noop as _

from zalohub.accounts.models import OfficialAccount
from zalohub.diagnostics.checks import when
from zalohub.diagnostics.checks.webhook import (
    PROBE_EVENT,
    genuine_deliveries,
    window,
    window_label,
)
from zalohub.diagnostics.models import WebhookProbe
from zalohub.diagnostics.text import Msg, msg, stored
from zalohub.events.models import ZaloEvent

logger = logging.getLogger(__name__)
POLL_SECONDS = 0.05


def zalo_can_deliver_on_request() -> bool:
    """Only the sandbox takes a request for a test delivery; live Zalo has none."""
    return settings.ZALO_MODE == "sandbox" and bool(settings.SANDBOX_URL)


def webhook_selftest(*, oa: OfficialAccount, wait: float = 0.0) -> WebhookProbe:
    """Run the self-test. Against the sandbox it only asks Zalo to deliver and returns
    the probe pending unless ``wait`` seconds are given to settle it: a view must not wait
    (the hub may need this very thread to receive the delivery)."""
    if not zalo_can_deliver_on_request():
        return _recent_delivery(oa)
    probe = _ask_zalo(oa)
    return probe_settle(probe, wait=wait) if probe.pending else probe


def _recent_delivery(oa: OfficialAccount) -> WebhookProbe:
    now = timezone.now()
    last = genuine_deliveries(oa, now - window()).order_by("-received_at").first()
    probe = WebhookProbe(
        oa=oa,
        method=WebhookProbe.Method.RECENT_DELIVERY,
        url=oa.app.webhook_url[:500],
        nonce=secrets.token_hex(16),
        sent_at=now,
        arrived=last is not None,
        event=last,
    )
    if last is not None:
        result = msg(
            _(
                "Zalo takes no request for a test delivery, so the self-test looked for the "
                "last genuine (signed) delivery from Zalo: %(at)s, within the %(window)s window."
            ),
            at=when(last.received_at),
            window=window_label(),
        )
    else:
        result = msg(
            _(
                "Zalo takes no request for a test delivery, and no genuine (signed) delivery "
                "arrived from Zalo in the last %s: write to the OA from a Zalo account, then "
                "run the self-test again."
            ),
            window_label(),
        )
    probe.result = stored(result)
    probe.save()
    return probe


def _control(method: str, path: str, **kwargs: Any) -> httpx.Response:
    url = f"{settings.SANDBOX_URL}/_sandbox/{path}"
    with httpx.Client(timeout=settings.DIAGNOSTICS_PROBE_TIMEOUT_SECONDS, trust_env=False) as h:
        return h.request(method, url, **kwargs)


def _ask_zalo(oa: OfficialAccount) -> WebhookProbe:
    app = oa.app
    nonce = secrets.token_hex(16)
    probe = WebhookProbe(
        oa=oa,
        method=WebhookProbe.Method.ZALO_DELIVERY,
        url=app.webhook_url[:500],
        nonce=nonce,
        sent_at=timezone.now(),
    )
    body = {
        "oa_id": oa.oa_id,
        "app_id": app.app_id,
        "payload": {"event_name": PROBE_EVENT, "oa_id": oa.oa_id, "probe_id": nonce},
    }
    result = None
    try:
        answer = _control("POST", "webhooks/emit", json=body)
        if answer.status_code >= 400:
            probe.answer = answer.text[:1000]
            result = msg(_("Zalo refused to send a test event for this OA: %s"), answer.text[:300])
        else:
            probe.delivery_id = int(answer.json()["emitted"][0]["deliveries"][0])
            probe.pending = True
    except (httpx.HTTPError, ValueError, KeyError, IndexError, TypeError) as exc:
        result = msg(
            _("Zalo could not be asked for a test delivery: %s"), str(exc) or type(exc).__name__
        )
    if result is not None:
        probe.result = stored(result)
    probe.save()
    return probe


def _zalo_record(probe: WebhookProbe) -> dict[str, Any] | None:
    """Zalo's record of the probe's delivery (where it went, what it was answered)."""
    try:
        answer = _control(
            "GET",
            "webhooks/deliveries",
            params={"app_id": probe.oa.app.app_id, "event_name": PROBE_EVENT},
        )
        deliveries = answer.json()["deliveries"]
    except (httpx.HTTPError, ValueError, KeyError, TypeError):
        return None
    return next((d for d in deliveries if d.get("id") == probe.delivery_id), None)


def probe_settle(probe: WebhookProbe, *, wait: float = 0.0) -> WebhookProbe:
    """Settle a pending probe: arrived, or why not from Zalo's record of the delivery.
    Still pending while Zalo has not tried and the probe is younger than the timeout."""
    deadline = time.monotonic() + wait
    while probe.pending:
        outcome = _outcome(probe)
        if outcome is not None:
            probe.result, probe.pending = stored(outcome), False
            probe.save()
            break
        if time.monotonic() >= deadline:
            break
        time.sleep(POLL_SECONDS)
    return probe


def settle_pending(oa: OfficialAccount) -> WebhookProbe | None:
    """The OA's latest probe, settled first if it was waiting for Zalo."""
    probe = WebhookProbe.objects.filter(oa=oa).first()
    if probe is not None and probe.pending:
        probe_settle(probe)
    return probe


def _outcome(probe: WebhookProbe) -> Msg | None:
    event = ZaloEvent.objects.filter(
        app=probe.oa.app, event_name=PROBE_EVENT, raw_body__contains=probe.nonce
    ).first()
    record = _zalo_record(probe)
    attempt = record["attempts"][0] if record and record.get("attempts") else None
    target = (record or {}).get("url") or ""
    if attempt is not None:
        probe.http_status = attempt.get("status")
        probe.answer = (attempt.get("response") or attempt.get("error") or "")[:1000]
    if event is not None:
        probe.event, probe.arrived = event, True
        return msg(_("Zalo delivered a test event to %(url)s and the hub stored it."), url=target)
    timed_out = timezone.now() - probe.sent_at > timedelta(
        seconds=settings.DIAGNOSTICS_PROBE_TIMEOUT_SECONDS
    )
    if record is not None and (record.get("state") == "no_target" or not target):
        return msg(
            _(
                "Zalo holds no webhook URL for this app (as after it unsubscribes an app "
                "whose webhook kept failing): nothing was delivered. Enter the Webhook URL "
                "in Zalo's console."
            )
        )
    if attempt is None:
        if not timed_out:
            return None
        if record is None:
            return msg(_("Zalo lost track of its test delivery."))
        return msg(
            _("Zalo did not try to deliver within %s s."),
            settings.DIAGNOSTICS_PROBE_TIMEOUT_SECONDS,
        )
    if attempt.get("status") == 401:
        probe.signature_refused = True
        return msg(
            _(
                "Zalo delivered a test event to %(url)s, and the hub refused its signature: "
                "the OA secret key stored on the Zalo app is not Zalo's."
            ),
            url=target,
        )
    if attempt.get("status") == 200 and not timed_out:
        return None  # answered, the row may be a moment behind
    if attempt.get("status") == 200:
        return msg(
            _(
                "Zalo delivered a test event to %(url)s and got HTTP 200, but the event is not "
                "stored here: Zalo's webhook URL may point at another server."
            ),
            url=target,
        )
    if attempt.get("status") is not None:
        return msg(
            _("Zalo delivered a test event to %(url)s and got HTTP %(status)s."),
            url=target,
            status=attempt["status"],
        )
    return msg(
        _("Zalo could not reach %(url)s: %(error)s"), url=target, error=attempt.get("error", "")
    )
