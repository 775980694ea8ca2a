"""The processes a run starts: uvicorn servers and `zalohub worker`s, all on loopback."""

import contextlib
import http.client
import os
import signal
import subprocess
import time

from bench.stages.common import BIN, DB_NAME, HOST, ROOT, free_port, sql
from bench.stages.rows import pending_count
from bench.stream import APP_ID


class Server:
    """uvicorn on loopback with N worker processes, as README's production line."""

    def __init__(
        self,
        app: str,
        env: dict[str, str],
        *,
        workers: int,
        settings: str = "",
        interface: str = "asgi",
    ) -> None:
        self.port = free_port()
        self.interface = interface
        if interface == "wsgi" and app.startswith("zalohub.asgi"):
            app = "zalohub.wsgi:application"
        self.env = dict(env)
        if settings:
            self.env["DJANGO_SETTINGS_MODULE"] = settings
        self.app, self.workers = app, workers
        self.proc: subprocess.Popen | None = None

    def __enter__(self) -> "Server":
        self.proc = subprocess.Popen(
            [
                *(str(BIN / "python"), "-m", "uvicorn", self.app),
                *("--host", HOST, "--port", str(self.port), "--workers", str(self.workers)),
                *("--no-access-log", "--log-level", "warning", "--lifespan", "off"),
                *("--backlog", "4096"),
                *(("--interface", "wsgi") if self.interface == "wsgi" else ()),
            ],
            env=self.env,
            cwd=ROOT,
        )
        deadline = time.time() + 60
        while time.time() < deadline:
            with contextlib.suppress(OSError):
                conn = http.client.HTTPConnection(HOST, self.port, timeout=2)
                conn.request("GET", f"/zalo/webhook/{APP_ID}/")
                conn.getresponse().read()
                conn.close()
                return self
            time.sleep(0.2)
        raise RuntimeError(f"uvicorn {self.app} did not start")

    def __exit__(self, *exc: object) -> None:
        stop(self.proc)


def stop(proc: subprocess.Popen | None, timeout: float = 20) -> None:
    if proc is None or proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def start_worker(env: dict[str, str], *, noop: bool = False) -> subprocess.Popen:
    command = (
        [str(BIN / "python"), str(ROOT / "bench" / "noop_worker.py")]
        if noop
        else [str(BIN / "zalohub"), "worker"]
    )
    return subprocess.Popen(command, env=env, cwd=ROOT)


def wait_workers_ready(count: int, timeout: float = 20) -> None:
    """Each worker holds >= 3 connections once its threads run (tasks, dispatcher, scheduler)."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        n = sql(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
            [DB_NAME],
        )[0][0]
        if n >= 3 * count:
            break
        time.sleep(0.1)
    time.sleep(0.5)


def wait_until_done(timeout: float, poll: float = 0.05) -> float | None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if pending_count() == 0:
            return time.time()
        time.sleep(poll)
    return None


# --- CPU seconds from /proc -------------------------------------------------------------

TICK = os.sysconf("SC_CLK_TCK")


def process_tree(pid: int) -> list[int]:
    """``pid`` and its descendants (uvicorn's worker processes, a browser's renderers)."""
    found = [pid]
    try:
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/children") as f:
                for child in f.read().split():
                    found += process_tree(int(child))
    except OSError:
        pass
    return found


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU seconds the processes used so far (gone ones count nothing)."""
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])  # utime + stime
        except OSError:
            pass
    return total / TICK


def named(name: str) -> list[int]:
    """Every process whose command is ``name`` (PostgreSQL's backends: ``postgres``)."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/comm") as f:
                    if f.read().strip() == name:
                        found.append(int(entry))
            except OSError:
                pass
    return found
