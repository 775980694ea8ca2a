"""What an open page is sent on its stream besides "this changed" (issue 19's latency).

Pages used to learn only *that* their list or thread changed, and each fetched what did
(``live_parts``). With 20 pages and hundreds of customer messages a second those
fetches were most of the web process's time, and a page learnt of a message seconds
late. Now the process's one reader (``watch``) draws each change once a round, for every
page that shows it, and sends it down the streams:

- ``rows``: the list's rows of a set of OAs that changed since the last round, drawn
  once per language whatever a page's filters; each row says its status, assignee and
  OA, and a page keeps the rows its own filters let through (during a search, none: the
  search's matches are the database's to say). Beside them, what the list's other parts
  count: conversations by OA, status and assignee (each page sums its tabs' counts), the
  unread messages by OA, and who has a new mention;
- ``append``: a thread's new customer messages, drawn once per language, with the marks
  they follow; a page whose thread shows exactly those marks appends them. A thread
  open on a page is read: the round marks it so.

Each feed says whether its push *covers* the round's change of its part (``covered``):
then the stream leaves out the ``list`` or ``thread`` event that would make every page
fetch (``watch``). Everything a push does not carry (rows when too many changed at once,
an agent's own sends with their Resend form, notes and other timeline entries, receipts,
a message stored out of order before those) leaves its part uncovered, and the pages
fetch it, at most every INBOX_LIVE_FETCH_SECONDS. A push a page cannot use is dropped: it
fetches. A message stored out of order among the customer's own comes with the thread
from its place on, which the pages draw again there.
"""

import json
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db.models import Count, Max, Q, Sum
from django.template.loader import render_to_string
from django.utils import timezone, translation

from zalohub.events.models import Direction, Message
from zalohub.inbox import services, team
from zalohub.inbox.live_parts import (
    LIST_BATCH,
    THREAD_BATCH,
    head_key,
    last_shown,
    micros,
    stamp_rows,
    thread_order,
    thread_tail,
)
from zalohub.inbox.models import Conversation
from zalohub.inbox.present import group_messages
from zalohub.inbox.team_models import Mention

# A row written in a transaction that began before a round and committed after it carries
# an older ``updated_at``: a round looks this far back (a later commit: the page's fetch).
MARGIN = timedelta(seconds=2)


def sse(event: str, payload: object) -> str:
    return f"event: {event}\ndata: {json.dumps(payload, separators=(',', ':'))}\n\n"


@dataclass(frozen=True)
class Seen:
    """What a round's read of a thread's cursor was drawn from (``stream``): the newest
    messages' (id, Zalo State), and the rest (assignee, waiting attempts, timeline mark)."""

    rows: frozenset[tuple[int, str]]
    rest: tuple[Any, ...]
    # As read then, with its partner and labels (the feed draws from it, not reads it).
    conversation: Conversation | None = None


def counts(oa_ids: tuple[int, ...], after_mention: int) -> dict[str, Any]:
    """What the list's parts count, for every page of these OAs whatever its filters:
    conversations by (OA, status, assignee) and unread messages by OA, in one statement;
    the unread mentions (id, user) after the mention ``after_mention``."""
    groups = (
        Conversation.objects.filter(oa_id__in=oa_ids)
        .order_by()
        .values("oa_id", "status", "assigned_to_id")
        .annotate(n=Count("id"), unread=Sum("unread_count"))
        .values_list("oa_id", "status", "assigned_to_id", "n", "unread")
    )
    tabs, unread = [], dict.fromkeys(oa_ids, 0)
    for oa, status, assignee, n, messages in groups:
        tabs.append([oa, status, assignee, n])
        unread[oa] += messages or 0
    mentioned = Mention.objects.filter(
        pk__gt=after_mention, read_at__isnull=True, entry__conversation__oa_id__in=oa_ids
    ).values_list("pk", "user_id")
    return {
        "tabs": sorted(tabs),
        "unread": {str(oa): n for oa, n in sorted(unread.items())},
        "mentioned": sorted(mentioned),
    }


# Mentions are looked for from this many ids below the newest one told of (a note whose
# transaction committed after a later one's is still told of).
MENTION_WINDOW = 100


class ListFeed:
    """The rows of some OAs' conversations, as they change."""

    def __init__(self, oa_ids: tuple[int, ...], language: str) -> None:
        self.oa_ids = oa_ids
        self.language = language
        self.since: datetime | None = None
        self.pushed: dict[int, int] = {}  # the rows sent lately: their version
        self.mentions: set[int] = set()  # the mentions lately told of
        self.floor = 0  # the newest mention when it started: older ones are old news
        self.covered = False  # the last call's push brought the pages all that changed
        self.window: datetime | None = None  # ... that changed after this (its read's start)

    def advance(self) -> str:
        """The ``rows`` event for what changed since the last call ('' for nothing; the
        first call only sets the start)."""
        now = timezone.now()
        since, self.since = self.since, now
        self.covered = False
        recent = Conversation.objects.filter(
            oa_id__in=self.oa_ids, updated_at__gt=(since or now) - MARGIN
        )
        if since is None:  # what came before, the pages drew themselves
            self.pushed = {pk: micros(at) for pk, at in recent.values_list("pk", "updated_at")}
            self.floor = Mention.objects.aggregate(m=Max("pk"))["m"] or 0  # old news
            return ""
        changed = list(
            recent.select_related("oa", "last_message", "assigned_to", "partner_link__partner")
            .defer("oa__access_token", "oa__refresh_token", "oa__description")
            .order_by("-updated_at")[: LIST_BATCH + 1]
        )
        rows = [c for c in changed if self.pushed.get(c.pk) != micros(c.updated_at)]
        for conversation in rows:
            self.pushed[conversation.pk] = micros(conversation.updated_at)
        oldest = micros(now - MARGIN)  # older versions are not looked at again
        self.pushed = {pk: v for pk, v in self.pushed.items() if v > oldest}
        if len(changed) > LIST_BATCH:
            return ""  # too many at once: each page fetches its own
        self.covered, self.window = True, since - MARGIN
        if not rows:  # (whatever the parts count changes a row: its updated_at)
            return ""
        told = self.mentions
        counted = counts(self.oa_ids, max(self.floor, max(told, default=0) - MENTION_WINDOW))
        # Who has a mention not told of before (the page of each fetches its mentions).
        new = [(pk, user) for pk, user in counted["mentioned"] if pk not in told]
        told = told | {pk for pk, _ in new}
        self.mentions = {pk for pk in told if pk > max(told, default=0) - MENTION_WINDOW}
        counted["mentioned"] = sorted({user for _, user in new})
        with translation.override(self.language):
            shown = [(c, services.display_name(c)) for c in rows]
            stamp_rows(shown)
            drawn = [
                {
                    "id": c.pk,
                    "v": c.live_version,  # type: ignore[attr-defined]
                    "at": c.live_at,  # type: ignore[attr-defined]
                    "status": c.status,
                    "assignee": c.assigned_to_id,
                    "oa": c.oa_id,
                    "html": render_to_string(
                        "inbox/_rows.html",
                        # Page-neutral: the page marks its current row, puts its own
                        # query on the link and drops the OA's name where it shows one OA.
                        {
                            "rows": [(c, name)],
                            "current_id": 0,
                            "query_string": "",
                            "selected_oa": "all",
                        },
                    ).strip(),
                }
                for c, name in shown
            ]
        return sse("rows", {"rows": drawn, "counts": counted})

    def covers(self, cursor: str) -> bool:
        """Whether the last call's push brought pages at list cursor ``cursor`` (the newest
        ``updated_at`` they were told of) every row that moved it: those rows changed
        after it, so within what the call read (a row stored later than that, with an
        older time, would not move the cursor either)."""
        if not self.covered or self.window is None or cursor in ("", "-"):
            return False
        try:
            return datetime.fromisoformat(cursor) >= self.window
        except ValueError:
            return False


class ThreadFeed:
    """A conversation's new customer messages, as they arrive."""

    def __init__(self, conversation_id: int, language: str) -> None:
        self.conversation_id = conversation_id
        self.language = language
        self.latest: int | None = None  # the newest message id seen
        # The thread's last message as its pages show it (by time: a message stored late
        # has a higher id than messages after it); None: to be read.
        self.last: Message | None = None
        self.entry = 0  # the newest timeline entry id seen
        # What its pages know of the thread: the (id, Zalo State) of the messages they
        # were told of, by the cursor's reads and by its pushes, and the rest (Seen).
        self.known: frozenset[tuple[int, str]] = frozenset()
        self.rest: tuple[Any, ...] | None = None
        self.drawn: list[Message] | None = None  # the last push's messages (None: none)
        self.covered = False  # the last round's push brought the pages all that changed

    def advance(self, seen: Seen | None = None) -> str:
        return advance_threads([self], {self.conversation_id: seen} if seen else None)[0]

    def covers(self, cursor: str) -> bool:
        """Whether the last round's push brought its pages all that moved their thread's
        cursor (whatever they were at: what they know is the feed's to say)."""
        return self.covered

    def settle(self, seen: Seen | None, read: Sequence[Message]) -> None:
        """Whether this round's push covers the change the round's cursor read saw:
        nothing but the customer's messages it pushed, and what the pages knew."""
        drawn = self.drawn
        pushed = {(m.pk, m.zalo_state) for m in drawn or ()}
        self.covered = bool(
            seen is not None
            and self.rest is not None
            and drawn is not None
            and seen.rest == self.rest
            and seen.rows <= (self.known | pushed)
        )
        if seen is not None:
            # Pages left uncovered fetch everything there is: what was read is known.
            self.known = seen.rows | {(m.pk, m.zalo_state) for m in read}
            self.rest = seen.rest

    def take(self, conversation: Conversation, entry: int, rows: list[Message]) -> str:
        """The ``append`` event for the customer's messages in ``rows`` (the thread's
        messages from the last one seen on, oldest first), or '' when there are none or
        the pages must fetch: an agent's send, a timeline entry, a message stored out of
        order before either, too many."""
        after, entry_before, self.entry = self.latest, self.entry, entry
        self.drawn = None
        if after is None:
            return ""  # its start
        new = [m for m in rows if m.pk != after]
        if not new:
            self.drawn = [] if self.entry == entry_before else None
            return ""
        # The pages' last message: the first new one may join its group, or be older.
        anchor = self.last if self.last is not None else last_shown(conversation, after)
        self.latest = max(m.pk for m in new)
        self.last = max([*new, *([anchor] if anchor else [])], key=thread_order)
        if self.entry != entry_before or any(m.direction != Direction.INBOUND for m in new):
            return ""
        with translation.override(self.language):
            name = services.display_name(conversation)
            head = head_key(conversation, name)
            if anchor is not None and new[0].created_at < anchor.created_at:
                # Stored late, older than what the pages show: they redraw from its place,
                # when what is redrawn is the customer's alone (an agent's send carries
                # its page's Resend form, an entry its page's forms: those pages fetch).
                found = thread_tail(conversation, new[0], name)
                if (
                    found is None
                    or found.entries
                    or any(m.direction != Direction.INBOUND for m in found.messages)
                ):
                    return ""
                tail: int | None = found.after.pk
                groups = found.items(name)
            else:
                tail, groups = None, group_messages(new, customer=name, after=anchor)
            html = render_to_string("inbox/_messages.html", {"groups": groups, "appending": True})
        self.drawn = new
        return sse(
            "append",
            {
                "conversation": conversation.pk,
                "after": after,
                # Set: the pages keep their thread up to this message and draw ``html``
                # after it (the first pushed is older than messages they show).
                "tail": tail,
                "entry": self.entry,
                "latest": self.latest,
                # Each message, and whether it is blank: what the page's thread_base
                # gains (live_parts.thread_base's counts) for those it adds (a page whose
                # fetch brought it part of the way adds only the rest).
                "messages": [[m.pk, int(m.text == "")] for m in new],
                # The thread's top as it would read now (the reply window reopened):
                # a page whose top reads otherwise fetches it.
                "head": head,
                "html": html,
            },
        )


def advance_threads(
    feeds: Sequence[ThreadFeed], seen: Mapping[int, Seen] | None = None
) -> list[str]:
    """Each feed's ``append`` event, in three queries for all of them: their
    conversations, their newest timeline entries, and their messages since the last
    one each has seen (a feed's first round reads where it starts). ``seen``: what the
    round's cursor reads saw of each thread, by conversation (each feed's ``covered``).
    The threads are open on their pages: those with unread messages are marked read."""
    seen = seen or {}
    ids = {f.conversation_id for f in feeds}
    conversations = {
        cid: found.conversation
        for cid in ids
        if (found := seen.get(cid)) is not None and found.conversation is not None
    }
    if ids - set(conversations):
        conversations.update(
            Conversation.objects.select_related("partner_link__partner")
            .prefetch_related("labels")
            .in_bulk(ids - set(conversations))
        )
    entries = team.last_entries(ids)
    live = [f for f in feeds if f.conversation_id in conversations]
    if not live:
        return [""] * len(feeds)
    threads = Q()
    for feed in live:
        c = conversations[feed.conversation_id]
        threads |= Q(oa_id=c.oa_id, zalo_user_id=c.zalo_user_id, pk__gte=feed.latest or 0)
    starting = [f for f in live if f.latest is None]
    by_thread: dict[tuple[int, str], list[Message]] = defaultdict(list)
    latest: dict[tuple[int, str], int] = {}
    if starting:  # where the new feeds start: their threads' newest message
        firsts = Q()
        for feed in starting:
            c = conversations[feed.conversation_id]
            firsts |= Q(oa_id=c.oa_id, zalo_user_id=c.zalo_user_id)
        newest = (
            Message.objects.filter(firsts).values("oa_id", "zalo_user_id").annotate(m=Max("pk"))
        )
        latest.update({(r["oa_id"], r["zalo_user_id"]): r["m"] for r in newest})
    if len(starting) < len(live):
        cap = THREAD_BATCH * len(live)
        rows = list(
            Message.objects.filter(threads)
            .select_related("sent_by")
            .order_by("created_at", "id")[: cap + 1]
        )
        if len(rows) > cap:  # a flood (a history import): the pages fetch theirs
            for feed in live:
                feed.latest, feed.last = None, None
            return advance_threads(feeds, seen)
        for message in rows:
            by_thread[(message.oa_id, message.zalo_user_id)].append(message)
    out = []
    # Threads to mark read: those unread when the round read them, and those whose feed
    # brings messages now (a customer's, stored after the round read its row).
    unread = {cid for cid, c in conversations.items() if c.unread_count}
    for feed in feeds:
        conversation = conversations.get(feed.conversation_id)
        feed.drawn, mine = None, []
        if conversation is None:
            out.append("")
        elif feed.latest is None:
            thread = (conversation.oa_id, conversation.zalo_user_id)
            feed.latest, feed.entry = latest.get(thread) or 0, entries.get(conversation.pk) or 0
            out.append("")
        else:
            thread = (conversation.oa_id, conversation.zalo_user_id)
            mine = [m for m in by_thread[thread] if m.pk >= feed.latest]
            if any(m.pk > feed.latest for m in mine):
                unread.add(conversation.pk)
            if len(mine) > THREAD_BATCH + 1:
                feed.latest, feed.last = max(m.pk for m in mine), None
                out.append("")
            else:
                out.append(feed.take(conversation, entries.get(conversation.pk) or 0, mine))
        feed.settle(seen.get(feed.conversation_id), mine)
    services.conversations_mark_read(
        conversations[f.conversation_id] for f in live if f.conversation_id in unread
    )
    return out


Feed = ListFeed | ThreadFeed


def advance(feeds: Sequence[Feed], seen: Mapping[int, Seen] | None = None) -> list[str]:
    """What each feed draws now: the threads together (``seen``: what the round's cursor
    reads saw of them), then the lists one by one (they show the threads marked read)."""
    threads = [f for f in feeds if isinstance(f, ThreadFeed)]
    drawn = (
        dict(zip(map(id, threads), advance_threads(threads, seen), strict=True)) if threads else {}
    )
    return [drawn[id(f)] if isinstance(f, ThreadFeed) else f.advance() for f in feeds]


def feed_keys(oa_ids: tuple[int, ...], conversation_id: int | None, language: str) -> list[Any]:
    """The feeds a page of this scope listens to (none without a language: a test's)."""
    if not language:
        return []
    keys: list[Any] = [("list", oa_ids, language)]
    if conversation_id:
        keys.append(("thread", conversation_id, language))
    return keys


def new_feed(key: Any) -> Feed:
    kind, target, language = key
    return ListFeed(target, language) if kind == "list" else ThreadFeed(target, language)
