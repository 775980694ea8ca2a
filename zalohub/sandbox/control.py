"""JSON control endpoints under ``/_sandbox/``: look inside, reset, break, move the clock.

They are for tests and the demo on the same machine: never counted, never faulted, and
refused to anything but a loopback client.
"""

import ipaddress
import json
from collections.abc import Callable
from functools import wraps
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt

from zalohub.sandbox import responses
from zalohub.sandbox.faults import route_matches
from zalohub.sandbox.state import SandboxState, get_state

ControlView = Callable[..., HttpResponse]  # (request, state, **url_kwargs)


class BadRequest(Exception):
    pass


def _is_loopback(address: str) -> bool:
    try:
        return ipaddress.ip_address(address.split("%")[0]).is_loopback
    except ValueError:
        return False


def control(*methods: str) -> Callable[[ControlView], Callable[..., HttpResponse]]:
    def decorate(view: ControlView) -> Callable[..., HttpResponse]:
        @csrf_exempt
        @wraps(view)
        def wrapper(request: HttpRequest, **kwargs: Any) -> HttpResponse:
            if not _is_loopback(request.META.get("REMOTE_ADDR", "")):
                return responses.json(
                    {"error": _("The sandbox's controls are loopback only.")}, status=403
                )
            if request.method not in methods:
                return responses.json({"error": _("Method not allowed.")}, status=405)
            try:
                return view(request, get_state(), **kwargs)
            except BadRequest as exc:
                return responses.json({"error": str(exc)}, status=400)

        return wrapper

    return decorate


def _body(request: HttpRequest) -> dict[str, Any] | None:
    if not request.body.strip():
        return None
    try:
        body = json.loads(request.body)
    except ValueError:
        raise BadRequest(_("The request body is not valid JSON.")) from None
    if not isinstance(body, dict):
        raise BadRequest(_("The request body must be a JSON object."))
    return body


@control("GET")
def state_view(request: HttpRequest, state: SandboxState) -> HttpResponse:
    return responses.json(state.snapshot())


@control("POST")
def reset_view(request: HttpRequest, state: SandboxState) -> HttpResponse:
    """Body: a world (see world.py), or nothing for the demo world."""
    try:
        state.reset(_body(request))
    except ValueError as exc:
        raise BadRequest(_("The world was refused: %(reason)s") % {"reason": exc}) from None
    return responses.json({"reset": True, "now": state.now()})


@control("GET", "POST", "DELETE")
def faults_view(request: HttpRequest, state: SandboxState) -> HttpResponse:
    if request.method == "DELETE":
        state.clear_faults()
    elif request.method == "POST":
        spec = _body(request) or {}
        allowed = {"endpoint", "mode", "code", "message", "times", "delay", "retry_after"}
        if set(spec) - allowed or not spec.get("endpoint") or not spec.get("mode"):
            raise BadRequest(
                _("A fault needs endpoint and mode, and may have: %(fields)s.")
                % {"fields": ", ".join(sorted(allowed))}
            )
        try:
            fault = state.add_fault(spec.pop("endpoint"), spec.pop("mode"), **spec)
        except (TypeError, ValueError) as exc:
            raise BadRequest(str(exc)) from None
        return responses.json(fault.as_dict(), status=201)
    with state.lock:
        return responses.json({"faults": [f.as_dict() for f in state.faults]})


@control("POST")
def clock_view(request: HttpRequest, state: SandboxState) -> HttpResponse:
    seconds = (_body(request) or {}).get("advance_seconds")
    if not isinstance(seconds, int | float) or isinstance(seconds, bool):
        raise BadRequest(_('Send {"advance_seconds": N}.'))
    now = state.advance_clock(seconds)
    return responses.json({"now": now, "clock_offset": state.clock_offset})


@control("GET")
def calls_view(request: HttpRequest, state: SandboxState) -> HttpResponse:
    """Optional ``?prefix=oauth.access_token`` narrows the list (dotted-segment prefix)."""
    prefix = request.GET.get("prefix", "*")
    with state.lock:
        calls = [c._asdict() for c in state.calls if route_matches(prefix, c.route)]
    return responses.json({"count": len(calls), "calls": calls})


@control("POST")
def tokens_view(request: HttpRequest, state: SandboxState) -> HttpResponse:
    """Mint a token pair for ``{"app_id", "oa_id"}``, as Zalo's API Explorer does."""
    body = _body(request) or {}
    try:
        pair = state.mint_tokens(str(body.get("app_id", "")), str(body.get("oa_id", "")))
    except ValueError as exc:
        raise BadRequest(str(exc)) from None
    return responses.json(
        {
            "access_token": pair.access_token,
            "refresh_token": pair.refresh_token,
            "expires_in": str(pair.expires_in),
        }
    )
