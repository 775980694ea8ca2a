"""`zalohub serve`: the web tier (``zalohub.serving.front``) under uvicorn.

Only uvicorn's documented API: a ``uvicorn.Config`` and a ``uvicorn.Server`` serving a
socket this command binds (``serve(sockets=[...])``), told to stop with
``should_exit``. What a graceful stop needs to know is this command's own: the socket
(``serving.sockets``) and the front's count of requests in flight.

uvicorn serves on a thread of its own, so that this command keeps the process's signals
(Python lets only the main thread handle them). SIGTERM (or Ctrl+C): the process stops
taking new connections (``sockets.refuse_new_connections``), starts draining (the
inbox's streams end with a retry hint, responses close their connections), waits a
moment for the connections already queued to be accepted and their requests to arrive,
then for the front to have nothing in flight (``--graceful-seconds`` at most), and only
then tells uvicorn to stop: uvicorn closes the socket and the idle connections and
waits a few seconds for what is left (``timeout_graceful_shutdown``). Webhooks answered
200 are stored (the 200 goes out after the commit), so none is lost; one the hub never
read is refused, never answered, and Zalo sends it again.

One process by default. With ``--workers N`` this process binds the socket and runs N
server processes that share it (each gets its descriptor, ``--fd``), restarts one that
dies, and on SIGTERM stops new connections for all of them at once (they share one
socket) and passes the signal on.
"""

import argparse
import contextlib
import copy
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from types import FrameType
from typing import Any

import uvicorn

from zalohub.serving import sockets

logger = logging.getLogger(__name__)

# After it stops taking new connections, how long a process waits before uvicorn closes
# the socket and the connections that have not sent a request yet: the connections the
# kernel had queued are accepted meanwhile, and their requests arrive.
ACCEPTED_GRACE_SECONDS = 0.5
# How long uvicorn itself waits, once told to stop, for the responses still open.
LATE_SECONDS = 5
# A server process that exits sooner than this after it was started failed to start.
START_SECONDS = 10.0
# How often the main thread looks for a stop signal or a server that ended.
POLL_SECONDS = 0.05

STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)

_stop_signal: int | None = None  # set by the signal handler, read by the main thread


def _stopped(signum: int, frame: FrameType | None) -> None:
    global _stop_signal
    _stop_signal = signum


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="zalohub serve", description="Run the web tier.")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--workers", type=int, default=1, help="server processes (default 1)")
    p.add_argument(
        "--threads",
        type=int,
        default=None,
        help="threads per process for pages and the API (default 10; streams use none)",
    )
    p.add_argument(
        "--webhook-threads",
        type=int,
        default=None,
        help="threads per process for Zalo's webhooks, never taken by pages (default 10)",
    )
    p.add_argument(
        "--graceful-seconds",
        type=int,
        default=30,
        help="on SIGTERM, wait this long for open responses before closing them (30)",
    )
    p.add_argument("--backlog", type=int, default=2048)
    p.add_argument("--log-level", default="warning")
    p.add_argument("--access-log", action="store_true")
    p.add_argument("--fd", type=int, default=None, help=argparse.SUPPRESS)  # a child's socket
    return p


def config(args: argparse.Namespace, app: Any) -> uvicorn.Config:
    from django.conf import settings

    where: dict[str, Any] = {"access_log": args.access_log}
    if settings.LOG_FORMAT == "json":
        # One line per request, the front's (``core.requestid``), and every line JSON:
        # no access log, and uvicorn's own loggers written by the settings' handler.
        logging_config: dict[str, Any] = copy.deepcopy(settings.LOGGING)
        logging_config["loggers"]["uvicorn"] = {"handlers": ["console"], "propagate": False}
        where = {"log_config": logging_config, "access_log": False}
    return uvicorn.Config(
        app,
        lifespan="on",
        interface="asgi3",
        http="httptools",
        loop="uvloop" if sys.platform != "win32" else "asyncio",
        log_level=args.log_level,
        backlog=args.backlog,
        # The front has already waited for its requests (``Process.drain``): this is
        # for one that came on a kept-alive connection after it went idle.
        timeout_graceful_shutdown=min(args.graceful_seconds, LATE_SECONDS),
        **where,
    )


def serve(argv: list[str]) -> int:
    args = parser().parse_args(argv)
    if args.threads:
        os.environ["ZALOHUB_WEB_THREADS"] = str(args.threads)
    if args.webhook_threads:
        os.environ["ZALOHUB_WEBHOOK_THREADS"] = str(args.webhook_threads)
    os.environ.setdefault("ZALOHUB_WEB_PROCESSES", str(args.workers))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "zalohub.settings")
    # Before the slow part of starting (Django's setup, the app's imports): a stop
    # signal meanwhile is kept for the drain rather than ending the process at once.
    for signum in STOP_SIGNALS:
        signal.signal(signum, _stopped)
    # A server process is started with the stop signals blocked (``Supervisor._spawn``),
    # so that one sent while it was still starting waits, pending, for this handler.
    signal.pthread_sigmask(signal.SIG_UNBLOCK, STOP_SIGNALS)
    import django

    django.setup()  # a missing or malformed setting stops here, named in one line
    if args.fd is not None:  # one of the supervisor's server processes
        return Process(args, socket.socket(fileno=args.fd)).run()
    try:
        listener = sockets.bind(args.host, args.port, args.backlog)
    except OSError as exc:
        logger.error("zalohub serve: cannot listen on %s:%s: %s", args.host, args.port, exc)
        return 1
    if args.workers <= 1:
        logger.info("zalohub serve: 1 process on http://%s:%s", args.host, args.port)
        return Process(args, listener).run()
    return Supervisor(args, argv, listener).run()


class Process:
    """One server process: uvicorn on a thread, this (main) thread waiting for a stop
    signal, then draining."""

    def __init__(self, args: argparse.Namespace, listener: socket.socket) -> None:
        from zalohub.serving.front import application

        self.args = args
        self.listener = listener
        self.front = application
        self.server = uvicorn.Server(config(args, application))

    def run(self) -> int:
        thread = threading.Thread(
            target=self.server.run,
            kwargs={"sockets": [self.listener]},
            name="zalohub-serve",
        )
        thread.start()
        while thread.is_alive() and _stop_signal is None:
            time.sleep(POLL_SECONDS)
        if not thread.is_alive():  # it could not start, or stopped by itself
            return 1
        self.drain()
        thread.join()
        return 0

    def drain(self) -> None:
        began = time.monotonic()
        # Started by a signal before the server had started: it may not accept yet.
        self.front.started.wait(self.args.graceful_seconds)
        sockets.refuse_new_connections(self.listener)
        self.front.drain()
        time.sleep(ACCEPTED_GRACE_SECONDS)
        left = max(0.0, self.args.graceful_seconds - (time.monotonic() - began))
        if not self.front.idle.wait(left):
            logger.warning(
                "zalohub serve: %d requests still in flight after %d s; closing them",
                self.front.in_flight,
                self.args.graceful_seconds,
            )
        self.server.should_exit = True


class Supervisor:
    """``--workers N``: N server processes sharing this process's socket."""

    def __init__(self, args: argparse.Namespace, argv: list[str], listener: socket.socket) -> None:
        self.args = args
        self.argv = argv
        self.listener = listener
        self.stopping = False
        self.children: list[subprocess.Popen[bytes]] = []

    def _spawn(self) -> subprocess.Popen[bytes]:
        fd = self.listener.fileno()
        command = [sys.executable, "-m", "zalohub.cli", "serve", *self.argv, "--fd", str(fd)]
        # The child inherits the blocked stop signals through exec and unblocks them once
        # its handler is in place (``serve``): a SIGTERM passed on while it is starting
        # would otherwise end it by the default action, unclean, with nothing logged.
        blocked = signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)
        try:
            return subprocess.Popen(command, pass_fds=(fd,))  # noqa: S603 (our own command line)
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, blocked)

    def _stop(self) -> None:
        if self.stopping:
            return
        self.stopping = True
        # One socket for every process: none of them gets a new connection from now on.
        sockets.refuse_new_connections(self.listener)
        self.listener.close()  # this process's copy; each server process closes its own
        for child in self.children:
            with contextlib.suppress(ProcessLookupError):
                child.send_signal(signal.SIGTERM)

    def run(self) -> int:
        self.children = [self._spawn() for _ in range(self.args.workers)]
        logger.info(
            "zalohub serve: %d processes on http://%s:%s",
            self.args.workers,
            self.args.host,
            self.args.port,
        )
        started = [time.monotonic()] * len(self.children)
        while not self.stopping:
            if _stop_signal is not None:
                self._stop()
                break
            for index, child in enumerate(self.children):
                if child.poll() is None:
                    continue
                if time.monotonic() - started[index] < START_SECONDS:
                    # It could not even start (a setting, the port): more would not either.
                    logger.error("zalohub serve: process %d failed to start", child.pid)
                    self._stop()
                    break
                logger.warning("zalohub serve: process %d exited; starting another", child.pid)
                self.children[index], started[index] = self._spawn(), time.monotonic()
            time.sleep(POLL_SECONDS)
        deadline = time.monotonic() + self.args.graceful_seconds + LATE_SECONDS + 10
        codes = []
        for child in self.children:
            try:
                codes.append(child.wait(max(0.1, deadline - time.monotonic())))
            except subprocess.TimeoutExpired:
                logger.error("zalohub serve: process %d did not stop in time; killed", child.pid)
                child.kill()
                codes.append(child.wait())
            if codes[-1] != 0:
                logger.error("zalohub serve: process %d ended with %s", child.pid, codes[-1])
        return 0 if all(code == 0 for code in codes) else 1
