"""Server-sent events for live pages: ``list`` and ``thread`` say what to re-fetch.

A stream waits on the notifier with a short timeout, then compares what the database
says now with the client's cursor (the last event id it saw, sent back by EventSource
on reconnect). Receipts change messages without a signal, so the comparison, not the
wake-up, decides. A stream ends after INBOX_STREAM_SECONDS; EventSource reconnects.
Under ASGI (`zalohub serve` sends the stream URL there) the stream is an async iterator
(Django would otherwise buffer the whole response) that waits on ``watch``, the
process's one reader, and holds no thread; under WSGI (the test client, ``runserver``)
a plain generator that holds its thread for the stream's length.
"""

import time
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from dataclasses import dataclass

from django.conf import settings
from django.core.handlers.asgi import ASGIRequest
from django.db import connection
from django.db.models import Max

from zalohub.inbox import assignment, push, services, team, watch
from zalohub.inbox.live import get_notifier
from zalohub.inbox.models import Conversation


@dataclass(frozen=True)
class Scope:
    oa_ids: tuple[int, ...]
    conversation_id: int | None
    user_id: int | None = None  # whose page: its stream is their presence (issue 19)
    language: str = ""  # what its pushes are drawn in (inbox.push); none: no pushes


def _list_cursor(oa_ids: tuple[int, ...]) -> str:
    newest = Conversation.objects.filter(oa_id__in=oa_ids).aggregate(m=Max("updated_at"))
    return newest["m"].isoformat() if newest["m"] else "-"


def _memoized(key: tuple[str, object], read: Callable[[], str]) -> str:
    """``read()``, once a round for every scope that asks for ``key`` (scopes of the same
    OAs share the list's cursor; colleagues on one conversation its thread's)."""
    memo = watch.round_memo()
    if memo is None:
        return read()
    found = memo.get(key)
    if not isinstance(found, str):
        found = memo[key] = read()
    return found


def cursor_now(scope: Scope) -> tuple[str, str]:
    list_part = _memoized(("list", scope.oa_ids), lambda: _list_cursor(scope.oa_ids))
    if not scope.conversation_id:
        return list_part, "-"
    conversation_id = scope.conversation_id
    return list_part, _memoized(
        ("thread", conversation_id), lambda: _thread_cursor(conversation_id)
    )


def _thread_cursor(conversation_id: int) -> str:
    return _thread_cursors([conversation_id])[conversation_id]


def _thread_cursors(conversation_ids: list[int]) -> dict[int, str]:
    """Each thread's cursor ("gone" for a conversation that is not), in a few statements
    for them all; within a round, what each read saw too (for its feed: ``push.Seen``)."""
    memo = watch.round_memo()
    read = Conversation.objects.filter(pk__in=conversation_ids)
    conversations = list(
        # In a round, whole: the threads' feeds draw from it.
        read.select_related("partner_link__partner").prefetch_related("labels")
        if memo is not None
        else read.only("oa_id", "zalo_user_id", "assigned_to_id", "status")
    )
    states = services.threads_state(conversations)
    marks = team.timeline_marks(conversations)
    out = dict.fromkeys(conversation_ids, "gone")
    for conversation in conversations:
        (rows, attempts), mark = states[conversation.pk], marks[conversation.pk]
        if memo is not None:
            memo[("seen", conversation.pk)] = push.Seen(
                frozenset(rows), (conversation.assigned_to_id, attempts, mark), conversation
            )
        out[conversation.pk] = services.fingerprint_of(conversation, rows, attempts) + "." + mark
    return out


def warm(scopes: Sequence[Scope]) -> None:
    """Read the threads of a round's scopes together, before each scope's own read (which
    then finds its thread's cursor in the round's memo)."""
    memo = watch.round_memo()
    if memo is None:
        return
    wanted = sorted(
        {s.conversation_id for s in scopes if s.conversation_id}
        - {key[1] for key in memo if isinstance(key, tuple) and key[0] == "thread"}
    )
    if wanted:
        for conversation_id, part in _thread_cursors(wanted).items():
            memo[("thread", conversation_id)] = part


def _read(scope: Scope) -> tuple[str, str]:
    if scope.user_id is not None:
        assignment.seen(scope.user_id)
    return cursor_now(scope)


# When the served path last noted each user's presence, by this process's clock.
_noted: dict[int, float] = {}


def _served_read(scope: Scope) -> tuple[str, str]:
    """``_read`` for `zalohub serve`'s one reader, which reads each page every round: the
    presence is written at most every SEEN_EVERY_SECONDS from here (it is kept for
    PRESENCE_SECONDS), not asked of the database each round."""
    if scope.user_id is not None:
        now = time.monotonic()
        if now - _noted.get(scope.user_id, -1e9) >= assignment.SEEN_EVERY_SECONDS:
            assignment.seen(scope.user_id)
            _noted[scope.user_id] = now
    return cursor_now(scope)


def encode(cursor: tuple[str, str]) -> str:
    return "~".join(cursor)


def decode(raw: str) -> tuple[str, str]:
    parts = (raw or "").split("~")
    return (parts[0], parts[1]) if len(parts) == 2 else ("", "")


def _events(
    old: tuple[str, str], new: tuple[str, str], skip: tuple[bool, bool] = (False, False)
) -> str:
    """The events for the parts that moved, but those ``skip`` names (the stream's pushes
    brought their change: ``inbox.push``); the new cursor rides on the last of them."""
    token = encode(new)
    out = ""
    if old[0] != new[0] and not skip[0]:
        out += f"event: list\nid: {token}\ndata: {token}\n\n"
    if old[1] != new[1] and not skip[1]:
        out += f"event: thread\nid: {token}\ndata: {token}\n\n"
    if not out and old != new:
        out = f"id: {token}\n\n"  # the page comes back from here after a break
    return out or ": tick\n\n"  # a comment: finds a closed connection within a tick


# Said before a stream's planned end: the page, back on the next stream (which resumes
# from its last id and says what moved meanwhile), fetches what changed rather than
# drawing its list and thread whole, as it does after a break.
PLANNED_END = "event: end\ndata: planned\n\n"


def blocking_events(scope: Scope, cursor: tuple[str, str]) -> Iterator[str]:
    notifier = get_notifier()
    since = notifier.generation
    deadline = time.monotonic() + settings.INBOX_STREAM_SECONDS
    try:
        yield "retry: 1000\n\n"
        while True:
            new = _read(scope)
            yield _events(cursor, new)
            cursor = new
            if time.monotonic() >= deadline:
                yield PLANNED_END
                return
            since = notifier.wait(since, scope.oa_ids, settings.INBOX_STREAM_TICK_SECONDS)
    finally:
        if not connection.in_atomic_block:
            connection.close()  # the thread served a long stream: give the connection back


def events_for(
    request: object, scope: Scope, cursor: tuple[str, str]
) -> Iterator[str] | AsyncIterator[str]:
    if isinstance(request, ASGIRequest):
        # `zalohub serve`: one reader per process for every open stream (inbox.watch).
        return watch.events(scope, cursor, _served_read, warm)
    return blocking_events(scope, cursor)
