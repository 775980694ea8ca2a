"""The recovery actions of the Zalo Events list: Retry Processing, Resend, Mark Error.

Each checks the current state with a conditional UPDATE, so two admins (or an admin and
a worker) acting on one event cannot both win.
"""

import json
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from zalohub.accounts.models import OfficialAccount
from zalohub.core.stored_text import reason as core_reason
from zalohub.core.stored_text import reason_fields, text
from zalohub.events import hooks
from zalohub.events.models import (
    Direction,
    ErrorCategory,
    Message,
    ProcessingState,
    ZaloEvent,
    ZaloState,
)
from zalohub.events.outbound import NoSender, queued, resend
from zalohub.events.outbound.oa_message import ACCEPTED_NAMES
from zalohub.zalo import webhook

# The states from which each action may start (the admin's buttons follow these too).
RETRYABLE_STATES = (ProcessingState.ERROR, ProcessingState.QUEUED, ProcessingState.PROCESSED)
MARKABLE_STATES = (ProcessingState.RECEIVED, ProcessingState.QUEUED, ProcessingState.PROCESSING)
# An outbound message still waiting for Zalo's word; Mark Error may call it Failed.
UNCLEAR_ZALO_STATES = (ZaloState.ON_QUEUE, ZaloState.SENT)


class ActionRefused(Exception):
    """The action does not apply to the event in its current state; says why."""


def can_retry_processing(event: ZaloEvent) -> bool:
    if _accepted_unqueued(event):
        return event.processing_state == ProcessingState.ERROR
    if event.direction == Direction.OUTBOUND:
        return can_resend(event)
    return event.processing_state in RETRYABLE_STATES


def _accepted_unqueued(event: ZaloEvent) -> bool:
    """An API send accepted as its event alone that has no message yet (an admin marked
    it Error before the sends loop made one, or its body could not be read)."""
    return (
        event.direction == Direction.OUTBOUND
        and event.message_id is None
        and event.event_name in ACCEPTED_NAMES
    )


def can_resend(event: ZaloEvent) -> bool:
    message = event.message
    return (
        message is not None
        and message.direction == Direction.OUTBOUND
        and message.zalo_state == ZaloState.FAILED
    )


def can_mark_error(event: ZaloEvent) -> bool:
    if event.processing_state in MARKABLE_STATES:
        return True
    message = event.message
    return (
        event.direction == Direction.OUTBOUND
        and message is not None
        and message.zalo_state in UNCLEAR_ZALO_STATES
    )


def _oa_from_payload(event: ZaloEvent) -> int | None:
    """The OA the stored payload names, if it is connected now (it may not have been
    when the event arrived)."""
    try:
        payload: Any = json.loads(event.raw_body)
    except ValueError:
        return None
    if not isinstance(payload, dict):
        return None
    oas = dict(
        OfficialAccount.objects.filter(
            app_id=event.app_id, oa_id__in=webhook.oa_candidates(payload)
        ).values_list("oa_id", "pk")
    )
    return oas.get(webhook.head(payload, is_oa=oas.__contains__).oa_id)


def event_retry_processing(*, event: ZaloEvent) -> ZaloEvent:
    """Process an inbound event again from its stored raw payload; send an outbound one
    again (``message_resend``), or an API send that has no message yet: Received again,
    the sends loop makes its message and sends it (``oa_message.accepted_queue``)."""
    if _accepted_unqueued(event):
        return _accepted_again(event)
    if event.direction == Direction.OUTBOUND:
        if event.message is None:
            raise ActionRefused(_("This outbound event has no message to send again."))
        return message_resend(message=event.message)
    fields: dict[str, Any] = {}
    if (
        event.oa_id is None
        or not OfficialAccount.objects.filter(pk=event.oa_id, app_id=event.app_id).exists()
    ):
        # Re-read from the raw body: an event that came before its OA was connected, or
        # one attached to another app's OA (as ingest once did): only an OA of the app
        # whose URL and OA secret key accepted the event may have it.
        fields["oa_id"] = _oa_from_payload(event)
    retried = ZaloEvent.objects.filter(pk=event.pk, processing_state__in=RETRYABLE_STATES).update(
        processing_state=ProcessingState.QUEUED,
        next_attempt_at=timezone.now(),
        error_category="",
        error_at=None,
        outcome="",
        **reason_fields("error_message", None),
        **fields,
    )
    if not retried:
        raise ActionRefused(
            _("Event #%(id)s is %(state)s; wait for it or Mark Error first.")
            % {"id": event.pk, "state": event.get_processing_state_display()}
        )
    event.refresh_from_db()
    return event


def _accepted_again(event: ZaloEvent) -> ZaloEvent:
    again = ZaloEvent.objects.filter(
        pk=event.pk, message__isnull=True, processing_state=ProcessingState.ERROR
    ).update(
        processing_state=ProcessingState.RECEIVED,
        next_attempt_at=timezone.now(),
        error_category="",
        error_at=None,
        **reason_fields("error_message", None),
    )
    if not again:
        raise ActionRefused(
            _("Event #%(id)s is %(state)s; wait for it or Mark Error first.")
            % {"id": event.pk, "state": event.get_processing_state_display()}
        )
    transaction.on_commit(queued.wake)
    event.refresh_from_db()
    return event


def message_resend(*, message: Message) -> ZaloEvent:
    """A new send attempt for a failed outbound message; never reuses the old attempt."""
    if message.direction != Direction.OUTBOUND:
        raise ActionRefused(_("Only messages sent to a customer can be resent."))
    with transaction.atomic():
        reset = Message.objects.filter(pk=message.pk, zalo_state=ZaloState.FAILED).update(
            zalo_state=ZaloState.ON_QUEUE,
            failure_code=None,
            **reason_fields("failure_reason", None),
        )
        if not reset:
            raise ActionRefused(
                _("Only a message whose Zalo State is Failed can be resent (this one is %s).")
                % (message.get_zalo_state_display() or "—")
            )
        message.refresh_from_db()
        hooks.state_changed(message, previous=ZaloState.FAILED, at=timezone.now())
        try:
            return resend(message)
        except NoSender as exc:
            raise ActionRefused(str(exc)) from exc


def event_mark_error(*, event: ZaloEvent, reason: str, actor: object = None) -> ZaloEvent:
    """Flag a stuck event as failed by hand, so it can be retried or resent.

    An outbound message that Zalo never confirmed (On Queue or Sent) becomes Failed too,
    even when its send call finished: that is the "unclear status" an admin resolves.
    """
    reason = reason.strip()
    if not reason:
        raise ActionRefused(_("Say why the event is marked as an error."))
    who = getattr(actor, "get_username", lambda: "")()
    # Stored as the msgid and parameters: read in each reader's language, whoever marked it.
    why = core_reason(
        gettext_noop("Marked as error by %(who)s: %(reason)s"),
        who=who or core_reason(gettext_noop("an admin")),
        reason=text(reason),
    )
    outbound = event.direction == Direction.OUTBOUND
    category = ErrorCategory.SEND if outbound else ErrorCategory.WEBHOOK
    states = [*MARKABLE_STATES]
    with transaction.atomic():
        failed = 0
        if outbound and event.message_id:
            # One state at a time, so that subscribers hear which one it was.
            for previous in UNCLEAR_ZALO_STATES:
                failed = Message.objects.filter(pk=event.message_id, zalo_state=previous).update(
                    zalo_state=ZaloState.FAILED,
                    failure_code=None,
                    **reason_fields("failure_reason", why),
                )
                if failed:
                    message = Message.objects.get(pk=event.message_id)
                    hooks.state_changed(message, previous=previous, at=timezone.now())
                    states.append(ProcessingState.PROCESSED)
                    break
        marked = ZaloEvent.objects.filter(pk=event.pk, processing_state__in=states).update(
            processing_state=ProcessingState.ERROR,
            claimed_by="",
            lease_until=None,
            error_category=event.error_category or category,
            error_at=timezone.now(),
            **reason_fields("error_message", why),
        )
        if not marked and not failed:
            raise ActionRefused(
                _("Event #%(id)s is already %(state)s.")
                % {"id": event.pk, "state": event.get_processing_state_display()}
            )
    event.refresh_from_db()
    return event
