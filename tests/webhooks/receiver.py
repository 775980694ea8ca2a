"""A subscriber's endpoint, for real: an HTTP server on loopback that verifies every
delivery with the ``standardwebhooks`` library (as any receiver would) and applies each
webhook-id's effect once, however often it arrives.

A test scripts its answers per delivery: ``answers`` is a list of statuses to give, in
order, to each new webhook-id's tries (the last one repeats); ``hold`` makes the handler
apply the effect and then wait before answering (a worker killed meanwhile never reads
the answer); the webhook-ids in ``slow`` are answered only once ``release`` is set."""

import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from standardwebhooks import Webhook, WebhookVerificationError


@dataclass
class Arrival:
    webhook_id: str
    headers: dict[str, str]
    body: bytes
    verified: bool
    payload: dict[str, Any] | None


@dataclass
class Receiver:
    secret: str = ""
    more_secrets: list[str] = field(default_factory=list)  # other subscriptions' secrets
    answers: list[int] = field(default_factory=lambda: [200])
    hold: threading.Event | None = None  # set: answer held until it is set
    arrivals: list[Arrival] = field(default_factory=list)
    effects: dict[str, int] = field(default_factory=dict)  # webhook-id -> times applied
    tries: dict[str, int] = field(default_factory=dict)
    applied: set[str] = field(default_factory=set)
    held: threading.Event = field(default_factory=threading.Event)  # a request is held
    pause: float = 0.0  # seconds each answer waits (requests overlap meanwhile)
    slow: set[str] = field(default_factory=set)  # webhook-ids answered once ``release`` is set
    release: threading.Event = field(default_factory=threading.Event)
    in_flight: int = 0  # requests being answered now
    most_in_flight: int = 0  # the most answered at once
    lock: threading.Lock = field(default_factory=threading.Lock)
    url: str = ""
    _server: ThreadingHTTPServer | None = None

    def start(self) -> "Receiver":
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                with receiver.lock:
                    receiver.in_flight += 1
                    receiver.most_in_flight = max(receiver.most_in_flight, receiver.in_flight)
                try:
                    status = receiver.take(self)
                    if self.headers.get("webhook-id") in receiver.slow:
                        receiver.release.wait(60)
                    if receiver.pause:
                        time.sleep(receiver.pause)
                finally:
                    with receiver.lock:
                        receiver.in_flight -= 1
                if status is None:
                    return
                body = b'{"ok":true}'
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/hooks/zalohub"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def take(self, handler: BaseHTTPRequestHandler) -> int | None:
        body = handler.rfile.read(int(handler.headers.get("Content-Length") or 0))
        headers = {k.lower(): v for k, v in handler.headers.items()}
        webhook_id = headers.get("webhook-id", "")
        payload, verified = None, False
        for secret in [self.secret, *self.more_secrets]:
            try:
                payload, verified = Webhook(secret).verify(body, headers), True
                break
            except WebhookVerificationError:
                continue
        with self.lock:
            self.arrivals.append(Arrival(webhook_id, headers, body, verified, payload))
            number = self.tries.get(webhook_id, 0)
            self.tries[webhook_id] = number + 1
            status = self.answers[min(number, len(self.answers) - 1)]
            holding = self.hold is not None and not self.hold.is_set()
            if verified and (200 <= status < 300 or holding) and webhook_id not in self.applied:
                # The event's effect, once per webhook-id: the receiver deduplicates.
                self.applied.add(webhook_id)
                self.effects[webhook_id] = self.effects.get(webhook_id, 0) + 1
        if holding:
            assert self.hold is not None
            self.held.set()
            self.hold.wait(60)
            return None  # no answer: the connection just ends
        return status

    def of_type(self, event_type: str) -> list[Arrival]:
        return [a for a in self.arrivals if a.payload and a.payload.get("type") == event_type]

    def stop(self) -> None:
        self.release.set()
        if self.hold is not None:
            self.hold.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()


def body_of(arrival: Arrival) -> dict[str, Any]:
    return json.loads(arrival.body)


def run_deliveries(*, own_thread: bool = False):  # type: ignore[no-untyped-def]
    """A generator for a fixture: yields ``deliver(n=50)``, which does what a
    worker's delivery loop does (``Deliverer.once``) until it has nothing in hand and
    nothing is due (at most 10 x ``n`` rounds), and returns how many deliveries it
    settled.
    ``own_thread``: in a thread of its own, as the worker does (a browser test's thread
    runs Playwright's event loop)."""
    from concurrent.futures import ThreadPoolExecutor

    from zalohub.webhooks.tasks import Deliverer

    pool = ThreadPoolExecutor(max_workers=1) if own_thread else None
    deliverer = pool.submit(Deliverer).result() if pool else Deliverer()

    def rounds(n: int) -> int:
        before = deliverer.settled
        for _ in range(10 * n):
            if not deliverer.once("test-worker"):
                break
        deliverer.drain("test-worker", timeout=30)
        return deliverer.settled - before

    def deliver(n: int = 50) -> int:
        return pool.submit(rounds, n).result() if pool else rounds(n)

    yield deliver
    if pool:
        pool.submit(deliverer.close).result()
        pool.submit(_close_connection).result()
        pool.shutdown()
    else:
        deliverer.close()


def _close_connection() -> None:
    import contextlib

    from django.db import DatabaseError, connection

    # SQLite under the live server: the test's own connection, shared, stays open.
    with contextlib.suppress(DatabaseError):
        connection.close()
