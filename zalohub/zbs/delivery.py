"""The worker's side of a template send: claim, call Zalo once, classify the answer.

Like ``events.sending`` (whose settle helpers are reused), with two differences:

- Zalo deduplicates template sends by ``tracking_id``, so a call whose outcome is unknown
  (timeout, broken connection, a worker that died mid-call) is simply tried again with
  the same id: Zalo answers the first send's msg_id and the customer gets one message.
- The claim leaves ``lease_until`` empty: the events sweeper would hand a stuck send to
  the OA message sender, which cannot send templates. ``zbs.tasks.sweep`` recovers ours
  from the attempt's start time instead.
"""

import logging
import secrets
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.tasks import task
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from zalohub.accounts.tokens import TokenUnavailable, call_with_token
from zalohub.events import ratelimit
from zalohub.events.models import Direction, ErrorCategory, EventAttempt, ProcessingState, ZaloEvent
from zalohub.events.sending import _already_settled, _backoff, _fail, _succeed
from zalohub.events.sending import _requeue as requeue
from zalohub.zalo import ErrorKind, ZaloError, call_context, get_client
from zalohub.zalo.errors import RECIPIENT_CODES as ZALO_RECIPIENT_CODES
from zalohub.zalo.errors import TEMPLATE_CODES
from zalohub.zalo.zns import TemplateSend as Sent
from zalohub.zbs.models import BulkSend, RoutePolicy, TemplateSend
from zalohub.zbs.services import quota_store

logger = logging.getLogger(__name__)
PENDING = (ProcessingState.RECEIVED, ProcessingState.QUEUED)
# A UID send refused for one of these reasons may go by phone instead (UID + Phone).
UID_UNREACHABLE = {-201, -213, -230, -114, -118, -119, -139, -140, -141}
# On the ZNS channel -201 names the phone parameter: the recipient, not the request.
RECIPIENT_CODES = ZALO_RECIPIENT_CODES | {-201}
EXPLAIN = {
    -108: gettext_lazy("The phone number is not valid for Zalo."),
    -114: gettext_lazy("The customer cannot receive Zalo messages now."),
    -118: gettext_lazy("The phone number has no Zalo account."),
    -131: gettext_lazy("The template is not approved on Zalo."),
    -141: gettext_lazy("The customer refused template messages from this OA."),
    -144: gettext_lazy("The OA's daily quota is used up."),
    -146: gettext_lazy("Zalo disabled the template for low quality."),
    -147: gettext_lazy("The template's daily quota is used up."),
}


@task(queue_name="zalo")
def send_template(event_id: int) -> str:
    return deliver_template(event_id=event_id, worker_id="task")


def deliver_template(*, event_id: int, worker_id: str) -> str:
    now = timezone.now()
    token = secrets.token_hex(16)
    claimed = ZaloEvent.objects.filter(
        pk=event_id,
        direction=Direction.OUTBOUND,
        processing_state__in=PENDING,
        next_attempt_at__lte=now,
        message__template_send__isnull=False,
    ).update(
        processing_state=ProcessingState.PROCESSING,
        claimed_by=token,
        lease_until=None,
        attempts=F("attempts") + 1,
    )
    if not claimed:
        return "not claimable"
    event = ZaloEvent.objects.select_related("oa__app", "message").get(pk=event_id)
    send = TemplateSend.objects.select_related("template", "bulk").get(message_id=event.message_id)
    attempt = EventAttempt.objects.create(
        event=event, number=event.attempts, claim_token=token, worker=worker_id[:100]
    )
    message = event.message
    if message is None or message.zalo_msg_id or message.zalo_state != "on_queue":
        return _already_settled(event, token, attempt)
    if send.bulk and send.bulk.status == BulkSend.Status.STOPPED:
        text = _("Not sent: the bulk send stopped (%s).") % send.bulk.stop_reason
        return _fail(event, token, attempt, category=ErrorCategory.SEND, text=text)
    if send.route == RoutePolicy.UID and (wait := ratelimit.acquire(str(event.app_id))):
        return _requeue(event, token, attempt, delay=wait, reason=_("Waiting for the call budget."))
    EventAttempt.objects.filter(pk=attempt.pk).update(call_started_at=timezone.now())
    try:
        with call_context(oa=event.oa_id, app=event.app_id, ref_type="event", ref_id=event.pk):
            sent = call_with_token(event.oa, lambda access_token: _call(send, access_token))
    except TokenUnavailable as exc:
        if exc.retryable and event.attempts < settings.EVENTS_MAX_ATTEMPTS:
            return _requeue(event, token, attempt, delay=_backoff(event.attempts), reason=str(exc))
        return _fail(event, token, attempt, category=ErrorCategory.TOKEN, text=str(exc))
    except ZaloError as exc:
        return _failed_call(event, token, attempt, send, exc)
    _store_quota(send, sent.quota)
    return _succeed(event, token, attempt, msg_id=sent.msg_id, sent_ms=sent.sent_time_ms)


def _call(send: TemplateSend, access_token: str) -> Sent:
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


def _store_quota(send: TemplateSend, quota: dict[str, Any]) -> None:
    daily = quota.get("dailyQuota")
    remaining = quota.get("remainingQuota", quota.get("remain"))
    if daily is not None or remaining is not None:
        quota_store(oa=send.oa, daily=daily, remaining=remaining)


def _failed_call(
    event: ZaloEvent, token: str, attempt: EventAttempt, send: TemplateSend, exc: ZaloError
) -> str:
    # Zalo deduplicates by tracking_id: trying again cannot deliver twice.
    retry = exc.kind is ErrorKind.RETRYABLE or exc.outcome_unknown
    if retry and event.attempts < settings.EVENTS_MAX_ATTEMPTS:
        delay = max(_backoff(event.attempts), exc.retry_after or 0)
        return _requeue(event, token, attempt, delay=delay, reason=str(exc), code=exc.code)
    category = ErrorCategory.SEND
    if exc.kind is ErrorKind.AUTH:
        category = ErrorCategory.TOKEN
    elif exc.code in TEMPLATE_CODES:
        category = ErrorCategory.TEMPLATE
        from zalohub.zbs.tasks import sync_templates

        transaction.on_commit(lambda: sync_templates.enqueue(send.oa_id))
    elif exc.code in RECIPIENT_CODES:
        category = ErrorCategory.RECIPIENT
    if exc.code == -144:
        quota_store(oa=send.oa, remaining=0)
    explained = EXPLAIN.get(exc.code or 0)
    text = f"{explained} ({exc})" if explained else str(exc)
    result = _fail(event, token, attempt, category=category, text=text, code=exc.code)
    if send.bulk_id and exc.kind is ErrorKind.QUOTA:
        from zalohub.zbs.bulk import bulk_stop

        bulk_stop(bulk=send.bulk, reason=text)
    return result


def _requeue(event: ZaloEvent, token: str, attempt: EventAttempt, **kwargs: Any) -> str:
    return requeue(event, token, attempt, task=send_template, **kwargs)


def recover_stuck_sends(*, lease: timedelta) -> int:
    """Template sends whose worker died mid-attempt go back to the queue: safe, since a
    second call with the same tracking id cannot deliver twice."""
    now = timezone.now()
    recovered = 0
    stuck = ZaloEvent.objects.filter(
        direction=Direction.OUTBOUND,
        processing_state=ProcessingState.PROCESSING,
        message__template_send__isnull=False,
        attempt_log__started_at__lt=now - lease,
        attempt_log__result=EventAttempt.Result.RUNNING,
    ).distinct()
    for event in stuck:
        with transaction.atomic():
            if ZaloEvent.objects.filter(pk=event.pk, claimed_by=event.claimed_by).update(
                processing_state=ProcessingState.QUEUED, claimed_by="", next_attempt_at=now
            ):
                EventAttempt.objects.filter(
                    event=event, claim_token=event.claimed_by, result=EventAttempt.Result.RUNNING
                ).update(result=EventAttempt.Result.INTERRUPTED, finished_at=now)
                transaction.on_commit(lambda pk=event.pk: send_template.enqueue(pk))
                recovered += 1
    return recovered


def requeue_lost_sends(*, older_than: timedelta) -> int:
    """Queued template sends whose task was lost: a new task (the claim dedupes)."""
    now = timezone.now()
    due = ZaloEvent.objects.filter(
        direction=Direction.OUTBOUND,
        processing_state=ProcessingState.QUEUED,
        message__template_send__isnull=False,
        next_attempt_at__lt=now - older_than,
    )
    ids = list(due.values_list("pk", flat=True)[:500])
    for pk in ids:
        if ZaloEvent.objects.filter(pk=pk, processing_state=ProcessingState.QUEUED).update(
            next_attempt_at=now
        ):
            send_template.enqueue(pk)
    return len(ids)
