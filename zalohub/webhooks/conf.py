"""The webhooks app's settings, from the environment (README's *Running in production*),
each overridable in Django settings under the same name without the ZALOHUB_ prefix."""

from typing import Any

from django.conf import settings

from zalohub.env import envfloat, envint

# Seconds before each retry: about three days from the first try to the last (with
# +-20 % jitter on each), as Standard Webhooks senders do.
DEFAULT_SCHEDULE = (5, 60, 300, 1800, 7200, 18000, 36000, 36000, 36000, 36000, 36000, 36000, 18000)

_DEFAULTS: dict[str, Any] = {
    # Seconds an HTTP delivery may take.
    "WEBHOOKS_TIMEOUT_SECONDS": envfloat("ZALOHUB_WEBHOOKS_TIMEOUT_SECONDS", 10.0, minimum=0.1),
    # Multiplies the retry schedule (tests and the demo shrink it).
    "WEBHOOKS_RETRY_SCALE": envfloat("ZALOHUB_WEBHOOKS_RETRY_SCALE", 1.0, minimum=0.0),
    # Consecutive failed attempts, lasting at least WEBHOOKS_DISABLE_AFTER_SECONDS, that
    # disable a subscription (and tell the Zalo Admins).
    "WEBHOOKS_DISABLE_AFTER_FAILURES": envint(
        "ZALOHUB_WEBHOOKS_DISABLE_AFTER_FAILURES", 20, minimum=1
    ),
    "WEBHOOKS_DISABLE_AFTER_SECONDS": envfloat(
        "ZALOHUB_WEBHOOKS_DISABLE_AFTER_SECONDS", 86400.0, minimum=0.0
    ),
    # How long the old secret keeps signing after a rotation.
    "WEBHOOKS_ROTATION_OVERLAP_SECONDS": envint(
        "ZALOHUB_WEBHOOKS_ROTATION_OVERLAP_SECONDS", 86400, minimum=0
    ),
    # How long an idle delivery loop waits before it looks again (a commit in the same
    # process wakes it at once; one in another process is seen at the next look).
    "WEBHOOKS_POLL_SECONDS": envfloat("ZALOHUB_WEBHOOKS_POLL_SECONDS", 0.2, minimum=0.01),
    # Deliveries one claim takes (per subscription) and sends concurrently.
    "WEBHOOKS_BATCH_SIZE": envint("ZALOHUB_WEBHOOKS_BATCH_SIZE", 100, minimum=1),
    # Requests one delivery thread keeps in flight at most, over all its batches: httpx's
    # pool walks its connections at each request's start and end, so its CPU per request
    # grows with the connections held; 8 measured cheaper and faster than 100 against a
    # loopback receiver (bench/README, "Outbound webhook delivery"). Receivers far away
    # (an answer in 100 ms: at most 80 deliveries/s per thread at 8) want more.
    "WEBHOOKS_IN_FLIGHT": envint("ZALOHUB_WEBHOOKS_IN_FLIGHT", 8, minimum=1),
    "WEBHOOKS_LEASE_SECONDS": envint("ZALOHUB_WEBHOOKS_LEASE_SECONDS", 60, minimum=1),
    # Deliveries and their log are kept this many days.
    "WEBHOOKS_RETENTION_DAYS": envint("ZALOHUB_WEBHOOKS_RETENTION_DAYS", 30, minimum=1),
}


def get(name: str) -> Any:
    return getattr(settings, name, _DEFAULTS[name])


def retry_delays() -> list[float]:
    scale = float(get("WEBHOOKS_RETRY_SCALE"))
    return [seconds * scale for seconds in DEFAULT_SCHEDULE]
