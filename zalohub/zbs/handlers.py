"""What ZBS webhooks do (API.md §3.5-§3.6), registered with events at start-up: the
template events by name, ZNS delivery receipts as a receipt kind.

Handlers run in the worker's transaction and never call Zalo: a template the hub does
not know yet is fetched by a sync task, enqueued once the event is committed.
"""

from django.db import transaction

from zalohub.events.models import ErrorCategory, Message, Outcome, ZaloEvent, ZaloState
from zalohub.events.processing import batch
from zalohub.events.processing.handlers import (
    HandlerError,
    Result,
    advance_state,
    event_time,
    receipt_time,
    register,
    register_receipt_kind,
    require_oa,
)
from zalohub.zalo.webhook import WebhookEvent
from zalohub.zbs import hooks
from zalohub.zbs.models import Template, TemplateSend, ZbsSettings
from zalohub.zbs.services import apply_zalo_status, disabled_cause, oa_settings


def _template(event: ZaloEvent, wire: WebhookEvent) -> Template | None:
    require_oa(event)
    zalo_id = wire.template_id
    if not zalo_id:
        raise HandlerError("The event names no template_id.", category=ErrorCategory.TEMPLATE)
    template = Template.objects.filter(oa_id=event.oa_id, zalo_template_id=zalo_id).first()
    if template is None and event.oa_id is not None:
        from zalohub.zbs.tasks import sync_templates

        oa_pk = event.oa_id
        transaction.on_commit(lambda: sync_templates.enqueue(oa_pk))
    return template


@register("change_template_status")
def handle_status(event: ZaloEvent, wire: WebhookEvent) -> Result:
    template = _template(event, wire)
    if template is None:
        return Result(outcome=Outcome.RECORDED)
    apply_zalo_status(template, wire.status, reason=wire.reason, when=event_time(event))
    return Result()


@register("change_template_quality")
def handle_quality(event: ZaloEvent, wire: WebhookEvent) -> Result:
    template = _template(event, wire)
    if template is None:
        return Result(outcome=Outcome.RECORDED)
    quality = wire.quality[:10]
    Template.objects.filter(pk=template.pk).update(quality=quality)
    previous, template.quality = template.quality, quality
    hooks.template_changed(template, "quality", previous, quality)
    if template.status == Template.Status.DISABLED:
        template.quality = quality
        cause = disabled_cause(template, template.zalo_status, template.reject_reason)
        Template.objects.filter(pk=template.pk).update(disabled_cause=cause)
    return Result()


@register("change_template_quota")
def handle_template_quota(event: ZaloEvent, wire: WebhookEvent) -> Result:
    template = _template(event, wire)
    if template is None:
        return Result(outcome=Outcome.RECORDED)
    Template.objects.filter(pk=template.pk).update(template_daily_quota=wire.quota)
    if wire.quota != template.template_daily_quota:
        template.template_daily_quota = wire.quota
        hooks.quota_changed(
            oa_id=template.oa_id, template=template, daily=wire.quota, remaining=None
        )
    return Result()


@register("change_oa_daily_quota")
def handle_oa_quota(event: ZaloEvent, wire: WebhookEvent) -> Result:
    require_oa(event)
    assert event.oa is not None
    if wire.quota is not None:
        row = oa_settings(event.oa)
        ZbsSettings.objects.filter(pk=row.pk).update(daily_quota=wire.quota)
        if row.daily_quota != wire.quota:
            hooks.quota_changed(oa_id=event.oa.pk, daily=wire.quota, remaining=row.remaining_quota)
    return Result()


@register_receipt_kind("zns")
def handle_zns_receipt(event: ZaloEvent, wire: WebhookEvent) -> Result:
    """A template message reached the phone: Zalo State Received (API.md §3.6).

    The receipt names the OA that sent the template (``zalo.webhook.orient`` tells it
    from the phone, whichever side it is on) and is matched only among that OA's sends:
    a tracking id or msg id of another OA, or of another app, is not this receipt's."""
    require_oa(event)
    tracking_id, msg_id = wire.tracking_id, wire.msg_id
    send = (
        TemplateSend.objects.filter(tracking_id=tracking_id, oa_id=event.oa_id)
        .select_related("message")
        .first()
    )
    message: Message | None = send.message if send else None
    if message is None and msg_id:
        found = batch.active().message(event.oa_id, msg_id)
        message = found if found and found.kind == Message.Kind.TEMPLATE else None
    if message is None:
        # Sent outside zalohub (ZBS's own web UI, another system): kept as it came.
        return Result(outcome=Outcome.RECORDED)
    advance_state(message, ZaloState.RECEIVED, receipt_time(event, wire))
    return Result(message=message)
