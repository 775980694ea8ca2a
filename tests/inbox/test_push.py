"""What the process's reader pushes down the streams (inbox.push): each change drawn
once, in the page's language, with what a page needs to tell whether it fits."""

import json
import re

from django.test import Client
from django.utils import timezone

from zalohub.inbox import live_parts, push
from zalohub.inbox.models import Conversation, Status, TimelineEntry

from .conftest import conversation_of, send_due

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
    rows = _payload(feed.advance(), "rows")
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
    again = _payload(feed.advance(), "rows")
    assert [(r["id"], r["status"]) for r in again] == [(other.pk, Status.RESOLVED)]


def test_a_list_feed_draws_in_its_language(member, agent, customer_writes, connected_oa):
    feed = push.ListFeed((connected_oa.pk,), "vi")
    feed.advance()
    customer_writes("Xin chào")
    html = _payload(feed.advance(), "rows")[0]["html"]
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
    assert (sent["count"], sent["blank"]) == (2, 1)
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
    assert sent["latest"] == later.pk and sent["count"] == 1
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
