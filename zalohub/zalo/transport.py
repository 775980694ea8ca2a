"""The one HTTP choke point for Zalo: a single httpx client, timeouts, error decoding,
and a recorder hook that sees every call (installed by the apilog app at start-up)."""

import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
from django.utils.translation import gettext_noop

from zalohub.zalo.context import current_context
from zalohub.zalo.errors import ErrorKind, ZaloError, error_from_body

logger = logging.getLogger(__name__)


@dataclass
class Call:
    """One request to Zalo and what came back, as handed to the recorder."""

    method: str
    url: str
    endpoint: str
    request_headers: dict[str, str]
    request_body: Any
    context: dict[str, Any]
    http_status: int | None = None
    response_body: str = ""
    response_headers: dict[str, str] = field(default_factory=dict)
    error: ZaloError | None = None
    duration_ms: float = 0.0

    @property
    def rate_limit(self) -> tuple[int | None, int | None]:
        """Zalo's X-RateLimit-Limit / X-RateLimit-Remain headers, when sent."""

        def _int(name: str) -> int | None:
            value = self.response_headers.get(name)
            try:
                return int(value) if value is not None else None
            except ValueError:
                return None

        return _int("x-ratelimit-limit"), _int("x-ratelimit-remain")


Recorder = Callable[[Call], object]  # what it returns is ignored
_recorders: list[Recorder] = []


def add_recorder(recorder: Recorder) -> None:
    if recorder not in _recorders:
        _recorders.append(recorder)


def remove_recorder(recorder: Recorder) -> None:
    if recorder in _recorders:
        _recorders.remove(recorder)


def _record(call: Call) -> None:
    for recorder in list(_recorders):
        try:
            recorder(call)
        except Exception:
            # A broken log must never turn a successful send into a failure.
            logger.exception("Zalo call recorder failed for %s", call.endpoint)


def _describe_files(files: dict[str, tuple[str, bytes, str]] | None) -> dict[str, Any]:
    return {
        name: {"filename": fname, "size": len(content), "content_type": ctype}
        for name, (fname, content, ctype) in (files or {}).items()
    }


class ZaloTransport:
    def __init__(
        self,
        *,
        timeout: float = 10.0,
        connect_timeout: float = 5.0,
        http: httpx.Client | None = None,
    ) -> None:
        self.timeout = timeout
        self._http = http or httpx.Client(
            timeout=httpx.Timeout(timeout, connect=connect_timeout),
            follow_redirects=False,
            headers={"User-Agent": "zalohub/0.1"},
        )

    def close(self) -> None:
        self._http.close()

    def request(
        self,
        method: str,
        url: str,
        *,
        endpoint: str,
        headers: dict[str, str] | None = None,
        params: dict[str, str] | None = None,
        json_body: Any = None,
        form: dict[str, str] | None = None,
        files: dict[str, tuple[str, bytes, str]] | None = None,
    ) -> dict[str, Any]:
        """Send one request; return Zalo's decoded body or raise ZaloError."""
        headers = dict(headers or {})
        if json_body is not None:
            request_body: Any = json_body
        elif form is not None:
            request_body = dict(form)
        elif files:
            request_body = {"files": _describe_files(files)}
        else:
            request_body = dict(params or {}) or None
        call = Call(
            method=method,
            url=str(httpx.URL(url, params=params)) if params else url,
            endpoint=endpoint,
            request_headers=headers,
            request_body=request_body,
            context=current_context(),
        )
        started = time.perf_counter()
        try:
            try:
                response = self._http.request(
                    method,
                    url,
                    headers=headers,
                    params=params,
                    json=json_body,
                    data=form,
                    files=files,
                )
            except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
                # Nothing was sent: safe to try again.
                raise ZaloError(
                    gettext_noop("Could not reach Zalo: %(error)s"),
                    params={"error": f"{exc.__class__.__name__}: {exc}"},
                    kind=ErrorKind.RETRYABLE,
                    endpoint=endpoint,
                ) from None
            except httpx.TimeoutException:
                raise ZaloError(
                    gettext_noop("Zalo did not answer within %(seconds)s s"),
                    params={"seconds": f"{self.timeout:g}"},
                    kind=ErrorKind.RETRYABLE,
                    endpoint=endpoint,
                    outcome_unknown=True,
                ) from None
            except httpx.TransportError as exc:
                raise ZaloError(
                    gettext_noop("The connection to Zalo broke: %(error)s"),
                    params={"error": f"{exc.__class__.__name__}: {exc}"},
                    kind=ErrorKind.RETRYABLE,
                    endpoint=endpoint,
                    outcome_unknown=True,
                ) from None
            call.http_status = response.status_code
            call.response_body = response.text
            call.response_headers = {k.lower(): v for k, v in response.headers.items()}
            return self._decode(response, endpoint)
        except ZaloError as exc:
            call.error = exc
            raise
        finally:
            call.duration_ms = (time.perf_counter() - started) * 1000
            _record(call)

    @staticmethod
    def _decode(response: httpx.Response, endpoint: str) -> dict[str, Any]:
        status = response.status_code
        retry_after = _retry_after(response)
        try:
            body = response.json()
        except (json.JSONDecodeError, UnicodeDecodeError):
            body = None
        reported = error_from_body(body)
        if status == 429 or (reported and reported[0] == -32):
            code, message = reported or (None, "Too many requests")
            raise ZaloError(
                message,
                code=code,
                kind=ErrorKind.RETRYABLE,
                http_status=status,
                endpoint=endpoint,
                retry_after=retry_after,
            )
        if status >= 400 and not reported:
            snippet = response.text[:200].strip() or response.reason_phrase
            raise ZaloError(
                f"HTTP {status}: {snippet}",
                http_status=status,
                endpoint=endpoint,
                retry_after=retry_after,
            )
        if reported:
            code, message = reported
            raise ZaloError(
                message,
                code=code or None,
                http_status=status,
                endpoint=endpoint,
                kind=None if code else ErrorKind.PERMANENT,
            )
        if not isinstance(body, dict):
            raise ZaloError(
                gettext_noop("Zalo answered with a body that is not JSON (HTTP %(status)s)"),
                params={"status": status},
                kind=ErrorKind.RETRYABLE if status >= 500 else ErrorKind.PERMANENT,
                http_status=status,
                endpoint=endpoint,
            )
        return body


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None
