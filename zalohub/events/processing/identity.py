"""Who sent an event: the pipeline's calls into partner resolution.

Every inbound event naming a Zalo user resolves (or creates) its partner link; follow,
unfollow and ``user_submit_info`` carry identity evidence of their own.
"""

from zalohub.events.models import ErrorCategory, Outcome, ZaloEvent
from zalohub.events.processing import batch
from zalohub.events.processing.handlers import (
    HandlerError,
    Result,
    event_link,
    event_time,
    register,
    require_oa,
)
from zalohub.partners.models import ZaloPartnerLink
from zalohub.partners.resolution import link_record_shared_phone
from zalohub.zalo.webhook import WebhookEvent


def _link_or_error(event: ZaloEvent, wire: WebhookEvent) -> ZaloPartnerLink:
    require_oa(event)
    link = event_link(event, wire)
    if link is None:
        raise HandlerError(
            "The event names no Zalo user.", category=ErrorCategory.RECIPIENT, retry=False
        )
    return link


@register("follow")
def handle_follow(event: ZaloEvent, wire: WebhookEvent) -> Result:
    link = _link_or_error(event, wire)
    batch.active().set_following(link, following=True, when=event_time(event))
    return Result(outcome=Outcome.HANDLED)


@register("unfollow")
def handle_unfollow(event: ZaloEvent, wire: WebhookEvent) -> Result:
    link = _link_or_error(event, wire)
    batch.active().set_following(link, following=False, when=event_time(event))
    return Result(outcome=Outcome.HANDLED)


@register("user_submit_info")
def handle_submit_info(event: ZaloEvent, wire: WebhookEvent) -> Result:
    """The customer shared their details: current (``user_dob``, ``full_address``) and
    older (``address``, ``city``...) payloads both carry ``info.name`` and ``info.phone``."""
    link = _link_or_error(event, wire)
    phone = str(wire.info.get("phone") or "")
    if phone:
        name = str(wire.info.get("name") or "")
        link_record_shared_phone(link=link, raw_phone=phone, name=name)
    return Result(outcome=Outcome.HANDLED)
