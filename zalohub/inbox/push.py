"""What an open page is sent on its stream besides "this changed" (issue 19's latency).

Pages used to learn only *that* their list or thread changed, and each fetched what did
(``live_parts``). With 20 pages and hundreds of customer messages a second those
fetches were most of the web process's time, and a page learnt of a message seconds
late. Now the process's one reader (``watch``) draws each change once a round, for every
page that shows it, and sends it down the streams:

- ``rows``: the list's rows of a set of OAs that changed since the last round, drawn
  once per language whatever a page's filters; each row says its status, assignee and
  OA, and a page keeps the rows its own filters let through (during a search, none: the
  search's matches are the database's to say);
- ``append``: a thread's new customer messages, drawn once per language, with the marks
  they follow; a page whose thread shows exactly those marks appends them.

Everything else (rows when too many changed at once, an agent's own sends with their
Resend form, notes and other timeline entries, receipts, the tab counts, mentions) still
comes from the page's own fetch, which a page that receives pushes makes at most every
INBOX_LIVE_FETCH_SECONDS. A push a page cannot use is dropped: the fetch brings it.
"""

import json
from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from django.db.models import Max, Q
from django.template.loader import render_to_string
from django.utils import timezone, translation

from zalohub.events.models import Direction, Message
from zalohub.inbox import services
from zalohub.inbox.live_parts import LIST_BATCH, THREAD_BATCH, micros, stamp_rows
from zalohub.inbox.models import Conversation, TimelineEntry
from zalohub.inbox.present import group_messages

# A row written in a transaction that began before a round and committed after it carries
# an older ``updated_at``: a round looks this far back (a later commit: the page's fetch).
MARGIN = timedelta(seconds=2)


def sse(event: str, payload: object) -> str:
    return f"event: {event}\ndata: {json.dumps(payload, separators=(',', ':'))}\n\n"


class ListFeed:
    """The rows of some OAs' conversations, as they change."""

    def __init__(self, oa_ids: tuple[int, ...], language: str) -> None:
        self.oa_ids = oa_ids
        self.language = language
        self.since: datetime | None = None
        self.pushed: dict[int, int] = {}  # the rows sent lately: their version

    def advance(self) -> str:
        """The ``rows`` event for what changed since the last call ('' for nothing; the
        first call only sets the start)."""
        now = timezone.now()
        since, self.since = self.since, now
        recent = Conversation.objects.filter(
            oa_id__in=self.oa_ids, updated_at__gt=(since or now) - MARGIN
        )
        if since is None:  # what came before, the pages drew themselves
            self.pushed = {pk: micros(at) for pk, at in recent.values_list("pk", "updated_at")}
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
        if not rows or len(changed) > LIST_BATCH:
            return ""  # too many at once: each page fetches its own
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
        return sse("rows", drawn)


class ThreadFeed:
    """A conversation's new customer messages, as they arrive."""

    def __init__(self, conversation_id: int, language: str) -> None:
        self.conversation_id = conversation_id
        self.language = language
        self.latest: int | None = None  # the newest message id seen
        self.entry = 0  # the newest timeline entry id seen

    def advance(self) -> str:
        return advance_threads([self])[0]

    def take(self, conversation: Conversation, entry: int, rows: list[Message]) -> str:
        """The ``append`` event for the customer's messages in ``rows`` (the thread's
        messages from the last one seen on, oldest first), or '' when there are none or
        the pages must fetch: an agent's send, a timeline entry, a message stored out of
        order, too many."""
        after, entry_before, self.entry = self.latest, self.entry, entry
        if after is None:
            return ""  # its start
        # The pages' last message comes along: the first new one may join its group.
        anchor = next((m for m in rows if m.pk == after), None)
        new = [m for m in rows if m.pk != after]
        if not new:
            return ""
        self.latest = max(m.pk for m in new)
        if self.entry != entry_before or any(m.direction != Direction.INBOUND for m in new):
            return ""
        if anchor is not None and new[0].created_at < anchor.created_at:
            return ""  # stored late, older than what the pages show: its place is above
        with translation.override(self.language):
            name = services.display_name(conversation)
            html = render_to_string(
                "inbox/_messages.html",
                {"groups": group_messages(new, customer=name, after=anchor), "appending": True},
            )
        return sse(
            "append",
            {
                "conversation": conversation.pk,
                "after": after,
                "entry": self.entry,
                "latest": self.latest,
                # What the page's thread_base gains (live_parts.thread_base's counts).
                "count": len(new),
                "blank": sum(1 for m in new if m.text == ""),
                "html": html,
            },
        )


def advance_threads(feeds: Sequence[ThreadFeed]) -> list[str]:
    """Each feed's ``append`` event, in three queries for all of them: their
    conversations, their newest timeline entries, and their messages since the last
    one each has seen (a feed's first round reads where it starts)."""
    ids = {f.conversation_id for f in feeds}
    conversations = Conversation.objects.select_related("partner_link__partner").in_bulk(ids)
    entries = dict(
        TimelineEntry.objects.filter(conversation_id__in=ids)
        .values("conversation_id")
        .annotate(m=Max("pk"))
        .values_list("conversation_id", "m")
    )
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
                feed.latest = None
            return advance_threads(feeds)
        for message in rows:
            by_thread[(message.oa_id, message.zalo_user_id)].append(message)
    out = []
    for feed in feeds:
        conversation = conversations.get(feed.conversation_id)
        if conversation is None:
            out.append("")
            continue
        thread = (conversation.oa_id, conversation.zalo_user_id)
        entry = entries.get(conversation.pk) or 0
        if feed.latest is None:
            feed.latest, feed.entry = latest.get(thread) or 0, entry
            out.append("")
            continue
        mine = [m for m in by_thread[thread] if m.pk >= feed.latest]
        if len(mine) > THREAD_BATCH + 1:
            feed.latest = max(m.pk for m in mine)
            out.append("")
            continue
        out.append(feed.take(conversation, entry, mine))
    return out


Feed = ListFeed | ThreadFeed


def advance(feeds: Sequence[Feed]) -> list[str]:
    """What each feed draws now: the lists one by one, the threads together."""
    threads = [f for f in feeds if isinstance(f, ThreadFeed)]
    drawn = dict(zip(map(id, threads), advance_threads(threads), strict=True)) if threads else {}
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
