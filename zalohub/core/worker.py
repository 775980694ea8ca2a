"""The worker process: django-tasks-db task runners plus the periodic-job scheduler.

`zalohub worker` runs one of these in its own process; the demo runs one in-process.
Stopping is graceful: runners finish the task in hand, the scheduler its current job.
"""

import logging
import os
import socket
import threading
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.db import close_old_connections, connection
from django_tasks_db.management.commands.db_worker import Worker as TaskRunner

from zalohub.core import periodic

logger = logging.getLogger(__name__)

# Long-running loops apps add to every worker process (e.g. the events dispatcher).
Loop = Callable[[str, threading.Event], None]
LOOPS: dict[str, Loop] = {}


def register_loop(name: str) -> Callable[[Loop], Loop]:
    def decorator(func: Loop) -> Loop:
        LOOPS[name] = func
        return func

    return decorator


def work_until_stopped(
    stop: threading.Event, once: Callable[[], int], *, idle: Callable[[], object], failed: str
) -> None:
    """A worker loop's body: ``once()`` again and again until ``stop``, and ``idle()``
    (a wait) after a turn that found nothing to do (0). A turn that raises (the database
    unreachable for a moment) is logged as ``failed`` and tried again a second later,
    on a fresh connection."""
    while not stop.is_set():
        try:
            # Inside the try: dropping a broken connection can fail as well.
            close_old_connections()
            done = once()
        except Exception:
            logger.exception(failed)
            done = 0
            stop.wait(1.0)
        if not done:
            idle()


class WorkerProcess:
    def __init__(
        self,
        *,
        threads: int | None = None,
        poll_seconds: float | None = None,
        worker_id: str | None = None,
        scheduler: bool = True,
        loop_threads: int | None = None,
    ) -> None:
        self.threads = threads or settings.WORKER_THREADS
        self.poll = poll_seconds or settings.WORKER_POLL_SECONDS
        self.worker_id = worker_id or f"{socket.gethostname()}:{os.getpid()}"
        self.scheduler = scheduler
        self.loop_threads = loop_threads or settings.WORKER_LOOP_THREADS
        self._stop = threading.Event()
        self._runners: list[TaskRunner] = []
        self._threads: list[threading.Thread] = []

    def start(self) -> None:
        for index in range(self.threads):
            runner = TaskRunner(
                queue_names=["*"],
                interval=self.poll,
                batch=False,
                backend_name="default",
                startup_delay=False,
                max_tasks=None,
                worker_id=f"{self.worker_id}/{index}"[:64],
                excluded_queue_names=[],
            )
            self._runners.append(runner)
            self._spawn(f"tasks-{index}", self._run_tasks, runner)
        for name, loop in LOOPS.items():
            for index in range(self.loop_threads):
                self._spawn(
                    f"{name}-{index}", self._run_loop, loop, f"{self.worker_id}/{name}/{index}"
                )
        if self.scheduler:
            self._spawn("scheduler", self._run_scheduler)
        logger.info("Worker %s started: %d task threads", self.worker_id, self.threads)

    def _spawn(self, name: str, target: Callable[..., object], *args: Any) -> None:
        thread = threading.Thread(target=target, args=args, name=f"zalohub-{name}", daemon=True)
        thread.start()
        self._threads.append(thread)

    def _run_tasks(self, runner: TaskRunner) -> None:
        # django-tasks-db's loop re-raises any database error but "locked": left alone, a
        # moment without the database would end this thread for good while the process
        # lives on. Start it again instead, on a fresh connection.
        try:
            while not self._stop.is_set() and runner.running:
                try:
                    runner.run()
                    return
                except Exception:
                    logger.exception("Task runner %s failed; restarting", runner.worker_id)
                    connection.close()
                    self._stop.wait(1.0)
        finally:
            connection.close()

    def _run_loop(self, loop: Loop, loop_id: str) -> None:
        try:
            loop(loop_id, self._stop)
        finally:
            connection.close()

    def _run_scheduler(self) -> None:
        try:
            while not self._stop.is_set():
                try:
                    close_old_connections()
                    periodic.run_due_jobs(self.worker_id)
                except Exception:
                    # A database blip must not kill the scheduler; try again next tick.
                    logger.exception("Periodic scheduler tick failed")
                self._stop.wait(min(self.poll * 5, 5.0))
        finally:
            connection.close()

    def stop(self, timeout: float = 30.0) -> None:
        logger.info("Worker %s stopping", self.worker_id)
        self._stop.set()
        for runner in self._runners:
            runner.running = False
        for thread in self._threads:
            thread.join(timeout)

    def wait(self) -> None:
        while not self._stop.is_set():
            self._stop.wait(1.0)
