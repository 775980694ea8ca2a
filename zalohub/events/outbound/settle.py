"""How an attempt ends: sent, tried again later, failed, or found settled already.

Every settle is a conditional UPDATE on the claim token: a late worker (one whose lease
ran out and whose row the sweeper or an admin settled meanwhile) changes nothing but its
own attempt row, except that Zalo's acceptance is always recorded.
"""

import logging
from datetime import datetime, timedelta
from typing import Any, cast

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext_noop

from zalohub.accounts.signals import announce_fix
from zalohub.core.metrics import OUTBOUND_SENDS
from zalohub.core.stored_text import Reason, reason, reason_fields
from zalohub.events import hooks
from zalohub.events.models import EventAttempt, Message, ProcessingState, ZaloEvent, ZaloState
from zalohub.events.outbound import lanes
from zalohub.events.outbound.registry import Attempt, Sent
from zalohub.events.outbound.tasks import send_event
from zalohub.events.outbound.zalo_lane import ZALO_SENDS

logger = logging.getLogger(__name__)


def _message_id(event: ZaloEvent) -> int:
    # Every outbound event carries its message (only inbound events have none).
    return cast(int, event.message_id)


def _release(a: Attempt, **fields: Any) -> int:
    """Give the claim back with ``fields``, only while it is still ours: 1, or 0 if the
    sweeper or an admin settled the row meanwhile."""
    return lanes.release(ZALO_SENDS, a.token, [a.event.pk], **fields)


def _count(a: Attempt, outcome: str, category: str = "") -> None:
    OUTBOUND_SENDS.labels(str(a.event.oa_id or ""), outcome, category).inc()
    lanes.count(ZALO_SENDS, outcome)


# The states each settled state may replace: Zalo's acceptance also corrects a message
# given up on meanwhile (the sweeper's "outcome unknown", an admin's Mark Error); a
# failure only ends a message still waiting.
_REPLACES: dict[str, tuple[str, ...]] = {
    ZaloState.SENT: (ZaloState.ON_QUEUE, ZaloState.FAILED),
    ZaloState.FAILED: (ZaloState.ON_QUEUE,),
}


def _announce(
    a: Attempt, state: str, *, at: datetime, known: dict[str, Any] | None = None, **fields: Any
) -> None:
    """Move the attempt's message to ``state`` (writing ``fields`` with it) from a state it
    may replace, and tell the subscribers of ``hooks.on_message_state_changed``
    (message.status_changed, the inbox's live pages) in the settle's transaction.
    ``known``: what the settle wrote to the row already, for the message in hand."""
    pk = _message_id(a.event)
    for previous in _REPLACES[state]:
        # One UPDATE while the message waits, as it does unless a sweeper or an admin
        # acted during the call: then a second says what it was.
        if Message.objects.filter(pk=pk, zalo_state=previous).update(zalo_state=state, **fields):
            message = a.event.message or Message.objects.get(pk=pk)
            for name, value in {**(known or {}), **fields, "zalo_state": state}.items():
                setattr(message, name, value)
            hooks.state_changed(message, previous=previous, at=at)
            return


def backoff(attempt: int) -> float:
    base = settings.EVENTS_RETRY_BASE_SECONDS * (2 ** max(0, attempt - 1))
    capped = min(base, settings.EVENTS_RETRY_CAP_SECONDS)
    return lanes.jitter(capped)


def already_settled(a: Attempt) -> str:
    now = timezone.now()
    message = a.event.message
    text = reason(
        gettext_noop("Not sent again: the message is already %s."),
        ZaloState(message.zalo_state).label if message else reason(gettext_noop("gone")),
    )
    with transaction.atomic():
        done = ProcessingState.PROCESSED
        _release(a, processing_state=done, processed_at=now, **reason_fields("error_message", text))
        EventAttempt.objects.filter(pk=a.row.pk).update(
            result=EventAttempt.Result.OK,
            finished_at=now,
            **reason_fields("error_message", text),
        )
    _count(a, "already_sent")
    return "already sent"


def release_for_rate(a: Attempt, wait: float, *, why: Reason | None = None) -> str:
    """No budget left this minute (the app's calls, or ``why``: the OA's rate): give
    the claim back without counting an attempt (the message never left), and come back
    when the next window opens."""
    run_after = timezone.now() + timedelta(seconds=wait)
    why = why or reason(gettext_noop("Waiting for the app's per-minute call budget."))
    with transaction.atomic():
        _release(
            a,
            processing_state=ProcessingState.QUEUED,
            next_attempt_at=run_after,
            attempts=F("attempts") - 1,
            **reason_fields("error_message", why),
        )
        EventAttempt.objects.filter(pk=a.row.pk).delete()
        pk = a.event.pk
        transaction.on_commit(lambda: send_event.using(run_after=run_after).enqueue(pk))
    _count(a, "rate_limited")
    return "rate limited"


def hold(a: Attempt, *, until: datetime, why: Reason, code: int | None = None) -> str:
    """The OA's sends are held (``accounts.holds``): give the claim back without counting
    an attempt, and come back when the hold ends. The message stays On Queue. With
    ``code`` Zalo was called and answered it: the attempt row keeps that answer."""
    now = timezone.now()
    with transaction.atomic():
        kept = _release(
            a,
            processing_state=ProcessingState.QUEUED,
            next_attempt_at=until,
            attempts=F("attempts") - 1,
            **reason_fields("error_message", why),
        )
        attempt_row = EventAttempt.objects.filter(pk=a.row.pk)
        if code is None:
            attempt_row.delete()  # no call was made: nothing happened worth a row
        else:
            attempt_row.update(
                result=EventAttempt.Result.RETRY,
                finished_at=now,
                error_code=code,
                **reason_fields("error_message", why),
            )
        if kept:
            pk = a.event.pk
            transaction.on_commit(lambda: send_event.using(run_after=until).enqueue(pk))
    _count(a, "held")
    return "held"


def succeed(a: Attempt, sent: Sent) -> str:
    event, now = a.event, timezone.now()
    sent_at = datetime.fromtimestamp(sent.sent_ms / 1000, tz=now.tzinfo) if sent.sent_ms else now
    with transaction.atomic():
        # Zalo accepted it: the message id is kept whatever happened to our claim, and a
        # message given up on meanwhile (the sweeper's "outcome unknown", an admin's Mark
        # Error) is Sent after all: the row must say what Zalo did.
        Message.objects.filter(pk=_message_id(event)).update(
            zalo_msg_id=sent.msg_id,
            sent_at=sent_at,
            failure_code=None,
            **reason_fields("failure_reason", None),
        )
        known = {"zalo_msg_id": sent.msg_id, "sent_at": sent_at, "failure_code": None}
        _announce(a, ZaloState.SENT, at=sent_at, known=known)
        kept = _release(
            a,
            processing_state=ProcessingState.PROCESSED,
            processed_at=now,
            error_category="",
            error_at=None,
            **reason_fields("error_message", None),
        )
        if not kept:
            # The sweeper or an admin settled the event while the call ran: correct it.
            ZaloEvent.objects.filter(pk=event.pk, processing_state=ProcessingState.ERROR).update(
                processing_state=ProcessingState.PROCESSED,
                processed_at=now,
                error_category="",
                **reason_fields(
                    "error_message",
                    reason(
                        gettext_noop("Zalo accepted the message after the event was given up on.")
                    ),
                ),
            )
        EventAttempt.objects.filter(pk=a.row.pk).update(
            result=EventAttempt.Result.OK, finished_at=now, zalo_msg_id=sent.msg_id
        )
    if not kept:
        msg = sent.msg_id
        logger.warning("Event %s was sent (msg %s) after its claim was taken", event.pk, msg)
    announce_fix(oa_id=event.oa_id, reason="sent")  # Zalo answers again: an outage may be over
    _count(a, "sent")
    return "sent"


def requeue(a: Attempt, *, delay: float, why: Reason, code: int | None = None) -> str:
    """Give the claim back and send again after ``delay`` (the row's next-try time and
    attempts are what "retrying, attempt n of N, next at" reads)."""
    now = timezone.now()
    run_after = now + timedelta(seconds=delay)
    with transaction.atomic():
        queued = ProcessingState.QUEUED
        text = reason_fields("error_message", why)
        kept = _release(a, processing_state=queued, next_attempt_at=run_after, **text)
        EventAttempt.objects.filter(pk=a.row.pk).update(
            result=EventAttempt.Result.RETRY, finished_at=now, error_code=code, **text
        )
        if kept:
            pk = a.event.pk
            transaction.on_commit(lambda: send_event.using(run_after=run_after).enqueue(pk))
    _count(a, "retry")
    return "retry"


def fail(a: Attempt, *, category: str, why: Reason, code: int | None = None) -> str:
    now = timezone.now()
    text = reason_fields("error_message", why)
    with transaction.atomic():
        kept = _release(
            a,
            processing_state=ProcessingState.ERROR,
            error_category=category,
            error_at=now,
            **text,
        )
        if kept:
            # Only while the claim is ours: a late failure must not undo another
            # attempt's success, or an admin's decision.
            failure = {"failure_code": code, **reason_fields("failure_reason", why)}
            _announce(a, ZaloState.FAILED, at=now, **failure)
        EventAttempt.objects.filter(pk=a.row.pk).update(
            result=EventAttempt.Result.ERROR, finished_at=now, error_code=code, **text
        )
    _count(a, "failed", category)
    return "failed"
