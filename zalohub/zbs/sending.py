"""Template sends: ``template_send`` checks, picks the route, and queues one row.

Each send is an outbound ``events.Message`` (kind Template) with an outbound
``ZaloEvent``, so it shows on the Zalo Events list with its Processing and Zalo States,
and a ``TemplateSend`` holding the route and the tracking id Zalo deduplicates on. A
send that cannot go (template not approved, a bad parameter, no route) is still
recorded, as an event in Error with the reason, and the caller gets ``TemplateSendRefused``.
"""

import json
import secrets
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from zalohub.core.stored_text import reason, reason_fields, shown_reason
from zalohub.events.actions import ActionRefused
from zalohub.events.models import (
    Direction,
    ErrorCategory,
    Message,
    ProcessingState,
    ZaloEvent,
    ZaloState,
)
from zalohub.events.outbound import send_event
from zalohub.partners.models import Partner
from zalohub.zalo.bodies import TemplateMessage
from zalohub.zbs.models import BulkSend, RoutePolicy, Template, TemplateSend
from zalohub.zbs.routes import Route, SendProblem, check_params, choose_route, render
from zalohub.zbs.services import oa_settings

EVENT_NAME = "oa_send_template"


class TemplateSendRefused(SendProblem):
    """Not sent; the send is recorded (Failed, its event in Error) as ``send``."""

    def __init__(self, problem: SendProblem, send: TemplateSend) -> None:
        super().__init__(problem.reason, category=problem.category)
        self.send = send


def template_preview(*, template: Template, params: dict[str, Any]) -> str:
    """The message as it will read, for staff to check before a manual send."""
    return render(template, check_params(template, params))


def wire_body(send: TemplateSend) -> dict[str, Any]:
    """What is sent to Zalo, as stored on the event (and shown on its form)."""
    by_uid = send.route == RoutePolicy.UID
    return TemplateMessage(
        template_id=send.template.zalo_template_id,
        template_data=send.params,
        tracking_id=send.tracking_id,
        user_id=send.user_id if by_uid else "",
        phone="" if by_uid else send.phone,
    ).body()


def _check(
    template: Template, params: dict[str, Any], partner: Partner, policy: str, phone: str
) -> tuple[dict[str, str], Route]:
    if template.status != Template.Status.APPROVED:
        raise SendProblem(
            reason(
                gettext_noop(
                    "The template “%(name)s” is %(status)s, not Approved: it cannot be sent."
                ),
                name=template.name,
                status=Template.Status(template.status).label,
            ),
            category=ErrorCategory.TEMPLATE,
        )
    values = check_params(template, params)
    return values, choose_route(oa=template.oa, partner=partner, policy=policy, phone=phone)


def template_send(
    *,
    partner: Partner,
    template: Template,
    params: dict[str, Any],
    route_policy: str = "",
    phone: str = "",
    actor: Any = None,
    bulk: BulkSend | None = None,
    enqueue: bool = True,
    tracking_id: str = "",
) -> TemplateSend:
    """Queue an approved template to a partner; the worker sends it once.

    ``route_policy`` overrides the OA's Route policy for this send; ``phone`` sends to
    that number instead of the partner's own (it must still be a valid 84xxxxxxxxx).
    ``tracking_id``: the caller's own id for the send (another system's), else a new one.
    """
    partner = partner.resolved()
    template.refresh_from_db()
    policy = route_policy or oa_settings(template.oa).route_policy
    problem: SendProblem | None = None
    route: Route | None = None
    try:
        values, route = _check(template, params, partner, policy, phone)
    except SendProblem as exc:
        problem = exc
        values = {str(k): str(v) for k, v in params.items()}
    with transaction.atomic():
        send = _record(template, partner, values, policy, route, problem, actor, bulk, tracking_id)
        if problem is None and enqueue:
            event_id = send.message.events.values_list("pk", flat=True).get()
            transaction.on_commit(lambda: send_event.enqueue(event_id))
    if problem is not None:
        raise TemplateSendRefused(problem, send)
    return send


def _record(
    template: Template,
    partner: Partner,
    values: dict[str, str],
    policy: str,
    route: Route | None,
    problem: SendProblem | None,
    actor: Any,
    bulk: BulkSend | None,
    tracking_id: str = "",
) -> TemplateSend:
    oa = template.oa
    now = timezone.now()
    # The conversation is the partner's UID on this OA when it has one; for a phone-only
    # customer, the phone, which is how Zalo's receipt names them (API.md §3.6).
    recipient = (route.user_id or route.phone) if route else ""
    message = Message.objects.create(
        oa=oa,
        partner_link=route.link if route else None,
        direction=Direction.OUTBOUND,
        zalo_user_id=recipient,
        kind=Message.Kind.TEMPLATE,
        text=render(template, values),
        attachments=[{"template_id": template.zalo_template_id, "template_data": values}],
        zalo_state=ZaloState.FAILED if problem else ZaloState.ON_QUEUE,
        **reason_fields("failure_reason", problem.reason if problem else None),
        sent_by=actor if getattr(actor, "pk", None) else None,
    )
    send = TemplateSend.objects.create(
        template=template,
        oa=oa,
        partner=partner,
        message=message,
        params=values,
        route_policy=policy,
        route=route.route if route else "",
        phone=route.phone if route else "",
        user_id=route.user_id if route else "",
        bulk=bulk,
        **({"tracking_id": tracking_id} if tracking_id else {}),
    )
    ZaloEvent.objects.create(
        app_id=oa.app_id,
        oa=oa,
        direction=Direction.OUTBOUND,
        event_name=EVENT_NAME,
        dedupe_key=f"zbs:{send.tracking_id}",
        raw_body=json.dumps(wire_body(send), ensure_ascii=False),
        zalo_user_id=recipient,
        conversation_key=f"{oa.oa_id}:{recipient}"[:100] if recipient else "",
        processing_state=ProcessingState.ERROR if problem else ProcessingState.QUEUED,
        error_category=problem.category if problem else "",
        **reason_fields("error_message", problem.reason if problem else None),
        error_at=now if problem else None,
        message=message,
    )
    return send


def template_resend(message: Message) -> ZaloEvent:
    """Resend of a failed template message: a new attempt with the same tracking id, so
    that if an earlier attempt did reach Zalo the message is still delivered only once."""
    send = TemplateSend.objects.select_related("oa").get(message=message)
    if not send.route:
        raise ActionRefused(
            _("This send never had a route (%(reason)s): fix the partner, then send again.")
            % {"reason": shown_reason(send.message, "failure_reason") or "—"}
        )
    oa = send.oa
    event = ZaloEvent.objects.create(
        app_id=oa.app_id,
        oa=oa,
        direction=Direction.OUTBOUND,
        event_name=EVENT_NAME,
        dedupe_key=f"zbs:{send.tracking_id}:{secrets.token_hex(6)}",
        raw_body=json.dumps(wire_body(send), ensure_ascii=False),
        zalo_user_id=message.zalo_user_id,
        conversation_key=f"{oa.oa_id}:{message.zalo_user_id}"[:100],
        processing_state=ProcessingState.QUEUED,
        message=message,
    )
    transaction.on_commit(lambda: send_event.enqueue(event.pk))
    return event
