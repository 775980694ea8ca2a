"""Serve the sandbox over real HTTP on loopback, in a background thread.

The hub reaches the sandbox exactly as it reaches Zalo, through its HTTP client, so the
sandbox runs its own threaded WSGI server with its own URL conf, separate from the hub's.
"""

import contextlib
import ipaddress
import logging
import socket
import threading
from typing import Any, cast
from wsgiref import simple_server

from django.core.handlers.exception import convert_exception_to_response
from django.core.handlers.wsgi import WSGIHandler
from django.core.servers.basehttp import ThreadedWSGIServer, WSGIRequestHandler
from django.http import HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.utils import translation

from zalohub.sandbox.calls import RAW_HEADERS_KEY, answer_after_work, start_request
from zalohub.sandbox.state import SandboxState, get_state, set_state

logger = logging.getLogger(__name__)

URLCONF = "zalohub.sandbox.urls"


class SandboxHandler(WSGIHandler):
    """Django's WSGI handler, on the sandbox's URL conf and without the hub's middleware.

    Zalo sets no session or CSRF cookies and does not check the hub's ALLOWED_HOSTS, so
    none of the hub's middleware belongs in front of it.
    """

    def load_middleware(self, is_async: bool = False) -> None:
        self._view_middleware: list[Any] = []
        self._template_response_middleware: list[Any] = []
        self._exception_middleware: list[Any] = []
        # BaseHandler's own per-request path (what its middleware chain ends in): private,
        # so django-stubs does not declare it.
        inner = convert_exception_to_response(self._get_response)  # type: ignore[attr-defined]

        def chain(request: HttpRequest) -> HttpResponse:
            start_request()
            response = answer_after_work(cast(HttpResponse, inner(request)))  # a sync handler
            # 4xx/5xx answers are the sandbox's job (faults, Zalo errors), not incidents;
            # a crash in a view was already logged, with its traceback, by Django.
            response._has_been_logged = True  # type: ignore[attr-defined]
            if not response.streaming and not response.has_header("Content-Length"):
                # Lets clients keep the connection alive, as CommonMiddleware would.
                response["Content-Length"] = str(len(response.content))
            return response

        self._middleware_chain = chain

    def get_response(self, request: HttpRequest) -> HttpResponseBase:
        request.urlconf = URLCONF
        # The consent page speaks the browser's language, as LocaleMiddleware would.
        with translation.override(translation.get_language_from_request(request)):
            return super().get_response(request)


class _RequestHandler(WSGIRequestHandler):
    def setup(self) -> None:
        super().setup()
        # Headers and body go out in separate writes; without this, Nagle's algorithm
        # and delayed ACKs add ~40 ms to every kept-alive request.
        with contextlib.suppress(OSError):
            # socketserver makes ``connection`` the client's socket; django-stubs types it
            # as the request.
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # type: ignore[attr-defined]

    def get_environ(self) -> dict[str, Any]:
        # Django's handler drops headers whose names contain "_" (anti-spoofing behind a
        # proxy); Zalo's auth headers are "access_token" and "secret_key", so use
        # wsgiref's environ and keep the raw header lines for exact-name lookups.
        environ = simple_server.WSGIRequestHandler.get_environ(self)
        environ[RAW_HEADERS_KEY] = list(self.headers.items())
        return environ

    def log_message(self, format: str, *args: Any) -> None:
        logger.debug("sandbox %s - " + format, self.address_string(), *args)


def check_loopback(host: str) -> None:
    if host == "localhost":
        return
    try:
        loopback = ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if not loopback:
        raise ValueError(f"The sandbox only listens on loopback addresses, not {host!r}.")


class SandboxServer:
    def __init__(self, state: SandboxState | None = None) -> None:
        self.state = state if state is not None else SandboxState()
        self.base_url = ""
        self._httpd: ThreadedWSGIServer | None = None
        self._thread: threading.Thread | None = None

    def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        """Listen on ``host:port`` (0: any free port); return the base URL."""
        if self._httpd is not None:
            raise RuntimeError("This sandbox server is already running.")
        check_loopback(host)
        ipv6 = ":" in host
        httpd = ThreadedWSGIServer((host, port), _RequestHandler, ipv6=ipv6)
        httpd.set_app(SandboxHandler())
        set_state(self.state)
        self._httpd = httpd
        self._thread = threading.Thread(
            target=httpd.serve_forever,
            kwargs={"poll_interval": 0.2},
            name="zalo-sandbox",
            daemon=True,
        )
        self._thread.start()
        bound = httpd.server_address[1]
        self.base_url = f"http://[{host}]:{bound}" if ipv6 else f"http://{host}:{bound}"
        self.state.base_url = self.base_url
        return self.base_url

    def stop(self) -> None:
        httpd, thread = self._httpd, self._thread
        if httpd is None:
            return
        httpd.shutdown()
        httpd.server_close()
        if thread is not None:
            thread.join(timeout=5)
        self._httpd = self._thread = None
        try:
            if get_state() is self.state:
                set_state(None)
        except RuntimeError:
            pass

    def wait(self, timeout: float | None = None) -> None:
        """Block until the server stops (the management command serves this way)."""
        if self._thread is not None:
            self._thread.join(timeout)

    @property
    def running(self) -> bool:
        return self._httpd is not None

    def __enter__(self) -> "SandboxServer":
        if not self.running:
            self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
