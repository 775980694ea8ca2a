"""One attempt at an outbound event, whatever its kind.

The attempt claims the row with a token, checks it still needs sending, takes one send
from the OA's rate (the zalo lane's rate per target) and a call from the app's
per-minute budget, notes on the attempt that the call starts (from then
on the message may have left), calls Zalo once through the kind's sender, and settles.
"""

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy, gettext_noop

from zalohub.accounts import holds, ratelimit
from zalohub.accounts.tokens import TokenUnavailable, call_with_token
from zalohub.core import requestid
from zalohub.core.stored_text import as_reason, reason, zalo_reason
from zalohub.events.models import (
    Direction,
    ErrorCategory,
    EventAttempt,
    ZaloEvent,
    ZaloState,
)
from zalohub.events.outbound import lanes, settle
from zalohub.events.outbound.registry import Attempt, Sender, owned_event_names, sender_for_event
from zalohub.events.outbound.zalo_lane import ZALO_SENDS
from zalohub.zalo import ErrorKind, ZaloError, call_context, errors

NO_ANSWER = gettext_lazy(
    "Zalo did not answer (%(error)s), so whether it accepted the message is unknown; "
    "it is not sent again on its own. Check the conversation before pressing Resend."
)
RATE_LIMITED = -32  # Zalo counts calls too, and says this minute is spent
HELD = gettext_lazy(
    "Waiting: Zalo answered %(code)s for this OA, so its sends are held; this one is sent "
    "when the hold ends."
)
OA_RATE = gettext_noop("Waiting for the OA's per-minute send rate.")
NOT_THE_OA = gettext_lazy(
    "%(error)s Other messages of this OA were sent since this one first met it: the "
    "answer is about this customer, not the OA."
)


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
    if held := _held(attempt):
        return held
    if not _within_oa_rate(attempt):
        return "rate limited"
    spends = sender.spends_call_budget(attempt)
    if spends and (wait := ratelimit.acquire(str(attempt.event.app_id))):
        return settle.release_for_rate(attempt, wait)
    if not _call_starts(attempt):
        return "claim lost"
    event = attempt.event
    try:
        with (
            requestid.bound(event.request_id or None),  # the page's that queued it
            call_context(oa=event.oa_id, app=event.app_id, ref_type="event", ref_id=event.pk),
        ):
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
    result = settle.succeed(attempt, sent)
    if event.oa is not None and holds.is_held(event.oa):
        holds.oa_release_sends(oa_id=event.oa.pk)  # Zalo accepts the OA's sends again
    return result


def _within_oa_rate(a: Attempt) -> bool:
    """The lane's own rate per OA, before the app's budget: an OA past it waits for its
    next window (no attempt counted) and spends none of the budget its app's other OAs
    share."""
    oa = a.event.oa
    assert oa is not None  # a send is always an OA's
    allowed, wait = lanes.take(ZALO_SENDS, oa, now=timezone.now())
    if allowed:
        return True
    settle.release_for_rate(a, wait, why=reason(OA_RATE))
    return False


def _held(a: Attempt) -> str | None:
    """The OA's sends are held (a code about the OA itself): wait, without calling."""
    oa = a.event.oa
    if oa is None or (until := holds.held_until(oa)) is None:
        return None
    return settle.hold(a, until=until, why=reason(HELD, code=oa.sends_held_code or 0))


def _hold_oa(a: Attempt, exc: ZaloError) -> str:
    """Zalo answered a code about the OA (-227): hold all its sends, this one included.
    Unless the OA's other sends went through since this one last met the code: then it
    is about this recipient after all, and this send alone fails."""
    oa_id, code = a.event.oa_id, exc.code
    assert oa_id is not None and code is not None
    last = (
        EventAttempt.objects.filter(event_id=a.event.pk, error_code=code)
        .exclude(pk=a.row.pk)
        .order_by("-finished_at")
        .values_list("finished_at", flat=True)
        .first()
    )
    if (
        last is not None
        and EventAttempt.objects.filter(
            event__oa_id=oa_id, result=EventAttempt.Result.OK, finished_at__gt=last
        )
        .exclude(zalo_msg_id="")
        .exists()
    ):
        why = reason(NOT_THE_OA, error=zalo_reason(exc))
        return settle.fail(a, category=ErrorCategory.SEND, why=why, code=code)
    until = holds.oa_hold_sends(oa_id=oa_id, code=code)
    return settle.hold(a, until=until, why=zalo_reason(exc), code=code)


def _claim(event_id: int, worker_id: str, names: list[str]) -> Attempt | None:
    token = lanes.new_token(worker_id)
    rows = ZaloEvent.objects.filter(pk=event_id, direction=Direction.OUTBOUND, event_name__in=names)
    if not lanes.claim_named(ZALO_SENDS, rows, token=token, now=timezone.now()):
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
        ours = lanes.renew(ZALO_SENDS, a.event.pk, a.token, started)
        if ours:
            EventAttempt.objects.filter(pk=a.row.pk).update(call_started_at=started)
    if not ours:
        EventAttempt.objects.filter(pk=a.row.pk).update(
            result=EventAttempt.Result.INTERRUPTED, finished_at=timezone.now()
        )
    return bool(ours)


def _refused(a: Attempt, exc: ZaloError) -> str:
    if exc.code in errors.HOLDS_OA and a.event.oa_id is not None:
        return _hold_oa(a, exc)
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
