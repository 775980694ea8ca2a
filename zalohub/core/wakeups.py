"""Wake-ups between threads and processes: "something changed in n", on a named channel.

A wake-up never says *what* changed: whoever waits reads the database when woken (or
after its own timeout anyway), so a lost one costs at most that timeout. In one process
a ``threading.Condition`` carries the news; with ``REDIS_URL`` set, every process
publishes on the channel's Redis pub/sub and a listener thread per process turns the
messages into local wake-ups, so a worker on another machine wakes this web process.

The channels: the inbox's live pages (``inbox.live``: n is an OA) and the events queue
(``events.processing.queue``: new events committed, n unused).
"""

import contextlib
import logging
import threading
from collections.abc import Callable, Iterable

from django.conf import settings

logger = logging.getLogger(__name__)


class LocalNotifier:
    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._generation = 0
        self._by_key: dict[int, int] = {}
        self._listeners: set[Callable[[int], None]] = set()

    @property
    def generation(self) -> int:
        with self._cond:
            return self._generation

    def notify(self, key: int) -> None:
        self._wake(key)

    def _wake(self, key: int) -> None:
        with self._cond:
            self._generation += 1
            self._by_key[int(key)] = self._generation
            self._cond.notify_all()
            listeners = list(self._listeners)
        for listener in listeners:
            listener(int(key))

    def add_listener(self, listener: Callable[[int], None]) -> None:
        """Called with the key on every wake-up (async waiters use it, not threads)."""
        with self._cond:
            self._listeners.add(listener)

    def remove_listener(self, listener: Callable[[int], None]) -> None:
        with self._cond:
            self._listeners.discard(listener)

    def _changed(self, since: int, keys: frozenset[int] | None) -> bool:
        if keys is None:
            return self._generation > since
        return any(self._by_key.get(k, 0) > since for k in keys)

    def wait(self, since: int, keys: Iterable[int] | None, timeout: float) -> int:
        """Block until a key of ``keys`` (None: any) changed after generation ``since``,
        or ``timeout`` passed; the generation to wait from next time."""
        wanted = None if keys is None else frozenset(int(o) for o in keys)
        with self._cond:
            self._cond.wait_for(lambda: self._changed(since, wanted), timeout=timeout)
            return self._generation

    def close(self) -> None:
        pass


class RedisNotifier(LocalNotifier):
    def __init__(self, url: str, channel: str) -> None:
        super().__init__()
        import redis

        self.channel = channel
        self._redis = redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=2)
        self._stop = threading.Event()
        self._ready = threading.Event()
        self._thread = threading.Thread(
            target=self._listen, name=f"zalohub-wakeups-{channel}", daemon=True
        )
        self._thread.start()

    def wait_ready(self, timeout: float = 5.0) -> bool:
        return self._ready.wait(timeout)

    def notify(self, key: int) -> None:
        try:
            self._redis.publish(self.channel, str(int(key)))
        except Exception:
            # Redis away: this process still hears it; others catch up on their timeout.
            logger.warning("A wake-up could not reach Redis", exc_info=True)
            self._wake(key)

    def _listen(self) -> None:
        while not self._stop.is_set():
            pubsub = self._redis.pubsub(ignore_subscribe_messages=True)
            try:
                pubsub.subscribe(self.channel)
                self._ready.set()
                while not self._stop.is_set():
                    message = pubsub.get_message(timeout=1.0)
                    if message and message.get("type") == "message":
                        try:
                            self._wake(int(message["data"]))
                        except (TypeError, ValueError):
                            continue
            except Exception:
                logger.warning("A wake-up listener lost its Redis connection", exc_info=True)
                self._ready.clear()
                self._stop.wait(1.0)
            finally:
                with contextlib.suppress(Exception):  # closing a broken one may fail too
                    pubsub.close()

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self._redis.close()


_notifiers: dict[str, LocalNotifier] = {}
_lock = threading.Lock()


def notifier(channel: str) -> LocalNotifier:
    """The process's notifier of ``channel`` (over Redis when ``REDIS_URL`` is set)."""
    with _lock:
        found = _notifiers.get(channel)
        if found is None:
            if settings.REDIS_URL:
                found = RedisNotifier(settings.REDIS_URL, channel)
            else:
                found = LocalNotifier()
            _notifiers[channel] = found
        return found


def reset() -> None:
    """Forget every notifier (tests switch between the in-process and Redis kinds)."""
    with _lock:
        for found in _notifiers.values():
            found.close()
        _notifiers.clear()
