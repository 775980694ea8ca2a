"""The five error categories of the troubleshooting guide, assigned from Zalo's codes and
our own states, each with the next step written for the person who has to take it."""

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from zalohub.diagnostics.text import msg
from zalohub.events.models import ErrorCategory, ProcessingState, ZaloEvent
from zalohub.zalo import errors

Category = ErrorCategory

NEXT_STEPS: dict[str, Promise] = {
    Category.TOKEN: _(
        "Open the OA account and press “Authorize Account” (if it is stuck on an old session, "
        "press “Clear OAuth Session” first). When it is Connected again, press “Sync OA Profile”."
    ),
    Category.WEBHOOK: _(
        "Copy the app's Webhook URL into Zalo OA Developer Console → Webhook settings, check "
        "that the event groups are enabled and that the OA secret key stored on the Zalo app "
        "matches the console's, then run the webhook self-test."
    ),
    Category.SEND: _(
        "Open the failed message in Zalo Events and read the error. If Zalo was unavailable, "
        "press “Resend” once it answers again; if the customer cannot receive messages now "
        "(blocked, outside the reply window), contact them another way."
    ),
    Category.TEMPLATE: _(
        "Open the ZBS template and read its Reject Reason and Template Quality. Edit it, press "
        "“Reset to Draft”, then “Submit to Zalo”. For a spent quota, check the limits in Zalo "
        "OA Developer Console and wait for the daily reset."
    ),
    Category.RECIPIENT: _(
        "Open the contact and fix the phone number (format 84xxxxxxxxx), or check the "
        "partner's Zalo link on Zalo Partners; change the route policy to Phone or UID + "
        "Phone if the customer has no Zalo link."
    ),
}

# A few codes deserve a more precise step than their category's (zalo's code table).
CODE_STEPS = errors.NEXT_STEPS


def category_for_code(code: int | None, *, kind: str = "", http_status: int | None = None) -> str:
    """The category of a failed Zalo call, from its code (or HTTP status without one)."""
    return errors.category(code, kind=kind, http_status=http_status)


def category_for_event(event: ZaloEvent) -> str:
    """An event's category: Zalo's code on its message decides first, then its own state."""
    # The sender's own specific category wins (it knows a refused route or template);
    # a generic "send failure" is sharpened by Zalo's code.
    if event.error_category in (Category.TOKEN, Category.TEMPLATE, Category.RECIPIENT):
        return event.error_category
    message = event.message if event.message_id else None
    code = message.failure_code if message is not None else None
    if code:
        return category_for_code(code)
    if event.error_category:
        return event.error_category
    if event.processing_state == ProcessingState.ERROR:
        return Category.SEND if event.direction == "out" else Category.WEBHOOK
    return ""


def next_step(category: str, code: int | None = None) -> str:
    """The step in the active language; a Msg, so a stored check renders it per reader."""
    if code is not None and code in CODE_STEPS:
        return msg(CODE_STEPS[code])
    step = NEXT_STEPS.get(category)
    return msg(step) if step else ""


def label(category: str) -> str:
    try:
        return str(Category(category).label)
    except ValueError:
        return ""
