"""The events table as a work queue.

Workers claim batches of inbound events: on PostgreSQL with FOR UPDATE SKIP LOCKED so
any number of workers share the queue, on SQLite inside one exclusive transaction. An
event is only claimable when no earlier event of its conversation still waits or runs,
so one conversation's events are handled in arrival order; the events due behind a
claimed one come in the same batch, after it (a customer writing several messages in a
row is not served one message per claim). Each claim carries a lease;
the sweeper returns events whose worker died to the queue.
"""

import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone
from django_tasks_db.utils import exclusive_transaction

from zalohub.accounts.models import OfficialAccount, ZaloApp
from zalohub.core import requestid
from zalohub.core.periodic import job_log
from zalohub.core.setwise import update_rows
from zalohub.core.stored_text import reason_fields, text
from zalohub.events.models import (
    Direction,
    ErrorCategory,
    EventAttempt,
    ProcessingState,
    ZaloEvent,
)
from zalohub.events.processing import batch
from zalohub.events.processing.handlers import HandlerError, dispatch

logger = logging.getLogger(__name__)

_CLAIM_SQL = """
SELECT e.id, e.conversation_key FROM events_zaloevent e
WHERE e.processing_state IN ('received', 'queued') AND e.direction = 'in'
  AND e.next_attempt_at <= %s
  AND NOT EXISTS (
    SELECT 1 FROM events_zaloevent p
    WHERE e.conversation_key <> '' AND p.conversation_key = e.conversation_key
      AND p.id < e.id AND p.direction = 'in'
      AND p.processing_state IN ('received', 'queued', 'processing'))
ORDER BY e.id
LIMIT %s
"""


class LeaseLost(Exception):
    """Another worker (or an admin's Mark Error) took the event while we processed it."""


def claim_batch(*, worker_id: str, limit: int | None = None) -> list[ZaloEvent]:
    limit = limit or settings.EVENTS_BATCH_SIZE
    now = timezone.now()
    lease = now + timedelta(seconds=settings.EVENTS_LEASE_SECONDS)
    postgres = connection.vendor == "postgresql"
    sql = _CLAIM_SQL + (" FOR UPDATE OF e SKIP LOCKED" if postgres else "")
    with transaction.atomic() if postgres else exclusive_transaction():
        with connection.cursor() as cursor:
            cursor.execute(sql, [now, limit])
            heads = cursor.fetchall()
        if not heads:
            return []
        ids = [pk for pk, _key in heads]
        ids += _waiting_behind(heads, now, limit - len(ids), postgres=postgres)
        ZaloEvent.objects.filter(id__in=ids).update(
            processing_state=ProcessingState.PROCESSING, claimed_by=worker_id, lease_until=lease
        )
    events = list(ZaloEvent.objects.filter(id__in=ids).order_by("id"))
    _attach_accounts(events)
    return events


def _waiting_behind(
    heads: list[tuple[int, str]], now: datetime, room: int, *, postgres: bool
) -> list[int]:
    """The events due behind the claimed heads of their conversations, in arrival order,
    up to ``room``: a customer writing several messages in a row has them handled in one
    batch, in order, instead of one per claim. A conversation's run stops at its first
    event not due yet (a retry's backoff) or held elsewhere (an admin's action on it)."""
    keys = sorted({key for _pk, key in heads if key})
    if room <= 0 or not keys:
        return []
    # The head's claim holds these from every other worker: their claims see the head
    # still waiting.
    waiting = (
        ZaloEvent.objects.filter(
            conversation_key__in=keys,
            direction=Direction.INBOUND,
            processing_state__in=[ProcessingState.RECEIVED, ProcessingState.QUEUED],
        )
        .exclude(pk__in=[pk for pk, _key in heads])
        .order_by("id")
        .values_list("id", "conversation_key", "next_attempt_at")
    )
    stopped: set[str] = set()
    run: list[tuple[int, str]] = []
    for pk, key, due in waiting:
        if key in stopped:
            continue
        if due > now:
            stopped.add(key)
            continue
        run.append((pk, key))
    run = run[:room]  # arrival order: what is left out comes after what is taken
    if postgres and run:
        # Locked, and still waiting once locked; a run ends at its first row that is not.
        held = set(
            ZaloEvent.objects.select_for_update(skip_locked=True)
            .filter(
                pk__in=[pk for pk, _key in run],
                processing_state__in=[ProcessingState.RECEIVED, ProcessingState.QUEUED],
            )
            .values_list("pk", flat=True)
        )
        kept = []
        for pk, key in run:
            if key in stopped:
                continue
            if pk not in held:
                stopped.add(key)
                continue
            kept.append((pk, key))
        run = kept
    return [pk for pk, _key in run]


def _attach_accounts(events: list[ZaloEvent]) -> None:
    """Give the batch's events their OA and app, one shared row each (a join per event
    would decrypt every OA's tokens once per event)."""
    oas = OfficialAccount.objects.select_related("app").in_bulk(
        {event.oa_id for event in events if event.oa_id}
    )
    apps = {oa.app_id: oa.app for oa in oas.values()}
    apps.update(ZaloApp.objects.in_bulk({e.app_id for e in events if e.app_id not in apps}))
    for event in events:
        if event.oa_id in oas:
            event.oa = oas[event.oa_id]
        event.app = apps[event.app_id]


def _backoff(attempt: int) -> timedelta:
    base = settings.EVENTS_RETRY_BASE_SECONDS * (2 ** max(0, attempt - 1))
    return timedelta(seconds=min(base, settings.EVENTS_RETRY_CAP_SECONDS))


class _BatchFailed(Exception):
    """Something in the batch needs the careful path (an error, or a lost lease)."""


def process_batch(events: list[ZaloEvent], *, worker_id: str) -> int:
    """Process claimed events in one transaction.

    The fast path runs every handler and finishes every event with two statements, no
    savepoints: the common case is a batch where nothing fails. If anything fails (a
    handler error, another worker holding one of the events) the whole batch is rolled
    back and processed again one event at a time, each in its own savepoint, so one bad
    event costs only itself.
    """
    try:
        with transaction.atomic():
            _lock(events)
            _process_all(events, worker_id=worker_id)
        return len(events)
    except _BatchFailed:
        pass
    except Exception:
        logger.info("Batch of %d events failed on the fast path; going one by one", len(events))
    done = 0
    failed: set[str] = set()  # conversations whose event failed: the rest wait behind it
    with transaction.atomic():
        _lock(events)
        for event in events:
            if event.conversation_key and event.conversation_key in failed:
                _put_back(event, worker_id=worker_id)
            elif _process_one(event, worker_id=worker_id):
                done += 1
            elif event.conversation_key:
                failed.add(event.conversation_key)
    return done


def _put_back(event: ZaloEvent, *, worker_id: str) -> None:
    """Back to the queue untouched, behind its conversation's event that failed (which
    waits for its retry, or is in Error: then this one goes on without it)."""
    ZaloEvent.objects.filter(pk=event.pk, claimed_by=worker_id).update(
        processing_state=ProcessingState.QUEUED, claimed_by="", lease_until=None
    )


def _lock(events: list[ZaloEvent]) -> None:
    """Hold the batch's rows while working on them (PostgreSQL): the sweeper then leaves
    a slow but living batch alone instead of handing it to another worker mid-way."""
    if connection.vendor == "postgresql":
        ids = [event.pk for event in events]
        list(ZaloEvent.objects.select_for_update().filter(pk__in=ids).values_list("pk"))


def _process_all(events: list[ZaloEvent], *, worker_id: str) -> None:
    now = timezone.now()
    results = []
    with batch.handling(events):
        for event in events:
            try:
                # Under the webhook's request id: the handler's log lines and API logs.
                with requestid.bound(event.request_id or None):
                    results.append((event, dispatch(event)))
            except HandlerError:
                raise _BatchFailed from None
    ids = [event.pk for event in events]
    finished = ZaloEvent.objects.filter(
        pk__in=ids, processing_state=ProcessingState.PROCESSING, claimed_by=worker_id
    ).update(
        processing_state=ProcessingState.PROCESSED,
        processed_at=now,
        attempts=F("attempts") + 1,
        claimed_by="",
        lease_until=None,
        error_category="",
        error_at=None,
        **reason_fields("error_message", None),
    )
    if finished != len(ids):
        raise _BatchFailed  # some event was swept and taken: sort it out one by one
    outcomes = {}
    for event, result in results:
        event.outcome, event.message = result.outcome, result.message
        outcomes[event.pk] = {"outcome": event.outcome, "message": event.message_id}
    update_rows(ZaloEvent, outcomes)
    for event in events:
        _log_handled(event, ProcessingState.PROCESSED, worker_id)


def _log_handled(event: ZaloEvent, state: str, worker_id: str) -> None:
    """The event's line in the job log (ZALOHUB_LOG_FORMAT=json), under its request id."""
    if job_log.isEnabledFor(logging.INFO):
        job_log.info(
            "event %s %s %s",
            event.pk,
            event.event_name,
            state,
            extra={
                "request_id": event.request_id,
                "event_id": event.pk,
                "event": event.event_name,
                "state": state,
                "outcome": event.outcome,
                "attempt": event.attempts + 1,
                "worker": worker_id,
            },
        )


def _process_one(event: ZaloEvent, *, worker_id: str) -> bool:
    now = timezone.now()
    attempts = event.attempts + 1
    try:
        with transaction.atomic():
            with batch.handling([event]), requestid.bound(event.request_id or None):
                result = dispatch(event)
            finished = ZaloEvent.objects.filter(
                pk=event.pk, processing_state=ProcessingState.PROCESSING, claimed_by=worker_id
            ).update(
                processing_state=ProcessingState.PROCESSED,
                outcome=result.outcome,
                message=result.message,
                processed_at=now,
                attempts=attempts,
                claimed_by="",
                lease_until=None,
                error_category="",
                error_at=None,
                **reason_fields("error_message", None),
            )
            if not finished:
                raise LeaseLost
        event.outcome = result.outcome
        _log_handled(event, ProcessingState.PROCESSED, worker_id)
        return True
    except LeaseLost:
        logger.info(
            "Event %s was taken from worker %s; its work was rolled back", event.pk, worker_id
        )
        return False
    except HandlerError as exc:
        category, why, retry = exc.category, exc.reason, exc.retry
    except Exception as exc:
        logger.exception("Processing event %s failed", event.pk)
        category, why, retry = ErrorCategory.WEBHOOK, text(f"{type(exc).__name__}: {exc}"), False
    message = reason_fields("error_message", why)
    retry = retry and attempts < settings.EVENTS_MAX_ATTEMPTS
    ZaloEvent.objects.filter(pk=event.pk, claimed_by=worker_id).update(
        processing_state=ProcessingState.QUEUED if retry else ProcessingState.ERROR,
        next_attempt_at=now + _backoff(attempts),
        attempts=attempts,
        claimed_by="",
        lease_until=None,
        error_category=category,
        error_at=now,
        **message,
    )
    EventAttempt.objects.create(
        event=event,
        number=attempts,
        worker=worker_id[:100],
        started_at=now,
        finished_at=timezone.now(),
        result=EventAttempt.Result.RETRY if retry else EventAttempt.Result.ERROR,
        **message,
    )
    _log_handled(event, ProcessingState.QUEUED if retry else ProcessingState.ERROR, worker_id)
    return False


def dispatch_once(*, worker_id: str, limit: int | None = None) -> int:
    """Claim and process one batch; the number of events claimed (0: queue empty)."""
    events = claim_batch(worker_id=worker_id, limit=limit)
    if events:
        process_batch(events, worker_id=worker_id)
    return len(events)


def drain(*, worker_id: str = "drain", limit: int | None = None) -> int:
    """Process until nothing is claimable (tests, CLI)."""
    total = 0
    while n := dispatch_once(worker_id=worker_id, limit=limit):
        total += n
    return total


def sweep_expired_leases() -> int:
    """Return events whose worker stopped mid-batch to the queue (inbound), or say what
    happened to a send that may or may not have reached Zalo (outbound)."""
    now = timezone.now()
    stuck = ZaloEvent.objects.filter(
        processing_state=ProcessingState.PROCESSING, lease_until__lt=now
    )
    with transaction.atomic():
        inbound = stuck.filter(direction=Direction.INBOUND)
        if connection.vendor == "postgresql":
            # A worker still on its batch holds the rows' locks (process_batch takes
            # them): skip those, however late; a dead worker's locks died with it.
            ids = list(inbound.select_for_update(skip_locked=True).values_list("pk", flat=True))
            inbound = ZaloEvent.objects.filter(pk__in=ids)
        requeued = inbound.update(
            processing_state=ProcessingState.QUEUED,
            claimed_by="",
            lease_until=None,
            next_attempt_at=now,
        )
    from zalohub.events.outbound.lanes import recover_expired_leases

    # Every lane of the outbound pipeline (sends to Zalo, webhook deliveries, ...).
    return requeued + recover_expired_leases(now)
