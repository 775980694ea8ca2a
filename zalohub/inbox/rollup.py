"""Keeps each Conversation row in step with the messages stored for it.

events' hooks tell the inbox what changed: ``on_message_stored`` gives the messages a
batch stored (a worker's claim of events, or one reply created alone), folded into their
conversations with one statement inside the transaction that stores them;
``on_message_state_changed`` gives the Zalo State changes (receipts and echoes, our
sends settled, Mark Error, Resend), and the OA's live pages are woken once per
transaction (they read the states from the rows).
"""

import functools
import logging
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from django.db import connection, transaction
from django.utils import timezone

from zalohub.core import rowinsert
from zalohub.events import hooks
from zalohub.events.models import Direction, Message
from zalohub.events.processing import batch
from zalohub.inbox import arrivals, live, report_facts
from zalohub.inbox.models import WAKES_ON_CUSTOMER, Conversation, Status
from zalohub.partners.models import ZaloPartnerLink
from zalohub.partners.services import profile_synced

logger = logging.getLogger(__name__)


def notify_on_commit(oa_id: int) -> None:
    """Wake the OA's live pages once the transaction commits (once per event batch)."""
    current = batch.current()
    if current is not None:
        current.on_commit_once(("inbox.notify", oa_id), lambda: live.notify(oa_id))
    else:
        transaction.on_commit(lambda: live.notify(oa_id))


def message_stored(message: Message) -> None:
    messages_stored([message])


def _folded(messages: Iterable[Message]) -> dict[tuple[int, str], dict[str, Any]]:
    """What the messages change in each conversation, as folding them one by one would."""
    rows: dict[tuple[int, str], dict[str, Any]] = {}
    for message in messages:
        if not message.zalo_user_id:
            continue
        when: datetime = message.created_at or timezone.now()
        row = rows.setdefault(
            (message.oa_id, message.zalo_user_id),
            {"last": None, "at": None, "inbound_at": None, "unread": 0, "link": None},
        )
        if row["at"] is None or row["at"] <= when:
            row["last"], row["at"] = message.pk, when
        if message.direction == Direction.INBOUND:
            row["unread"] += 1
            if row["inbound_at"] is None or row["inbound_at"] < when:
                row["inbound_at"] = when
        if message.partner_link_id:
            row["link"] = message.partner_link_id
    return rows


_COLUMNS = (
    "oa_id",
    "zalo_user_id",
    "partner_link_id",
    "last_message_id",
    "last_message_at",
    "last_inbound_at",
    "unread_count",
    "updated_at",
    "created_at",
    "status",
)
# The newest message wins the summary; a late, older one is still counted as unread.
_ON_CONFLICT = """
ON CONFLICT (oa_id, zalo_user_id) DO UPDATE SET
  last_message_id = CASE WHEN {t}.last_message_id IS NULL
      OR {t}.last_message_at <= excluded.last_message_at
    THEN excluded.last_message_id ELSE {t}.last_message_id END,
  last_message_at = CASE WHEN {t}.last_message_id IS NULL
      OR {t}.last_message_at <= excluded.last_message_at
    THEN excluded.last_message_at ELSE {t}.last_message_at END,
  last_inbound_at = CASE WHEN excluded.last_inbound_at IS NOT NULL
      AND ({t}.last_inbound_at IS NULL OR {t}.last_inbound_at < excluded.last_inbound_at)
    THEN excluded.last_inbound_at ELSE {t}.last_inbound_at END,
  unread_count = {t}.unread_count + excluded.unread_count,
  partner_link_id = COALESCE(excluded.partner_link_id, {t}.partner_link_id),
  status = CASE WHEN excluded.last_inbound_at IS NOT NULL AND {t}.status IN ({wakes})
    THEN 'open' ELSE {t}.status END,
  snoozed_until = CASE WHEN excluded.last_inbound_at IS NOT NULL AND {t}.status IN ({wakes})
    THEN NULL ELSE {t}.snoozed_until END,
  updated_at = excluded.updated_at
"""
# A customer's message brings a pending, snoozed or resolved conversation back (issue 19).
_WAKES = ", ".join(f"'{status}'" for status in WAKES_ON_CUSTOMER)


@functools.lru_cache(maxsize=64)
def _upsert(rows_select: str) -> str:
    """The conversations' upsert, its rows taken from ``rows_select`` (``rowinsert``'s:
    on PostgreSQL one JSON parameter, one SQL text for any batch)."""
    quote = connection.ops.quote_name
    table = quote(Conversation._meta.db_table)
    return (
        f"INSERT INTO {table} ({', '.join(map(quote, _COLUMNS))}) {rows_select}"
        + _ON_CONFLICT.format(t=table, wakes=_WAKES)
        # The report facts as they were (the upsert leaves them): which to derive again;
        # created_at is ``now`` for the conversations this statement created.
        + " RETURNING id, oa_id, zalo_user_id, first_inbound_at, first_reply_at, created_at"
    )


def messages_stored(messages: Iterable[Message]) -> None:
    """Fold new messages into their conversations: last message, unread, window.

    One INSERT ... ON CONFLICT DO UPDATE for all of them, so a conversation that
    another worker or a reply creates at the same moment is folded into, not doubled."""
    messages = list(messages)
    rows = _folded(messages)
    if not rows:
        return
    now = timezone.now()
    customers = sorted(key for key, row in rows.items() if row["inbound_at"] is not None)
    before = arrivals.conversations_before(customers)
    values: list[list[Any]] = []  # in _COLUMNS' order
    for (oa_id, user_id), row in sorted(rows.items()):  # one lock order for every writer
        values.append([oa_id, user_id, row["link"], row["last"], row["at"], row["inbound_at"]])
        values[-1] += [row["unread"], now, now, Status.OPEN]
    sql = _upsert(rowinsert.rows_select(Conversation, _COLUMNS, len(values)))
    params = rowinsert.rows_params(_COLUMNS, values)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        stored = cursor.fetchall()
    report_facts.messages_stored(messages, stored, created_at=now)
    if customers:
        arrivals.customer_wrote(before=before, keys=customers)
    for oa_id in sorted({oa_id for oa_id, _user in rows}):
        notify_on_commit(oa_id)


def states_changed(changes: Sequence[hooks.StateChange]) -> None:
    """A batch's receipts and echoes, or one settled send or admin action, moved Zalo
    States with UPDATEs (no signal): wake each OA's live pages once."""
    for oa_id in sorted({change.message.oa_id for change in changes}):
        notify_on_commit(oa_id)


def _on_profile_synced(sender: Any, link: Any, **kwargs: Any) -> None:
    """A customer's Zalo name or avatar arrived (often just after their first message):
    their conversations change for the live pages, which show the name at once."""
    if Conversation.objects.filter(partner_link=link).update(updated_at=timezone.now()):
        transaction.on_commit(lambda: live.notify(link.oa_id))


def connect() -> None:
    hooks.on_message_stored(messages_stored)
    hooks.on_message_state_changed(states_changed)
    profile_synced.connect(
        _on_profile_synced, sender=ZaloPartnerLink, dispatch_uid="inbox.profile_synced"
    )
