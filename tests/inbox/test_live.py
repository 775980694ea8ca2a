"""Live updates: the notifier (in-process and Redis) and the event stream."""

import threading
import time
from urllib.parse import quote

import pytest
import redis
from django.db import connection
from django.test import Client

from zalohub.events.models import Message, ZaloState
from zalohub.events.outbound.oa_message import message_send
from zalohub.inbox import live, stream
from zalohub.inbox.live import LocalNotifier, RedisNotifier
from zalohub.inbox.services import inbox_resend

from .conftest import SON, conversation_of, send_due

REDIS_URL = "redis://127.0.0.1:6379/0"


def test_it_wakes_a_waiter_for_its_oa_only():
    notifier = LocalNotifier()
    start = notifier.generation
    woke: list[int] = []
    waiter = threading.Thread(target=lambda: woke.append(notifier.wait(start, [1], timeout=5)))
    waiter.start()
    notifier.notify(2)  # another OA: keeps waiting
    time.sleep(0.05)
    assert waiter.is_alive()
    notifier.notify(1)
    waiter.join(timeout=5)
    # It should wake the waiter of OA 1 with the new generation.
    assert woke and woke[0] > start


def test_it_gives_up_waiting_after_the_timeout():
    notifier = LocalNotifier()
    # It should return the same generation when nothing happened.
    assert notifier.wait(notifier.generation, None, timeout=0.05) == 0


@pytest.fixture
def redis_available() -> None:
    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1).ping()
    except redis.RedisError:
        pytest.skip("Redis is not running on 127.0.0.1:6379")


def test_it_carries_wake_ups_between_processes_over_redis(redis_available):
    channel = f"zalohub:inbox:test:{time.monotonic_ns()}"
    web, worker = RedisNotifier(REDIS_URL, channel), RedisNotifier(REDIS_URL, channel)
    try:
        assert web.wait_ready() and worker.wait_ready()
        start = web.generation
        # It should wake the web process when the worker process publishes.
        worker.notify(7)
        assert web.wait(start, [7], timeout=5) > start
    finally:
        web.close()
        worker.close()


def test_it_uses_redis_when_a_url_is_set(redis_available, settings):
    settings.REDIS_URL = REDIS_URL
    settings.INBOX_REDIS_CHANNEL = f"zalohub:inbox:test:{time.monotonic_ns()}"
    live.reset_notifier()
    try:
        notifier = live.get_notifier()
        # It should pick the Redis notifier from the settings.
        assert isinstance(notifier, RedisNotifier)
        assert notifier.wait_ready()
        start = notifier.generation
        live.notify(3)
        assert notifier.wait(start, [3], timeout=5) > start
    finally:
        live.reset_notifier()


def _read_events(response) -> str:
    """The whole stream (it ends after INBOX_STREAM_SECONDS)."""
    assert response["Content-Type"] == "text/event-stream"
    return "".join(c.decode() if isinstance(c, bytes) else c for c in response.streaming_content)


def test_it_streams_list_and_thread_changes(member, agent, customer_writes, settings):
    settings.INBOX_STREAM_TICK_SECONDS = 0.05
    settings.INBOX_STREAM_SECONDS = 0.3
    customer_writes("Xin chào")
    conversation = conversation_of()
    scope = stream.Scope(oa_ids=(conversation.oa_id,), conversation_id=conversation.pk)
    cursor = quote(stream.encode(stream.cursor_now(scope)))
    client = Client()
    client.force_login(agent)
    url = f"/inbox/events/?oa={conversation.oa_id}&c={conversation.pk}&cursor={cursor}"
    # It should stay quiet while nothing changed (only comments, so a gone client is noticed).
    quiet = _read_events(client.get(url))
    assert "event: list" not in quiet and "event: thread" not in quiet and ": tick" in quiet
    # It should announce a thread change when a receipt moves a message (a queryset update)...
    message = Message.objects.get()
    Message.objects.filter(pk=message.pk).update(zalo_state=ZaloState.READ)
    moved = _read_events(client.get(url))
    assert "event: thread" in moved and "event: list" not in moved
    # ...and a list change when the conversation changes; the event id is the new cursor.
    customer_writes("Còn đó không?")
    changed = _read_events(client.get(url))
    assert "event: list" in changed
    new_cursor = stream.encode(stream.cursor_now(scope))
    assert f"id: {new_cursor}" in changed


def test_it_shows_our_replies_sent_failed_and_resent_live(
    member, agent, customer_writes, sandbox, settings, django_capture_on_commit_callbacks
):
    settings.INBOX_STREAM_TICK_SECONDS = 0.05
    settings.INBOX_STREAM_SECONDS = 0.2
    customer_writes("Xin chào")
    conversation = conversation_of()
    oa = conversation.oa
    scope = stream.Scope(oa_ids=(oa.pk,), conversation_id=conversation.pk)
    client = Client()
    client.force_login(agent)
    notifier = live.get_notifier()

    def settles(action) -> tuple[int, str]:  # type: ignore[no-untyped-def]
        """Wake-ups of the OA's pages once ``action`` commits, and what the thread hears."""
        cursor = quote(stream.encode(stream.cursor_now(scope)))
        before = notifier.generation
        with django_capture_on_commit_callbacks(execute=True):
            action()
        url = f"/inbox/events/?oa={oa.pk}&c={conversation.pk}&cursor={cursor}"
        return notifier.generation - before, _read_events(client.get(url))

    reply = message_send(oa=oa, user_id=SON, text="Chào anh")
    # It should wake the thread once when Zalo accepts our reply, and show it Sent.
    wakes, heard = settles(send_due)
    assert wakes == 1 and "event: thread" in heard
    reply.refresh_from_db()
    assert reply.zalo_state == ZaloState.SENT
    # ...once when Zalo refuses one, and show it Failed...
    sandbox.add_fault("oa.message.cs", "zalo_error", code=-230, times=1)
    refused = message_send(oa=oa, user_id=SON, text="Anh còn cần gì không?")
    wakes, heard = settles(send_due)
    refused.refresh_from_db()
    assert wakes == 1 and "event: thread" in heard and refused.zalo_state == ZaloState.FAILED
    # ...and once (not twice) when an agent resends it, On Queue again.
    wakes, heard = settles(lambda: inbox_resend(message=refused))
    refused.refresh_from_db()
    assert wakes == 1 and "event: thread" in heard and refused.zalo_state == ZaloState.ON_QUEUE


def test_it_resumes_from_the_last_event_id(member, agent, customer_writes, settings):
    settings.INBOX_STREAM_TICK_SECONDS = 0.05
    settings.INBOX_STREAM_SECONDS = 0.2
    customer_writes()
    conversation = conversation_of()
    scope = stream.Scope(oa_ids=(conversation.oa_id,), conversation_id=conversation.pk)
    current = stream.encode(stream.cursor_now(scope))
    client = Client()
    client.force_login(agent)
    response = client.get(
        f"/inbox/events/?c={conversation.pk}&cursor=stale~stale",
        HTTP_LAST_EVENT_ID=current,
    )
    body = "".join(c.decode() if isinstance(c, bytes) else c for c in response.streaming_content)
    # It should prefer the browser's Last-Event-ID over the page's cursor (nothing moved
    # since), and end saying its end was planned.
    assert "event: list" not in body and "event: thread" not in body
    assert body.startswith("retry:") and body.endswith(stream.PLANNED_END)


def test_it_refuses_the_stream_of_a_foreign_conversation(agent, admin, customer_writes):
    customer_writes()
    client = Client()
    client.force_login(agent)  # not a member
    # It should not stream another OA's conversation (404: nothing is confirmed).
    assert client.get(f"/inbox/events/?c={conversation_of().pk}").status_code == 404


def test_a_rounds_thread_reads_are_read_together(
    member, agent, customer_writes, sandbox, django_assert_max_num_queries
):
    """The served reader reads every open thread of a round in a few statements, and
    each cursor is the one a page's own read gives (a failed send's attempts too)."""
    from zalohub.inbox import watch

    users = [SON, "5830174629118340401", "5830174629118340402"]
    for user in users:
        customer_writes("Chào shop", user_id=user)
    conversations = [conversation_of(user) for user in users]
    # A send Zalo failed waits On Queue: its attempts are part of its thread's cursor.
    failed = message_send(oa=conversations[1].oa, user_id=users[1], text="Dạ")
    Message.objects.filter(pk=failed.pk).update(zalo_state=ZaloState.ON_QUEUE)
    scopes = [
        stream.Scope(oa_ids=(c.oa_id,), conversation_id=c.pk, user_id=agent.pk)
        for c in conversations
    ]
    alone = [stream.cursor_now(scope) for scope in scopes]
    # One list cursor, the conversations (with their labels, for the feeds), their
    # newest messages, their attempts and their timeline marks: on PostgreSQL one
    # statement each; on SQLite (no round trips) a thread's messages one by one.
    statements = 6 if connection.vendor == "postgresql" else 8
    with django_assert_max_num_queries(statements), watch.one_round() as seen:
        stream.warm(scopes)
        together = [stream.cursor_now(scope) for scope in scopes]
    assert together == alone
    assert sorted(seen) == sorted(c.pk for c in conversations)
    assert any(seen[conversations[1].pk].rest[1])  # the failed send's attempts
