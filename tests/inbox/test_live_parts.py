"""A live page's thread and list in small parts (inbox.live_parts): only what changed since
what the page shows, or "stale" when only drawing it whole will do."""

import re
import time
from datetime import timedelta

from django.core.cache import cache
from django.test import Client
from django.utils import timezone

from zalohub.events.models import Message, ZaloState
from zalohub.inbox import team
from zalohub.inbox.models import Status, TimelineEntry
from zalohub.inbox.present import describe_remaining
from zalohub.inbox.services import Band, reply_window
from zalohub.partners.models import ZaloPartnerLink
from zalohub.sandbox.world import OA_SUPPORT_ID

from .conftest import SON, conversation_of, out_of_order

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


def test_a_customers_message_draws_again_a_top_whose_replies_were_not_free(
    member, agent, customer_writes, sandbox
):
    """Zalo's band is asked when the top is drawn; the key says what the band computed
    here reads. A customer's message opens the free window again: a page whose band said
    replies are not free gets its top drawn again, although the band computed here reads
    the same before and after ("1 day 23 hours": here from an interaction the hub saw half
    an hour ago, as a minute after midnight from the start of the day Zalo's detail gave)."""
    cache.clear()
    now = time.time()
    customer_writes("Tin cũ", stamp=int((now - 8 * 86400) * 1000))
    conversation = conversation_of()
    ZaloPartnerLink.objects.filter(pk=conversation.partner_link_id).update(
        last_interaction_at=timezone.now() - timedelta(minutes=30)
    )
    sandbox.users[OA_SUPPORT_ID][SON]["last_interaction"] = int(now - 8 * 86400)
    client = _client(agent)
    url = f"/inbox/c/{conversation.pk}/thread/"
    page = client.get(url).content.decode()
    assert 'data-band="closed"' in page and 'data-source="zalo"' in page
    assert _computed_here() == (Band.FREE, "1 day 23 hours")
    marks = {**_marks(page), "inbound": _inbound(page)}
    assert "top" not in client.get(url, marks).json()

    sandbox.users[OA_SUPPORT_ID][SON]["last_interaction"] = int(time.time())
    second = customer_writes("Tin mới")
    assert _computed_here() == (Band.FREE, "1 day 23 hours")
    changed = client.get(url, marks).json()
    assert changed["head"] == marks["head"]  # the key alone would not have said
    assert 'data-band="free"' in changed["top"] and 'data-source="zalo"' in changed["top"]
    # Drawn once: with what the new top says, it is not sent again.
    marks.update(after=str(second.pk), base=changed["marks"]["base"])
    marks.update(inbound=_inbound(changed["top"]))
    assert "top" not in client.get(url, marks).json()


def _computed_here() -> tuple[Band, str]:
    window = reply_window(conversation_of())
    return window.band, describe_remaining(window.remaining)


def _inbound(html: str) -> str:
    found = re.search(r'id="reply-window"[^>]* data-inbound="([^"]*)"', html)
    assert found
    return found.group(1)


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


def _order(html: str, *texts: str) -> list[str]:
    """The texts in the order the html shows them (each must be there)."""
    return sorted(texts, key=html.index)


def test_a_message_stored_late_comes_with_the_thread_after_its_place(
    member, agent, customer_writes
):
    client = _client(agent)
    shown = {}

    def page_opens() -> None:
        shown["url"] = f"/inbox/c/{conversation_of().pk}/thread/"
        shown["marks"] = _marks(client.get(shown["url"]).content.decode())

    first, second = out_of_order(customer_writes, page_opens)
    url, marks = shown["url"], shown["marks"]
    changed = client.get(url, marks).json()
    # It should not ask for the whole thread, but draw it again after the first message:
    # the second, then the third, in the first one's group...
    assert changed["stale"] is False and "append" not in changed
    html = changed["tail"]["html"]
    assert changed["tail"]["after"] == first.pk and "Tin một" not in html
    assert _order(html, "Tin ba", "Tin hai") == ["Tin hai", "Tin ba"]
    assert f'data-continues="{first.pk}"' in html and html.count("ib-group-head") == 1
    # ...with the marks the whole thread has now.
    whole = _marks(client.get(url).content.decode())
    assert changed["marks"]["latest"] == second.pk
    assert changed["marks"]["base"] == whole["base"]


def test_a_message_older_than_the_last_shown_is_late_whatever_the_newest_id(
    member, agent, customer_writes
):
    client = _client(agent)
    _, second = out_of_order(customer_writes, lambda: None)
    url = f"/inbox/c/{conversation_of().pk}/thread/"
    # The page shows one, two, three: its newest id (two's) is not its last message.
    marks = _marks(client.get(url).content.decode())
    assert marks["after"] == str(second.pk)
    # Nothing new: nothing to draw (not "stale", which draws the whole thread again).
    assert client.get(url, marks).json()["stale"] is False
    fourth = customer_writes("Tin hai rưỡi", stamp=int(second.created_at.timestamp() * 1000) + 500)
    changed = client.get(url, marks).json()
    # It should go before the third, after the second: not at the end.
    assert "append" not in changed and changed["tail"]["after"] == second.pk
    html = changed["tail"]["html"]
    assert html.index("Tin hai rưỡi") < html.index("Tin ba")
    assert changed["marks"]["latest"] == fourth.pk


def test_a_message_stored_late_brings_the_entries_drawn_after_its_group(
    member, agent, customer_writes
):
    now = int(time.time() * 1000)
    first = customer_writes("Tin một", stamp=now - 60_000)
    conversation = conversation_of()
    note = team.note_add(conversation=conversation, actor=agent, text="Khách quen")
    TimelineEntry.objects.filter(pk=note.pk).update(
        created_at=first.created_at + timedelta(seconds=30)
    )
    customer_writes("Tin ba", stamp=now - 10_000)
    client = _client(agent)
    url = f"/inbox/c/{conversation.pk}/thread/"
    marks = _marks(client.get(url).content.decode())
    # The whole thread: one group (a minute apart), then the note (after its start).
    assert _order(client.get(url).content.decode(), "Tin ba", "Khách quen")[0] == "Tin ba"
    customer_writes("Tin hai", stamp=now - 40_000)  # older than the note, stored later
    changed = client.get(url, marks).json()
    html = changed["tail"]["html"]
    # It should draw the note again after the group, as the whole thread does.
    assert _order(html, "Tin hai", "Tin ba", "Khách quen") == ["Tin hai", "Tin ba", "Khách quen"]
    assert f'data-continues="{first.pk}"' in html


def test_a_message_older_than_the_whole_thread_draws_it_whole(member, agent, customer_writes):
    now = int(time.time() * 1000)
    customer_writes("Tin hai", stamp=now - 1000)
    conversation = conversation_of()
    client = _client(agent)
    url = f"/inbox/c/{conversation.pk}/thread/"
    marks = _marks(client.get(url).content.decode())
    customer_writes("Tin một", stamp=now - 2000)
    assert client.get(url, marks).json() == {"stale": True}


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
