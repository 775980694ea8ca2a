"""The reply window as Zalo's per-user quota says it (``quota/message``), with the local
computation (``services.reply_window``) as the fallback that says it is one.

Zalo's answer decides whether a free consultation reply is possible now (``cs_reply``)
and gives the user's last interaction to the millisecond, which places the 7-day limit.
Asked at most once a minute per conversation (the answer is cached, a failure too): the
thread is drawn again on every live update.
"""

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from zalohub.accounts.models import OfficialAccount
from zalohub.accounts.tokens import TokenUnavailable, call_with_token
from zalohub.core.stored_text import Reason, as_reason
from zalohub.events.window_offers import window_offers
from zalohub.inbox.models import Conversation
from zalohub.inbox.present import describe_remaining
from zalohub.inbox.services import Band, ReplyWindow, reply_window
from zalohub.zalo import ZaloError, call_context, get_client

CACHE_SECONDS = 60
ZALO = "zalo"
LOCAL = "local"


@dataclass(frozen=True)
class CheckedWindow:
    window: ReplyWindow
    source: str  # ZALO: the quota API decided; LOCAL: computed here
    why_local: str = ""  # why Zalo did not decide, in the reader's language


def _key(conversation: Conversation) -> str:
    # With the connection's time (an OA authorized again, or a test's new one reusing a
    # primary key, asks afresh) and the customer's last message's (one just written
    # opens the window: the answer cached before it is stale).
    stamps = [conversation.oa.connected_at, conversation.last_inbound_at]
    marks = ":".join(str(int(t.timestamp() * 1000)) if t else "0" for t in stamps)
    return f"zalohub:inbox:quota:{conversation.oa_id}:{conversation.zalo_user_id}:{marks}"


def _ask(conversation: Conversation) -> dict[str, int | None] | Reason:
    """{"remain": free replies left or None, "last": last interaction in epoch ms or
    None}, or the reason Zalo gave none (a Reason: each reader's language, although
    the answer is cached for all); cached per conversation."""
    key = _key(conversation)
    cached = cache.get(key)
    if isinstance(cached, dict | Reason):
        return cached
    oa = conversation.oa
    try:
        with call_context(oa=oa.pk, app=oa.app_id, ref_type="conversation", ref_id=conversation.pk):
            quota = call_with_token(
                oa,
                lambda token: get_client().history.user_quota(
                    access_token=token, user_id=conversation.zalo_user_id
                ),
            )
    except (ZaloError, TokenUnavailable) as exc:
        answer: dict[str, int | None] | Reason = as_reason(exc)
    else:
        last = quota.last_interaction
        answer = {
            "remain": quota.reply_remain,
            "last": int(last.timestamp() * 1000) if last else None,
        }
    cache.set(key, answer, _keep_for(answer))
    return answer


def _keep_for(answer: dict[str, int | None] | Reason) -> float:
    """A free reply's answer is not kept past the end of the 48 hours it counts from: a
    page open then asks again and sees the window close (and the offers come)."""
    if isinstance(answer, dict) and (answer["remain"] or 0) > 0 and answer["last"]:
        free_until = answer["last"] / 1000 + settings.INBOX_FREE_WINDOW_HOURS * 3600
        return max(1.0, min(CACHE_SECONDS, free_until - timezone.now().timestamp()))
    return CACHE_SECONDS


def _from_zalo(
    remain: int, last: datetime | None, local: ReplyWindow, now: datetime
) -> ReplyWindow:
    last = last or local.last_interaction_at
    free_until = last + timedelta(hours=settings.INBOX_FREE_WINDOW_HOURS) if last else None
    closes_at = last + timedelta(days=settings.INBOX_REPLY_WINDOW_DAYS) if last else None
    if remain > 0:
        # Zalo says free now; it ends when the 48 hours of the last interaction do.
        ends = free_until if free_until and free_until > now else None
        return ReplyWindow(Band.FREE, last, ends, ends - now if ends else None)
    if closes_at is not None and now < closes_at:
        return ReplyWindow(Band.BILLED, last, closes_at, closes_at - now)
    if closes_at is not None:
        return ReplyWindow(Band.CLOSED, last, None, None)
    return ReplyWindow(Band.BILLED, None, None, None)  # not free; how long, Zalo did not say


def reply_window_checked(conversation: Conversation, now: datetime | None = None) -> CheckedWindow:
    now = now or timezone.now()
    local = reply_window(conversation, now)
    if conversation.oa.status != OfficialAccount.Status.CONNECTED:
        return CheckedWindow(local, LOCAL, _("the OA is not connected, so Zalo was not asked"))
    answer = _ask(conversation)
    if isinstance(answer, Reason):
        why = _("Zalo's quota did not answer: %s") % answer.render()
        return CheckedWindow(local, LOCAL, why)
    remain, last_ms = answer["remain"], answer["last"]
    if remain is None:
        return CheckedWindow(local, LOCAL, _("Zalo's quota said nothing about replies"))
    last = datetime.fromtimestamp(last_ms / 1000, tz=UTC) if last_ms else None
    return CheckedWindow(_from_zalo(remain, last, local, now), ZALO)


def window_extras(conversation: Conversation) -> dict[str, object]:
    """What the thread's header shows of the reply window and the link's Zalo tags."""
    checked = reply_window_checked(conversation)
    link = conversation.partner_link
    return {
        "window": checked.window,
        "window_left": describe_remaining(checked.window.remaining),
        "window_source": checked.source,
        "window_why": checked.why_local,
        "zalo_tags": list(link.tag_names or []) if link else [],
        # Zalo's user detail flags a user under 18 (is_sensitive).
        "zalo_sensitive": bool(link and link.is_sensitive),
        "zalo_tags_url": (
            reverse("admin:partners_zalopartnerlink_changelist")
            + f"?oa__id__exact={conversation.oa_id}&zalo_tag="
        ),
    }


# The bands in which a consultation reply is no longer free: billed, or refused (-230).
NOT_FREE = (Band.BILLED, Band.CLOSED)


def offer_extras(request: HttpRequest, conversation: Conversation, window: ReplyWindow) -> dict:
    """What the composer offers instead of a free reply (issue 19: the OA's Approved
    templates, filled from the customer), only while the checked window says none is free."""
    if window.band not in NOT_FREE:
        return {"offers": None}
    oa, link = conversation.oa, conversation.partner_link
    return {"offers": window_offers(oa=oa, link=link, user=request.user)}
