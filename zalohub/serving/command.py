"""`zalohub serve`: the web tier (``zalohub.serving.front``) under uvicorn.

SIGTERM (or Ctrl+C): the process stops accepting (a new connection is refused), starts
draining (the inbox's streams end with a retry hint), waits a moment for a request on
a connection it had just accepted to arrive, then lets uvicorn finish every response in
flight (``--graceful-seconds`` at most) and exits. Webhooks answered 200 are stored
(the 200 goes out after the commit), so none is lost; one the hub never read is refused
or reset, never answered, and Zalo sends it again.

One process by default. With ``--workers N`` this process binds the port and runs N
server processes that share its socket (what uvicorn's ``--workers`` does), and differs
from uvicorn's supervisor in one thing on SIGTERM: it closes its own copy of the
listening socket first, and each server process closes its copy when it starts to
drain, so that a connection made during the drain is refused at once (a proxy or Zalo
tries again) instead of waiting in the kernel's queue for a process that will never
accept it and being reset when the last process exits.
"""

import argparse
import asyncio
import contextlib
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

APP = "zalohub.serving.front:application"
# After it stops accepting, how long a process waits before closing the connections
# that have not sent a request yet (uvicorn closes those at once: a request already on
# its way on a connection accepted a moment before would be lost, not refused).
ACCEPTED_GRACE_SECONDS = 0.5
# A server process that exits sooner than this after it was started failed to start.
START_SECONDS = 10.0


_STOP_SEEN = threading.Event()  # a stop signal came before uvicorn took the signals over


class Server(uvicorn.Server):
    """uvicorn's server, with the hub's first steps of a graceful stop."""

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        if _STOP_SEEN.is_set():
            self.should_exit = True  # told to stop while starting: stop now

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        from zalohub.core import shutdown

        # Stop listening, but first keep a copy of each listening socket: connections
        # the kernel completed and queued before the close would be reset with it, so
        # they are accepted and served here (what is left is what arrives in the
        # microseconds between the last accept and the close).
        listening = [
            socket.socket(fileno=os.dup(sock.fileno()))
            for server in self.servers
            for sock in server.sockets
        ]
        for server in self.servers:
            server.close()  # asyncio: stop accepting; connections already made go on
        for sock in sockets or []:
            sock.close()  # a supervisor's shared socket: this process's copy
        shutdown.begin()
        for sock in listening:
            await self._serve_queued(sock)
        # Requests on the connections just accepted arrive before uvicorn closes those
        # that have not sent one.
        await asyncio.sleep(ACCEPTED_GRACE_SECONDS)
        await super().shutdown(sockets)

    async def _serve_queued(self, listening: socket.socket) -> None:
        loop = asyncio.get_running_loop()
        config = self.config

        def protocol() -> asyncio.Protocol:  # as uvicorn's startup makes them
            return config.http_protocol_class(  # type: ignore[call-arg]
                config=config, server_state=self.server_state, app_state=self.lifespan.state
            )

        listening.setblocking(False)
        try:
            while True:
                try:
                    conn, _addr = listening.accept()
                except (BlockingIOError, InterruptedError):
                    break
                await loop.connect_accepted_socket(protocol, conn)
        finally:
            listening.close()


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="zalohub serve", description="Run the web tier.")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--workers", type=int, default=1, help="server processes (default 1)")
    p.add_argument(
        "--threads",
        type=int,
        default=None,
        help="threads per process for webhooks and pages (default 10; streams use none)",
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


def config(args: argparse.Namespace, **where: Any) -> uvicorn.Config:
    return uvicorn.Config(
        APP,
        lifespan="on",
        interface="asgi3",
        http="httptools",
        loop="uvloop" if sys.platform != "win32" else "asyncio",
        log_level=args.log_level,
        access_log=args.access_log,
        backlog=args.backlog,
        timeout_graceful_shutdown=args.graceful_seconds,
        **where,
    )


def serve(argv: list[str]) -> int:
    args = parser().parse_args(argv)
    if args.threads:
        os.environ["ZALOHUB_WEB_THREADS"] = str(args.threads)
    os.environ.setdefault("ZALOHUB_WEB_PROCESSES", str(args.workers))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "zalohub.settings")
    import django

    django.setup()  # a missing or malformed setting stops here, named in one line
    # uvicorn handles SIGTERM and SIGINT while it serves, then restores the handlers it
    # found and raises the signal again: found as Python's defaults, that would kill the
    # process (or raise KeyboardInterrupt) after a clean stop instead of exiting 0.
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, _stopped)
    if args.fd is not None:  # one of the supervisor's server processes
        listener = socket.socket(fileno=args.fd)
        Server(config(args)).run(sockets=[listener])
        return 0
    if args.workers <= 1:
        Server(config(args, host=args.host, port=args.port)).run()
        return 0
    return Supervisor(args, argv).run()


def _stopped(signum: int, frame: FrameType | None) -> None:
    """A stop signal before uvicorn handles them (the server then stops as soon as it
    has started), or raised again after its graceful stop (nothing left to do)."""
    _STOP_SEEN.set()


class Supervisor:
    def __init__(self, args: argparse.Namespace, argv: list[str]) -> None:
        self.args = args
        self.argv = argv
        self.stopping = False
        self.listener: socket.socket | None = None
        self.children: list[subprocess.Popen[bytes]] = []

    def _bind(self) -> socket.socket:
        family = socket.AF_INET6 if ":" in self.args.host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.args.host, self.args.port))
        sock.listen(self.args.backlog)
        sock.set_inheritable(True)
        return sock

    def _spawn(self) -> subprocess.Popen[bytes]:
        assert self.listener is not None
        fd = self.listener.fileno()
        command = [sys.executable, "-m", "zalohub.cli", "serve", *self.argv, "--fd", str(fd)]
        return subprocess.Popen(command, pass_fds=(fd,))  # noqa: S603 (our own command line)

    def _stop(self, signum: int, frame: FrameType | None) -> None:
        if self.stopping:
            return
        self.stopping = True
        if self.listener is not None:
            self.listener.close()  # new connections: refused once the children close theirs
        for child in self.children:
            with contextlib.suppress(ProcessLookupError):
                child.send_signal(signal.SIGTERM)

    def run(self) -> int:
        self.listener = self._bind()
        signal.signal(signal.SIGTERM, self._stop)
        signal.signal(signal.SIGINT, self._stop)
        self.children = [self._spawn() for _ in range(self.args.workers)]
        print(
            f"zalohub serve: {self.args.workers} processes on "
            f"http://{self.args.host}:{self.args.port}",
            flush=True,
        )
        started = [time.monotonic()] * len(self.children)
        while not self.stopping:
            for index, child in enumerate(self.children):
                if child.poll() is None or self.stopping:
                    continue
                if time.monotonic() - started[index] < START_SECONDS:
                    # It could not even start (a setting, the port): more would not either.
                    print(f"zalohub serve: process {child.pid} failed to start", flush=True)
                    self._stop(signal.SIGTERM, None)
                    break
                print(f"zalohub serve: process {child.pid} exited; starting another")
                self.children[index], started[index] = self._spawn(), time.monotonic()
            time.sleep(0.5)
        deadline = time.monotonic() + self.args.graceful_seconds + 10
        codes = []
        for child in self.children:
            try:
                codes.append(child.wait(max(0.1, deadline - time.monotonic())))
            except subprocess.TimeoutExpired:
                child.kill()
                codes.append(child.wait())
        return 0 if all(code == 0 for code in codes) else 1
