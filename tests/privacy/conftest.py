"""Privacy fixtures: the ZBS template and the webhook subscription the removal's reach
test seeds with (the zbs and webhooks tests' own fixtures)."""

from tests.webhooks.conftest import deliver, receiver, subscribe
from tests.zbs.conftest import approved, oa, relay

__all__ = ["approved", "deliver", "oa", "receiver", "relay", "subscribe"]
