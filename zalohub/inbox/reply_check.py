"""Whether a consultation reply may go now: one decision, the one the thread shows and
the one a send obeys (issue 16 §11).

Zalo's per-user quota decides where it answers (``window.reply_window_checked``): a
free reply Zalo confirms goes even when the hub's own count says the window closed,
and a window Zalo says is closed is refused with Zalo's word for it. When the quota
does not answer, the local computation decides and its refusal says so. The answer
is cached a minute per conversation, so a send made from a thread just drawn asks
Zalo nothing more. Any sender that has the conversation may call ``check_reply_window``.
"""

from datetime import datetime

from django.conf import settings
from django.utils.translation import gettext as _

from zalohub.events.outbound.oa_message import SendRefused
from zalohub.inbox.models import Conversation
from zalohub.inbox.services import Band
from zalohub.inbox.window import LOCAL, CheckedWindow, reply_window_checked


def _closed_here(why_local: str) -> str:
    closed = _(
        "The reply window is closed: the customer's last interaction was more than "
        "%(days)d days ago, so Zalo refuses consultation messages (-230). Send a ZBS "
        "template instead."
    ) % {"days": settings.INBOX_REPLY_WINDOW_DAYS}
    return f"{closed} {_('(computed here: %(why)s)') % {'why': why_local}}"


def _closed_by_zalo() -> str:
    return _(
        "Zalo's quota for this customer says the reply window is closed: no free reply is "
        "left and their last interaction was more than %(days)d days ago, so Zalo refuses "
        "consultation messages (-230). Send a ZBS template instead."
    ) % {"days": settings.INBOX_REPLY_WINDOW_DAYS}


def refusal(checked: CheckedWindow) -> str:
    """Why no consultation reply may go in this window, in the reader's language; ""
    when one may (free, billed, or no interaction on record: then Zalo decides)."""
    if checked.window.band != Band.CLOSED:
        return ""
    return _closed_here(checked.why_local) if checked.source == LOCAL else _closed_by_zalo()


def check_reply_window(conversation: Conversation, now: datetime | None = None) -> CheckedWindow:
    """The conversation's checked reply window; SendRefused when it allows no reply."""
    checked = reply_window_checked(conversation, now)
    if why := refusal(checked):
        raise SendRefused(why)
    return checked
