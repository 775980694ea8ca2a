"""The table printed at the end of a run: each figure, its same-run baseline, the ratio."""

import argparse
import os
import statistics
from datetime import UTC, datetime

from bench.stages.common import sql


def ratio(a: float, b: float) -> str:
    return f"{a / b:.2f}" if b and b == b and a == a else "n/a"


def _row(name: str, value: str, base: str, r: str, target: str) -> str:
    return f"{name:<52}{value:>14}{base:>14}{r:>8}  {target}"


def _header(args: argparse.Namespace, env: dict) -> list[str]:
    head = f"{'measure':<52}{'zalohub':>14}{'baseline':>14}{'ratio':>8}  target"
    return [
        "",
        f"zalohub pipeline benchmark — {env['date']} — {'quick' if args.quick else 'full'} run",
        f"machine: {env['cpus']} CPUs, load average before {env['loadavg']}; PostgreSQL "
        f"{env['pg_version']} (synchronous_commit={env['synchronous_commit']}, "
        f"fsync={env['fsync']}); uvicorn --workers {args.server_workers} "
        f"(interfaces: {', '.join(args.interfaces)}) "
        f"(HTTP: {env['uvicorn_http']}); load generator: 1 Python process on the same box",
        f"settings changed for this run: ZALOHUB_EVENTS_LEASE_SECONDS={args.lease}; "
        "ASGI runs use CONN_MAX_AGE=0 (bench/asgi_settings.py, see README)",
        "",
        head,
        "-" * len(head),
    ]


TARGET = ">= 1,000/s, ratio >= 0.5"


def _ingest_rate(tag: str, hub: dict, bare: dict) -> tuple[float, list[str]]:
    """The saturated rate row (median of the rounds when there are several)."""
    hs, bs = hub["saturate"]["rate"], bare["saturate"]["rate"]
    rounds = len(hub["rounds"])
    if rounds == 1:
        name = f"Ingest [{tag}]: acked webhooks/s (baseline: bare 200)"
        return hs, [_row(name, f"{hs:,.0f}/s", f"{bs:,.0f}/s", ratio(hs, bs), TARGET)]
    pairs = sorted(h / b for h, b in zip(hub["rounds"], bare["rounds"], strict=True))
    hs, bs = statistics.median(hub["rounds"]), statistics.median(bare["rounds"])
    name = f"Ingest [{tag}]: acked/s, median of {rounds} (base: bare 200)"
    median = f"{statistics.median(pairs):.2f}"
    each = "; ".join(
        f"{h:,.0f} / {b:,.0f} ({h / b:.2f})"
        for h, b in zip(hub["rounds"], bare["rounds"], strict=True)
    )
    return hs, [
        _row(name, f"{hs:,.0f}/s", f"{bs:,.0f}/s", median, TARGET),
        f"  [{tag}] rounds, hub / bare 200 (ratio): {each}; ratio median {median}, "
        f"min {pairs[0]:.2f}, max {pairs[-1]:.2f}",
    ]


def _ingest_interface(args: argparse.Namespace, ing: dict, interface: str) -> list[str]:
    hub, bare, raw = ing[f"hub_{interface}"], ing[f"bare_{interface}"], ing["raw_asgi"]
    tag = interface.upper()
    hs, lines = _ingest_rate(tag, hub, bare)
    raw_rate = raw["saturate"]["rate"]
    lines += [
        _row(
            "  same, against raw ASGI 200 (no Django)",
            f"{hs:,.0f}/s",
            f"{raw_rate:,.0f}/s",
            ratio(hs, raw_rate),
            "(information)",
        ),
        _row(
            f"  ack latency p50 at saturation ({args.conns} conns)",
            f"{hub['saturate']['p50_ms']:.1f} ms",
            f"{bare['saturate']['p50_ms']:.1f} ms",
            ratio(hub["saturate"]["p50_ms"], bare["saturate"]["p50_ms"]),
            "",
        ),
    ]
    for p in ("p50", "p99"):
        lines.append(
            _row(
                f"Ingest [{tag}]: ack latency {p} at {args.rate:.0f} req/s offered",
                f"{hub['fixed'][f'{p}_ms']:.1f} ms",
                f"{bare['fixed'][f'{p}_ms']:.1f} ms",
                ratio(hub["fixed"][f"{p}_ms"], bare["fixed"][f"{p}_ms"]),
                "p99 <= 20 ms" if p == "p99" else "",
            )
        )
    bad = {
        k: v for part in ("saturate", "fixed") for k, v in hub[part]["statuses"].items() if k != 200
    }
    lines.append(
        f"  [{tag}] non-200 answers: {bad or 'none'}; connection errors: "
        f"{hub['saturate']['errors'] or 'none'}; load generator CPU "
        f"{hub['saturate']['loadgen_cpu_share'] * 100:.0f}% of a core"
    )
    return lines


def _ingest(args: argparse.Namespace, ing: dict) -> list[str]:
    lines = [line for i in args.interfaces for line in _ingest_interface(args, ing, i)]
    c = ing["check"]
    lines.append(
        f"  check: {c['acked_new']} webhooks acked as new, {c['stored']} events stored, "
        f"{c['rejected']} rejected"
    )
    return lines


def _processing(pr: dict) -> list[str]:
    lines = []
    one, two, noop = pr.get("1w"), pr.get("2w"), pr.get("2w-noop")
    if one and two:
        lines.append(
            _row(
                "Processing: events/s, 2 workers (baseline: 1 worker)",
                f"{two['rate']:,.0f}/s",
                f"{one['rate']:,.0f}/s",
                ratio(two["rate"], one["rate"]),
                ">= 1,000/s with 2 workers",
            )
        )
    if two and noop:
        lines.append(
            _row(
                "  2 workers (baseline: same, no-op handlers)",
                f"{two['rate']:,.0f}/s",
                f"{noop['rate']:,.0f}/s",
                ratio(two["rate"], noop["rate"]),
                "(queue overhead)",
            )
        )
    for key in ("1w", "2w", "2w-noop"):
        if key in pr:
            p = pr[key]
            lines.append(
                f"  check {key}: {p['events']} events, states {p['states']}, new messages "
                f"{p['messages_new']}/{p['messages_expected_new']} expected, "
                f"{p['seconds']:.1f}s"
            )
    return lines


def _steady(st: dict) -> list[str]:
    return [
        _row(
            f"Processing: receipt-to-stored p99 at {st['offered_rate']:.0f}/s",
            f"{st['p99_s'] * 1000:,.0f} ms",
            f"{st['db_p99_s'] * 1000:,.0f} ms",
            ratio(st["p99_s"], st["db_p99_s"]),
            "p99 <= 2 s",
        ),
        f"  (zalohub: first seen Processed by a 100 ms poller; baseline column: the "
        f"worker's own processed_at; p50 {st['p50_s'] * 1000:.0f} ms, max "
        f"{st['max_s'] * 1000:.0f} ms; {st['observed_n']} events, ack p99 "
        f"{st['ack_p99_ms']:.1f} ms, states {st['states']})",
    ]


def _recovery(rc: dict) -> list[str]:
    bound = rc["lease_left_at_kill_s"]
    return [
        _row(
            "Recovery: SIGKILL -> stranded events processed",
            f"{rc['recovery_s']:.1f} s",
            f"{bound:.1f} s",
            ratio(rc["recovery_s"], bound),
            "<= 60 s, 0 lost, 0 doubled",
        ),
        f"  (baseline column: lease time left on the stranded batch at the kill; lease "
        f"{rc['lease_seconds']} s, sweeper every 10 s)",
        f"  check: {rc['stranded']} events stranded in the killed batch, "
        f"{rc['processed']}/{rc['events']} processed (lost {rc['lost']}), new messages "
        f"{rc['messages_new']}/{rc['messages_expected_new']}, receipts not applied "
        f"{rc['receipts_not_applied']}, doubled {rc['doubled']}; all done "
        f"{rc['all_done_s']:.1f} s after the kill",
    ]


def report(args: argparse.Namespace, res: dict) -> str:
    lines = _header(args, res["env"])
    if "ingest" in res:
        lines += _ingest(args, res["ingest"])
    if "processing" in res:
        lines += _processing(res["processing"])
    if "steady" in res:
        lines += _steady(res["steady"])
    if "recovery" in res:
        lines += _recovery(res["recovery"])
    lines.append("")
    return "\n".join(lines)


def environment() -> dict:
    import uvicorn  # noqa: F401

    try:
        import httptools  # noqa: F401

        http_impl = "httptools"
    except ImportError:
        http_impl = "h11 (httptools not installed)"
    return {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "cpus": os.cpu_count(),
        "loadavg": " ".join(f"{x:.2f}" for x in os.getloadavg()),
        "pg_version": sql("SHOW server_version")[0][0],
        "synchronous_commit": sql("SHOW synchronous_commit")[0][0],
        "fsync": sql("SHOW fsync")[0][0],
        "uvicorn_http": http_impl,
    }
