"""What every Zalo route of the sandbox does first: count the call, fire an armed fault."""

import time
from contextvars import ContextVar

from django.http import HttpRequest, HttpResponse

from zalohub.sandbox.faults import (
    GATEWAY_MODES,
    ErrorStyle,
    Fault,
    fault_response,
    gateway_response,
)
from zalohub.sandbox.state import SandboxState

# The server copies the request's header lines here before WSGI folds "secret_key" and
# "secret-key" into one HTTP_SECRET_KEY; see zalo_header().
RAW_HEADERS_KEY = "zalohub.sandbox.raw_headers"


# A gateway fault fired for the request being served: the route does its work, and the
# server then answers with the gateway's error instead (see answer_after_work).
_gateway_fault: ContextVar[Fault | None] = ContextVar("sandbox_gateway_fault", default=None)


def zalo_call(
    state: SandboxState, route: str, *, app_id: str | None, style: ErrorStyle
) -> HttpResponse | None:
    """Account for one call; the fault's answer if one fires, else None (carry on)."""
    state.record_call(route, app_id or None)
    fault = state.take_fault(route)
    if fault is None:
        return None
    response = fault_response(fault, style)
    if fault.mode in GATEWAY_MODES:
        _gateway_fault.set(fault)
        return None
    if response is None:
        # "timeout": stall past the client's patience, then answer as if nothing happened
        # (the work is done even though the client gave up: a classic double-submit).
        epoch = state.epoch
        time.sleep(fault.delay)
        if state.epoch != epoch:  # the sandbox was reset meanwhile: that world is gone
            return HttpResponse(status=503)
    return response


def zalo_header(request: HttpRequest, name: str) -> str:
    """A header by its exact name as Zalo spells it (``access_token``, ``secret_key``).

    Zalo's auth headers contain underscores. The sandbox only honours that exact spelling,
    so a client that sends ``secret-key`` is caught here rather than by Zalo.
    """
    raw = request.META.get(RAW_HEADERS_KEY)
    if raw is None:  # not served by SandboxServer (e.g. Django's test client)
        return request.headers.get(name, "")
    wanted = name.lower()
    for header, value in raw:
        if header.lower() == wanted:
            return value.strip()
    return ""


def start_request() -> None:
    """Forget any gateway fault of an earlier request served by this thread."""
    _gateway_fault.set(None)


def answer_after_work(response: HttpResponse) -> HttpResponse:
    """The route's answer, or the gateway's error when a gateway fault fired for it."""
    fault = _gateway_fault.get()
    if fault is None:
        return response
    _gateway_fault.set(None)
    return gateway_response(fault)
