"""Outbound OA messages: queued as rows, sent once by the outbound pipeline.

``message_send`` stores the message (Zalo State On Queue) and an outbound event, and
enqueues the send task. This module is the OA message *sender*: how to call Zalo for
it and how to read a refusal; the claim, the settling, the retries and the sweeper are
``zalohub.events.outbound``'s. Zalo does not deduplicate OA messages, so a call whose
outcome is unknown is never made again on its own: Resend makes a new attempt.
"""

import json
import secrets
from typing import Any

from django.db import transaction
from django.utils.translation import gettext as _

from zalohub.accounts.models import OfficialAccount
from zalohub.core.stored_text import zalo_reason
from zalohub.events.models import (
    Direction,
    Message,
    ProcessingState,
    ZaloEvent,
    ZaloState,
)
from zalohub.events.outbound import (
    PENDING,
    Attempt,
    Failure,
    Sender,
    Sent,
    send_event,
    send_outbound,
)
from zalohub.partners.models import ZaloPartnerLink
from zalohub.zalo import ZaloError, bodies, errors, get_client

# Kept importable from here, where callers queue and send OA messages.
__all__ = ["OA_MESSAGES", "PENDING", "SendRefused", "message_send", "send_outbound"]
MAX_TEXT = 2000  # Zalo's limit for a consultation text
SENDABLE = (Message.Kind.TEXT, Message.Kind.IMAGE, Message.Kind.FILE)


class SendRefused(ValueError):
    """The message cannot be queued as given; the text says why, for the person."""


def _zalo_message(message: Message) -> dict[str, Any]:
    attachment = message.attachments[0] if message.attachments else {}
    try:
        return bodies.oa_message(message.kind, text=message.text, attachment=attachment)
    except ValueError:
        raise SendRefused(_("Messages of kind %s cannot be sent.") % message.kind) from None


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
            bodies.oa_message_request(user_id=message.zalo_user_id, message=_zalo_message(message)),
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


def _call(attempt: Attempt, access_token: str) -> Sent:
    message = attempt.event.message
    assert message is not None  # the pipeline settles a message-less event before calling
    sent = get_client().oa.send_message(
        access_token=access_token,
        recipient={"user_id": message.zalo_user_id},
        message=_zalo_message(message),
    )
    return Sent(msg_id=sent.message_id, sent_ms=sent.sent_time_ms)


def _classify(attempt: Attempt, exc: ZaloError) -> Failure:
    return Failure(category=errors.category(exc.code, kind=exc.kind), text=zalo_reason(exc))


OA_MESSAGES = Sender(
    kind="oa_message",
    event_names=frozenset(f"oa_send_{kind}" for kind in SENDABLE),
    message_kinds=frozenset(SENDABLE),
    call=_call,
    classify=_classify,
    retry_unknown=False,
    resend=_queue_event,
)
