"""The recovery actions of the Zalo Events list: Retry Processing, Resend, Mark Error.

Each checks the current state with a conditional UPDATE, so two admins (or an admin and
a worker) acting on one event cannot both win.
"""

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from zalohub.events.models import (
    Direction,
    ErrorCategory,
    Message,
    ProcessingState,
    ZaloEvent,
    ZaloState,
)
from zalohub.events.sending import resend


class ActionRefused(Exception):
    """The action does not apply to the event in its current state; says why."""


def event_retry_processing(*, event: ZaloEvent) -> ZaloEvent:
    """Process an inbound event again from its stored raw payload."""
    if event.direction == Direction.OUTBOUND:
        if event.message is None:
            raise ActionRefused(_("This outbound event has no message to send again."))
        return message_resend(message=event.message)
    retried = ZaloEvent.objects.filter(
        pk=event.pk,
        processing_state__in=[
            ProcessingState.ERROR,
            ProcessingState.QUEUED,
            ProcessingState.PROCESSED,
        ],
    ).update(
        processing_state=ProcessingState.QUEUED,
        next_attempt_at=timezone.now(),
        error_category="",
        error_message="",
        error_at=None,
        outcome="",
    )
    if not retried:
        raise ActionRefused(
            _("Event #%(id)s is %(state)s; wait for it or Mark Error first.")
            % {"id": event.pk, "state": event.get_processing_state_display()}
        )
    event.refresh_from_db()
    return event


def message_resend(*, message: Message) -> ZaloEvent:
    """A new send attempt for a failed outbound message; never reuses the old attempt."""
    if message.direction != Direction.OUTBOUND:
        raise ActionRefused(_("Only messages sent to a customer can be resent."))
    with transaction.atomic():
        reset = Message.objects.filter(pk=message.pk, zalo_state=ZaloState.FAILED).update(
            zalo_state=ZaloState.ON_QUEUE, failure_code=None, failure_reason=""
        )
        if not reset:
            raise ActionRefused(
                _("Only a message whose Zalo State is Failed can be resent (this one is %s).")
                % message.get_zalo_state_display()
            )
        message.refresh_from_db()
        return resend(message)


def event_mark_error(*, event: ZaloEvent, reason: str, actor: object = None) -> ZaloEvent:
    """Flag a stuck event as failed by hand, so it can be retried or resent."""
    who = getattr(actor, "get_username", lambda: "")()
    text = _("Marked as error by %(who)s: %(reason)s") % {
        "who": who or _("an admin"),
        "reason": reason or "—",
    }
    category = (
        ErrorCategory.SEND if event.direction == Direction.OUTBOUND else ErrorCategory.WEBHOOK
    )
    with transaction.atomic():
        marked = ZaloEvent.objects.filter(
            pk=event.pk,
            processing_state__in=[
                ProcessingState.RECEIVED,
                ProcessingState.QUEUED,
                ProcessingState.PROCESSING,
            ],
        ).update(
            processing_state=ProcessingState.ERROR,
            claimed_by="",
            lease_until=None,
            error_category=event.error_category or category,
            error_message=text,
            error_at=timezone.now(),
        )
        if not marked:
            raise ActionRefused(
                _("Event #%(id)s is already %(state)s.")
                % {"id": event.pk, "state": event.get_processing_state_display()}
            )
        if event.direction == Direction.OUTBOUND and event.message_id:
            Message.objects.filter(pk=event.message_id).exclude(zalo_state=ZaloState.FAILED).filter(
                zalo_state__in=[ZaloState.ON_QUEUE, ZaloState.SENT]
            ).update(zalo_state=ZaloState.FAILED, failure_reason=text)
    event.refresh_from_db()
    return event
