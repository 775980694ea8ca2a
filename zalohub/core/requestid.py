"""One id per request, carried to everything the request causes.

A request takes the proxy's ``X-Request-ID`` when it sends a sane one, else a new id;
the middleware binds it for the request's code, answers it back in ``X-Request-ID`` and
logs one line per request. What the request stores carries it on: a webhook's event
(``ZaloEvent.request_id``) and the sends a page queues; the worker binds an event's id
again while it handles or sends the event, so its log lines and the API logs of its
calls to Zalo (``ApiLog.request_id``) carry the id of the webhook or page that caused
it. Periodic jobs get an id of their own for each run (``bound``).
"""

import contextlib
import contextvars
import logging
import re
import secrets
import time
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.http import HttpRequest, HttpResponseBase

from zalohub.apilog.redact import redact_url

_current: contextvars.ContextVar[str] = contextvars.ContextVar("zalohub_request_id", default="")
# What a proxy may hand over: a uuid, a hex or base64url token, a Heroku/nginx style id.
_SANE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{7,63}")
HEADER = "X-Request-ID"
_META_KEY = "HTTP_X_REQUEST_ID"

request_log = logging.getLogger("zalohub.request")


def new_id() -> str:
    return secrets.token_hex(12)


def current() -> str:
    """The id bound now ("" outside any request, job or event)."""
    return _current.get()


@contextlib.contextmanager
def bound(request_id: str | None = None) -> Iterator[str]:
    """Bind ``request_id`` (a new one when empty) for the code inside."""
    value = request_id or new_id()
    token = _current.set(value)
    try:
        yield value
    finally:
        _current.reset(token)


def from_request(request: HttpRequest) -> str:
    incoming = request.META.get(_META_KEY, "")
    return incoming if _SANE.fullmatch(incoming) else new_id()


class RequestIdMiddleware:
    """Outermost middleware: binds the id, answers it, logs the request's line."""

    sync_capable = True
    async_capable = True

    def __init__(self, get_response: Callable[[HttpRequest], Any]) -> None:
        self.get_response = get_response
        if iscoroutinefunction(get_response):
            markcoroutinefunction(self)

    def __call__(self, request: HttpRequest) -> Any:
        if iscoroutinefunction(self):
            return self.__acall__(request)
        request_id = from_request(request)
        token = _current.set(request_id)
        started = time.perf_counter()
        try:
            response = self.get_response(request)
        finally:
            _current.reset(token)
        return _answered(request, response, request_id, started)

    async def __acall__(self, request: HttpRequest) -> HttpResponseBase:
        request_id = from_request(request)
        token = _current.set(request_id)
        started = time.perf_counter()
        try:
            get_response: Callable[[HttpRequest], Awaitable[HttpResponseBase]] = self.get_response
            response = await get_response(request)
        finally:
            _current.reset(token)
        return _answered(request, response, request_id, started)


def _answered(
    request: HttpRequest, response: HttpResponseBase, request_id: str, started: float
) -> HttpResponseBase:
    response[HEADER] = request_id
    if request_log.isEnabledFor(logging.INFO):
        request_log.info(
            "%s %s %s",
            request.method,
            redact_url(request.get_full_path()),
            response.status_code,
            extra={
                "request_id": request_id,
                "method": request.method,
                "path": redact_url(request.get_full_path()),
                "status": response.status_code,
                "duration_ms": round((time.perf_counter() - started) * 1000, 2),
                "streaming": response.streaming,
            },
        )
    return response
