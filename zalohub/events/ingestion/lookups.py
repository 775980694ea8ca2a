"""Keeping every web process's webhook lookups (``receive``'s app and OA caches) in step.

An admin's change to an app or OA (a new OA secret key, an OA removed) is committed by
one process; every other process must stop using what it remembered, or a rotated OA
secret key would still verify webhooks there until the cache's TTL ran out.

- In the process that made the change, the caches are cleared at once (``changed``).
- With ``ZALOHUB_REDIS_URL`` set, the change is also published, once committed, on
  ``WEBHOOK_LOOKUPS_REDIS_CHANNEL``; each web process runs one listener thread
  (started by its first webhook) that clears its caches when a message arrives, and
  again each time it (re)subscribes, since what was published while it was away is lost.
- Without Redis, other processes see a change within ``WEBHOOK_LOOKUP_CACHE_SECONDS``
  (30 s), and a new OA secret key sooner: a signature that does not match the key a
  process remembers makes it read the app again (``receive._app_again``, at most every
  ``WEBHOOK_SIGNATURE_RECHECK_SECONDS``), so the new key is accepted at once; the old
  one keeps working there until then. One process (the embedded shape) has nobody else
  to tell. ``check --deploy`` already asks for Redis when there are several web
  processes.
"""

import contextlib
import logging
import os
import threading
from typing import Any

from django.conf import settings
from django.db import transaction

logger = logging.getLogger(__name__)

_lock = threading.Lock()
_listener: "Listener | None" = None


def _forget() -> None:
    from zalohub.events.ingestion.receive import forget_cached_lookups

    forget_cached_lookups()


def changed(**kwargs: Any) -> None:
    """An app or OA changed (post_save / post_delete): forget here, tell the others."""
    _forget()
    if settings.REDIS_URL:
        transaction.on_commit(publish)


def publish() -> None:
    import redis

    try:
        with redis.Redis.from_url(settings.REDIS_URL, socket_timeout=5) as client:
            client.publish(settings.WEBHOOK_LOOKUPS_REDIS_CHANNEL, b"changed")
    except redis.RedisError:
        # The others fall back on the TTL; the change itself is committed.
        logger.warning("Could not tell other processes that an app changed", exc_info=True)


class Listener(threading.Thread):
    """Clears this process's webhook lookups on every message of the channel."""

    def __init__(self, url: str, channel: str) -> None:
        super().__init__(name="zalohub-webhook-lookups", daemon=True)
        self.url, self.channel = url, channel
        self.pid = os.getpid()
        self.ready = threading.Event()
        self.stop = threading.Event()

    def run(self) -> None:
        import redis

        client = redis.Redis.from_url(self.url, socket_timeout=5, socket_connect_timeout=2)
        while not self.stop.is_set():
            pubsub = client.pubsub(ignore_subscribe_messages=True)
            try:
                pubsub.subscribe(self.channel)
                _forget()  # whatever was published while not subscribed
                self.ready.set()
                while not self.stop.is_set():
                    message = pubsub.get_message(timeout=1.0)
                    if message and message.get("type") == "message":
                        _forget()
            except Exception:
                logger.warning("Webhook lookups listener lost Redis", exc_info=True)
                self.ready.clear()
                self.stop.wait(1.0)
            finally:
                with contextlib.suppress(Exception):
                    pubsub.close()
        client.close()


def ensure_listening() -> "Listener | None":
    """Start this process's listener if Redis is configured and none runs (a forked
    process starts its own). Cheap when it runs: a comparison of two ints."""
    global _listener
    listener = _listener
    if listener is not None and listener.pid == os.getpid():
        return listener
    if not settings.REDIS_URL:
        return None
    with _lock:
        if _listener is None or _listener.pid != os.getpid():
            _listener = Listener(settings.REDIS_URL, settings.WEBHOOK_LOOKUPS_REDIS_CHANNEL)
            _listener.start()
        return _listener


def stop_listening() -> None:
    """Stop the listener (tests that switch Redis on and off)."""
    global _listener
    with _lock:
        listener, _listener = _listener, None
    if listener is not None:
        listener.stop.set()
        listener.join(timeout=5)
