"""A small HTTP/1.1 load generator on asyncio streams: pre-built requests, keep-alive.

Two shapes:
- closed loop (``saturate``): C connections each send the next request as soon as the
  previous answer arrives; the completions per second in the window are the capacity.
- open loop (``fixed_rate``): request i is due at start + i/rate whatever happened
  before; its latency is measured from when it was due, so a stall shows up in the
  percentiles instead of silently lowering the offered rate (no coordinated omission).
"""

import asyncio
import resource
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field


@dataclass
class LoadResult:
    sent: int = 0
    completed: int = 0  # answers received, any status
    statuses: Counter = field(default_factory=Counter)
    errors: Counter = field(default_factory=Counter)  # connection errors by type
    window_ok: int = 0  # 200s completed inside the measuring window
    window_seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)  # seconds, 200s in the window
    cpu_seconds: float = 0.0  # this load generator's own CPU
    pool_exhausted: bool = False
    ok_bodies_duplicate: int = 0

    @property
    def rate(self) -> float:
        return self.window_ok / self.window_seconds if self.window_seconds else 0.0


def percentile(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    k = max(0, min(len(ordered) - 1, round(p / 100 * len(ordered) + 0.5) - 1))
    return ordered[k]


async def _exchange(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, data: bytes
) -> tuple[int, bytes]:
    writer.write(data)
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    lower = head.lower()
    at = lower.find(b"content-length:")
    if at < 0:
        raise RuntimeError("response without Content-Length")
    length = int(lower[at + 15 : lower.index(b"\r\n", at)])
    body = await reader.readexactly(length) if length else b""
    return status, body


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


# Connections are opened this far apart. Opened at once, they would nearly all land on one
# server process: uvicorn's workers share a listening socket, and the first to wake
# accepts every pending connection in one go (asyncio accepts up to 100 a wakeup), then
# keep-alive holds them there. One at a time, each is taken by whichever worker wins
# that wakeup, so they spread over the workers as a real client population would.
STAGGER_SECONDS = 0.005


async def _open(host: str, port: int, k: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    await asyncio.sleep(k * STAGGER_SECONDS)
    return await asyncio.open_connection(host, port)


async def _saturate(
    host: str,
    port: int,
    requests: Iterator[bytes],
    conns: int,
    warmup: float,
    duration: float,
    ok: int = 200,
) -> LoadResult:
    result = LoadResult(window_seconds=duration)
    start = time.perf_counter()
    window_start, end = start + warmup, start + warmup + duration

    async def connection(k: int) -> None:
        reader, writer = await _open(host, port, k)
        try:
            while (now := time.perf_counter()) < end:
                data = next(requests, None)
                if data is None:
                    result.pool_exhausted = True
                    return
                result.sent += 1
                status, body = await _exchange(reader, writer, data)
                done = time.perf_counter()
                result.completed += 1
                result.statuses[status] += 1
                if status == ok and b'"duplicate": true' in body:
                    result.ok_bodies_duplicate += 1
                if status == ok and now >= window_start and done <= end:
                    result.window_ok += 1
                    result.latencies.append(done - now)
        except (OSError, asyncio.IncompleteReadError) as exc:
            result.errors[type(exc).__name__] += 1
        finally:
            writer.close()

    cpu = _cpu()
    await asyncio.gather(*(connection(k) for k in range(conns)))
    result.cpu_seconds = _cpu() - cpu
    return result


async def _fixed_rate(
    host: str, port: int, requests: list[bytes], rate: float, conns: int, ok: int = 200
) -> LoadResult:
    n = len(requests)
    result = LoadResult(window_seconds=n / rate)
    start = time.perf_counter() + 0.2 + conns * STAGGER_SECONDS

    async def connection(k: int) -> None:
        reader, writer = await _open(host, port, k)
        try:
            for i in range(k, n, conns):
                due = start + i / rate
                delay = due - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)
                result.sent += 1
                status, body = await _exchange(reader, writer, requests[i])
                result.completed += 1
                result.statuses[status] += 1
                if status == ok:
                    result.window_ok += 1
                    result.latencies.append(time.perf_counter() - due)
                    if b'"duplicate": true' in body:
                        result.ok_bodies_duplicate += 1
        except (OSError, asyncio.IncompleteReadError) as exc:
            result.errors[type(exc).__name__] += 1
        finally:
            writer.close()

    cpu = _cpu()
    await asyncio.gather(*(connection(k) for k in range(conns)))
    result.window_seconds = time.perf_counter() - start
    result.cpu_seconds = _cpu() - cpu
    return result


def saturate(
    host: str,
    port: int,
    requests: Iterator[bytes],
    *,
    conns: int,
    warmup: float,
    duration: float,
    ok: int = 200,
) -> LoadResult:
    """Closed loop for warmup + duration seconds; counts only the window after warmup.
    ``ok``: the status that counts as done (200; 202 for an endpoint that accepts)."""
    return asyncio.run(_saturate(host, port, requests, conns, warmup, duration, ok))


def fixed_rate(
    host: str, port: int, requests: list[bytes], *, rate: float, conns: int, ok: int = 200
) -> LoadResult:
    """Open loop: all of `requests` at `rate` per second over `conns` keep-alive connections."""
    return asyncio.run(_fixed_rate(host, port, requests, rate, conns, ok))
