"""A live page's thread and list in small parts (inbox.live_parts): only what changed since
what the page shows, or "stale" when only drawing it whole will do."""

import re
import time

from django.test import Client

from zalohub.events.models import Message, ZaloState
from zalohub.inbox import team
from zalohub.inbox.models import Status

from .conftest import conversation_of

OTHER = "5830174629118340317"


def _client(user) -> Client:  # type: ignore[no-untyped-def]
    client = Client()
    client.force_login(user)
    return client


def _marks(html: str) -> dict[str, str]:
    """What a whole thread says it shows (the data-* the page sends back)."""
    messages = re.search(r'<div class="ib-messages" id="messages"([^>]*)>', html)
    top = re.search(r'<div id="thread-top" data-head="([^"]*)"', html)
    assert messages and top
    data = dict(re.findall(r'data-([a-z-]+)="([^"]*)"', messages.group(1)))
    return {
        "after": data["latest-id"],
        "first": data["first-id"],
        "entry": data["entry-id"],
        "base": data["base"],
        "head": top.group(1),
    }


def test_the_thread_sends_only_what_is_new(member, agent, customer_writes):
    first = customer_writes("Tin thứ nhất")
    conversation = conversation_of()
    client = _client(agent)
    url = f"/inbox/c/{conversation.pk}/thread/"
    marks = _marks(client.get(url).content.decode())
    # It should answer nothing new while nothing changed, and not draw the top again.
    quiet = client.get(url, marks).json()
    assert quiet["stale"] is False and "append" not in quiet and "top" not in quiet
    assert quiet["marks"]["latest"] == first.pk

    second = customer_writes("Tin thứ hai")
    changed = client.get(url, marks).json()
    # It should send the new message alone, on the group of the page's last one...
    assert "Tin thứ hai" in changed["append"] and "Tin thứ nhất" not in changed["append"]
    assert f'data-continues="{first.pk}"' in changed["append"]
    assert changed["marks"]["latest"] == second.pk
    # ...and mark it read, as the whole thread does.
    assert conversation_of().unread_count == 0
    # With the new marks, nothing is new again.
    marks.update(after=str(second.pk), base=changed["marks"]["base"])
    assert "append" not in client.get(url, marks).json()


def test_the_thread_sends_a_status_change_and_a_moved_bubble(member, agent, customer_writes):
    customer_writes("Xin chào")
    conversation = conversation_of()
    client = _client(agent)
    url = f"/inbox/c/{conversation.pk}/thread/"
    reply = client.post(f"/inbox/c/{conversation.pk}/reply/", {"text": "Dạ chào anh"}).json()
    marks = _marks(client.get(url).content.decode())
    team.conversation_set_status(conversation=conversation, status=Status.RESOLVED, actor=agent)
    Message.objects.filter(pk=reply["message_id"]).update(zalo_state=ZaloState.READ)
    changed = client.get(url, {**marks, "states": f"{reply['message_id']}:pending."}).json()
    # It should append the timeline's entry, draw the top again (its key changed)...
    assert "set the status to Resolved" in changed["append"]
    assert 'id="conversation-status"' in changed["top"] and changed["head"] != marks["head"]
    # ...and the bubble whose Zalo State moved, alone.
    assert list(changed["bubbles"]) == [str(reply["message_id"])]
    assert 'data-status="read"' in changed["bubbles"][str(reply["message_id"])]
    again = client.get(url, {**marks, "states": f"{reply['message_id']}:read."}).json()
    assert again["bubbles"] == {}


def test_the_thread_is_stale_when_what_it_shows_changed(member, agent, customer_writes):
    shown = customer_writes("Số của tôi là 0901234567")
    conversation = conversation_of()
    client = _client(agent)
    url = f"/inbox/c/{conversation.pk}/thread/"
    marks = _marks(client.get(url).content.decode())
    # It should say stale when a message the page shows was emptied (a data removal)...
    Message.objects.filter(pk=shown.pk).update(text="")
    assert client.get(url, marks).json() == {"stale": True}
    # ...or when the page's marks are not the thread's (another page's, made up).
    marks = _marks(client.get(url).content.decode())
    assert client.get(url, marks).json()["stale"] is False
    assert client.get(url, {**marks, "base": "9.9.9.9"}).json() == {"stale": True}


def _rows(html: str) -> dict[str, str]:
    return dict(re.findall(r'data-conversation="(\d+)"[^>]*data-v="(\d+)"', html))


def test_the_list_sends_only_the_rows_that_changed(member, agent, customer_writes):
    customer_writes("Anh Sơn hỏi giá")
    customer_writes("Chị Mai hỏi giá", user_id=OTHER)
    son, mai = conversation_of(), conversation_of(OTHER)
    client = _client(agent)
    whole = client.get("/inbox/list/").content.decode()
    cursor = re.search(r'data-cursor="(\d+)"', whole)
    assert cursor
    versions = ",".join(f"{pk}:{v}" for pk, v in _rows(whole).items())
    marks = {"since": cursor.group(1), "v": versions}
    # It should send no row while none changed, but the parts beside the rows...
    quiet = client.get("/inbox/list/", marks).json()
    assert quiet["rows"] == [] and quiet["remove"] == []
    assert set(quiet["parts"]) == {"oa-nav", "status-tabs", "mentions"}
    time.sleep(0.01)
    customer_writes("Chị Mai hỏi thêm", user_id=OTHER)
    changed = client.get("/inbox/list/", marks).json()
    # ...and only Mai's row when she writes again, with its place in the order.
    assert [row["id"] for row in changed["rows"]] == [mai.pk]
    assert "Chị Mai hỏi thêm" in changed["rows"][0]["html"]
    # A row that leaves the list's filter (Open) is removed.
    team.conversation_set_status(conversation=son, status=Status.RESOLVED, actor=agent)
    left = client.get("/inbox/list/", marks).json()
    assert left["remove"] == [son.pk]
    assert 'id="status-resolved"' in left["parts"]["status-tabs"]
    # A search's rows are drawn whole.
    assert client.get("/inbox/list/", {**marks, "q": "Mai"}).json() == {"stale": True}
