"""The one sweeper of outbound sends: what a crash or a lost task left behind.

A send whose worker died before its call started goes back to the queue. One that died
during the call goes back too if its kind's calls are deduplicated by Zalo (ZNS, by
tracking_id); otherwise it is Failed saying the outcome is unknown (Zalo may have the
message: no blind retry). A queued send whose task was lost gets a new task. Which of
these applies is the kind's sender's to say, never which sweeper looked first.
"""

from datetime import datetime, timedelta
from typing import cast

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy

from zalohub.core.stored_text import reason, reason_fields
from zalohub.events import hooks
from zalohub.events.models import (
    Direction,
    ErrorCategory,
    EventAttempt,
    Message,
    ProcessingState,
    ZaloEvent,
    ZaloState,
)
from zalohub.events.outbound import lanes
from zalohub.events.outbound.registry import owned_event_names, sender_for_event
from zalohub.events.outbound.tasks import send_event
from zalohub.events.outbound.zalo_lane import ZALO_SENDS

INTERRUPTED = gettext_lazy(
    "The worker stopped during the call to Zalo, so whether Zalo accepted the "
    "message is unknown. Check the conversation before pressing Resend."
)


def recover_stuck_sends(*, now: datetime | None = None, lease: timedelta | None = None) -> int:
    """Sends in Processing whose lease ran out (or, for a row without one, whose attempt
    began longer than a lease ago): settled by what their kind allows."""
    now = now or timezone.now()
    lease = lease or timedelta(seconds=settings.EVENTS_LEASE_SECONDS)
    without_lease = Q(
        lease_until__isnull=True,
        attempt_log__claim_token=F("claimed_by"),
        attempt_log__started_at__lt=now - lease,
    )
    stuck = lanes.expired(ZALO_SENDS, now, also=without_lease)
    recovered = 0
    for row in stuck:
        event = ZaloEvent.objects.filter(pk=row.pk).first()
        if event is None:
            continue
        attempt = EventAttempt.objects.filter(event=event, claim_token=row.token).first()
        sender = sender_for_event(event.event_name)
        may_call_again = attempt is None or attempt.call_started_at is None
        if may_call_again or (sender is not None and sender.retry_unknown):
            recovered += _requeue(row, attempt, now)
        else:
            assert attempt is not None  # may_call_again otherwise
            recovered += _give_up(row, event, attempt, now)
    lanes.count(ZALO_SENDS, "interrupted", recovered)
    return recovered


def _requeue(row: lanes.Expired, attempt: EventAttempt | None, now: datetime) -> int:
    with transaction.atomic():
        if not lanes.requeue(ZALO_SENDS, row, now):
            return 0
        if attempt is not None:
            EventAttempt.objects.filter(pk=attempt.pk).update(
                result=EventAttempt.Result.INTERRUPTED, finished_at=now
            )
        transaction.on_commit(lambda: send_event.enqueue(row.pk))
    return 1


def _give_up(row: lanes.Expired, event: ZaloEvent, attempt: EventAttempt, now: datetime) -> int:
    with transaction.atomic():
        if not lanes.release(
            ZALO_SENDS,
            row.token,
            [row.pk],
            processing_state=ProcessingState.ERROR,
            error_category=ErrorCategory.SEND,
            error_at=now,
            **reason_fields("error_message", reason(INTERRUPTED)),
        ):
            return 0
        message_id = cast(int, event.message_id)  # every outbound event carries its message
        failed = Message.objects.filter(pk=message_id, zalo_state=ZaloState.ON_QUEUE).update(
            zalo_state=ZaloState.FAILED, **reason_fields("failure_reason", reason(INTERRUPTED))
        )
        if failed:  # subscribers and the inbox hear it as they hear a refusal
            message = Message.objects.get(pk=message_id)
            hooks.state_changed(message, previous=ZaloState.ON_QUEUE, at=now)
        EventAttempt.objects.filter(pk=attempt.pk).update(
            result=EventAttempt.Result.INTERRUPTED,
            finished_at=now,
            **reason_fields("error_message", reason(INTERRUPTED)),
        )
    return 1


def requeue_lost_sends(*, older_than: timedelta = timedelta(minutes=2)) -> int:
    """Queued sends of every kind whose task was lost (a crash between commit and
    enqueue): a new task. The claim makes a duplicate task a no-op."""
    due = ZaloEvent.objects.filter(
        direction=Direction.OUTBOUND,
        processing_state=ProcessingState.QUEUED,
        event_name__in=owned_event_names(),
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
