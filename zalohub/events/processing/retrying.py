"""What a waiting or resent event says about itself: "retrying, attempt 3 of 8, next at
14:05:10" while Zalo fails, and "resent as #42" once Resend made a successor.

The attempts and next-try time live on the event row (the framework has no retries), so
this only reads them; the inbox and the Zalo Events pages show the same sentence.
"""

from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.db.models import Exists, OuterRef, Q, QuerySet, Subquery
from django.utils import formats, timezone
from django.utils.translation import gettext as _

from zalohub.core.stored_text import shown_reason
from zalohub.events.models import Direction, ProcessingState, ZaloEvent

WAITING = (ProcessingState.RECEIVED, ProcessingState.QUEUED)


@dataclass(frozen=True)
class Retrying:
    attempts: int
    max_attempts: int
    next_at: datetime
    reason: str

    @property
    def when(self) -> str:
        # Seconds too: backoffs start at a few seconds, and the list shows seconds.
        return formats.time_format(timezone.localtime(self.next_at), "H:i:s")

    @property
    def short(self) -> str:
        return _("Retrying, attempt %(n)d of %(max)d, next at %(when)s") % {
            "n": self.attempts,
            "max": self.max_attempts,
            "when": self.when,
        }

    def __str__(self) -> str:
        if not self.reason:
            return self.short
        return _("%(retrying)s. Last failure: %(reason)s") % {
            "retrying": self.short,
            "reason": self.reason,
        }


def retry_state(event: ZaloEvent) -> Retrying | None:
    """Set while an event that failed at least once waits for its next try (Retry
    Processing by hand clears the error: that event is just queued, not retrying)."""
    if event.processing_state not in WAITING or event.attempts < 1 or not event.error_message:
        return None
    return Retrying(
        attempts=event.attempts,
        max_attempts=settings.EVENTS_MAX_ATTEMPTS,
        next_at=event.next_attempt_at,
        reason=shown_reason(event, "error_message"),
    )


def retries_of_messages(message_ids: list[int]) -> dict[int, Retrying]:
    """The retry state of each message's newest send event, for messages that have one."""
    if not message_ids:
        return {}
    newest: dict[int, ZaloEvent] = {}
    events = ZaloEvent.objects.filter(
        message_id__in=message_ids, direction=Direction.OUTBOUND
    ).only(
        "message_id",
        "processing_state",
        "attempts",
        "next_attempt_at",
        "error_message",
        "error_message_i18n",
    )
    for event in events.order_by("id"):
        if event.message_id is not None:  # always, filtered on it
            newest[event.message_id] = event
    found = {pk: retry_state(event) for pk, event in newest.items()}
    return {pk: state for pk, state in found.items() if state is not None}


def later_attempt() -> QuerySet[ZaloEvent]:
    """Events made for the same message after the outer event: Resend's successors."""
    return ZaloEvent.objects.filter(
        message_id=OuterRef("message_id"), direction=Direction.OUTBOUND, id__gt=OuterRef("id")
    )


def superseded() -> Q:
    """Outbound events that a Resend replaced: their error is no longer open."""
    return Q(direction=Direction.OUTBOUND) & Q(Exists(later_attempt()))


def successor_annotation() -> Subquery:
    """The id of the event Resend made next for the same message (None: not resent)."""
    return Subquery(later_attempt().order_by("id").values("id")[:1])
