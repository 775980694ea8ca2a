"""The web tier's front (``serving.front``) sends Zalo's webhooks to threads of their own:
pages that hold every page thread never make a webhook wait.

Driven in-process as uvicorn drives it (ASGI calls, on an event loop of its own), with
Django's real handlers, the real ingest and the test database; the page threads are held
by a task on their pool."""

import asyncio
import json
import threading
from typing import Any

import pytest
from django.urls import reverse

from tests.core.serveproc import text_event
from tests.helpers import run_on_its_own_loop, zalo_signature
from zalohub.events.models import ZaloEvent
from zalohub.serving.front import Front, webhook_prefix

pytestmark = pytest.mark.django_db(transaction=True)


def _request(front: Front, method: str, path: str, body: bytes = b"", headers=()):  # type: ignore[no-untyped-def]
    """One request through ``front``: (status, body)."""
    scope: dict[str, Any] = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": [
            (b"host", b"127.0.0.1"),
            (b"content-length", str(len(body)).encode()),
            *headers,
        ],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
    }
    answer: dict[str, Any] = {"body": b""}
    sent = False

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if sent:
            await asyncio.Event().wait()  # the client stays connected
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            answer["status"] = message["status"]
        else:
            answer["body"] += message.get("body", b"")

    async def run() -> tuple[int, bytes]:
        await front(scope, receive, send)
        return answer["status"], answer["body"]

    return run()


def test_webhooks_are_answered_while_pages_hold_every_page_thread(zalo_app, connected_oa):
    front = Front(threads=1, webhook_threads=1)
    body = text_event(1).encode()
    timestamp = str(json.loads(body)["timestamp"])
    signature = zalo_signature(
        first=zalo_app.app_id, raw=body.decode(), timestamp=timestamp, key=zalo_app.oa_secret_key
    )
    held, holding = threading.Event(), threading.Event()

    def page_at_work() -> None:  # a page's fetch that takes its time
        holding.set()
        held.wait(60)

    async def scenario() -> None:
        busy = front.wsgi.pool.submit(page_at_work)
        assert holding.wait(10)
        page = asyncio.ensure_future(_request(front, "GET", reverse("healthz")))
        webhook = _request(
            front,
            "POST",
            f"/zalo/webhook/{zalo_app.app_id}/",
            body,
            [(b"content-type", b"application/json"), (b"x-zevent-signature", signature.encode())],
        )
        # With one pool for both, the webhook would wait here behind the page's fetch.
        status, answer = await asyncio.wait_for(webhook, 30)
        assert status == 200, answer
        assert not page.done()  # the page thread is still held: pages do wait their turn
        held.set()
        busy.result(10)
        assert (await asyncio.wait_for(page, 30))[0] == 200

    try:
        run_on_its_own_loop(scenario())
    finally:
        held.set()
        front.wsgi.close()
        front.webhooks.close()
    assert ZaloEvent.objects.filter(dedupe_key="user_send_text:m-1").count() == 1


def test_only_webhook_paths_take_the_webhooks_threads():
    prefix = webhook_prefix()
    assert reverse("events:webhook", args=["4567"]).startswith(prefix)
    for name in ("healthz", "metrics", "inbox:index", "admin:index"):
        assert not reverse(name).startswith(prefix), name
