"""Real `zalohub worker` processes against the test database, for the fault tests.

The worker is a separate OS process, so it only sees committed rows: tests that use it
are ``django_db(transaction=True)``. It reaches the test database (pytest-django's
``test_…`` name, or the SQLite test file) and the sandbox Zalo exactly as production
does, over a connection string and loopback HTTP.
"""

import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import quote

from django.conf import settings
from django.db import connection

from zalohub.core.models import PeriodicJob
from zalohub.events.models import ZaloEvent

ZALOHUB = Path(sys.executable).with_name("zalohub")


def database_url(*, port: int | None = None) -> str:
    """The test database as a DATABASE_URL (optionally through another port)."""
    db = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{Path(db['NAME']).resolve()}"
    user = quote(db.get("USER") or "")
    password = f":{quote(db['PASSWORD'])}" if db.get("PASSWORD") else ""
    host = db.get("HOST") or "127.0.0.1"
    return f"postgres://{user}{password}@{host}:{port or db.get('PORT') or 5432}/{db['NAME']}"


class Worker:
    """One `zalohub worker` subprocess; its output goes to a log file for the test."""

    def __init__(
        self,
        log_dir: Path,
        name: str,
        *,
        batch_size: int = 50,
        scheduler: bool = True,
        database: str | None = None,
        extra_env: dict[str, str] | None = None,
    ) -> None:
        self.log = log_dir / f"worker-{name}.log"
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "zalohub.settings",
            "DATABASE_URL": database or database_url(),
            "ZALOHUB_DATA_DIR": str(settings.DATA_DIR),
            "ZALOHUB_ENCRYPTION_KEYS": ",".join(settings.ENCRYPTION_KEYS),
            "ZALOHUB_WORKER_POLL_SECONDS": "0.2",
            "ZALOHUB_EVENTS_BATCH_SIZE": str(batch_size),
            "ZALO_OAUTH_BASE_URL": settings.ZALO_OAUTH_BASE_URL,
            "ZALO_OPENAPI_BASE_URL": settings.ZALO_OPENAPI_BASE_URL,
            "ZALO_BUSINESS_BASE_URL": settings.ZALO_BUSINESS_BASE_URL,
            "ZALO_TIMEOUT_SECONDS": str(settings.ZALO_TIMEOUT_SECONDS),
            **(extra_env or {}),
        }
        args = [str(ZALOHUB), "worker", "--threads", "2"]
        if not scheduler:
            args.append("--no-scheduler")
        self._out = self.log.open("wb")
        self.proc = subprocess.Popen(args, env=env, stdout=self._out, stderr=subprocess.STDOUT)

    @property
    def pid(self) -> int:
        return self.proc.pid

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def kill(self) -> None:
        """SIGKILL: no cleanup of any kind, as when the machine's OOM killer strikes."""
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(10)
        self._out.close()

    def terminate(self, timeout: float = 60.0) -> int:
        """SIGTERM (a graceful stop); the exit code."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout)
        finally:
            self._out.close()

    def stop_quietly(self) -> None:
        if self.proc.poll() is None:
            self.kill()
        self._out.close()


def wait_until(check: Callable[[], bool], *, timeout: float = 60.0, every: float = 0.02) -> bool:
    """Poll ``check`` until it holds; False when the (generous) deadline passes."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(every)
    return check()


def pending_inbound() -> int:
    return ZaloEvent.objects.exclude(processing_state="processed").count()


def run_periodic_jobs_now() -> None:
    """Make every periodic job due (as if its period had passed) and free a dead claim."""
    from django.utils import timezone

    PeriodicJob.objects.update(next_run_at=timezone.now(), claimed_until=None, claimed_by="")


class TcpProxy:
    """A loopback TCP relay in front of the database, which a test can take down (every
    connection cut, new ones refused) and bring back on the same port."""

    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self.port = 0
        self._listener: socket.socket | None = None
        self._sockets: set[socket.socket] = set()
        self._lock = threading.Lock()

    def up(self) -> int:
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        self.port = listener.getsockname()[1]
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()
        return self.port

    def down(self) -> None:
        with self._lock:
            listener, self._listener = self._listener, None
            sockets, self._sockets = self._sockets, set()
        if listener is not None:
            listener.close()
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _addr = listener.accept()
            except OSError:
                return  # taken down
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                client.close()
                continue
            upstream.settimeout(None)
            with self._lock:
                if self._listener is not listener:
                    client.close()
                    upstream.close()
                    return
                self._sockets.update({client, upstream})
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    @staticmethod
    def _pump(source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (source, sink):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
