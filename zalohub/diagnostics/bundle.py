"""The pre-escalation summary of the troubleshooting guide, as data, text and JSON.

Built from an OA, an event or an API log; every token and secret is removed twice: by
field name (as API logs are) and by value (any string that contains one of the OA's or
its app's secrets)."""

import contextlib
import json
from datetime import datetime
from typing import Any

from django.conf import settings
from django.utils import timezone
from django.utils.translation import gettext as _

from zalohub.accounts.models import OfficialAccount
from zalohub.apilog.models import ApiLog
from zalohub.apilog.redact import REDACTED, redact_text, redact_value
from zalohub.core.crypto import SecretUnavailable, reveal
from zalohub.core.stored_text import shown_reason
from zalohub.diagnostics.categories import category_for_code, category_for_event, label, next_step
from zalohub.diagnostics.checks.run import oa_health
from zalohub.diagnostics.checks.templates import bad_templates
from zalohub.diagnostics.models import Level
from zalohub.events.models import ZaloEvent

MIN_SECRET = 6


def _iso(value: datetime | None) -> str | None:
    return timezone.localtime(value).isoformat() if value else None


def _api_log(log: ApiLog) -> dict[str, Any]:
    return {
        "id": log.pk,
        "time": _iso(log.created_at),
        "method": log.method,
        "endpoint": log.endpoint,
        "url": log.url,
        "http_status": log.http_status,
        "ok": log.ok,
        "zalo_error_code": log.error_code,
        "error_kind": log.error_kind,
        "error_message": log.error_message,  # Zalo's own words, for Zalo's support
        "error_text": shown_reason(log, "error_message"),  # in the reader's language
        "duration_seconds": log.duration_seconds,
        "request_headers": log.request_headers,
        "request_body": log.request_body,
        "response_body": log.response_body,
    }


def _event(event: ZaloEvent) -> dict[str, Any]:
    message = event.message if event.message_id else None
    return {
        "id": event.pk,
        "event": event.event_name,
        "direction": event.get_direction_display(),
        "received_at": _iso(event.received_at),
        "processing_state": event.get_processing_state_display(),
        "zalo_state": message.get_zalo_state_display() if message else "",
        "attempts": event.attempts,
        "error_category": label(category_for_event(event)),
        "error_message": shown_reason(event, "error_message"),
        "error_at": _iso(event.error_at),
        "zalo_failure_code": message.failure_code if message else None,
        "zalo_failure_reason": shown_reason(message, "failure_reason") if message else "",
        "payload": redact_text(event.raw_body)[:4000],
    }


def _oa(oa: OfficialAccount) -> dict[str, Any]:
    return {
        "id": oa.pk,
        "name": oa.name,
        "oa_id": oa.oa_id,
        "app": oa.app.name,
        "app_id": oa.app.app_id,
        "account_status": oa.get_status_display(),
        "token_valid": oa.token_valid,
        "token_expires_at": _iso(oa.token_expires_at),
        "refresh_token_expires_at": _iso(oa.refresh_token_expires_at),
        "last_refresh_error": shown_reason(oa, "last_refresh_error"),
        "last_error": shown_reason(oa, "last_error"),
        "last_error_at": _iso(oa.last_error_at),
        "webhook_url": oa.webhook_url,
        "oauth_callback_url": oa.callback_url,
    }


def _related(
    oa: OfficialAccount | None, event: ZaloEvent | None, log: ApiLog | None
) -> tuple[OfficialAccount | None, ZaloEvent | None, ApiLog | None]:
    if log is not None and event is None and log.ref_type == "event" and log.ref_id.isdigit():
        event = ZaloEvent.objects.filter(pk=int(log.ref_id)).first()
    if event is not None and log is None:
        logs = ApiLog.objects.filter(ref_type="event", ref_id=str(event.pk)).order_by("-created_at")
        log = logs.filter(ok=False).first() or logs.first()
    oa = oa or (event.oa if event else None) or (log.oa if log else None)
    if oa is not None and event is None:
        event = (
            ZaloEvent.objects.filter(oa=oa, error_at__isnull=False)
            .select_related("message")
            .order_by("-error_at")
            .first()
        )
    if oa is not None and log is None:
        log = ApiLog.objects.filter(oa=oa, ok=False).order_by("-created_at").first()
    return oa, event, log


def _secrets(oa: OfficialAccount | None) -> list[str]:
    if oa is None:
        return []
    values = []
    for owner, name in (
        (oa, "access_token"),
        (oa, "refresh_token"),
        (oa.app, "secret_key"),
        (oa.app, "oa_secret_key"),
        (oa.app, "fixed_code_verifier"),
    ):
        with contextlib.suppress(SecretUnavailable):
            value = reveal(getattr(owner, name), what=name)
            if value and len(value) >= MIN_SECRET:
                values.append(value)
    return values


def _scrub(value: Any, secrets: list[str]) -> Any:
    if isinstance(value, dict):
        return {k: _scrub(v, secrets) for k, v in value.items()}
    if isinstance(value, list):
        return [_scrub(v, secrets) for v in value]
    if isinstance(value, str):
        for secret in secrets:
            value = value.replace(secret, REDACTED)
    return value


def _checklist(bundle: dict[str, Any]) -> list[dict[str, str]]:
    log, event, oa = bundle.get("api_log"), bundle.get("event"), bundle.get("oa") or {}
    steps = [
        (
            _("Open the API log of the failed action: HTTP status and error message."),
            _("HTTP %(status)s, %(message)s")
            % {
                "status": log["http_status"],
                "message": log["error_text"] or _("no error"),
            }
            if log
            else _("no API log"),
        ),
        (
            _("Check the OA account status and token icon; re-authorize if expired."),
            _("%(status)s, token %(valid)s")
            % {
                "status": oa.get("account_status", "—"),
                "valid": _("valid") if oa.get("token_valid") else _("not valid"),
            },
        ),
        (
            _("Zalo Events: note the Processing State and Zalo State of the failed message."),
            f"{event['processing_state']} / {event['zalo_state'] or '—'}" if event else "—",
        ),
        (
            _("ZBS templates: read the Reject Reason and Template Quality."),
            "; ".join(
                f"{t['name']}: {t['reject_reason'] or '—'} ({t['quality'] or '—'})"
                for t in bundle.get("templates", [])
            )
            or _("no rejected or disabled template"),
        ),
        (
            _("Zalo OA Developer Console: quota limits, webhook URL, OA account status."),
            oa.get("webhook_url", "—"),
        ),
        (
            _("Summarize: OA name, account status, error time, API log entry, error message."),
            _("this bundle"),
        ),
    ]
    return [{"step": s, "found": f} for s, f in steps]


def escalation_bundle(
    *,
    oa: OfficialAccount | None = None,
    event: ZaloEvent | None = None,
    api_log: ApiLog | None = None,
) -> dict[str, Any]:
    subject = (
        {"type": "event", "id": event.pk}
        if event
        else {"type": "api_log", "id": api_log.pk}
        if api_log
        else {"type": "oa", "id": oa.pk if oa else None}
    )
    oa, event, api_log = _related(oa, event, api_log)
    health = oa_health(oa=oa) if oa else None
    category = (
        category_for_event(event)
        if event and event.error_category
        else category_for_code(api_log.error_code, kind=api_log.error_kind)
        if api_log and not api_log.ok
        else ""
    )
    if not category and health:
        # Nothing failed on its own: the worst check names the problem.
        broken = [c for c in health.checks if c.level != "green" and c.category]
        category = broken[0].category if broken else ""
    code = api_log.error_code if api_log else None
    error_at = (
        (event.error_at if event else None)
        or (api_log.created_at if api_log and not api_log.ok else None)
        or (oa.last_error_at if oa else None)
    )
    bundle: dict[str, Any] = {
        "generated_at": _iso(timezone.now()),
        "hub": settings.PUBLIC_URL,
        "subject": subject,
        "oa": _oa(oa) if oa else None,
        "error": {
            "time": _iso(error_at),
            "message": (shown_reason(event, "error_message") if event else "")
            or (shown_reason(api_log, "error_message") if api_log else "")
            or (shown_reason(oa, "last_error") if oa else ""),
            "category": label(category),
            "next_step": next_step(category, code),
        },
        "api_log": _api_log(api_log) if api_log else None,
        "event": _event(event) if event else None,
        "templates": bad_templates(oa=oa) if oa else [],
        "health": health.level if health else None,
        "checks": [c.as_text() for c in health.checks] if health else [],
    }
    bundle["checklist"] = _checklist(bundle)
    return _scrub(redact_value(bundle), _secrets(oa))


def bundle_json(bundle: dict[str, Any]) -> str:
    return json.dumps(bundle, ensure_ascii=False, indent=2, default=str)


def bundle_text(bundle: dict[str, Any]) -> str:
    """The bundle as plain text to paste into a ticket or a chat with Zalo's support."""
    lines = [_("zalohub escalation summary — %s") % bundle["generated_at"], ""]
    oa = bundle.get("oa")
    if oa:
        lines += [
            _("OA: %(name)s (OA ID %(oa_id)s, app %(app)s)") % oa,
            _("Account status: %s") % oa["account_status"],
            _("Access token expires at: %s") % (oa["token_expires_at"] or "—"),
            _("Refresh token expires at: %s") % (oa["refresh_token_expires_at"] or "—"),
            _("Last refresh error: %s") % (oa["last_refresh_error"] or "—"),
        ]
    error = bundle["error"]
    lines += [
        "",
        _("Error time: %s") % (error["time"] or "—"),
        _("Error message: %s") % (error["message"] or "—"),
        _("Category: %s") % (error["category"] or "—"),
        _("Next step: %s") % (error["next_step"] or "—"),
    ]
    if event := bundle.get("event"):
        lines += [
            "",
            _("Event #%(id)s %(event)s (%(direction)s), received %(received_at)s") % event,
            _("Processing State: %(processing_state)s · Zalo State: %(zalo_state)s") % event,
        ]
    if log := bundle.get("api_log"):
        lines += [
            "",
            _("API log #%(id)s %(time)s: %(method)s %(url)s") % log,
            _("HTTP %(http_status)s · Zalo code %(zalo_error_code)s · %(error_message)s")
            % {
                **log,
                "zalo_error_code": log["zalo_error_code"] or "—",
                "error_message": log["error_text"],
            },
            _("Request:"),
            log["request_body"] or "—",
            _("Response:"),
            log["response_body"] or "—",
        ]
    for template in bundle.get("templates", []):
        lines.append(
            _(
                "Template %(name)s: %(status_label)s, reason: %(reject_reason)s, "
                "quality: %(quality)s"
            )
            % template
        )
    if bundle.get("checks"):
        # The level's label, in the reader's language ("amber" is the code, for JSON).
        lines += ["", _("Health: %s") % Level(bundle["health"]).label]
        for check in bundle["checks"]:
            lines.append(f"  [{check['level'].upper()}] {check['title']}: {check['summary']}")
            if check["next_step"]:
                lines.append("      " + _("Next step: %s") % check["next_step"])
    lines += ["", _("Pre-escalation checklist:")]
    for number, item in enumerate(bundle["checklist"], 1):
        lines.append(f"  {number}. {item['step']} → {item['found']}")
    return "\n".join(str(line) for line in lines) + "\n"
