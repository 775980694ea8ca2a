"""The webhook self-test: sign a probe event with the app's OA secret key, POST it to
the hub's own public webhook URL (settings.PUBLIC_URL), and see whether it was stored.

It travels the way Zalo's events do (through DNS, the proxy, TLS and the signature
check), so it works the same against the sandbox and in production. The probe's
event_name marks it: it is never counted as customer traffic."""

import json
import secrets
import time

import httpx
from django.conf import settings
from django.utils import timezone
from django.utils.translation import gettext as _

from zalohub.accounts.models import OfficialAccount
from zalohub.core.crypto import SecretUnavailable, reveal
from zalohub.diagnostics.checks.webhook import PROBE_EVENT
from zalohub.diagnostics.models import WebhookProbe
from zalohub.events.models import ZaloEvent
from zalohub.zalo.signature import sign_webhook


def webhook_selftest(*, oa: OfficialAccount) -> WebhookProbe:
    app = oa.app
    nonce = secrets.token_hex(16)
    now = timezone.now()
    url = app.webhook_url
    probe = WebhookProbe(oa=oa, url=url[:500], nonce=nonce, sent_at=now)
    try:
        key = reveal(app.oa_secret_key, what=_("OA secret key"))
    except SecretUnavailable as exc:
        key, probe.answer = "", str(exc)
    if not key and not probe.answer:
        probe.answer = _("The app has no OA secret key: enter the one from Zalo's console.")
    if probe.answer:
        probe.save()
        return probe
    body = json.dumps(
        {
            "app_id": app.app_id,
            "oa_id": oa.oa_id,
            "event_name": PROBE_EVENT,
            "timestamp": str(int(time.time() * 1000)),
            "probe_id": nonce,
        },
        separators=(",", ":"),
    )
    timestamp = json.loads(body)["timestamp"]
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "zalohub-selftest/1",
        "X-ZEvent-Signature": sign_webhook(
            app_id=app.app_id, raw_body=body, timestamp=timestamp, secret_key=key
        ),
    }
    try:
        with httpx.Client(timeout=settings.DIAGNOSTICS_PROBE_TIMEOUT_SECONDS) as http:
            answer = http.post(url, content=body.encode(), headers=headers)
        probe.http_status = answer.status_code
        probe.answer = answer.text[:1000]
    except httpx.HTTPError as exc:
        probe.answer = _("%(url)s could not be reached: %(error)s") % {
            "url": url,
            "error": exc or type(exc).__name__,
        }
    event = ZaloEvent.objects.filter(
        app=app, event_name=PROBE_EVENT, raw_body__contains=nonce
    ).first()
    probe.event = event
    probe.arrived = event is not None
    if not probe.arrived and probe.http_status == 200:
        probe.answer = _("The URL answered 200 but no event was stored: %s") % probe.answer
    probe.save()
    return probe
