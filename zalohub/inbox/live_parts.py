"""An open page brought up to date in small parts (issue 19's latency target).

A live wake-up used to make every page fetch and draw its whole conversation list and
its whole thread again; with 20 pages and hundreds of customer messages a second that
was most of the web process's time. Here a page says what it shows and gets only what
changed, still as server-rendered fragments:

- the thread: the messages and timeline entries after the newest it shows, the
  bubbles whose Zalo State moved, and its top (header, status, reply window) only when
  the top's key differs. A message stored out of order (older than messages the page
  shows) comes with the thread from its place on, which the page draws again there.
  When what it shows no longer matches the database (a message or note emptied or
  gone, too much new), the answer is ``stale`` and the page draws the whole thread again;
- the list: the rows whose ``updated_at`` differs from the page's, among those changed
  since its cursor (less a margin for transactions that commit late), the rows that
  left its filter, and the small parts beside it (OAs, status tabs, mentions).
"""

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from django.db.models import Count, Q
from django.http import HttpRequest, QueryDict
from django.template.loader import render_to_string
from django.utils import timezone

from zalohub.events.models import Message
from zalohub.inbox import access, services, team
from zalohub.inbox.models import Conversation, TimelineEntry
from zalohub.inbox.present import describe_remaining, group_messages, same_group
from zalohub.inbox.team_present import thread_items, with_timeline

# More new messages than this, or more changed rows: the page draws everything again.
THREAD_BATCH = 100
LIST_BATCH = 100
# A row written in a transaction that began before the page's cursor and committed after
# it carries an older ``updated_at``: looking this far back finds it.
LIST_MARGIN = timedelta(seconds=10)


def _int(query: QueryDict, name: str) -> int:
    raw = query.get(name, "")
    return int(raw) if raw.isdigit() else 0


def micros(value: datetime | None) -> int:
    return int(value.timestamp() * 1_000_000) if value else 0


# --- the thread ------------------------------------------------------------------------------


def head_key(conversation: Conversation, name: str) -> str:
    """Changes when the thread's top would read differently (the reply window as computed
    here: Zalo's own answer is asked only when the top is drawn)."""
    window = services.reply_window(conversation)
    link = conversation.partner_link
    parts = (
        conversation.zalo_user_id,
        conversation.assigned_to_id,
        conversation.status,
        micros(conversation.snoozed_until),
        tuple(sorted(label.pk for label in conversation.labels.all())),  # (prefetched: push)
        name,
        window.band,
        describe_remaining(window.remaining),
        (link.is_follower, link.is_sensitive, tuple(link.tag_names or [])) if link else None,
    )
    return hashlib.blake2s(repr(parts).encode(), digest_size=8).hexdigest()


def thread_queryset(conversation: Conversation) -> Any:
    """Every message of the conversation's thread (unordered, unsliced)."""
    return Message.objects.filter(oa_id=conversation.oa_id, zalo_user_id=conversation.zalo_user_id)


def thread_order(message: Message) -> tuple[datetime, int]:
    """Where a message is in its thread (as the thread's queries order it)."""
    return (message.created_at, message.pk)


def last_shown(conversation: Conversation, latest: int, first: int = 0) -> Message | None:
    """The last message in time among those up to ``latest`` (by id), which a page shows
    last: a message stored late has a higher id than messages after it."""
    shown = thread_queryset(conversation).filter(pk__gte=first, pk__lte=latest)
    return shown.select_related("sent_by").order_by("-created_at", "-id").first()


def thread_base(conversation: Conversation, first: int, latest: int, entry: int) -> str:
    """What the page's messages (ids first..latest) and timeline entries (up to entry)
    are, in counts that an emptied or removed one changes."""
    shown = thread_queryset(conversation).filter(pk__gte=first, pk__lte=latest)
    counts = shown.aggregate(n=Count("pk"), blank=Count("pk", filter=Q(text="")))
    entries = TimelineEntry.objects.filter(conversation=conversation, pk__lte=entry).aggregate(
        n=Count("pk"), blank=Count("pk", filter=Q(kind=TimelineEntry.Kind.NOTE, text=""))
    )
    return f"{counts['n']}.{counts['blank']}.{entries['n']}.{entries['blank']}"


# How far back a page's thread is looked at for the group a message stored late joins.
TAIL_WALK = 1000


@dataclass
class Tail:
    """The thread from a message stored late (older than messages a page shows) on: the
    page keeps its thread up to the message before it (``after``) and draws ``items``
    after that, the first group joining the one ``after`` ends when it continues it."""

    after: Message
    started_at: datetime  # when the group ``after`` is in starts
    messages: list[Message]  # the late one and all after it, oldest first
    entries: list[TimelineEntry]  # every entry drawn after the group ``after`` is in

    def items(self, customer: str) -> list[Any]:
        groups = group_messages(self.messages, customer=customer, after=self.after)
        if groups and groups[0].continues:
            # Joined to the group before: it is in the thread's order where that one is.
            groups[0].started_at = self.started_at
        return thread_items(groups, self.entries)


def thread_tail(conversation: Conversation, late: Message, customer: str) -> Tail | None:
    """Where a message stored late takes its place, as the whole thread would draw it; or
    None when the page draws the whole thread: the message is older than all of it, or
    the group before it starts too far back, or too much comes after it.

    A thread's groups are drawn one message at a time, each joining the group of the one
    before or starting one: cut after any message, the rest drawn from there is drawn as
    the whole thread draws it. A timeline entry is drawn after the group it follows the
    start of, so those from the start of the group before the cut on are drawn again."""
    messages = thread_queryset(conversation).select_related("sent_by")
    earlier = Q(created_at__lt=late.created_at) | Q(created_at=late.created_at, pk__lt=late.pk)
    before = list(
        messages.filter(earlier)
        .only("created_at", "direction", "sent_by")
        .order_by("-created_at", "-id")[: TAIL_WALK + 1]
    )
    start = 0
    while start + 1 < len(before) and same_group(before[start + 1], before[start], customer):
        start += 1
    if not before or start == TAIL_WALK:
        return None
    since = Q(created_at__gt=late.created_at) | Q(created_at=late.created_at, pk__gte=late.pk)
    tail = list(messages.filter(since).order_by("created_at", "id")[: 2 * THREAD_BATCH + 1])
    started_at = before[start].created_at
    entries = list(
        TimelineEntry.objects.filter(conversation=conversation, created_at__gte=started_at)
        .select_related("actor", "assignee")
        .order_by("created_at", "id")[: THREAD_BATCH + 1]
    )
    if len(tail) > 2 * THREAD_BATCH or len(entries) > THREAD_BATCH:
        return None
    return Tail(after=before[0], started_at=started_at, messages=tail, entries=entries)


def thread_marks(conversation: Conversation, items: list[Any]) -> dict[str, Any]:
    """The data-* of a full thread: what it shows, for the next delta."""
    groups = [item for item in items if not getattr(item, "is_entry", False)]
    ids = [b.message.pk for group in groups for b in group.bubbles]
    entries = [item.entry.pk for item in items if getattr(item, "is_entry", False)]
    first, latest = (min(ids), max(ids)) if ids else (0, 0)
    entry = max(entries) if entries else 0
    return {
        "first_id": first,
        "entry_id": entry,
        "thread_base": thread_base(conversation, first, latest, entry),
    }


def _states(raw: str) -> dict[int, str]:
    out: dict[int, str] = {}
    for pair in raw.split(",")[:THREAD_BATCH]:
        pk, _, key = pair.partition(":")
        if pk.isdigit():
            out[int(pk)] = key
    return out


STALE = {"stale": True}
# The marks a live page adds to its list's or thread's address.
MARKS = ("since", "v", "low", "after", "first", "entry", "base", "states", "head", "ends", "part")


def page_query(request: HttpRequest) -> str:
    """The page's own query string (the rows' links keep it), without the live marks."""
    query = request.GET.copy()
    for mark in MARKS:
        query.pop(mark, None)
    return query.urlencode()


def thread_delta(
    request: HttpRequest, conversation: Conversation, name: str, top: Callable[[], str]
) -> dict[str, Any]:
    """What changed in the thread since the page's marks, or STALE: draw it all again.
    ``top`` draws the thread's top, sent when its key is not the page's."""
    query = request.GET
    changed = _thread_changes(request, conversation, name)
    if changed is None:
        return STALE
    key = head_key(conversation, name)
    # The band the top shows ends then (Zalo's band may differ from the one computed here).
    ends = _int(query, "ends")
    if (
        key != query.get("head", "")
        or (ends and ends <= timezone.now().timestamp() * 1000)
        or _reopened(conversation, query)
    ):
        changed["top"], changed["head"] = top(), key
    return changed


def _reopened(conversation: Conversation, query: QueryDict) -> bool:
    """Whether the page shows a band in which replies are not free (it sends the
    customer's last message it was drawn for, ``inbound``) and the customer has written
    since: a customer's message opens the free window again. The key cannot say so:
    Zalo's band is asked only when the top is drawn, and the band computed here may read
    the same before and after the message (free, "1 day 23 hours" left, counted from the
    start of the day Zalo's user detail gave, a minute after midnight)."""
    shown = query.get("inbound")
    return shown is not None and shown != str(micros(conversation.last_inbound_at))


def _thread_changes(
    request: HttpRequest, conversation: Conversation, name: str
) -> dict[str, Any] | None:
    query = request.GET
    latest, first, entry = _int(query, "after"), _int(query, "first"), _int(query, "entry")
    base = thread_base(conversation, first, latest, entry)
    if base != query.get("base", ""):
        return None
    messages = thread_queryset(conversation).select_related("sent_by")
    new = list(messages.filter(pk__gt=latest).order_by("created_at", "id")[: THREAD_BATCH + 1])
    entries = list(
        TimelineEntry.objects.filter(conversation=conversation, pk__gt=entry)
        .select_related("actor", "assignee")
        .order_by("created_at", "id")[: THREAD_BATCH + 1]
    )
    if len(new) > THREAD_BATCH or len(entries) > THREAD_BATCH:
        return None
    anchor = last_shown(conversation, latest, first) if latest else None
    out: dict[str, Any] = {"stale": False}
    if anchor is not None and new and new[0].created_at < anchor.created_at:
        # Stored late, older than what the page shows: the page redraws from its place.
        tail = thread_tail(conversation, new[0], name)
        if tail is None or any(e.created_at < tail.started_at for e in entries):
            return None
        out["tail"] = {
            "after": tail.after.pk,
            "html": render_to_string(
                "inbox/_messages.html", {"groups": tail.items(name), "appending": True}, request
            ),
        }
    elif new or entries:
        out["append"] = render_to_string(
            "inbox/_messages.html",
            {
                "groups": thread_items(group_messages(new, customer=name, after=anchor), entries),
                "appending": True,
            },
            request,
        )
    if new and conversation.unread_count:
        services.conversation_mark_read(conversation=conversation)
    if entries:
        team.mentions_mark_read(user=request.user, conversation=conversation)
    if new or entries:  # else the page's marks stand, and so does their base
        latest = max([latest, *(m.pk for m in new)])
        entry = max([entry, *(e.pk for e in entries)])
        base = thread_base(conversation, first, latest, entry)
    out["marks"] = {"latest": latest, "entry": entry, "base": base}
    out["bubbles"] = _changed_bubbles(request, conversation, _states(query.get("states", "")))
    return out


def _changed_bubbles(
    request: HttpRequest, conversation: Conversation, shown: dict[int, str]
) -> dict[str, str]:
    if not shown:
        return {}
    rows = list(thread_queryset(conversation).filter(pk__in=list(shown)).select_related("sent_by"))
    # The same bubbles as the full thread's (retry lines, stored images) for these rows.
    drawn = [b for group in group_messages(rows, customer="") for b in group.bubbles]
    return {
        str(b.message.pk): render_to_string("inbox/_bubble.html", {"b": b}, request)
        for b in drawn
        if b.state_key != shown.get(b.message.pk)
    }


def full_thread_items(conversation: Conversation, name: str) -> tuple[list[Message], list[Any]]:
    messages = services.thread_messages(conversation)
    return messages, with_timeline(group_messages(messages, customer=name), conversation)


# --- the list --------------------------------------------------------------------------------


def stamp_rows(rows: list[tuple[Conversation, str]]) -> None:
    """The data-* of each row: its version and its place in the order."""
    for conversation, _name in rows:
        conversation.live_version = micros(conversation.updated_at)  # type: ignore[attr-defined]
        conversation.live_at = micros(conversation.last_message_at)  # type: ignore[attr-defined]


def _versions(raw: str) -> dict[int, int]:
    out: dict[int, int] = {}
    for pair in raw.split(",")[:LIST_BATCH]:
        pk, _, version = pair.partition(":")
        if pk.isdigit() and version.isdigit():
            out[int(pk)] = int(version)
    return out


def _matches(conversation: Conversation, filters: dict[str, Any], user: Any) -> bool:
    if conversation.status != filters["status"]:
        return False
    if filters["scope"] == services.Scope.MINE:
        return conversation.assigned_to_id == user.pk
    if filters["scope"] == services.Scope.UNASSIGNED:
        return conversation.assigned_to_id is None
    return True


def list_delta(
    request: HttpRequest, filters: dict[str, Any], context: dict[str, Any]
) -> dict[str, Any]:
    """The list's rows that changed since the page's cursor, or STALE: draw it all again.
    ``context``: what the rows are drawn with (the list's, without its rows)."""
    query = request.GET
    if filters["q"].strip() or not query.get("since", "").isdigit():
        return STALE  # a search's matches are the database's to say
    now = timezone.now()
    since = datetime.fromtimestamp(int(query["since"]) / 1_000_000, tz=UTC)
    shown = _versions(query.get("v", ""))
    lowest = _int(query, "low")  # the last row's place when the page's list is full
    qs = Conversation.objects.filter(updated_at__gt=since - LIST_MARGIN)
    if filters["oa_id"] is not None:
        qs = qs.filter(oa_id=filters["oa_id"])
    if not access.is_inbox_admin(request.user):
        qs = qs.filter(oa__in=access.visible_oas(request.user))
    recent = list(qs.order_by("-updated_at").values_list("pk", "updated_at")[: LIST_BATCH + 1])
    if len(recent) > LIST_BATCH:
        return STALE
    # Only the rows the page does not show as they are now are read whole (with pushes,
    # most of them are: the stream drew them already).
    news = [pk for pk, at in recent if shown.get(pk) != micros(at)]
    changed = (
        list(
            Conversation.objects.filter(pk__in=news)
            .select_related("oa", "last_message", "assigned_to", "partner_link__partner")
            .defer("oa__access_token", "oa__refresh_token", "oa__description")
            .order_by("-updated_at")
        )
        if news
        else []
    )
    rows, remove = [], []
    for conversation in changed:
        if not _matches(conversation, filters, request.user):
            if conversation.pk in shown:
                remove.append(conversation.pk)
            continue
        if lowest and micros(conversation.last_message_at) < lowest:
            continue  # below the page's last row: the list would not show it
        rows.append((conversation, services.display_name(conversation)))
    stamp_rows(rows)
    drawn = [
        {
            "id": c.pk,
            "at": c.live_at,  # type: ignore[attr-defined]
            "html": render_to_string(
                "inbox/_rows.html", {**context, "rows": [(c, name)]}, request
            ).strip(),
        }
        for c, name in rows
    ]
    parts = {
        "oa-nav": render_to_string("inbox/_oas.html", context, request),
        "status-tabs": render_to_string("inbox/_status_tabs.html", context, request),
        "mentions": render_to_string("inbox/_mentions.html", context, request),
    }
    return {"stale": False, "rows": drawn, "remove": remove, "parts": parts, "cursor": micros(now)}
