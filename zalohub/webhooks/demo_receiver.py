"""The demo's webhook receiver: a small HTTP server on loopback that stands for the
business's ERP. It verifies each delivery with the ``standardwebhooks`` library, as any
receiver would, answers 200 (each webhook-id is taken once), and lists what it got at
its address (GET), newest first."""

import html
import json
import threading
from collections import deque
from collections.abc import Callable
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from standardwebhooks import Webhook, WebhookVerificationError

PATH = "/webhooks"


class DemoReceiver:
    def __init__(self, secrets: Callable[[], list[str]], keep: int = 50) -> None:
        self.secrets = secrets  # read at each delivery: a rotation is followed at once
        self.got: deque[dict[str, Any]] = deque(maxlen=keep)
        self.seen: set[str] = set()
        self.lock = threading.Lock()
        self.server: ThreadingHTTPServer | None = None

    def verify(self, body: bytes, headers: dict[str, str]) -> dict[str, Any] | None:
        for secret in self.secrets():
            try:
                return dict(Webhook(secret).verify(body, headers))
            except WebhookVerificationError:
                continue
        return None

    def take(self, body: bytes, headers: dict[str, str]) -> int:
        payload = self.verify(body, headers)
        webhook_id = headers.get("webhook-id", "")
        with self.lock:
            repeat = webhook_id in self.seen
            self.seen.add(webhook_id)
            self.got.appendleft(
                {
                    "at": datetime.now().strftime("%H:%M:%S"),
                    "id": webhook_id,
                    "type": (payload or {}).get("type", "?"),
                    "verified": payload is not None,
                    "repeat": repeat,
                    "body": body.decode(errors="replace")[:500],
                }
            )
        return 200 if payload is not None else 401

    def page(self) -> bytes:
        with self.lock:
            rows = "".join(
                "<tr><td>{at}</td><td>{type}</td><td><code>{id}</code></td><td>{ok}</td>"
                "<td><code>{body}</code></td></tr>".format(
                    at=g["at"],
                    type=html.escape(g["type"]),
                    id=html.escape(g["id"]),
                    ok=("verified" if g["verified"] else "NOT verified")
                    + (" (again: applied once)" if g["repeat"] else ""),
                    body=html.escape(g["body"]),
                )
                for g in self.got
            )
        return (
            "<!doctype html><meta charset=utf-8><title>Demo ERP receiver</title>"
            "<h1>Demo ERP: webhooks received</h1><table border=1 cellpadding=4>"
            f"<tr><th>at</th><th>type</th><th>webhook-id</th><th>signature</th><th>body</th></tr>"
            f"{rows}</table>"
        ).encode()

    def start(self, host: str = "127.0.0.1", port: int = 8020) -> str:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                status = receiver.take(body, {k.lower(): v for k, v in self.headers.items()})
                answer = json.dumps({"ok": status == 200}).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def do_GET(self) -> None:
                page = receiver.page()
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(page)))
                self.end_headers()
                self.wfile.write(page)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer((host, port), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return f"http://{host}:{self.server.server_address[1]}{PATH}"

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()


def subscription_secrets(url: str) -> Callable[[], list[str]]:
    """The secrets that sign for the demo's subscription to ``url`` right now."""

    def read() -> list[str]:
        from django.db import connection

        from zalohub.webhooks.models import Subscription

        secrets: list[str] = []
        try:
            for sub in Subscription.objects.filter(url=url):
                secrets.append(sub.secret)
                if sub.previous_secret:
                    secrets.append(sub.previous_secret)
        finally:
            connection.close()  # each request has a thread of its own: no connection left
        return secrets

    return read


def demo_subscription(url: str) -> None:
    """The demo's subscription to its receiver (every event), made once."""
    from zalohub.webhooks.models import Subscription
    from zalohub.webhooks.services import subscription_create

    if not Subscription.objects.filter(url=url).exists():
        subscription_create(name="Demo ERP receiver", url=url)
