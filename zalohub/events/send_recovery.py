"""Sends that a crash or a lost task left behind: what the sweeper does about them.

A send whose worker died before its call to Zalo started goes back to the queue; one that
died during the call is Failed with a reason (Zalo may have the message: no blind
retry); a queued send whose task was lost gets a new task.
"""

from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy

from zalohub.events.models import (
    Direction,
    ErrorCategory,
    EventAttempt,
    Message,
    ProcessingState,
    ZaloEvent,
    ZaloState,
)
from zalohub.events.sending import send_event

INTERRUPTED = gettext_lazy(
    "The worker stopped during the call to Zalo, so whether Zalo accepted the "
    "message is unknown. Check the conversation before pressing Resend."
)


def recover_interrupted_sends(*, now: datetime) -> int:
    recovered = 0
    stuck = ZaloEvent.objects.filter(
        direction=Direction.OUTBOUND,
        lease_until__lt=now,
        processing_state=ProcessingState.PROCESSING,
    )
    for event in stuck:
        attempt = EventAttempt.objects.filter(event=event, claim_token=event.claimed_by).first()
        if attempt is None or attempt.call_started_at is None:
            # The call never started: sending again cannot double anything.
            if ZaloEvent.objects.filter(pk=event.pk, claimed_by=event.claimed_by).update(
                processing_state=ProcessingState.QUEUED,
                claimed_by="",
                lease_until=None,
                next_attempt_at=now,
            ):
                if attempt:
                    EventAttempt.objects.filter(pk=attempt.pk).update(
                        result=EventAttempt.Result.INTERRUPTED, finished_at=now
                    )
                send_event.enqueue(event.pk)
                recovered += 1
            continue
        with transaction.atomic():
            if ZaloEvent.objects.filter(pk=event.pk, claimed_by=event.claimed_by).update(
                processing_state=ProcessingState.ERROR,
                claimed_by="",
                lease_until=None,
                error_category=ErrorCategory.SEND,
                error_message=str(INTERRUPTED),
                error_at=now,
            ):
                Message.objects.filter(pk=event.message_id, zalo_state=ZaloState.ON_QUEUE).update(
                    zalo_state=ZaloState.FAILED, failure_reason=str(INTERRUPTED)
                )
                EventAttempt.objects.filter(pk=attempt.pk).update(
                    result=EventAttempt.Result.INTERRUPTED,
                    finished_at=now,
                    error_message=str(INTERRUPTED),
                )
                recovered += 1
    return recovered


def requeue_lost_sends(*, older_than: timedelta = timedelta(minutes=2)) -> int:
    """Queued sends whose task was lost (a crash between commit and enqueue): enqueue
    again. The claim makes a duplicate task a no-op."""
    due = ZaloEvent.objects.filter(
        direction=Direction.OUTBOUND,
        processing_state=ProcessingState.QUEUED,
        next_attempt_at__lt=timezone.now() - older_than,
    )
    ids = list(due.values_list("pk", flat=True)[:500])
    now = timezone.now()
    for pk in ids:
        # Moving the time on means one more task per event per period, not per sweep: a
        # backlog the workers have not reached yet must not grow a task every 10 s.
        if ZaloEvent.objects.filter(pk=pk, processing_state=ProcessingState.QUEUED).update(
            next_attempt_at=now
        ):
            send_event.enqueue(pk)
    return len(ids)
