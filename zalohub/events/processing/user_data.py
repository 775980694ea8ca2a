"""Handlers of Zalo's user-data events: the OA's tags on its followers
(``add_user_to_tag``, ``remove_user_from_tag``, ``remove_tag``) and a customer's answer
to a rating message (``user_feedback``).

Tags are few and rare next to messages: each event writes its rows at once (in the
batch's transaction), through ``partners.tags``, which keeps the filterable tables and
each link's ``tag_names`` in step.
"""

from django.utils.translation import gettext_noop

from zalohub.core.stored_text import reason
from zalohub.events.models import Direction, ErrorCategory, Message, Outcome, ZaloEvent
from zalohub.events.processing import batch
from zalohub.events.processing.batch import event_time
from zalohub.events.processing.handlers import HandlerError, Result, register, require_oa
from zalohub.partners.tags import links_add_tag, links_remove_tag, oa_forget_tag
from zalohub.zalo.user_events import Feedback, feedback, tag_change
from zalohub.zalo.webhook import WebhookEvent


def _change(event: ZaloEvent, wire: WebhookEvent) -> tuple[int, str, tuple[str, ...]]:
    require_oa(event)
    change = tag_change(wire)
    if not change.tag or len(change.tag) > 100:
        raise HandlerError(
            reason(gettext_noop("The tag event names no usable tag.")),
            category=ErrorCategory.WEBHOOK,
        )
    assert event.oa_id is not None  # require_oa
    return event.oa_id, change.tag, change.user_ids


@register("add_user_to_tag")
def handle_add_user_to_tag(event: ZaloEvent, wire: WebhookEvent) -> Result:
    oa_id, tag, user_ids = _change(event, wire)
    links_add_tag(oa_id=oa_id, user_ids=user_ids, tag=tag)
    return Result(outcome=Outcome.HANDLED)


@register("remove_user_from_tag")
def handle_remove_user_from_tag(event: ZaloEvent, wire: WebhookEvent) -> Result:
    oa_id, tag, user_ids = _change(event, wire)
    links_remove_tag(oa_id=oa_id, user_ids=user_ids, tag=tag)
    return Result(outcome=Outcome.HANDLED)


@register("remove_tag")
def handle_remove_tag(event: ZaloEvent, wire: WebhookEvent) -> Result:
    oa_id, tag, _users = _change(event, wire)
    oa_forget_tag(oa_id=oa_id, tag=tag)
    return Result(outcome=Outcome.HANDLED)


def feedback_text(answer: Feedback) -> str:
    """The rating as the conversation shows it: stars (no language), then the customer's
    own words."""
    parts = []
    if answer.rate is not None and 0 <= answer.rate <= 5:
        parts.append(f"{'★' * answer.rate}{'☆' * (5 - answer.rate)} {answer.rate}/5")
    elif answer.rate is not None:
        parts.append(str(answer.rate))
    parts += [t for t in (answer.note, *answer.feedbacks) if t]
    return " · ".join(parts)


@register("user_feedback")
def handle_user_feedback(event: ZaloEvent, wire: WebhookEvent) -> Result:
    """The customer rated a message (a rating template): stored in the rated message's
    conversation, the rating kept whole in the message's attachment. The payload names no
    user: the rated message does. Unknown to the hub (sent elsewhere): recorded."""
    require_oa(event)
    answer = feedback(wire)
    rated = batch.active().message(event.oa_id, answer.msg_id)
    if rated is None or not rated.zalo_user_id:
        return Result(outcome=Outcome.RECORDED)
    if stored := Message.objects.filter(events__pk=event.pk).first():
        return Result(message=stored)  # a Retry Processing of a handled event
    message = Message(
        oa=event.oa,
        partner_link_id=rated.partner_link_id,
        direction=Direction.INBOUND,
        zalo_user_id=rated.zalo_user_id,
        kind=Message.Kind.OTHER,
        text=feedback_text(answer),
        attachments=[{"type": "feedback", "payload": answer.raw}],
        quote_msg_id=answer.msg_id,
        sent_at=event_time(event),
        created_at=event_time(event),
    )
    return Result(message=batch.active().add_message(message))
