"""Privacy fixtures: the ZBS template and the webhook subscription the removal's reach
test seeds with, and an API key (the zbs, webhooks and api tests' own fixtures)."""

from tests.api.conftest import api, make_key
from tests.webhooks.conftest import deliver, receiver, subscribe
from tests.zbs.conftest import approved, oa, relay

__all__ = ["api", "approved", "deliver", "make_key", "oa", "receiver", "relay", "subscribe"]
