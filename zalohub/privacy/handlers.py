"""``user_withdraw``: the person asked Zalo that the OA remove their data. The hub
records a data-removal request for a Zalo Admin to confirm; nothing is removed yet."""

from django.utils.translation import gettext_noop

from zalohub.core.stored_text import reason
from zalohub.events.models import ErrorCategory, Outcome, ZaloEvent
from zalohub.events.processing.handlers import HandlerError, Result, register, require_oa
from zalohub.privacy.services import removal_request_record
from zalohub.zalo.webhook import WebhookEvent


@register("user_withdraw")
def handle_user_withdraw(event: ZaloEvent, wire: WebhookEvent) -> Result:
    require_oa(event)
    if not event.zalo_user_id:
        raise HandlerError(
            reason(gettext_noop("The data-removal request names no Zalo user.")),
            category=ErrorCategory.RECIPIENT,
        )
    removal_request_record(event=event)
    return Result(outcome=Outcome.HANDLED)
