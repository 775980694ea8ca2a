"""A real `zalohub serve` process on loopback against the test database, and the clients
the serving tests drive it with: open inbox streams and signed webhooks over HTTP."""

import contextlib
import http.client
import json
import os
import signal
import socket
import subprocess
import threading
import time
from pathlib import Path

from django.conf import settings
from django.test import Client

from tests.events.workerproc import ZALOHUB, database_url
from tests.helpers import fixture, zalo_signature

HOST = "127.0.0.1"
USER = "7800000000000000101"
MSG_ID = "96d3cdf3af150460909"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def server_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """The environment of a `zalohub serve` against the test's database and settings."""
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "zalohub.settings",
        "DATABASE_URL": database_url(),
        "ZALOHUB_DATA_DIR": str(settings.DATA_DIR),
        "ZALOHUB_ENCRYPTION_KEYS": ",".join(settings.ENCRYPTION_KEYS),
        "ZALOHUB_SECRET_KEY": settings.SECRET_KEY,  # the test's sessions log in there
        "ZALOHUB_INBOX_STREAM_SECONDS": "120",  # longer than any wait below
        "ZALOHUB_INBOX_STREAM_TICK_SECONDS": "0.2",
        "ZALO_OAUTH_BASE_URL": settings.ZALO_OAUTH_BASE_URL,
        "ZALO_OPENAPI_BASE_URL": settings.ZALO_OPENAPI_BASE_URL,
        "ZALO_BUSINESS_BASE_URL": settings.ZALO_BUSINESS_BASE_URL,
        **(extra or {}),
    }


class ServeProc:
    """`zalohub serve` in its own process; its output goes to a log file for the test."""

    def __init__(
        self,
        log_dir: Path,
        *,
        threads: int,
        workers: int = 1,
        extra_env: dict[str, str] | None = None,
        extra_args: tuple[str, ...] = (),
        wait_ready: bool = True,
    ) -> None:
        self.port = free_port()
        self.log = log_dir / f"serve-{self.port}.log"
        args = [str(ZALOHUB), "serve", "--port", str(self.port), "--threads", str(threads)]
        args += ["--workers", str(workers), "--graceful-seconds", "20", *extra_args]
        self._out = self.log.open("wb")
        self.proc = subprocess.Popen(
            args, env=server_env(extra_env), stdout=self._out, stderr=subprocess.STDOUT
        )
        if wait_ready:
            self._wait_ready()

    def _wait_ready(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, self.output()
            with contextlib.suppress(OSError):
                conn = http.client.HTTPConnection(HOST, self.port, timeout=5)
                conn.request("GET", "/healthz")
                if conn.getresponse().status == 200:
                    conn.close()
                    return
            time.sleep(0.1)
        raise AssertionError(f"zalohub serve did not answer: {self.output()}")

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def terminate(self) -> None:
        self.proc.send_signal(signal.SIGTERM)

    def wait(self, timeout: float = 60.0) -> int:
        try:
            return self.proc.wait(timeout)
        finally:
            self._out.close()

    def stop_quietly(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        self._out.close()


def session_cookie(user) -> str:
    client = Client()
    client.force_login(user)
    return client.cookies[settings.SESSION_COOKIE_NAME].value


class StreamReader:
    """One inbox page's stream over a raw socket, read in a thread until it ends."""

    def __init__(self, port: int, cookie: str, query: str = "") -> None:
        self.sock = socket.create_connection((HOST, port), timeout=180)
        request = (
            f"GET /inbox/events/{query} HTTP/1.1\r\nHost: {HOST}\r\n"
            f"Cookie: {settings.SESSION_COOKIE_NAME}={cookie}\r\n"
            "Accept: text/event-stream\r\n\r\n"
        )
        self.sock.sendall(request.encode())
        self.data = b""
        self.ended = threading.Event()
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        try:
            while chunk := self.sock.recv(65536):
                self.data += chunk
        except OSError:
            pass
        finally:
            self.ended.set()

    @property
    def text(self) -> str:
        return self.data.decode(errors="replace")

    def wait_for(self, needle: str, timeout: float = 30.0) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and needle not in self.text:
            if self.ended.is_set():
                break
            time.sleep(0.02)
        return needle in self.text

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.close()


TEXT = "Xin chào, tôi cần báo giá"


def text_event(n: int, *, user: int | None = None, text: str = TEXT) -> str:
    """A customer's text (msg_id ``m-<n>``), one customer per event unless ``user``
    says whose (the customer of event ``user``)."""
    return (
        fixture("user_send_text__official")
        .replace(USER, f"78000000000{n if user is None else user:07d}")
        .replace(MSG_ID, f"m-{n}")
        .replace(TEXT, text)
    )


def send_webhook(
    port: int, app, n: int, timeout: float = 30.0, *, user: int | None = None, text: str = TEXT
) -> int | str:
    """POST event n as Zalo does, on a new connection: the answer's status, "refused"
    when the connection was refused, else "unanswered: <error>" (reset, closed, timeout
    after the request went out)."""
    body = text_event(n, user=user, text=text)
    timestamp = str(json.loads(body).get("timestamp", ""))
    signature = zalo_signature(
        first=app.app_id, raw=body, timestamp=timestamp, key=app.oa_secret_key
    )
    conn = http.client.HTTPConnection(HOST, port, timeout=timeout)
    try:
        conn.connect()
    except ConnectionRefusedError:
        return "refused"
    try:
        conn.request(
            "POST",
            f"/zalo/webhook/{app.app_id}/",
            body=body.encode(),
            headers={
                "Content-Type": "application/json",
                "X-ZEvent-Signature": signature,
                "Connection": "close",
            },
        )
        response = conn.getresponse()
        response.read()
        return response.status
    except (OSError, http.client.HTTPException) as exc:
        return f"unanswered: {type(exc).__name__}"
    finally:
        conn.close()
