"""What ZBS webhooks do (API.md §3.5-§3.6), registered with events at start-up: the
template events by name, ZNS delivery receipts as a receipt kind.

Handlers run in the worker's transaction and never call Zalo: a template the hub does
not know yet is fetched by a sync task, enqueued once the event is committed.
"""

from datetime import UTC, datetime
from typing import Any

from django.db import transaction

from zalohub.events.handlers import (
    HandlerError,
    Result,
    advance_state,
    event_time,
    register,
    register_receipt_kind,
    require_oa,
)
from zalohub.events.models import ErrorCategory, Message, Outcome, ZaloEvent, ZaloState
from zalohub.zbs.models import Template, TemplateSend, ZbsSettings
from zalohub.zbs.services import apply_zalo_status, disabled_cause, oa_settings


def _template(event: ZaloEvent, payload: dict[str, Any]) -> Template | None:
    require_oa(event)
    zalo_id = str(payload.get("template_id") or "")
    if not zalo_id:
        raise HandlerError("The event names no template_id.", category=ErrorCategory.TEMPLATE)
    template = Template.objects.filter(oa_id=event.oa_id, zalo_template_id=zalo_id).first()
    if template is None:
        from zalohub.zbs.tasks import sync_templates

        oa_pk = event.oa_id
        transaction.on_commit(lambda: sync_templates.enqueue(oa_pk))
    return template


def _new_value(payload: dict[str, Any]) -> int | None:
    quota = payload.get("quota")
    value = quota.get("new_value") if isinstance(quota, dict) else quota
    try:
        return int(str(value)) if value not in (None, "") else None
    except ValueError:
        return None


@register("change_template_status")
def handle_status(event: ZaloEvent, payload: dict[str, Any]) -> Result:
    template = _template(event, payload)
    if template is None:
        return Result(outcome=Outcome.RECORDED)
    status = payload.get("status")
    new = str(status.get("new_status") if isinstance(status, dict) else status or "")
    apply_zalo_status(
        template, new, reason=str(payload.get("reason") or ""), when=event_time(event)
    )
    return Result()


@register("change_template_quality")
def handle_quality(event: ZaloEvent, payload: dict[str, Any]) -> Result:
    template = _template(event, payload)
    if template is None:
        return Result(outcome=Outcome.RECORDED)
    quality = str(payload.get("quality") or "")[:10]
    Template.objects.filter(pk=template.pk).update(quality=quality)
    if template.status == Template.Status.DISABLED:
        template.quality = quality
        cause = disabled_cause(template, template.zalo_status, template.reject_reason)
        Template.objects.filter(pk=template.pk).update(disabled_cause=cause)
    return Result()


@register("change_template_quota")
def handle_template_quota(event: ZaloEvent, payload: dict[str, Any]) -> Result:
    template = _template(event, payload)
    if template is None:
        return Result(outcome=Outcome.RECORDED)
    Template.objects.filter(pk=template.pk).update(template_daily_quota=_new_value(payload))
    return Result()


@register("change_oa_daily_quota")
def handle_oa_quota(event: ZaloEvent, payload: dict[str, Any]) -> Result:
    require_oa(event)
    assert event.oa is not None
    value = _new_value(payload)
    if value is not None:
        ZbsSettings.objects.filter(pk=oa_settings(event.oa).pk).update(daily_quota=value)
    return Result()


def _receipt_time(payload: dict[str, Any], event: ZaloEvent) -> datetime:
    message = payload.get("message") if isinstance(payload.get("message"), dict) else {}
    try:
        return datetime.fromtimestamp(int(str(message.get("delivery_time"))) / 1000, tz=UTC)
    except (TypeError, ValueError):
        return event_time(event)


@register_receipt_kind("zns")
def handle_zns_receipt(event: ZaloEvent, payload: dict[str, Any]) -> Result:
    """A template message reached the phone: Zalo State Received (API.md §3.6)."""
    part = payload.get("message") if isinstance(payload.get("message"), dict) else {}
    tracking_id = str(part.get("tracking_id") or payload.get("tracking_id") or "")
    msg_id = str(part.get("msg_id") or payload.get("msg_id") or "")
    # Only the sends of the app that accepted the receipt (its URL and OA secret key).
    send = (
        TemplateSend.objects.filter(tracking_id=tracking_id, oa__app_id=event.app_id)
        .select_related("message")
        .first()
    )
    message: Message | None = send.message if send else None
    if message is None and msg_id:
        message = Message.objects.filter(
            zalo_msg_id=msg_id, kind=Message.Kind.TEMPLATE, oa__app_id=event.app_id
        ).first()
    if message is None:
        # Sent outside zalohub (ZBS's own web UI, another system): kept as it came.
        return Result(outcome=Outcome.RECORDED)
    if event.oa_id is None:
        # The receipt names the phone where an OA event names the OA (API.md §3.6).
        ZaloEvent.objects.filter(pk=event.pk).update(oa_id=message.oa_id)
    advance_state(message, ZaloState.RECEIVED, _receipt_time(payload, event))
    return Result(message=message)
