"""The fault switch: make a sandbox route fail the ways real Zalo (or the network) can.

A fault names a route by prefix (``"oauth.access_token"`` covers both grants, ``"*"``
every Zalo route), a mode, and how many times it fires. Control routes (``sandbox.*``)
are never faulted, so a test can always reach the switch to turn it off again.
"""

from dataclasses import asdict, dataclass
from typing import Any, Literal

from django.http import HttpResponse

from zalohub.sandbox import responses

MODES = ("http_500", "http_503", "timeout", "http_429", "zalo_error", "http_502", "http_504")
# A proxy in front of Zalo answers 502/504 after Zalo did the work: the route runs, then
# its answer is replaced by the proxy's page (Zalo acted; the client cannot know it).
GATEWAY_MODES = frozenset({"http_502", "http_504"})

# How a route reports a Zalo-level error: the OA envelope (with the OA host's messages, or
# the business host's: "zns"), the OAuth token shape, or an HTML page (the consent screen
# is a page a person looks at).
ErrorStyle = Literal["oa", "zns", "oauth", "html"]


def route_matches(pattern: str, name: str) -> bool:
    """Prefix match on whole dotted segments: "oa" covers "oa.getoa" but not "oauth.*"."""
    if pattern in ("*", ""):
        return True
    return name == pattern or name.startswith(pattern + ".")


@dataclass
class Fault:
    endpoint: str
    mode: str
    code: int | None = None
    message: str = ""
    times: int | None = None  # None: until cleared
    delay: float = 15.0  # "timeout": how long the route stalls before answering
    retry_after: int = 1  # "http_429": the Retry-After header, in seconds
    fired: int = 0

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ValueError(f"unknown fault mode {self.mode!r}; expected one of {MODES}")
        if self.mode == "zalo_error" and self.code is None:
            raise ValueError("a zalo_error fault needs the Zalo error code to answer with")
        if self.times is not None and self.times < 1:
            raise ValueError("times must be at least 1 (or None for until cleared)")
        if self.delay < 0 or self.retry_after < 0:
            raise ValueError("delay and retry_after cannot be negative")

    @property
    def exhausted(self) -> bool:
        return self.times is not None and self.fired >= self.times

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def fault_response(fault: Fault, style: ErrorStyle) -> HttpResponse | None:
    """The response a fired fault answers with; None for the modes that let the route do
    its work first ("timeout", GATEWAY_MODES: see dispatch)."""
    if fault.mode == "http_500":
        return _plain(500, "500 Internal Server Error")
    if fault.mode == "http_503":
        return _plain(503, "503 Service Temporarily Unavailable")
    if fault.mode == "http_429":
        response = _plain(429, "429 Too Many Requests")
        response["Retry-After"] = str(fault.retry_after)
        return response
    if fault.mode == "zalo_error":
        code = int(fault.code or 0)
        if style == "oauth":
            return responses.oauth_error(code, fault.message or None)
        if style == "html":
            return responses.consent_error_page(None, code, fault.message or None)
        if style == "zns":
            return responses.zns_error(code, fault.message or None)
        return responses.oa_error(code, fault.message or None)
    return None


def gateway_response(fault: Fault) -> HttpResponse:
    """What a proxy in front of Zalo answers once Zalo has done the work: 502 or 504."""
    if fault.mode == "http_502":
        return _plain(502, "502 Bad Gateway")
    return _plain(504, "504 Gateway Time-out")


def _plain(status: int, text: str) -> HttpResponse:
    # What a proxy in front of Zalo would send: not JSON, so clients must cope.
    return HttpResponse(text, status=status, content_type="text/plain; charset=utf-8")
