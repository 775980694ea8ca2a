"""The ZNS template sender: how a template send calls Zalo and reads a refusal.

The claim, the settling, the retries and the sweeper are the outbound pipeline's
(``zalohub.events.outbound``); what differs for templates is said here:

- Zalo deduplicates template sends by ``tracking_id``, so a call whose outcome is unknown
  (timeout, a gateway's 502/504, a worker that died mid-call) is simply tried again with
  the same id: Zalo answers the first send's msg_id and the customer gets one message.
- A send by UID may fall back to the phone; a send by phone is not counted against the
  app's per-minute call budget; a stopped bulk send's rows are not sent.
"""

import functools
import logging
from typing import cast

from django.db import transaction
from django.utils.translation import gettext_noop

from zalohub.core.stored_text import Reason, reason, stored_reason, zalo_reason
from zalohub.events.models import ErrorCategory, Message, ZaloEvent
from zalohub.events.outbound import Attempt, Failure, Sender, Sent, send_outbound
from zalohub.zalo import ErrorKind, ZaloError, errors, get_client
from zalohub.zalo.zns import TemplateSend as ZnsSent
from zalohub.zalo.zns import reported_quota
from zalohub.zbs.models import BulkSend, RoutePolicy, TemplateSend
from zalohub.zbs.services import quota_store

logger = logging.getLogger(__name__)
KIND = "zns_template"
# A UID send refused for one of these reasons may go by phone instead (UID + Phone).
UID_UNREACHABLE = {-201, -213, -230, -114, -118, -119, -139, -140, -141}
# On the ZNS channel -201 names the phone parameter: the recipient, not the request.
PHONE_PARAMETER = -201


def deliver_template(*, event_id: int, worker_id: str) -> str:
    """Send one template event now (a bulk send's worker, tests): only if it is one."""
    return send_outbound(event_id=event_id, worker_id=worker_id, kind=KIND)


def _load(event: ZaloEvent) -> TemplateSend:
    # Every outbound event carries its message (only inbound events have none).
    message_id = cast(int, event.message_id)
    return TemplateSend.objects.select_related("template", "bulk", "oa").get(message_id=message_id)


def _refuse(attempt: Attempt) -> Reason | None:
    send: TemplateSend = attempt.subject
    if send.bulk and send.bulk.status == BulkSend.Status.STOPPED:
        stop = stored_reason(send.bulk, "stop_reason") or "—"
        return reason(gettext_noop("Not sent: the bulk send stopped (%s)."), stop)
    return None


def _spends_call_budget(attempt: Attempt) -> bool:
    # By phone, ZNS counts the OA's template quota, not the app's calls per minute.
    return attempt.subject.route == RoutePolicy.UID


def _send(attempt: Attempt, access_token: str) -> Sent:
    send: TemplateSend = attempt.subject
    sent = _call(send, access_token)
    _store_quota(send, sent)
    return Sent(msg_id=sent.msg_id, sent_ms=sent.sent_time_ms)


def _call(send: TemplateSend, access_token: str) -> ZnsSent:
    zns = get_client().zns
    common = {
        "access_token": access_token,
        "template_id": send.template.zalo_template_id,
        "template_data": send.params,
        "tracking_id": send.tracking_id,
    }
    if send.route == RoutePolicy.UID:
        try:
            return zns.send_by_uid(user_id=send.user_id, **common)
        except ZaloError as exc:
            fallback = (
                send.route_policy == RoutePolicy.UID_PHONE
                and send.phone
                and not exc.outcome_unknown
                and exc.code in UID_UNREACHABLE
            )
            if not fallback:
                raise
            logger.info("Template send %s: UID refused (%s); by phone", send.pk, exc)
            TemplateSend.objects.filter(pk=send.pk).update(route=RoutePolicy.PHONE, fell_back=True)
            send.route, send.fell_back = RoutePolicy.PHONE, True
    return zns.send_by_phone(phone=send.phone, **common)


def _store_quota(send: TemplateSend, sent: ZnsSent) -> None:
    # An answer without a real quota ("sending_mode": null, "0" of "0") stores nothing.
    daily, remaining = reported_quota(sent)
    if daily is not None or remaining is not None:
        quota_store(oa=send.oa, daily=daily, remaining=remaining)


def _classify(attempt: Attempt, exc: ZaloError) -> Failure:
    send: TemplateSend = attempt.subject
    category = errors.category(exc.code, kind=exc.kind)
    if exc.code == PHONE_PARAMETER:
        category = ErrorCategory.RECIPIENT
    if category == ErrorCategory.TEMPLATE:
        from zalohub.zbs.tasks import sync_templates

        transaction.on_commit(lambda: sync_templates.enqueue(send.oa_id))
    if exc.code == -144:
        quota_store(oa=send.oa, remaining=0)
    # The code, explained in each reader's language (Zalo's own text kept beside it).
    why = zalo_reason(exc)
    then = None
    if send.bulk is not None and exc.kind is ErrorKind.QUOTA:
        from zalohub.zbs.bulk import bulk_stop

        # After the failure is stored: the bulk send stops, naming this refusal.
        then = functools.partial(bulk_stop, bulk=send.bulk, reason=why)
    return Failure(category=category, text=why, then=then)


def _resend(message: Message) -> ZaloEvent:
    from zalohub.zbs.sending import template_resend

    return template_resend(message)


ZNS_TEMPLATES = Sender(
    kind=KIND,
    event_names=frozenset({"oa_send_template"}),
    message_kinds=frozenset({Message.Kind.TEMPLATE}),
    call=_send,
    classify=_classify,
    retry_unknown=True,
    resend=_resend,
    load=_load,
    refuse=_refuse,
    spends_call_budget=_spends_call_budget,
)
