"""Ingest: webhooks through uvicorn into the hub, against a bare 200 of the same stack."""

import argparse
import itertools
from collections.abc import Iterator

from bench import loadgen
from bench.stages import scale
from bench.stages.common import HOST, log, make_stream, sql
from bench.stages.procs import Server
from bench.stages.rows import reset_events
from bench.stream import Stream, http_requests

# (label, uvicorn app, settings module, interface)
Stack = tuple[str, str, str, str]


def load_summary(res: loadgen.LoadResult) -> dict:
    lat = res.latencies
    return {
        "rate": res.rate,
        "ok": res.statuses.get(200, 0),
        "statuses": dict(res.statuses),
        "errors": dict(res.errors),
        "duplicates": res.ok_bodies_duplicate,
        "p50_ms": loadgen.percentile(lat, 50) * 1000,
        "p99_ms": loadgen.percentile(lat, 99) * 1000,
        "max_ms": max(lat) * 1000 if lat else float("nan"),
        "loadgen_cpu_share": res.cpu_seconds / res.window_seconds if res.window_seconds else 0,
        "pool_exhausted": res.pool_exhausted,
        "sent": res.sent,
    }


def request_pool(stream: Stream, port: int, *, unique: bool) -> Iterator[bytes]:
    """Requests to send a server: the stream's own, each once, for a server that stores
    them (the caller drops what was sent from the stream); for one that does not, its
    first 5,000 over and over."""
    source = stream if unique else Stream(payloads=stream.payloads[:5000])
    requests = http_requests(source, host=HOST, port=port)
    return iter(requests) if unique else itertools.cycle(requests)


def _saturate(
    server: Server, pool: Iterator[bytes], args: argparse.Namespace
) -> loadgen.LoadResult:
    return loadgen.saturate(
        HOST, server.port, pool, conns=args.conns, warmup=args.warmup, duration=args.duration
    )


def ingest_stacks(args: argparse.Namespace) -> list[Stack]:
    """The raw ASGI floor, then per interface the bare 200 and the hub."""
    stacks = [("raw_asgi", "bench.bare_asgi:application", "", "asgi")]
    for interface in args.interfaces:
        hub_settings = "bench.asgi_settings" if interface == "asgi" else "zalohub.settings"
        stacks += [
            (f"bare_{interface}", "zalohub.asgi:application", "bench.bare_settings", interface),
            (f"hub_{interface}", "zalohub.asgi:application", hub_settings, interface),
        ]
    return stacks


def serve(stacks: list[Stack], label: str, args: argparse.Namespace, env: dict[str, str]) -> Server:
    _, app, settings, interface = next(s for s in stacks if s[0] == label)
    return Server(app, env, workers=args.server_workers, settings=settings, interface=interface)


def first_round(label: str, server: Server, stream: Stream, args: argparse.Namespace) -> tuple:
    """Saturated, then at the fixed offered rate; the two LoadResults."""
    hub = label.startswith("hub")
    pool = request_pool(stream, server.port, unique=hub)
    log(f"ingest[{label}]: saturating with {args.conns} connections, {args.duration}s")
    sat = _saturate(server, pool, args)
    fixed_reqs = list(itertools.islice(pool, int(args.rate * args.fixed)))
    log(f"ingest[{label}]: {args.rate}/s offered for {args.fixed}s")
    deleting = None
    if hub and getattr(args, "retention", False):
        deleting = scale.Retention()  # the history's oldest day, deleted meanwhile
        deleting.start()
    fixed = loadgen.fixed_rate(
        HOST, server.port, fixed_reqs, rate=args.rate, conns=args.fixed_conns
    )
    if deleting is not None:
        deleting.halt.set()
        deleting.join()
        args.retention_result = deleting.summary()
        log(f"ingest[{label}]: retention during the fixed run: {args.retention_result}")
    if hub:  # the rest of the pool must not be reused by the next hub run
        stream.payloads = stream.payloads[sat.sent + len(fixed_reqs) :]
    return sat, fixed


def more_rounds(
    stacks: list[Stack], stream: Stream, out: dict, args: argparse.Namespace, env: dict[str, str]
) -> None:
    # More saturated rounds, bare 200 and hub one after the other, each pair a ratio: on a
    # shared 2-core machine one round's figures can swing by a fifth (see README.md).
    for round_ in range(2, args.repeat + 1):
        for interface in args.interfaces:
            for label in (f"bare_{interface}", f"hub_{interface}"):
                with serve(stacks, label, args, env) as server:
                    hub = label.startswith("hub")
                    sat = _saturate(server, request_pool(stream, server.port, unique=hub), args)
                    if hub:
                        stream.payloads = stream.payloads[sat.sent :]
                out[label]["rounds"].append(sat.rate)
                out[label]["extra"].append(load_summary(sat))
                log(f"ingest[{label}] round {round_}: {sat.rate:.0f}/s saturated")


def ingest_check(out: dict, args: argparse.Namespace) -> dict:
    """Webhooks the hub acknowledged as new against the events stored."""
    acked_new = sum(
        summary["ok"] - summary["duplicates"]
        for i in args.interfaces
        for summary in (
            out[f"hub_{i}"]["saturate"],
            out[f"hub_{i}"]["fixed"],
            *out[f"hub_{i}"]["extra"],
        )
    )
    stored = sql("SELECT count(*) FROM events_zaloevent")[0][0]
    rejected = sql("SELECT count(*) FROM events_rejectedrequest")[0][0]
    return {"acked_new": acked_new, "stored": stored, "rejected": rejected}


def bench_ingest(args: argparse.Namespace, env: dict[str, str]) -> dict:
    reset_events()
    per_run = int(args.rate_cap * (args.warmup + args.duration))
    n_pool = (per_run * args.repeat + int(args.rate * args.fixed)) * len(args.interfaces)
    log(f"ingest: pre-signing {n_pool} unique webhooks")
    stream = make_stream(n_pool, "i", args)
    out: dict[str, dict] = {}
    stacks = ingest_stacks(args)
    for label, *_ in stacks:
        with serve(stacks, label, args, env) as server:
            sat, fixed = first_round(label, server, stream, args)
        out[label] = {
            "saturate": load_summary(sat),
            "fixed": load_summary(fixed),
            "rounds": [sat.rate],
            "extra": [],
        }
        log(
            f"ingest[{label}]: {sat.rate:.0f}/s saturated; at {args.rate}/s p50 "
            f"{out[label]['fixed']['p50_ms']:.1f} ms p99 {out[label]['fixed']['p99_ms']:.1f} ms"
        )
    more_rounds(stacks, stream, out, args, env)
    out["check"] = ingest_check(out, args)
    return out
