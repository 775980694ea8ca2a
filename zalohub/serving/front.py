"""The web tier's one application: streams to async code, everything else to WSGI.

Why this shape (docs/architecture.md, *Deployment shapes*): under a WSGI server every
open inbox page holds a thread for its stream's whole length, so a dozen agents starve
Zalo's webhooks (measured: 22-24 s instead of 0.06 s with 12 pages). Django's ASGI
path holds no thread per stream, but ran webhooks at a third of the WSGI rate here. So
one uvicorn process serves this ASGI application, which sends

- the stream URL (``inbox:events``, read from the URLconf) to Django's ASGI handler:
  the view runs on a thread of its own for a moment, then the stream waits on the
  process's shared reader (``inbox.watch``) holding no thread and no connection;
- Zalo's webhooks to Django's WSGI handler on a bounded pool of threads of their own
  (``serving.bridge``): the webhook path stays the WSGI path that bench/README.md
  measured, and no page, stream or export ever takes one of its threads. With one pool
  for both, a webhook waited in the pool's queue behind the open pages' fetches (each
  tens to hundreds of ms under a flood), and Zalo's sender behind the webhook;
- everything else (pages, probes, static files) to the same handler on a bounded pool
  of threads of its own.

On SIGTERM `zalohub serve` (``serving.command``) stops taking new connections and calls
``drain()``: the streams end at once with an SSE ``retry:`` hint (``core.shutdown``)
instead of running their full length, every response from then on closes its
connection, and the command waits for ``idle`` (nothing in flight: this front counts
its requests itself) before it tells uvicorn to stop.
"""

import asyncio
import os
import threading
from collections.abc import Mapping
from typing import Any

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "zalohub.settings")

import django

django.setup(set_prefix=False)

from django.core.handlers.asgi import ASGIHandler  # noqa: E402
from django.core.handlers.wsgi import WSGIHandler  # noqa: E402
from django.urls import reverse  # noqa: E402

from zalohub.core import shutdown  # noqa: E402
from zalohub.env import envint  # noqa: E402
from zalohub.serving.bridge import Receive, Scope, Send, WsgiBridge  # noqa: E402


def stream_paths() -> frozenset[str]:
    """The URLs served as streams (the front sends only these to async code)."""
    return frozenset({reverse("inbox:events")})


def webhook_prefix() -> str:
    """What the paths of Zalo's webhooks start with (one URL per Zalo app)."""
    sample = reverse("events:webhook", args=["0"])
    prefix = sample[: sample.rindex("/0/") + 1]
    # Nothing else may start so, or it would take the webhooks' threads.
    assert reverse("events:webhook", args=["x"]).startswith(prefix), prefix
    return prefix


# Streams being opened at once in one process: opening one runs Django's middleware and
# the view on a thread, with a pooled connection. Pages reconnect together (after a
# restart, or when streams opened together end together): unbounded, hundreds of
# openings would take every pooled connection the webhooks' threads need.
STREAM_OPENINGS = 4


class Front:
    def __init__(self, *, threads: int, webhook_threads: int) -> None:
        self.asgi = ASGIHandler()
        wsgi = WSGIHandler()
        self.wsgi = WsgiBridge(wsgi, threads=threads)
        self.webhooks = WsgiBridge(wsgi, threads=webhook_threads, name="zalohub-webhook")
        self.streams = stream_paths()
        self.webhook_prefix = webhook_prefix()
        self.openings = asyncio.Semaphore(STREAM_OPENINGS)
        # Requests between their start and their response's last byte (changed on the
        # server's event loop only; ``idle`` is read from the thread that drains).
        self.in_flight = 0
        self.idle = threading.Event()
        self.idle.set()
        self.started = threading.Event()  # the server has started (lifespan startup)

    def drain(self) -> None:
        """End the streams with a retry hint; every response from now on closes its
        connection, so that keep-alive clients go elsewhere. Safe from any thread."""
        shutdown.begin()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "http":
            self.in_flight += 1
            self.idle.clear()
            try:
                path = scope["path"]
                if path in self.streams:
                    await self._stream(scope, receive, _closing_when_draining(send))
                elif path.startswith(self.webhook_prefix):
                    await self.webhooks(scope, receive, _closing_when_draining(send))
                else:
                    await self.wsgi(scope, receive, _closing_when_draining(send))
            finally:
                self.in_flight -= 1
                if not self.in_flight:
                    self.idle.set()
        elif kind == "lifespan":
            await self._lifespan(receive, send)
        # websocket: the hub has none; uvicorn refuses the handshake when we return.

    async def _stream(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Django's ASGI handler, admitted STREAM_OPENINGS at a time until the response
        starts (the view has run); the stream itself then takes no slot."""
        await self.openings.acquire()
        admitted = True

        async def sending(message: Mapping[str, Any]) -> None:
            nonlocal admitted
            if admitted and message["type"] == "http.response.start":
                admitted = False
                self.openings.release()
            await send(message)

        try:
            await self.asgi(scope, receive, sending)
        finally:
            if admitted:
                self.openings.release()

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                self.started.set()
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                # Every response has finished by now (the server waited for them).
                self.wsgi.close()
                self.webhooks.close()
                await send({"type": "lifespan.shutdown.complete"})
                return


def _closing_when_draining(send: Send) -> Send:
    """``send``, adding ``Connection: close`` to a response that starts while the
    process drains (an HTTP/1.1 client then opens its next request elsewhere)."""

    async def sending(message: Mapping[str, Any]) -> None:
        if message["type"] == "http.response.start" and shutdown.draining():
            headers = list(message.get("headers", []))
            if not any(name.lower() == b"connection" for name, _ in headers):
                message = {**message, "headers": [*headers, (b"connection", b"close")]}
        await send(message)

    return sending


# Threads for pages (`zalohub serve --threads`) and for Zalo's webhooks (`--webhook-threads`);
# the streams take none. 10 is uvicorn's own WSGI pool, the one bench/README.md's webhook
# figures were measured on.
application = Front(
    threads=envint("ZALOHUB_WEB_THREADS", 10, minimum=1),
    webhook_threads=envint("ZALOHUB_WEBHOOK_THREADS", 10, minimum=1),
)
