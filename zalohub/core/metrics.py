"""Prometheus metrics: the counters the hot paths increment, the scrape-time collectors
the apps register, and the /metrics view.

Counters live here, at the bottom of the import order, so that events and apilog can
increment them without importing each other. Gauges that describe the tables (the queue,
tokens, OA health) are computed when Prometheus scrapes, by collectors the upper apps
register with ``register_collector`` in AppConfig.ready(): one cheap query each.

Several web processes (and workers on the same machine): set PROMETHEUS_MULTIPROC_DIR to
an empty directory writable by all of them, cleared before they start. Each process then
writes its counters to files there and any process's /metrics adds them all up.
"""

import functools
import hmac
import ipaddress
import logging
import os
from collections.abc import Iterable, Iterator

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.views.decorators.cache import never_cache
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

logger = logging.getLogger(__name__)

# Labels are bounded: a result and a reason from fixed lists, an OA's primary key, a Zalo
# endpoint path, an error category. Never a user id or a free text.
WEBHOOKS = Counter(
    "zalohub_webhooks",
    "Zalo webhook requests answered, by result (accepted, duplicate, rejected) and reason.",
    ["result", "reason"],
)
OUTBOUND_SENDS = Counter(
    "zalohub_outbound_sends",
    "Outbound send attempts settled, by OA, outcome and error category.",
    ["oa", "outcome", "category"],
)
OUTBOUND_SETTLED = Counter(
    "zalohub_outbound_settled",
    "Outbound attempts settled, by lane (zalo, webhooks) and outcome.",
    ["lane", "outcome"],
)
ZALO_CALLS = Histogram(
    "zalohub_zalo_call_seconds",
    "Calls to Zalo's API, by endpoint, HTTP status and result (ok or the error kind).",
    ["endpoint", "status", "result"],
    buckets=(0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0),
)

INBOX_ROUNDS = Histogram(
    "zalohub_inbox_round_seconds",
    "Wall time of a round of a web process's inbox reader (inbox.watch), by phase: read "
    "(the open pages' cursors) and push (what changed, drawn for them). A page learns of "
    "a change about one round plus the rest after it (as long again) late.",
    ["phase"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
)
INBOX_ROUND_READ = INBOX_ROUNDS.labels("read")
INBOX_ROUND_PUSH = INBOX_ROUNDS.labels("push")

# The webhook's hot path increments a child bound once here (no label lookup per request).
WEBHOOK_ACCEPTED = WEBHOOKS.labels("accepted", "")
WEBHOOK_DUPLICATE = WEBHOOKS.labels("duplicate", "")
# A rejection's reason by its status: the reason's text is translated and carries values.
_REJECTED_REASONS = {
    400: "malformed",
    401: "signature",
    403: "wrong_app",
    404: "unknown_app",
    413: "too_large",
}


def webhook_rejected(status: int) -> None:
    WEBHOOKS.labels("rejected", _REJECTED_REASONS.get(status, str(status))).inc()


_collectors: list[Collector] = []


def register_collector(collector: Collector) -> None:
    """Add a collector whose ``collect()`` runs at each scrape (apps call this in ready())."""
    if collector not in _collectors:
        _collectors.append(collector)


class _Registered:
    """The process's own metrics (or, in multiprocess mode, every process's) and the
    registered collectors, gathered afresh for one scrape."""

    def __init__(self, base: Iterable[Collector]) -> None:
        self.base = list(base)

    def collect(self) -> Iterator[Metric]:
        for collector in [*self.base, *_collectors]:
            try:
                # Gathered first: a collector whose query fails adds nothing half-done,
                # and the others (the counters above all) are still served.
                metrics = list(collector.collect())
            except Exception:
                logger.exception("Metrics collector %r failed", collector)
                continue
            yield from metrics


def exposition() -> bytes:
    registry = CollectorRegistry(auto_describe=False)
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        counted = CollectorRegistry()
        multiprocess.MultiProcessCollector(counted)
        registry.register(_Registered([counted]))
    else:
        registry.register(_Registered([REGISTRY]))
    return generate_latest(registry)


@functools.lru_cache(maxsize=8)
def _networks(
    allow: tuple[str, ...],
) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    return tuple(ipaddress.ip_network(n, strict=False) for n in allow)


_FORWARDED = ("HTTP_X_FORWARDED_FOR", "HTTP_FORWARDED", "HTTP_X_REAL_IP")


def may_scrape(request: HttpRequest) -> bool:
    token = settings.METRICS_TOKEN
    if token:
        given = request.META.get("HTTP_AUTHORIZATION", "")
        if given.startswith("Bearer ") and hmac.compare_digest(
            given[7:].strip().encode(), token.encode()
        ):
            return True
    if any(header in request.META for header in _FORWARDED):
        return False  # through a proxy: REMOTE_ADDR is the proxy's, not the visitor's
    try:
        address = ipaddress.ip_address(request.META.get("REMOTE_ADDR", ""))
    except ValueError:
        return False
    return any(address in network for network in _networks(tuple(settings.METRICS_ALLOW)))


@never_cache
def metrics(request: HttpRequest) -> HttpResponse:
    if not may_scrape(request):
        return HttpResponse(status=403)
    return HttpResponse(exposition(), content_type=CONTENT_TYPE_LATEST)
