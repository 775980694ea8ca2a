"""Outbound OA messages: queued as rows, sent once, failures classified.

``message_send`` stores the message (Zalo State On Queue) and an outbound event, and
enqueues a task. The task claims the event with a token, notes on the attempt that a
call is starting, calls Zalo once, and saves Zalo's message id only while the claim is
still its own. A worker that dies after the call started is never retried blindly: the
sweeper marks the message Failed saying the outcome is unknown, and Resend makes a new
attempt.
"""

import json
import logging
import random
import secrets
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.tasks import task
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from zalohub.accounts.models import OfficialAccount
from zalohub.accounts.signals import announce_fix
from zalohub.accounts.tokens import TokenUnavailable, call_with_token
from zalohub.events import ratelimit
from zalohub.events.models import (
    Direction,
    ErrorCategory,
    EventAttempt,
    Message,
    ProcessingState,
    ZaloEvent,
    ZaloState,
)
from zalohub.partners.models import ZaloPartnerLink
from zalohub.zalo import ErrorKind, ZaloError, call_context, get_client

logger = logging.getLogger(__name__)
MAX_TEXT = 2000  # Zalo's limit for a consultation text
PENDING = (ProcessingState.RECEIVED, ProcessingState.QUEUED)
CATEGORY_BY_KIND = {
    ErrorKind.AUTH: ErrorCategory.TOKEN,
    ErrorKind.BLOCKED: ErrorCategory.SEND,
    ErrorKind.QUOTA: ErrorCategory.SEND,
    ErrorKind.PERMANENT: ErrorCategory.SEND,
    ErrorKind.RETRYABLE: ErrorCategory.SEND,
}


class SendRefused(ValueError):
    """The message cannot be queued as given; the text says why, for the person."""


def _zalo_message(message: Message) -> dict[str, Any]:
    if message.kind == Message.Kind.TEXT:
        return {"text": message.text}
    payload = message.attachments[0] if message.attachments else {}
    if message.kind == Message.Kind.IMAGE:
        element = {
            "media_type": "image",
            **{k: v for k, v in payload.items() if k in ("attachment_id", "url")},
        }
        body: dict[str, Any] = {
            "attachment": {
                "type": "template",
                "payload": {"template_type": "media", "elements": [element]},
            }
        }
        if message.text:
            body["text"] = message.text
        return body
    if message.kind == Message.Kind.FILE:
        return {"attachment": {"type": "file", "payload": {"token": payload.get("token", "")}}}
    raise SendRefused(_("Messages of kind %s cannot be sent.") % message.kind)


def _validate(kind: str, text: str, attachment: dict[str, Any] | None) -> None:
    if kind == Message.Kind.TEXT:
        if not text.strip():
            raise SendRefused(_("The message is empty."))
        if len(text) > MAX_TEXT:
            raise SendRefused(
                _("The message is %(n)d characters long; Zalo accepts at most %(max)d.")
                % {"n": len(text), "max": MAX_TEXT}
            )
    elif kind == Message.Kind.IMAGE:
        if not attachment or not (attachment.get("attachment_id") or attachment.get("url")):
            raise SendRefused(_("An image message needs an uploaded image."))
    elif kind == Message.Kind.FILE:
        if not attachment or not attachment.get("token"):
            raise SendRefused(_("A file message needs an uploaded file."))
    else:
        raise SendRefused(_("Messages of kind %s cannot be sent.") % kind)


def _queue_event(message: Message) -> ZaloEvent:
    oa = message.oa
    event = ZaloEvent.objects.create(
        app_id=oa.app_id,
        oa=oa,
        direction=Direction.OUTBOUND,
        event_name=f"oa_send_{message.kind}",
        dedupe_key=f"out:{message.pk}:{secrets.token_hex(8)}",
        raw_body=json.dumps(
            {"recipient": {"user_id": message.zalo_user_id}, "message": _zalo_message(message)},
            ensure_ascii=False,
        ),
        zalo_user_id=message.zalo_user_id,
        processing_state=ProcessingState.QUEUED,
        conversation_key=f"{oa.oa_id}:{message.zalo_user_id}",
        message=message,
    )
    transaction.on_commit(lambda: send_event.enqueue(event.pk))
    return event


def message_send(
    *,
    oa: OfficialAccount,
    user_id: str,
    text: str = "",
    kind: str = "text",
    attachment: dict[str, Any] | None = None,
    actor: Any = None,
    quote_msg_id: str = "",
    business: bool = False,
    confirm_unverified: bool = False,
) -> Message:
    """Queue a consultation message to a Zalo user of the OA (sent by a worker).

    ``business``: quotes, reminders and other business content (other systems' sends)
    rather than a reply in a conversation. Those go to an unverified shadow contact only
    with ``confirm_unverified``: nobody has confirmed who that customer is yet.
    """
    _validate(kind, text, attachment)
    if not user_id:
        raise SendRefused(_("The recipient has no Zalo user id on this OA."))
    link = ZaloPartnerLink.objects.filter(oa=oa, zalo_user_id=user_id).first()
    if business and link is not None and link.is_shadow and not confirm_unverified:
        raise SendRefused(
            _(
                "%(name)s is an unverified shadow contact: verify who it is on Zalo Partners, "
                "or confirm that this business message may go to them anyway."
            )
            % {"name": link.display_name or user_id}
        )
    with transaction.atomic():
        message = Message.objects.create(
            oa=oa,
            partner_link=link,
            direction=Direction.OUTBOUND,
            zalo_user_id=user_id,
            kind=kind,
            text=text,
            attachments=[attachment] if attachment else [],
            quote_msg_id=quote_msg_id,
            zalo_state=ZaloState.ON_QUEUE,
            sent_by=actor if getattr(actor, "pk", None) else None,
        )
        _queue_event(message)
    return message


@task(queue_name="zalo")
def send_event(event_id: int) -> str:
    return send_outbound(event_id=event_id, worker_id="task")


def _backoff(attempt: int) -> float:
    base = settings.EVENTS_RETRY_BASE_SECONDS * (2 ** max(0, attempt - 1))
    capped = min(base, settings.EVENTS_RETRY_CAP_SECONDS)
    return capped * random.uniform(0.8, 1.2)  # jitter: retries of a storm spread out


def _release_rate_wait(event: ZaloEvent, token: str, attempt: EventAttempt, wait: float) -> str:
    """No budget left this minute: give the claim back without counting an attempt (the
    message never left), and come back when the next window opens."""
    now = timezone.now()
    run_after = now + timedelta(seconds=wait)
    with transaction.atomic():
        ZaloEvent.objects.filter(pk=event.pk, claimed_by=token).update(
            processing_state=ProcessingState.QUEUED,
            next_attempt_at=run_after,
            claimed_by="",
            lease_until=None,
            attempts=F("attempts") - 1,
            error_message=_("Waiting for the app's per-minute call budget."),
        )
        EventAttempt.objects.filter(pk=attempt.pk).delete()
        transaction.on_commit(lambda: send_event.using(run_after=run_after).enqueue(event.pk))
    return "rate limited"


def send_outbound(*, event_id: int, worker_id: str) -> str:
    now = timezone.now()
    token = secrets.token_hex(16)
    claimed = ZaloEvent.objects.filter(
        pk=event_id,
        direction=Direction.OUTBOUND,
        processing_state__in=PENDING,
        next_attempt_at__lte=now,
    ).update(
        processing_state=ProcessingState.PROCESSING,
        claimed_by=token,
        lease_until=now + timedelta(seconds=settings.EVENTS_LEASE_SECONDS),
        attempts=F("attempts") + 1,
    )
    if not claimed:
        return "not claimable"
    event = ZaloEvent.objects.select_related("oa__app", "message").get(pk=event_id)
    attempt = EventAttempt.objects.create(
        event=event, number=event.attempts, claim_token=token, worker=worker_id[:100]
    )
    message = event.message
    if message is None or message.zalo_msg_id or message.zalo_state != ZaloState.ON_QUEUE:
        # An earlier attempt got through after all (its late answer stored Zalo's id), or
        # the message was settled by hand: calling Zalo again would send it twice.
        return _already_settled(event, token, attempt)
    wait = ratelimit.acquire(str(event.app_id))
    if wait:
        return _release_rate_wait(event, token, attempt, wait)
    # Before the call: renew the lease and note on the attempt that the call starts, in one
    # commit that only happens while the claim is still ours. From here on the sweeper
    # knows the message may have left, and never sends it again on its own.
    with transaction.atomic():
        started = timezone.now()
        ours = ZaloEvent.objects.filter(
            pk=event.pk, claimed_by=token, processing_state=ProcessingState.PROCESSING
        ).update(lease_until=started + timedelta(seconds=settings.EVENTS_LEASE_SECONDS))
        if ours:
            EventAttempt.objects.filter(pk=attempt.pk).update(call_started_at=started)
    if not ours:
        EventAttempt.objects.filter(pk=attempt.pk).update(
            result=EventAttempt.Result.INTERRUPTED, finished_at=timezone.now()
        )
        return "claim lost"
    try:
        with call_context(oa=event.oa_id, app=event.app_id, ref_type="event", ref_id=event.pk):
            sent = call_with_token(
                event.oa,
                lambda access_token: get_client().oa.send_message(
                    access_token=access_token,
                    recipient={"user_id": message.zalo_user_id},
                    message=_zalo_message(message),
                ),
            )
    except TokenUnavailable as exc:
        if exc.retryable and event.attempts < settings.EVENTS_MAX_ATTEMPTS:
            # Zalo could not be reached to refresh the token: the send waits, it is not lost.
            delay = _backoff(event.attempts)
            return _requeue(event, token, attempt, delay=delay, reason=str(exc))
        return _fail(event, token, attempt, category=ErrorCategory.TOKEN, text=str(exc))
    except ZaloError as exc:
        if exc.outcome_unknown:
            text = str(NO_ANSWER) % {"error": exc}
            return _fail(event, token, attempt, category=ErrorCategory.SEND, text=text)
        if exc.kind is ErrorKind.RETRYABLE and event.attempts < settings.EVENTS_MAX_ATTEMPTS:
            delay = max(_backoff(event.attempts), exc.retry_after or 0)
            if exc.code == -32:
                # Zalo counts calls too, and says this minute is spent: every worker waits.
                ratelimit.note_remaining(str(event.app_id), 0)
                delay = max(delay, ratelimit.seconds_to_next_window())
            return _requeue(event, token, attempt, delay=delay, reason=str(exc), code=exc.code)
        return _fail(
            event, token, attempt, category=CATEGORY_BY_KIND[exc.kind], text=str(exc), code=exc.code
        )
    return _succeed(event, token, attempt, msg_id=sent.message_id, sent_ms=sent.sent_time_ms)


def _already_settled(event: ZaloEvent, token: str, attempt: EventAttempt) -> str:
    now = timezone.now()
    text = _("Not sent again: the message is already %s.") % (
        event.message.get_zalo_state_display() if event.message else _("gone")
    )
    with transaction.atomic():
        ZaloEvent.objects.filter(pk=event.pk, claimed_by=token).update(
            processing_state=ProcessingState.PROCESSED,
            processed_at=now,
            claimed_by="",
            lease_until=None,
            error_message=text,
        )
        EventAttempt.objects.filter(pk=attempt.pk).update(
            result=EventAttempt.Result.OK, finished_at=now, error_message=text
        )
    return "already sent"


def _succeed(
    event: ZaloEvent, token: str, attempt: EventAttempt, *, msg_id: str, sent_ms: int | None
) -> str:
    now = timezone.now()
    sent_at = datetime.fromtimestamp(sent_ms / 1000, tz=now.tzinfo) if sent_ms else now
    with transaction.atomic():
        # Zalo accepted it: the message id is kept whatever happened to our claim, and a
        # message given up on meanwhile (the sweeper's "outcome unknown", an admin's Mark
        # Error) is Sent after all: the row must say what Zalo did.
        Message.objects.filter(pk=event.message_id).update(
            zalo_msg_id=msg_id, sent_at=sent_at, failure_code=None, failure_reason=""
        )
        Message.objects.filter(
            pk=event.message_id, zalo_state__in=[ZaloState.ON_QUEUE, ZaloState.FAILED]
        ).update(zalo_state=ZaloState.SENT)
        kept = ZaloEvent.objects.filter(pk=event.pk, claimed_by=token).update(
            processing_state=ProcessingState.PROCESSED,
            processed_at=now,
            claimed_by="",
            lease_until=None,
            error_category="",
            error_message="",
            error_at=None,
        )
        if not kept:
            # The sweeper or an admin settled the event while the call ran: correct it.
            ZaloEvent.objects.filter(pk=event.pk, processing_state=ProcessingState.ERROR).update(
                processing_state=ProcessingState.PROCESSED,
                processed_at=now,
                error_category="",
                error_message=_("Zalo accepted the message after the event was given up on."),
            )
        EventAttempt.objects.filter(pk=attempt.pk).update(
            result=EventAttempt.Result.OK, finished_at=now, zalo_msg_id=msg_id
        )
    if not kept:
        logger.warning("Event %s was sent (msg %s) after its claim was taken", event.pk, msg_id)
    announce_fix(oa_id=event.oa_id, reason="sent")  # Zalo answers again: an outage may be over
    return "sent"


def _requeue(
    event: ZaloEvent,
    token: str,
    attempt: EventAttempt,
    *,
    delay: float,
    reason: str,
    code: int | None = None,
    task: Any = None,
) -> str:
    """Give the claim back and send again after ``delay`` (``task``: the sender's task,
    for other apps' senders; the OA message sender by default)."""
    now = timezone.now()
    run_after = now + timedelta(seconds=delay)
    task = task or send_event
    with transaction.atomic():
        kept = ZaloEvent.objects.filter(pk=event.pk, claimed_by=token).update(
            processing_state=ProcessingState.QUEUED,
            next_attempt_at=run_after,
            claimed_by="",
            lease_until=None,
            error_message=reason,
        )
        EventAttempt.objects.filter(pk=attempt.pk).update(
            result=EventAttempt.Result.RETRY, finished_at=now, error_message=reason, error_code=code
        )
        if kept:
            transaction.on_commit(lambda: task.using(run_after=run_after).enqueue(event.pk))
    return "retry"


def _fail(
    event: ZaloEvent,
    token: str,
    attempt: EventAttempt,
    *,
    category: str,
    text: str,
    code: int | None = None,
) -> str:
    now = timezone.now()
    with transaction.atomic():
        kept = ZaloEvent.objects.filter(pk=event.pk, claimed_by=token).update(
            processing_state=ProcessingState.ERROR,
            claimed_by="",
            lease_until=None,
            error_category=category,
            error_message=text,
            error_at=now,
        )
        if kept:
            # Only while the claim is ours: a late failure must not undo another
            # attempt's success, or an admin's decision.
            Message.objects.filter(pk=event.message_id, zalo_state=ZaloState.ON_QUEUE).update(
                zalo_state=ZaloState.FAILED, failure_code=code, failure_reason=text
            )
        EventAttempt.objects.filter(pk=attempt.pk).update(
            result=EventAttempt.Result.ERROR, finished_at=now, error_message=text, error_code=code
        )
    return "failed"


NO_ANSWER = gettext_lazy(
    "Zalo did not answer (%(error)s), so whether it accepted the message is unknown; "
    "it is not sent again on its own. Check the conversation before pressing Resend."
)


# Message kinds whose sends another app makes (zbs: templates), by the function that
# queues a new attempt for them; everything else is an OA consultation message.
RESENDERS: dict[str, Callable[[Message], ZaloEvent]] = {}


def resend(message: Message) -> ZaloEvent:
    """A new attempt for a failed outbound message (used by the Resend action)."""
    return RESENDERS.get(message.kind, _queue_event)(message)
