"""Conversation history from Zalo (issue 16 §9): when an OA is connected, and on demand,
the recent conversations (``listrecentchat``) and their messages (``conversation``) are
stored, so the inbox is not empty on day one.

Each message is stored once, by its Zalo id, whichever comes first: the history or the
webhook (the unique (OA, msg id) the webhook's handlers already look up). Users met for
the first time get their partner link as a webhook's would, named from the history's
display name at once. Messages go through ``hooks.messages_stored`` like any batch's,
so the inbox's conversations follow.
"""

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.tasks import task
from django.utils import timezone

from zalohub.accounts.models import OfficialAccount
from zalohub.accounts.tokens import TokenUnavailable, call_with_token
from zalohub.events import hooks
from zalohub.events.models import Direction, Message, ZaloState
from zalohub.partners.resolution import ZaloUser, resolve_links
from zalohub.zalo import ZaloError, call_context, get_client
from zalohub.zalo.history import PAGE, HistoryMessage

logger = logging.getLogger(__name__)

# Zalo's history "type" -> the message kind the inbox draws.
KINDS = {
    "text": Message.Kind.TEXT,
    "photo": Message.Kind.IMAGE,
    "image": Message.Kind.IMAGE,
    "gif": Message.Kind.GIF,
    "sticker": Message.Kind.STICKER,
    "link": Message.Kind.LINK,
    "location": Message.Kind.LOCATION,
    "voice": Message.Kind.AUDIO,
    "audio": Message.Kind.AUDIO,
    "video": Message.Kind.VIDEO,
    "file": Message.Kind.FILE,
    "business_card": Message.Kind.BUSINESS_CARD,
    "template": Message.Kind.TEMPLATE,
}
CONVERSATIONS = 50  # recent conversations read
MESSAGES = 50  # messages read per conversation


@dataclass
class Backfill:
    conversations: int = 0
    stored: int = 0  # messages new to the hub
    known: int = 0  # already stored (by a webhook or an earlier backfill)
    errors: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        return (
            f"{self.conversations} conversation(s), {self.stored} message(s) stored, "
            f"{self.known} already known" + (f"; {'; '.join(self.errors)}" if self.errors else "")
        )


def _message(oa: OfficialAccount, item: HistoryMessage, link_pk: int | None) -> Message:
    kind = KINDS.get(item.kind, Message.Kind.OTHER)
    attachments: list[dict[str, Any]] = []
    if item.attachment_url:
        attachments = [{"type": kind, "payload": {"url": item.attachment_url}}]
    when = item.time or timezone.now()
    return Message(
        oa=oa,
        partner_link_id=link_pk,
        direction=Direction.INBOUND if item.from_user else Direction.OUTBOUND,
        zalo_user_id=item.user_id,
        kind=kind,
        text=item.text,
        attachments=attachments,
        zalo_msg_id=item.message_id,
        # An OA message from the history: Zalo has it, nothing more is known.
        zalo_state="" if item.from_user else ZaloState.SENT,
        sent_at=when,
        created_at=when,
    )


def store_history(*, oa: OfficialAccount, items: list[HistoryMessage]) -> tuple[int, int]:
    """Store the messages the hub does not hold yet; (stored, already known)."""
    items = [i for i in items if i.message_id and i.user_id]
    if not items:
        return 0, 0
    users: dict[str, tuple[ZaloUser, datetime | None]] = {}
    for item in items:
        if item.from_user or item.user_id not in users:
            user = ZaloUser(
                zalo_user_id=item.user_id, display_name=item.user_name, avatar=item.user_avatar
            )
            users.setdefault(item.user_id, (user, item.time))
    for attempt in range(2):
        try:
            with transaction.atomic():
                return _store(oa, items, users)
        except IntegrityError:
            if attempt:  # a webhook stored one meanwhile, twice: leave it to the next run
                raise
    return 0, 0


def _store(
    oa: OfficialAccount,
    items: list[HistoryMessage],
    users: dict[str, tuple[ZaloUser, datetime | None]],
) -> tuple[int, int]:
    known = set(
        Message.objects.filter(oa=oa, zalo_msg_id__in=[i.message_id for i in items]).values_list(
            "zalo_msg_id", flat=True
        )
    )
    fresh = {i.message_id: i for i in items if i.message_id not in known}
    if not fresh:
        return 0, len(items)
    links = resolve_links([(oa, user, when) for user, when in users.values()])
    rows = [
        _message(oa, item, getattr(links.get((oa.pk, item.user_id)), "pk", None))
        for item in sorted(fresh.values(), key=lambda i: i.time or timezone.now())
    ]
    Message.objects.bulk_create(rows)
    hooks.messages_stored(rows)
    return len(rows), len(items) - len(rows)


def _pages(fetch: Callable[[int], list[HistoryMessage]], limit: int) -> list[HistoryMessage]:
    found: list[HistoryMessage] = []
    for offset in range(0, limit, PAGE):
        page = fetch(offset)
        found += page
        if len(page) < PAGE:
            break
    return found[:limit]


def oa_backfill_history(
    *, oa: OfficialAccount, conversations: int = CONVERSATIONS, messages: int = MESSAGES
) -> Backfill:
    """Read the OA's recent conversations and their messages from Zalo and store what
    the hub does not hold. A conversation Zalo refuses is skipped and said so."""
    result = Backfill()
    api = get_client().history

    def call(fn: Any) -> Any:
        with call_context(oa=oa.pk, app=oa.app_id, ref_type="oa", ref_id=oa.pk):
            return call_with_token(oa, fn)

    def recent(offset: int) -> list[HistoryMessage]:
        return call(lambda t: api.recent_chats(access_token=t, offset=offset))

    def conversation(user_id: str, offset: int) -> list[HistoryMessage]:
        return call(lambda t: api.conversation(access_token=t, user_id=user_id, offset=offset))

    users = list(dict.fromkeys(i.user_id for i in _pages(recent, conversations) if i.user_id))
    for user_id in users:
        try:
            items = _pages(partial(conversation, user_id), messages)
        except ZaloError as exc:
            result.errors.append(f"{user_id}: {exc}")
            continue
        stored, known = store_history(oa=oa, items=items)
        result.conversations += 1
        result.stored += stored
        result.known += known
    return result


@task(queue_name="zalo")
def backfill_history(oa_pk: int) -> str:
    """The background run (on connection, or the OA form's Load Zalo history)."""
    oa = OfficialAccount.objects.filter(pk=oa_pk).select_related("app").first()
    if oa is None:
        return "OA gone"
    try:
        return str(oa_backfill_history(oa=oa))
    except (ZaloError, TokenUnavailable) as exc:
        logger.info("History of OA %s not loaded: %s", oa_pk, exc)
        return f"not loaded: {exc}"


def _on_oa_fixed(*, oa_id: int, reason: str, **kwargs: Any) -> None:
    """An OA just authorized (first time, or again): load its history after commit."""
    if reason == "authorized" and settings.HISTORY_ON_CONNECT:
        transaction.on_commit(lambda: backfill_history.enqueue(oa_id))


def connect() -> None:
    from zalohub.accounts.signals import oa_fixed

    oa_fixed.connect(_on_oa_fixed, dispatch_uid="events.history_backfill")
