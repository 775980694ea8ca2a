"""One attempt at an outbound event, whatever its kind.

The attempt claims the row with a token, checks it still needs sending, takes a call
from the app's per-minute budget, notes on the attempt that the call starts (from then
on the message may have left), calls Zalo once through the kind's sender, and settles.
"""

import secrets
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext_lazy

from zalohub.accounts import ratelimit
from zalohub.accounts.tokens import TokenUnavailable, call_with_token
from zalohub.core.stored_text import as_reason, reason, zalo_reason
from zalohub.events.models import (
    PENDING,
    Direction,
    ErrorCategory,
    EventAttempt,
    ProcessingState,
    ZaloEvent,
    ZaloState,
)
from zalohub.events.outbound import settle
from zalohub.events.outbound.registry import Attempt, Sender, owned_event_names, sender_for_event
from zalohub.zalo import ErrorKind, ZaloError, call_context

NO_ANSWER = gettext_lazy(
    "Zalo did not answer (%(error)s), so whether it accepted the message is unknown; "
    "it is not sent again on its own. Check the conversation before pressing Resend."
)
RATE_LIMITED = -32  # Zalo counts calls too, and says this minute is spent


def send_outbound(*, event_id: int, worker_id: str, kind: str | None = None) -> str:
    """Try to send the outbound event once (``kind``: only if it is of that kind)."""
    attempt = _claim(event_id, worker_id, owned_event_names(kind))
    if attempt is None:
        return "not claimable"
    message = attempt.event.message
    if message is None or message.zalo_msg_id or message.zalo_state != ZaloState.ON_QUEUE:
        # An earlier attempt got through after all (its late answer stored Zalo's id), or
        # the message was settled by hand: calling Zalo again would send it twice.
        return settle.already_settled(attempt)
    sender = attempt.sender
    if why := sender.refuse(attempt):
        return settle.fail(attempt, category=ErrorCategory.SEND, why=as_reason(why))
    spends = sender.spends_call_budget(attempt)
    if spends and (wait := ratelimit.acquire(str(attempt.event.app_id))):
        return settle.release_for_rate(attempt, wait)
    if not _call_starts(attempt):
        return "claim lost"
    event = attempt.event
    try:
        with call_context(oa=event.oa_id, app=event.app_id, ref_type="event", ref_id=event.pk):
            assert event.oa is not None  # a send is always an OA's
            sent = call_with_token(event.oa, lambda token: sender.call(attempt, token))
    except TokenUnavailable as exc:
        if exc.retryable and attempt.number < settings.EVENTS_MAX_ATTEMPTS:
            # Zalo could not be reached to refresh the token: the send waits, it is not lost.
            delay = settle.backoff(attempt.number)
            return settle.requeue(attempt, delay=delay, why=as_reason(exc))
        return settle.fail(attempt, category=ErrorCategory.TOKEN, why=as_reason(exc))
    except ZaloError as exc:
        return _refused(attempt, exc)
    return settle.succeed(attempt, sent)


def _claim(event_id: int, worker_id: str, names: list[str]) -> Attempt | None:
    now = timezone.now()
    token = secrets.token_hex(16)
    claimed = ZaloEvent.objects.filter(
        pk=event_id,
        direction=Direction.OUTBOUND,
        processing_state__in=PENDING,
        next_attempt_at__lte=now,
        event_name__in=names,
    ).update(
        processing_state=ProcessingState.PROCESSING,
        claimed_by=token,
        lease_until=now + timedelta(seconds=settings.EVENTS_LEASE_SECONDS),
        attempts=F("attempts") + 1,
    )
    if not claimed:
        return None
    event = ZaloEvent.objects.select_related("oa__app", "message").get(pk=event_id)
    sender: Sender | None = sender_for_event(event.event_name)
    assert sender is not None  # the claim only takes registered kinds
    row = EventAttempt.objects.create(
        event=event, number=event.attempts, claim_token=token, worker=worker_id[:100]
    )
    return Attempt(event=event, token=token, row=row, sender=sender, subject=sender.load(event))


def _call_starts(a: Attempt) -> bool:
    """Renew the lease and note that the call starts, in one commit that only happens
    while the claim is still ours: from here on the sweeper knows the message may have
    left, and only a kind whose calls Zalo deduplicates is sent again on its own."""
    with transaction.atomic():
        started = timezone.now()
        ours = ZaloEvent.objects.filter(
            pk=a.event.pk, claimed_by=a.token, processing_state=ProcessingState.PROCESSING
        ).update(lease_until=started + timedelta(seconds=settings.EVENTS_LEASE_SECONDS))
        if ours:
            EventAttempt.objects.filter(pk=a.row.pk).update(call_started_at=started)
    if not ours:
        EventAttempt.objects.filter(pk=a.row.pk).update(
            result=EventAttempt.Result.INTERRUPTED, finished_at=timezone.now()
        )
    return bool(ours)


def _refused(a: Attempt, exc: ZaloError) -> str:
    if exc.outcome_unknown and not a.sender.retry_unknown:
        why = reason(NO_ANSWER, error=zalo_reason(exc))
        return settle.fail(a, category=ErrorCategory.SEND, why=why)
    retry = exc.kind is ErrorKind.RETRYABLE or exc.outcome_unknown
    if retry and a.number < settings.EVENTS_MAX_ATTEMPTS:
        delay = max(settle.backoff(a.number), exc.retry_after or 0)
        if exc.code == RATE_LIMITED:
            # This minute is spent for the whole app: every worker waits for the next one.
            ratelimit.note_remaining(str(a.event.app_id), 0)
            delay = max(delay, ratelimit.seconds_to_next_window())
        return settle.requeue(a, delay=delay, why=zalo_reason(exc), code=exc.code)
    failure = a.sender.classify(a, exc)
    why = as_reason(failure.text)
    result = settle.fail(a, category=failure.category, why=why, code=exc.code)
    if failure.then is not None:
        failure.then()
    return result
