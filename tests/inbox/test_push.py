"""What the process's reader pushes down the streams (inbox.push): each change drawn
once, in the page's language, with what a page needs to tell whether it fits."""

import json
import re
import time
from datetime import timedelta

import pytest
from django.db import connection
from django.test import Client
from django.utils import timezone

from tests.helpers import held_elsewhere
from zalohub.events.models import Message, ZaloState
from zalohub.inbox import live_parts, push, services, stream, team, watch
from zalohub.inbox.models import Conversation, Status, TimelineEntry

from .conftest import conversation_of, out_of_order, send_due

OTHER = "5830174629118340317"


def _payload(event: str, kind: str):  # type: ignore[no-untyped-def]
    assert event.startswith(f"event: {kind}\ndata: ") and event.endswith("\n\n"), event
    return json.loads(event.split("data: ", 1)[1])


def test_a_list_feed_sends_each_changed_row_once(member, agent, customer_writes, connected_oa):
    customer_writes("Trước khi mở trang")
    feed = push.ListFeed((connected_oa.pk,), "en")
    # Its first round only sets where it starts: what came before, the page drew itself.
    assert feed.advance() == ""
    customer_writes("Chào shop", user_id=OTHER)
    rows = _payload(feed.advance(), "rows")["rows"]
    other = conversation_of(OTHER)
    assert [r["id"] for r in rows] == [other.pk]
    row = rows[0]
    assert row["status"] == Status.OPEN and row["assignee"] is None
    assert row["oa"] == connected_oa.pk
    assert row["v"] == live_parts.micros(other.updated_at)
    assert "Chào shop" in row["html"] and "Unassigned" in row["html"]
    # Page-neutral: no page's query on the link, no current mark; the OA's name apart.
    assert f'href="/inbox/c/{other.pk}/?"' in row["html"] and "current" not in row["html"]
    assert f'<span class="ib-row-oa">{connected_oa.name} · </span>' in row["html"]
    # It should not send a row again while it has not changed...
    assert feed.advance() == ""
    # ...and send it again when it does.
    Conversation.objects.filter(pk=other.pk).update(
        status=Status.RESOLVED, updated_at=timezone.now()
    )
    again = _payload(feed.advance(), "rows")["rows"]
    assert [(r["id"], r["status"]) for r in again] == [(other.pk, Status.RESOLVED)]


def test_a_list_feed_draws_in_its_language(member, agent, customer_writes, connected_oa):
    feed = push.ListFeed((connected_oa.pk,), "vi")
    feed.advance()
    customer_writes("Xin chào")
    html = _payload(feed.advance(), "rows")["rows"][0]["html"]
    assert "Chưa phân công" in html and "Unassigned" not in html


def test_a_list_feed_leaves_too_many_changes_to_the_pages(
    member, agent, customer_writes, connected_oa, monkeypatch
):
    monkeypatch.setattr(push, "LIST_BATCH", 1)
    feed = push.ListFeed((connected_oa.pk,), "en")
    feed.advance()
    customer_writes("Một")
    customer_writes("Hai", user_id=OTHER)
    assert feed.advance() == ""  # each page fetches its own list
    assert not feed.covered  # so the stream tells them to


def test_a_list_feed_sends_only_its_oas(member, agent, customer_writes, other_oa):
    feed = push.ListFeed((other_oa.pk,), "en")
    feed.advance()
    customer_writes("Xin chào")
    assert feed.advance() == ""


def test_a_thread_feed_sends_the_customers_new_messages(member, agent, customer_writes):
    first = customer_writes("Tin thứ nhất")
    conversation = conversation_of()
    feed = push.ThreadFeed(conversation.pk, "en")
    assert feed.advance() == ""  # its start
    second = customer_writes("Tin thứ hai")
    third = customer_writes("")  # a blank text counts as the page's base counts it
    sent = _payload(feed.advance(), "append")
    assert sent["conversation"] == conversation.pk
    assert (sent["after"], sent["latest"], sent["entry"]) == (first.pk, third.pk, 0)
    assert sent["messages"] == [[second.pk, 0], [third.pk, 1]]
    assert "Tin thứ hai" in sent["html"] and "Tin thứ nhất" not in sent["html"]
    assert f'data-continues="{first.pk}"' in sent["html"]
    assert second.pk < third.pk
    assert feed.advance() == ""

    # What a page with the first message adds up is what the thread says it shows now.
    client = Client()
    client.force_login(agent)
    html = client.get(f"/inbox/c/{conversation.pk}/thread/").content.decode()
    base = re.search(r'data-base="([^"]*)"', html)
    assert base
    counts = [int(n) for n in base.group(1).split(".")]
    assert counts[:2] == [3, 1]
    # Its top as the thread draws it now: a page whose top reads otherwise fetches it.
    assert f'data-head="{sent["head"]}"' in html
    assert live_parts.thread_base(conversation, first.pk, first.pk, 0) == "1.0.0.0"


def test_a_thread_feed_leaves_sends_and_notes_to_the_pages(
    member, agent, customer_writes, sandbox, connected_oa
):
    customer_writes("Xin chào")
    conversation = conversation_of()
    feed = push.ThreadFeed(conversation.pk, "en")
    feed.advance()
    client = Client()
    client.force_login(agent)
    # An agent's send carries its Resend form (the page's own token): the page fetches it.
    response = client.post(f"/inbox/c/{conversation.pk}/reply/", {"text": "Dạ, shop nghe"})
    assert response.json()["ok"] is True, response.content
    send_due()
    assert feed.advance() == ""
    # A note is a timeline entry: the page fetches it too, and the feed moves past both.
    TimelineEntry.objects.create(
        conversation=conversation, kind=TimelineEntry.Kind.NOTE, actor=agent, text="ghi chú"
    )
    assert feed.advance() == ""
    later = customer_writes("Cảm ơn")
    sent = _payload(feed.advance(), "append")
    assert sent["latest"] == later.pk and sent["messages"] == [[later.pk, 0]]
    assert sent["entry"] == TimelineEntry.objects.get(kind=TimelineEntry.Kind.NOTE).pk


def test_thread_feeds_advance_together(member, agent, customer_writes, monkeypatch):
    customer_writes("Một")
    customer_writes("Hai", user_id=OTHER)
    one, two = conversation_of(), conversation_of(OTHER)
    feeds = [push.ThreadFeed(one.pk, "en"), push.ThreadFeed(two.pk, "vi")]
    assert push.advance_threads(feeds) == ["", ""]
    later = customer_writes("Ba"), customer_writes("Bốn", user_id=OTHER)
    sent = [_payload(event, "append") for event in push.advance_threads(feeds)]
    # Each thread gets its own customer's message alone.
    assert [(s["conversation"], s["latest"]) for s in sent] == [
        (one.pk, later[0].pk),
        (two.pk, later[1].pk),
    ]
    assert "Ba" in sent[0]["html"] and "Bốn" not in sent[0]["html"]
    # A flood (more than the feeds could draw): no push, and each feed starts over
    # from its thread's newest message, which the pages fetch.
    monkeypatch.setattr(push, "THREAD_BATCH", 1)
    flood = [customer_writes(f"Tin {n}") for n in range(3)]
    assert push.advance_threads(feeds) == ["", ""]
    assert feeds[0].latest == flood[-1].pk and feeds[1].latest == later[1].pk


def test_a_message_stored_late_is_pushed_with_the_thread_after_its_place(
    member, agent, customer_writes
):
    feeds = []

    def page_opens() -> None:
        feeds.append(push.ThreadFeed(conversation_of().pk, "en"))
        feeds[0].advance()  # its start

    first, second = out_of_order(customer_writes, page_opens)
    feed = feeds[0]
    sent = _payload(feed.advance(), "append")
    # It should push the thread after the first message, the second before the third,
    # in the first one's group; the page adds the second alone to what it counts.
    assert sent["tail"] == first.pk and sent["messages"] == [[second.pk, 0]]
    html = sent["html"]
    assert "Tin một" not in html and html.index("Tin hai") < html.index("Tin ba")
    assert f'data-continues="{first.pk}"' in html
    assert feed.latest == second.pk
    # One older than the pages' last message is late, though newer than their newest id
    # (the second's): it goes after the second, before the third.
    between = customer_writes("Tin hai rưỡi", stamp=int(second.created_at.timestamp() * 1000) + 500)
    sent = _payload(feed.advance(), "append")
    assert sent["tail"] == second.pk and sent["messages"] == [[between.pk, 0]]
    assert sent["html"].index("Tin hai rưỡi") < sent["html"].index("Tin ba")
    # An ordinary push says so (the pages append), after the pages' last message.
    later = customer_writes("Tin bốn")
    sent = _payload(feed.advance(), "append")
    assert sent["tail"] is None and feed.latest == later.pk
    assert f'data-continues="{Message.objects.get(text="Tin ba").pk}"' in sent["html"]


def test_a_message_stored_late_before_an_agents_reply_is_left_to_the_pages(
    member, agent, customer_writes
):
    now = int(time.time() * 1000)
    customer_writes("Tin một", stamp=now - 3000)
    conversation = conversation_of()
    client = Client()
    client.force_login(agent)
    response = client.post(f"/inbox/c/{conversation.pk}/reply/", {"text": "Dạ shop nghe"})
    assert response.json()["ok"] is True, response.content
    send_due()
    feed = push.ThreadFeed(conversation.pk, "en")
    feed.advance()
    # Drawn after its place, the agent's reply would need the page's own Resend form.
    late = customer_writes("Tin hai", stamp=now - 2000)
    assert feed.advance() == "" and feed.latest == late.pk


def test_a_list_feed_sends_what_the_lists_parts_count(
    member, agent, customer_writes, connected_oa, other_oa
):
    feed = push.ListFeed((connected_oa.pk, other_oa.pk), "en")
    feed.advance()
    assert not feed.covered  # its start: the pages drew themselves
    customer_writes("Một")
    customer_writes("Hai", user_id=OTHER)
    customer_writes("Ba", user_id=OTHER)
    counts = _payload(feed.advance(), "rows")["counts"]
    assert feed.covered
    oa = connected_oa.pk
    assert counts["tabs"] == [[oa, Status.OPEN, None, 2]]
    assert counts["unread"] == {str(oa): 3, str(other_oa.pk): 0}
    assert counts["mentioned"] == []
    # Each page sums its own tabs from them: by OA, status and assignee.
    mine = conversation_of()
    Conversation.objects.filter(pk=mine.pk).update(
        assigned_to=agent, status=Status.PENDING, updated_at=timezone.now()
    )
    counts = _payload(feed.advance(), "rows")["counts"]
    assert counts["tabs"] == [[oa, Status.OPEN, None, 1], [oa, Status.PENDING, agent.pk, 1]]
    # A colleague named in a note is told once (their page fetches its mentions).
    colleague = _colleague(connected_oa)
    team.note_add(conversation=mine, actor=agent, text=f"@{colleague.username} xem giúp")
    counts = _payload(feed.advance(), "rows")["counts"]
    assert counts["mentioned"] == [colleague.pk]
    assert feed.advance() == "" and feed.covered  # nothing new: nothing sent


def _colleague(oa):  # type: ignore[no-untyped-def]
    from tests.conftest import _person
    from zalohub.core.roles import CS_AGENT
    from zalohub.inbox.models import OAMembership

    colleague = _person("colleague", [CS_AGENT])
    OAMembership.objects.create(user=colleague, oa=oa)
    return colleague


def _round(feed: push.ThreadFeed, between=None):  # type: ignore[no-untyped-def]
    """One round of the served reader for a page on the feed's thread: its cursor read
    (what it saw of the thread), ``between()``, then the feed: (event, covered)."""
    scope = stream.Scope(oa_ids=(), conversation_id=feed.conversation_id)
    with watch.one_round() as seen:
        stream.cursor_now(scope)
    if between:
        between()
    event = push.advance([feed], seen)[0]
    return event, feed.covered


def test_a_thread_feed_covers_only_what_it_pushed(
    member, agent, customer_writes, sandbox, connected_oa
):
    customer_writes("Xin chào")
    conversation = conversation_of()
    feed = push.ThreadFeed(conversation.pk, "en")
    assert _round(feed) == ("", False)  # its start
    customer_writes("Tin mới")
    event, covered = _round(feed)
    assert "Tin mới" in _payload(event, "append")["html"] and covered
    assert _round(feed) == ("", True)  # nothing new
    # A message stored between the round's cursor read and its feed: pushed, covered,
    # and the next round's read (which sees it) is covered too.
    event, covered = _round(feed, between=lambda: customer_writes("Giữa chừng"))
    assert "Giữa chừng" in _payload(event, "append")["html"] and covered
    assert _round(feed) == ("", True)
    # An agent's send is not pushed: the pages fetch it.
    client = Client()
    client.force_login(agent)
    response = client.post(f"/inbox/c/{conversation.pk}/reply/", {"text": "Dạ"})
    assert response.json()["ok"] is True, response.content
    send_due()
    assert _round(feed) == ("", False)
    assert _round(feed) == ("", True)
    # Nor a receipt (its Zalo State moves), a note, a new assignee.
    sent = Message.objects.get(text="Dạ")
    Message.objects.filter(pk=sent.pk).update(zalo_state=ZaloState.READ)
    assert _round(feed) == ("", False)
    team.note_add(conversation=conversation, actor=agent, text="ghi chú")
    assert _round(feed) == ("", False)
    held = conversation_of().assigned_to_id  # the agent's reply may have taken it
    Conversation.objects.filter(pk=conversation.pk).update(assigned_to=None if held else agent)
    assert _round(feed) == ("", False)
    later = customer_writes("Cảm ơn")
    event, covered = _round(feed)
    assert _payload(event, "append")["latest"] == later.pk and covered


def test_a_thread_open_on_a_page_is_read(member, agent, customer_writes):
    customer_writes("Một")
    conversation = conversation_of()
    feed = push.ThreadFeed(conversation.pk, "en")
    _round(feed)
    customer_writes("Hai")
    customer_writes("Ba", user_id=OTHER)
    assert conversation_of().unread_count > 0
    _round(feed)
    assert conversation_of().unread_count == 0
    assert conversation_of(OTHER).unread_count == 1  # no page shows it


def test_a_message_stored_after_the_rounds_read_of_its_thread_is_read_too(
    member, agent, customer_writes
):
    """The round read the conversation with nothing unread; a customer's message stored
    just after is pushed to the page, so the thread is read (it stayed unread until some
    later message, with the pages no longer drawing their threads whole)."""
    customer_writes("Một")
    conversation = conversation_of()
    feed = push.ThreadFeed(conversation.pk, "en")
    _round(feed)
    _round(feed)
    assert conversation_of().unread_count == 0
    event, _ = _round(feed, between=lambda: customer_writes("Hai"))
    assert "Hai" in _payload(event, "append")["html"]
    assert conversation_of().unread_count == 0


def test_a_list_feed_covers_pages_whose_cursor_lies_within_what_it_read(
    member, agent, customer_writes, connected_oa
):
    customer_writes("Một")
    oas = (connected_oa.pk,)
    at = stream._list_cursor(oas)  # what a page was last told
    feed = push.ListFeed(oas, "en")
    feed.advance()
    assert not feed.covers(at)  # its start
    customer_writes("Hai", user_id=OTHER)
    assert feed.advance() and feed.covers(at)
    # A page told of a time before the feed's read began may lack a row stored since
    # then with an older time (a late commit): it fetches.
    assert not feed.covers((timezone.now() - timedelta(minutes=5)).isoformat())
    assert not feed.covers("-")  # nothing then: it cannot tell


@pytest.mark.django_db(transaction=True)
def test_marking_threads_read_passes_over_a_row_held_elsewhere(member, agent, customer_writes):
    """The reader's mark never waits on a conversation a worker's transaction holds (two
    such waits, each holding what the other wants, were PostgreSQL deadlocks)."""
    if connection.vendor != "postgresql":
        pytest.skip("row locks are PostgreSQL's; SQLite has one writer at a time anyway")
    customer_writes("Một")
    customer_writes("Hai", user_id=OTHER)
    held, free = conversation_of(), conversation_of(OTHER)

    def hold() -> None:  # a worker storing the first customer's next message
        list(Conversation.objects.select_for_update().filter(pk=held.pk).values_list("pk"))

    with held_elsewhere(hold):
        assert services.conversations_mark_read([held, free]) == 1
    assert conversation_of().unread_count == 1 and conversation_of(OTHER).unread_count == 0
    assert services.conversations_mark_read([conversation_of()]) == 1  # the next round
