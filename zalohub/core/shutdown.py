"""The web process is shutting down: long responses (the inbox's streams) end early.

On SIGTERM `zalohub serve` stops taking new connections and calls ``begin()`` (through
``zalohub.serving.front``'s ``drain``), then waits for every open response to finish, so
a stream that would otherwise run its full length ends at once with a retry hint, and
the browser reconnects to a process that is still serving. Webhooks in flight are not
touched: they finish as usual.
"""

import asyncio
import random
import threading
from collections.abc import Callable

_draining = threading.Event()
_listeners: set[tuple[asyncio.AbstractEventLoop, Callable[[], None]]] = set()
_lock = threading.Lock()


def begin() -> None:
    """Start draining (idempotent; safe from a signal handler and from any thread)."""
    _draining.set()
    with _lock:
        listeners = list(_listeners)
    for loop, callback in listeners:
        if not loop.is_closed():
            loop.call_soon_threadsafe(callback)


def draining() -> bool:
    return _draining.is_set()


def reset() -> None:
    """Forget a drain (tests that run the front in-process)."""
    _draining.clear()


def add_listener(loop: asyncio.AbstractEventLoop, callback: Callable[[], None]) -> None:
    """Call ``callback`` on ``loop`` when draining begins (at once if it has)."""
    with _lock:
        _listeners.add((loop, callback))
    if _draining.is_set():
        loop.call_soon_threadsafe(callback)


def remove_listener(loop: asyncio.AbstractEventLoop, callback: Callable[[], None]) -> None:
    with _lock:
        _listeners.discard((loop, callback))


def retry_hint() -> str:
    """The SSE field a stream ends with on shutdown: reconnect in 1-5 s, spread out so
    that a process's streams do not all come back in the same instant."""
    return f"retry: {random.randint(1000, 5000)}\n\n"
