"""What the inbox's browser tests share: a worker beside the live server that the
sandbox's webhooks reach, and waiting for the database to show what a step caused."""

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from zalohub.core.worker import WorkerProcess
from zalohub.sandbox import customers


@contextmanager
def hub_worker(sandbox: Any, live_server: Any, worker_id: str) -> Iterator[WorkerProcess]:
    """The sandbox delivers webhooks to this live server; a worker processes and sends."""
    customers.configure_webhooks(sandbox, hub=live_server.url, receipt_delay=None)
    process = WorkerProcess(threads=1, poll_seconds=0.1, worker_id=worker_id, scheduler=False)
    process.start()
    try:
        yield process
    finally:
        process.stop(timeout=10)


def wait_for[T](found: Callable[[], T | None], what: str, seconds: float = 10.0) -> T:
    """``found()``'s first value that is neither None nor False, polled every 0.1 s."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if (value := found()) is not None and value is not False:
            return value
        time.sleep(0.1)
    raise AssertionError(f"waited {seconds} s for {what}")
