"""Wake-ups for live pages: "something changed in OA n".

Pages never learn *what* changed from here: the stream re-reads the database when
woken (or after its tick anyway), so a lost wake-up costs at most one tick. In one
process a ``threading.Condition`` carries the news; with ``REDIS_URL`` set, every
process publishes on one channel and a listener thread per process turns the messages
into local wake-ups, so a worker on another machine wakes this web process's streams.
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
        self._by_oa: dict[int, int] = {}
        self._listeners: set[Callable[[int], None]] = set()

    @property
    def generation(self) -> int:
        with self._cond:
            return self._generation

    def notify(self, oa_id: int) -> None:
        self._wake(oa_id)

    def _wake(self, oa_id: int) -> None:
        with self._cond:
            self._generation += 1
            self._by_oa[int(oa_id)] = self._generation
            self._cond.notify_all()
            listeners = list(self._listeners)
        for listener in listeners:
            listener(int(oa_id))

    def add_listener(self, listener: Callable[[int], None]) -> None:
        """Called with the OA id on every wake-up (async streams use it, not threads)."""
        with self._cond:
            self._listeners.add(listener)

    def remove_listener(self, listener: Callable[[int], None]) -> None:
        with self._cond:
            self._listeners.discard(listener)

    def _changed(self, since: int, oa_ids: frozenset[int] | None) -> bool:
        if oa_ids is None:
            return self._generation > since
        return any(self._by_oa.get(oa, 0) > since for oa in oa_ids)

    def wait(self, since: int, oa_ids: Iterable[int] | None, timeout: float) -> int:
        """Block until an OA of ``oa_ids`` (None: any) changed after generation ``since``,
        or ``timeout`` passed; the generation to wait from next time."""
        wanted = None if oa_ids is None else frozenset(int(o) for o in oa_ids)
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
            target=self._listen, name="zalohub-inbox-redis", daemon=True
        )
        self._thread.start()

    def wait_ready(self, timeout: float = 5.0) -> bool:
        return self._ready.wait(timeout)

    def notify(self, oa_id: int) -> None:
        try:
            self._redis.publish(self.channel, str(int(oa_id)))
        except Exception:
            # Redis away: this process's pages still hear it; others catch up on their tick.
            logger.warning("Inbox notification could not reach Redis", exc_info=True)
            self._wake(oa_id)

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
                logger.warning("Inbox Redis listener lost its connection", exc_info=True)
                self._ready.clear()
                self._stop.wait(1.0)
            finally:
                with contextlib.suppress(Exception):  # closing a broken one may fail too
                    pubsub.close()

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self._redis.close()


_notifier: LocalNotifier | None = None
_lock = threading.Lock()


def get_notifier() -> LocalNotifier:
    global _notifier
    with _lock:
        if _notifier is None:
            if settings.REDIS_URL:
                _notifier = RedisNotifier(settings.REDIS_URL, settings.INBOX_REDIS_CHANNEL)
            else:
                _notifier = LocalNotifier()
        return _notifier


def reset_notifier() -> None:
    """Forget the notifier (tests switch between the in-process and Redis kinds)."""
    global _notifier
    with _lock:
        if _notifier is not None:
            _notifier.close()
        _notifier = None


def notify(oa_id: int) -> None:
    get_notifier().notify(oa_id)
