"""Recovery: a worker SIGKILLed while it holds a claimed batch, and another taking over."""

import argparse
import os
import signal
import socket
import subprocess
import time

from bench.stages.common import log, make_stream, sql
from bench.stages.procs import start_worker, stop, wait_until_done
from bench.stages.rows import (
    doubled_checks,
    insert_events,
    message_count,
    reset_events,
    seed_outbound,
    state_counts,
)
from bench.stream import Stream

HELD_BY_SQL = (
    "SELECT id FROM events_zaloevent WHERE processing_state = 'processing' AND claimed_by LIKE %s"
)


def _kill_holding_batch(victim: subprocess.Popen, claimed_by: str, n: int) -> tuple[float, int]:
    """SIGKILL the worker once 20% are processed and it holds a claimed batch; the time of
    the kill and how many were processed by then."""
    deadline = time.time() + 120
    while time.time() < deadline:
        done_n = sql("SELECT count(*) FROM events_zaloevent WHERE processing_state = 'processed'")[
            0
        ][0]
        if done_n >= n * 0.2 and sql(HELD_BY_SQL, [claimed_by]):
            os.kill(victim.pid, signal.SIGKILL)
            killed_at = time.time()
            victim.wait()
            return killed_at, done_n
        time.sleep(0.003)
    raise RuntimeError("the worker never held a claimed batch to kill")


def _stranded_batch(claimed_by: str) -> tuple[list[int], float | None]:
    """The events the dead worker still holds, and the end of their lease."""
    stranded = [r[0] for r in sql(HELD_BY_SQL, [claimed_by])]
    lease_until = sql(
        "SELECT extract(epoch FROM max(lease_until)) FROM events_zaloevent WHERE id = ANY(%s)",
        [stranded],
    )[0][0]
    return stranded, lease_until


def _wait_recovered(stranded: list[int], deadline: float) -> float | None:
    """When every stranded event is Processed, or None by the deadline."""
    while time.time() < deadline:
        left = sql(
            "SELECT count(*) FROM events_zaloevent WHERE id = ANY(%s) "
            "AND processing_state <> 'processed'",
            [stranded],
        )[0][0]
        if left == 0:
            return time.time()
        time.sleep(0.05)
    return None


def _recovery_result(
    args: argparse.Namespace, stream: Stream, messages_before: int, timing: dict
) -> dict:
    n, killed_at = args.recovery_events, timing["killed_at"]
    recovered_at, all_done, lease_until = (
        timing["recovered_at"],
        timing["all_done"],
        timing["lease_until"],
    )
    states = state_counts()
    return {
        "events": n,
        "lease_seconds": args.lease,
        "stranded": timing["stranded"],
        "processed_before_kill": timing["done_n"],
        "recovered": recovered_at is not None,
        "recovery_s": (recovered_at - killed_at) if recovered_at else float("nan"),
        "lease_left_at_kill_s": float(lease_until) - killed_at if lease_until else float("nan"),
        "all_done_s": (all_done - killed_at) if all_done else float("nan"),
        "states": states,
        "processed": states.get("processed", 0),
        "lost": n - states.get("processed", 0),
        "messages_new": message_count() - messages_before,
        "messages_expected_new": stream.messages_expected - len(stream.outbound),
        "doubled": doubled_checks(),
        "receipts_not_applied": sql(
            "SELECT count(*) FROM events_message WHERE direction = 'out' "
            "AND text = 'seeded outbound message' AND zalo_state = 'sent'"
        )[0][0],
    }


def bench_recovery(args: argparse.Namespace, env: dict[str, str]) -> dict:
    reset_events()
    stream = make_stream(args.recovery_events, "r", args, seed=9)
    seed_outbound(stream)
    messages_before = message_count()
    insert_events(stream)
    n = args.recovery_events
    victim = start_worker(env)
    successor = None
    try:
        claimed_by = f"{socket.gethostname()}:{victim.pid}/%"
        killed_at, done_n = _kill_holding_batch(victim, claimed_by, n)
        stranded, lease_until = _stranded_batch(claimed_by)
        log(
            f"recovery: SIGKILLed worker {victim.pid} holding {len(stranded)} claimed events "
            f"({done_n} of {n} processed); starting another worker"
        )
        successor = start_worker(env)
        deadline = killed_at + args.recovery_timeout
        recovered_at = _wait_recovered(stranded, deadline)
        all_done = wait_until_done(timeout=max(5.0, deadline - time.time()))
    finally:
        stop(victim)
        stop(successor)
    timing = {
        "killed_at": killed_at,
        "done_n": done_n,
        "stranded": len(stranded),
        "lease_until": lease_until,
        "recovered_at": recovered_at,
        "all_done": all_done,
    }
    result = _recovery_result(args, stream, messages_before, timing)
    log(
        f"recovery: stranded events processed {result['recovery_s']:.1f}s after the kill; "
        f"lost {result['lost']}, messages {result['messages_new']}/"
        f"{result['messages_expected_new']}, doubled {result['doubled']}"
    )
    return result
