"""Webhook to visible in an agent's open inbox page (issue 19), in headless Chromium.

    .venv/bin/python bench/inbox_latency.py                  # 50 and 300 msgs/s, 20 pages, ~3 min
    .venv/bin/python bench/inbox_latency.py --rate 50 --pages 4 --seconds 5   # a quick look

It drops and recreates the database `zalohub_bench_latency` on 127.0.0.1:5432 (user
postgres), migrates it, seeds one Connected OA and `--pages` CS agents who are members of
it, each logged in (one session each). It starts `zalohub serve` and `--workers` worker
processes with Redis (127.0.0.1:6379) carrying the live wake-ups between them, as the
README's production shape does, and opens one page per agent in headless Chromium
(Debian's chromium, 1400 px), each on its own customer's conversation. Each customer
wrote once before (their links and conversations exist, as in a running inbox).

Then, for each `--rate`, customer text messages are offered as signed Zalo webhooks in an
open loop (message i due at start + i/rate, latency counted from when it was due, so a
stall cannot hide), spread over the open conversations in turn. Every text carries a
marker; a MutationObserver that the bench adds to each page (the app's code is not
touched) notes the wall-clock time the marker first enters that page's DOM. A message's
latency is that time minus its due time: webhook, ingest, claim, handler, commit, live
wake-up, stream, the page's fetch and its render.

The baseline is the same path with the handler doing nothing but what makes the
message visible: workers from `bench/noop_worker.py --visible` (real claims, leases and
state updates; a customer text is stored as a message and rolled up into its
conversation, and nothing else runs: no partner links, identity, attribution,
assignment, diagnostics or hooks). Its p99 against the real one's is the ratio.
Checks: every webhook acked 200, every marker seen in its page (a missing one is
counted, and its latency is never guessed). Beside the latencies: each side's CPU from
/proc, where each message's time went (stages), the SSE events the pages got, and the
web processes' reader rounds (their /metrics: ``zalohub_inbox_round_seconds``).
"""

import argparse
import asyncio
import json
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench import loadgen  # noqa: E402
from bench.stages import hub  # noqa: E402
from bench.stages.common import BIN, HOST  # noqa: E402
from bench.stages.procs import cpu_seconds, named, process_tree  # noqa: E402
from bench.stream import APP_ID, OA_ID, signature, user_id  # noqa: E402

DB_NAME = "zalohub_bench_latency"
DB_URL = hub.db_url(DB_NAME)
SECRET_KEY = "bench-inbox-latency-django-secret-key-not-for-production-0123456789"
MARK = "lat#"

# Added to every page before its own scripts run: when a marker first enters the DOM.
OBSERVER = """
window.__seen = {};
window.__where = {};  // where each marker first showed: the list or the thread
window.__streams = 0;
window.__pushes = { rows: 0, append: 0, tail: 0, list: 0, thread: 0 };
// The pages' own fetches of their parts: a delta (what changed since the page's marks)
// or the part drawn whole (a stale delta, a reconnect).
window.__fetches = { "list delta": 0, "list whole": 0, "thread delta": 0, "thread whole": 0 };
(() => {
  const original = window.fetch;
  window.fetch = function (input, init) {
    const url = String(input && input.url ? input.url : input);
    const list = url.includes("/inbox/list/"), thread = url.includes("/thread/");
    const delta = url.includes(list ? "since=" : "after=");
    if (list) window.__fetches[delta ? "list delta" : "list whole"] += 1;
    if (thread && !url.includes("part=offers")) {
      window.__fetches[delta ? "thread delta" : "thread whole"] += 1;
    }
    return original.apply(this, arguments);
  };
})();
(() => {
  const re = /lat#(\\d+)#/g;
  const place = (node) => {
    const element = node && node.nodeType === 1 ? node : node && node.parentElement;
    if (!element || !element.closest) return "other";
    return element.closest("#conversation-list") ? "list"
      : element.closest("#thread") ? "thread" : "other";
  };
  const note = (text, t, node) => {
    re.lastIndex = 0;
    let m;
    while ((m = re.exec(text)) !== null) {
      if (!(m[1] in window.__seen)) {
        window.__seen[m[1]] = t;
        window.__where[m[1]] = place(node);
      }
    }
  };
  new MutationObserver((records) => {
    const t = Date.now();
    for (const r of records) {
      if (r.type === "characterData") note(r.target.data || "", t, r.target);
      for (const n of r.addedNodes) note(n.textContent || "", t, r.target);
    }
  }).observe(document, { subtree: true, childList: true, characterData: true });
  const Original = window.EventSource;
  if (Original) {
    window.EventSource = function (url, init) {
      const source = new Original(url, init);
      source.addEventListener("open", () => { window.__streams += 1; });
      source.addEventListener("rows", () => { window.__pushes.rows += 1; });
      source.addEventListener("append", (e) => {
        window.__pushes.append += 1;
        // (a late message's part: "tail" names the message it follows)
        if (/"tail":[0-9]/.test(e.data)) window.__pushes.tail += 1;
      });
      source.addEventListener("list", () => { window.__pushes.list += 1; });
      source.addEventListener("thread", () => { window.__pushes.thread += 1; });
      return source;
    };
    window.EventSource.prototype = Original.prototype;
  }
})();
"""


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--rate", type=float, action="append", help="customer messages/s (repeatable)")
    p.add_argument("--seconds", type=float, default=10.0, help="length of each run")
    p.add_argument("--pages", type=int, default=20, help="open agent pages (one agent each)")
    p.add_argument("--workers", type=int, default=2, help="worker processes")
    p.add_argument("--serve-workers", type=int, default=2, help="zalohub serve --workers")
    p.add_argument(
        "--conns",
        type=int,
        default=32,
        help="webhook sender connections (Zalo sends each webhook on its own request: with "
        "few, the sender waits on acks and falls behind its schedule; 'late' says by how much)",
    )
    p.add_argument("--settle", type=float, default=15.0, help="seconds to wait for late markers")
    p.add_argument("--json", type=Path, help="write the raw results here")
    p.add_argument(
        "--floor-pages",
        action="store_true",
        help="pages that draw nothing: the app's scripts blocked, each stream's markers "
        "written into a tiny box (the hub's path with its pages' cost taken out)",
    )
    p.add_argument(
        "--dump",
        type=Path,
        help="write each message's times here (JSON lines: due, sent, acked, processed, "
        "seen, and where it first showed: list or thread)",
    )
    return p


def sql(query: str, params: list | None = None) -> list[tuple]:
    import psycopg

    with psycopg.connect(DB_URL.replace("postgres://", "postgresql://"), autocommit=True) as c:
        return c.execute(query, params).fetchall()


def bench_env() -> dict[str, str]:
    return hub.hub_env(
        DB_NAME,
        secret_key=SECRET_KEY,
        data_dir="/tmp/zalohub-bench-latency",
        ZALOHUB_REDIS_URL=os.environ.get("ZALOHUB_REDIS_URL", f"redis://{HOST}:6379/7"),
    )


def prepare(env: dict[str, str], pages: int) -> list[str]:
    """A fresh database, one OA, an agent per page: their session cookies."""
    hub.fresh_hub(DB_NAME, env)
    return hub.agents(pages)


def webhook(i: int, customer: int, text: str, port: int) -> bytes:
    user = user_id(customer)
    ts = str(int(time.time() * 1000) * 1000 + i)  # unique per message
    raw = json.dumps(
        {
            "app_id": APP_ID,
            "sender": {"id": user},
            "user_id_by_app": "55" + user[2:],
            "recipient": {"id": OA_ID},
            "event_name": "user_send_text",
            "message": {"text": text, "msg_id": f"lat{ts}"},
            "timestamp": ts,
        },
        separators=(",", ":"),
    )
    body = raw.encode()
    return (
        f"POST /zalo/webhook/{APP_ID}/ HTTP/1.1\r\nHost: {HOST}:{port}\r\n"
        "Content-Type: application/json\r\n"
        f"X-ZEvent-Signature: {signature(raw, ts)}\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode() + body


async def offer(port: int, first: int, count: int, rate: float, pages: int, conns: int):
    """Open loop: message first+i due at start + i/rate. Returns (due times, statuses)."""
    start = time.time() + 0.5
    due = [start + i / rate for i in range(count)]
    sent, acked = [0.0] * count, [0.0] * count
    statuses: dict[int, int] = {}

    async def connection(k: int) -> None:
        reader, writer = await asyncio.open_connection(HOST, port)
        try:
            for i in range(k, count, conns):
                wait = due[i] - time.time()
                if wait > 0:
                    await asyncio.sleep(wait)
                n = first + i
                text = f"Khach hoi gia {MARK}{n}# nhe"
                sent[i] = time.time()
                status, _ = await loadgen._exchange(
                    reader, writer, webhook(n, n % pages, text, port)
                )
                acked[i] = time.time()
                statuses[status] = statuses.get(status, 0) + 1
        finally:
            writer.close()

    await asyncio.gather(*(connection(k) for k in range(conns)))
    return due, statuses, sent, acked


def in_thread(coro_factory):
    """Run an asyncio coroutine on a thread of its own (Playwright's loop owns this one)."""
    out: dict = {}

    def run() -> None:
        try:
            out["value"] = asyncio.run(coro_factory())
        except BaseException as exc:
            out["error"] = exc

    thread = threading.Thread(target=run)
    thread.start()
    thread.join()
    if "error" in out:
        raise out["error"]
    return out["value"]


def start(env: dict[str, str], args: argparse.Namespace, *, visible_only: bool):
    # Every process's metrics in one directory, fresh for this server: its /metrics adds
    # up both web processes' reader rounds (zalohub_inbox_round_seconds).
    env = {**env, "PROMETHEUS_MULTIPROC_DIR": tempfile.mkdtemp(prefix="zalohub-bench-metrics-")}
    server, port = hub.start_serve(env, "--workers", str(args.serve_workers))
    worker = (
        [str(BIN / "python"), str(ROOT / "bench" / "noop_worker.py"), "--visible"]
        if visible_only
        else [str(BIN / "zalohub"), "worker"]
    )
    workers = [subprocess.Popen(worker, env=env, cwd=ROOT) for _ in range(args.workers)]
    return port, server, workers


def wait_processed(timeout: float = 120) -> int:
    """Waits for the workers to finish what was offered; what is still pending after it."""
    deadline = time.time() + timeout
    while True:
        pending = sql(
            "SELECT count(*) FROM events_zaloevent WHERE processing_state IN "
            "('received', 'queued', 'processing')"
        )[0][0]
        if pending == 0 or time.time() > deadline:
            return pending
        time.sleep(0.1)


# --floor-pages: the page as the server drew it, its own scripts blocked, with a stream
# of its own (the same URL, so the same server work) whose events only have their
# markers written into a tiny box: what the hub's path costs with pages that draw
# nothing. (Writing each event's whole text instead made Chromium's text shaping the
# cost: slower than the real page.)
FLOOR_PAGE = """
const sink = document.createElement("div");
sink.style.cssText = "position:fixed;left:0;top:0;width:10px;height:10px;" +
  "overflow:hidden;contain:strict";
document.body.appendChild(sink);
const events = new EventSource(document.getElementById("inbox").dataset.eventsUrl);
const note = (event) => {
  const marks = event.data.match(/lat#\\d+#/g);
  if (!marks) return;
  sink.appendChild(document.createTextNode(marks.join(" ")));
  if (sink.childNodes.length > 50) sink.firstChild.remove();
};
events.addEventListener("rows", note);
events.addEventListener("append", note);
"""


def open_pages(
    browser, port: int, cookies: list[str], conversations: list[int], *, floor: bool = False
):
    pages = []
    for cookie, pk in zip(cookies, conversations, strict=True):
        context = browser.new_context(viewport={"width": 1400, "height": 900})
        context.add_cookies(
            [{"name": "sessionid", "value": cookie, "url": f"http://{HOST}:{port}"}]
        )
        context.add_init_script(OBSERVER)
        if floor:
            context.route(
                "**/static/inbox/*.js",
                lambda route: route.fulfill(body="", content_type="text/javascript"),
            )
        page = context.new_page()
        page.goto(f"http://{HOST}:{port}/inbox/c/{pk}/")
        if floor:
            page.evaluate(FLOOR_PAGE)
        pages.append(page)
    deadline = time.time() + 60
    while time.time() < deadline:
        if all(p.evaluate("window.__streams") > 0 for p in pages):
            return pages
        time.sleep(0.2)
    raise RuntimeError("the pages' live streams did not open")


def rounds(port: int) -> dict[str, dict[str, float]]:
    """The web processes' reader rounds so far, by phase: count, sum (s) and the
    cumulative bucket counts by upper bound (s), from /metrics."""
    from prometheus_client.parser import text_string_to_metric_families

    with urllib.request.urlopen(f"http://{HOST}:{port}/metrics", timeout=10) as answer:
        text = answer.read().decode()
    out: dict[str, dict[str, float]] = {}
    for family in text_string_to_metric_families(text):
        if family.name != "zalohub_inbox_round_seconds":
            continue
        for sample in family.samples:
            phase = out.setdefault(sample.labels["phase"], {})
            if sample.name.endswith("_bucket"):
                phase[sample.labels["le"]] = phase.get(sample.labels["le"], 0) + sample.value
            elif sample.name.endswith(("_count", "_sum")):
                key = sample.name.rsplit("_", 1)[1]
                phase[key] = phase.get(key, 0) + sample.value
    return out


def round_figures(before: dict, after: dict) -> dict[str, tuple[int, float, str]]:
    """Each phase's rounds over a run: how many, their mean (ms), and the bucket its
    median falls in."""
    figures = {}
    for phase, now in after.items():
        then = before.get(phase, {})
        count = int(now.get("count", 0) - then.get("count", 0))
        if not count:
            continue
        mean = (now.get("sum", 0) - then.get("sum", 0)) * 1000 / count
        bounds = sorted((float(le), le) for le in now if le not in ("count", "sum"))
        median = next((le for _, le in bounds if now[le] - then.get(le, 0) >= count / 2), "+Inf")
        figures[phase] = (count, mean, median)
    return figures


SIDES = ("workers", "serve", "browser", "postgres")


def cpu_by_side(server, workers) -> dict[str, float]:
    """CPU seconds so far of each side of the path: the workers, `zalohub serve` (the
    webhooks, streams and the pages' fetches), headless Chromium (with Playwright's
    driver) and PostgreSQL (every backend: run it on a quiet box)."""
    serve = process_tree(server.pid)
    worker_pids = [p for w in workers for p in process_tree(w.pid)]
    mine = set(serve) | set(worker_pids) | {os.getpid()}
    browser = [p for p in process_tree(os.getpid()) if p not in mine]
    return {
        "workers": cpu_seconds(worker_pids),
        "serve": cpu_seconds(serve),
        "browser": cpu_seconds(browser),
        "postgres": cpu_seconds(named("postgres")),
    }


def run_one(port, pages, first: int, rate: float, args, cpu=None) -> dict:
    count = int(rate * args.seconds)
    began, cpu_before = time.time(), cpu() if cpu else {}
    rounds_before = rounds(port)
    due, statuses, sent, acked = in_thread(
        lambda: offer(port, first, count, rate, len(pages), args.conns)
    )
    wanted = {first + i for i in range(count)}
    deadline = time.time() + args.settle
    seen: dict[int, float] = {}
    where: dict[int, str] = {}
    while time.time() < deadline:
        seen = {}
        for k, page in enumerate(pages):
            marks = page.evaluate("window.__seen")
            if args.dump:
                where.update(
                    {
                        int(n): w
                        for n, w in page.evaluate("window.__where").items()
                        if int(n) % len(pages) == k
                    }
                )
            seen.update(
                {
                    int(n): t / 1000
                    for n, t in marks.items()
                    if int(n) in wanted and int(n) % len(pages) == k
                }
            )
        if len(seen) == count:
            break
        time.sleep(0.5)
    lat = [seen[n] - due[n - first] for n in sorted(seen)]
    # What the streams carried to the pages (inbox.push), summed over the pages so far.
    pushes: dict[str, int] = {}
    fetches: dict[str, int] = {}
    for page in pages:
        for kind, n in page.evaluate("window.__pushes").items():
            pushes[kind] = pushes.get(kind, 0) + n
        for kind, n in page.evaluate("window.__fetches").items():
            fetches[kind] = fetches.get(kind, 0) + n
    cpu_after, span = cpu() if cpu else {}, time.time() - began
    rounds_after = rounds(port)
    # Where the time went, message by message: the sender late on its schedule (its
    # connections wait for acks), the ack, the queue and the handler (the event's
    # received_at to its processed_at: the workers' clock is this machine's), the rest.
    processed = {
        int(found.group(1)): at.timestamp()
        for text, at in sql(
            "SELECT m.text, e.processed_at FROM events_zaloevent e "
            "JOIN events_message m ON m.id = e.message_id "
            "WHERE e.direction = 'in' AND e.processed_at IS NOT NULL AND e.received_at >= %s",
            [datetime.fromtimestamp(began, UTC)],
        )
        if (found := re.search(re.escape(MARK) + r"(\d+)#", text or ""))
    }
    stages: dict[str, list[float]] = {"late": [], "ack": [], "queue+handle": [], "to page": []}
    for n in sorted(seen):
        i = n - first
        stages["late"].append(sent[i] - due[i])
        stages["ack"].append(acked[i] - sent[i])
        if n in processed:
            stages["queue+handle"].append(processed[n] - sent[i])
            stages["to page"].append(seen[n] - processed[n])
    if args.dump:
        with args.dump.open("a") as out:
            for n in sorted(seen):
                i = n - first
                row = {"rate": rate, "n": n, "page": n % len(pages), "due": due[i]}
                row |= {"sent": sent[i], "acked": acked[i], "processed": processed.get(n)}
                out.write(json.dumps(row | {"seen": seen[n], "where": where.get(n)}) + "\n")
    return {
        # CPU per message offered, each side, over the offer and the wait for markers.
        "cpu_ms": {k: (cpu_after[k] - cpu_before[k]) * 1000 / count for k in cpu_after},
        "cores": {k: (cpu_after[k] - cpu_before[k]) / span for k in cpu_after},
        "rate": rate,
        "offered": count,
        "acked": statuses.get(200, 0),
        "statuses": statuses,
        "seen": len(seen),
        "missing": count - len(seen),
        "p50_ms": loadgen.percentile(lat, 50) * 1000,
        "p99_ms": loadgen.percentile(lat, 99) * 1000,
        "max_ms": max(lat) * 1000 if lat else float("nan"),
        "pushes": pushes,
        "fetches": fetches,
        "rounds": round_figures(rounds_before, rounds_after),
        "stages": {
            k: (loadgen.percentile(v, 50) * 1000, loadgen.percentile(v, 99) * 1000)
            for k, v in stages.items()
            if v
        },
    }


def scenario(env, args, cookies, browser, *, visible_only: bool, first: int) -> list[dict]:
    port, server, workers = start(env, args, visible_only=visible_only)
    try:
        if first == 0:  # each customer writes once: their conversation exists
            in_thread(lambda: offer(port, 10**8, len(cookies), 50.0, len(cookies), 1))
            if wait_processed():
                raise RuntimeError("the customers' first messages were not processed")
        # (SQL of its own: Playwright's loop runs on this thread, where Django refuses.)
        by_user = dict(sql("SELECT zalo_user_id, id FROM inbox_conversation"))
        conversations = [by_user[user_id(k)] for k in range(len(cookies))]
        pages = open_pages(browser, port, cookies, conversations, floor=args.floor_pages)
        results = []
        for rate in args.rate:
            sides = lambda: cpu_by_side(server, workers)  # noqa: E731
            results.append(run_one(port, pages, first, rate, args, sides))
            first += int(rate * args.seconds)
            results[-1]["pending_after"] = wait_processed()
        for page in pages:
            page.context.close()
        return results
    finally:
        hub.stop(server, *workers, timeout=30)


def report(base: list[dict], hub: list[dict], args) -> None:
    print()
    print(
        f"{args.pages} agent pages open (headless Chromium), {args.workers} workers, "
        f"zalohub serve --workers {args.serve_workers}, {args.seconds:.0f} s a rate; "
        f"{os.cpu_count()} CPUs, load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}"
    )
    head = f"{'msgs/s':>7} {'what':<10} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8}"
    head += f" {'seen':>11} {'p99/base':>9}"
    print(head)
    print("-" * len(head))
    for b, h in zip(base, hub, strict=True):
        for name, r in (("baseline", b), ("hub", h)):
            ratio = r["p99_ms"] / b["p99_ms"] if b["p99_ms"] else float("nan")
            print(
                f"{r['rate']:>7.0f} {name:<10} {r['p50_ms']:>8.0f} {r['p99_ms']:>8.0f} "
                f"{r['max_ms']:>8.0f} {r['seen']:>5}/{r['offered']:<5} {ratio:>9.2f}"
            )
    print("target: hub p99 <= 1,000 ms at 300 msgs/s")
    print()
    print("CPU ms per message offered (cores busy on average) over each rate's run:")
    print(f"{'msgs/s':>7} {'what':<10} " + " ".join(f"{s:>17}" for s in SIDES))
    for b, h in zip(base, hub, strict=True):
        for name, r in (("baseline", b), ("hub", h)):
            cells = " ".join(
                f"{r['cpu_ms'].get(s, 0):>9.2f} ({r['cores'].get(s, 0):>4.2f})" for s in SIDES
            )
            print(f"{r['rate']:>7.0f} {name:<10} {cells}")
    print()
    print("Where the time went, p50 / p99 ms: late = the sender behind its schedule (its")
    print("connections wait for acks); queue+handle = sent to processed_at; to page = the rest.")
    stage_names = ("late", "ack", "queue+handle", "to page")
    print(f"{'msgs/s':>7} {'what':<10} " + " ".join(f"{s:>15}" for s in stage_names))
    for b, h in zip(base, hub, strict=True):
        for name, r in (("baseline", b), ("hub", h)):
            cells = " ".join(
                "{:>6.0f} / {:>6.0f}".format(*r["stages"].get(s, (float("nan"),) * 2))
                for s in stage_names
            )
            print(f"{r['rate']:>7.0f} {name:<10} {cells}")
    print("SSE events the pages got, and the fetches they made, summed over the pages")
    print("since they opened (baseline first):")
    for r in base + hub:
        print(f"  {r['rate']:>5.0f}/s: {r['pushes']}; fetches {r['fetches']}")
    print("The web processes' reader rounds over each run (zalohub_inbox_round_seconds):")
    print("rounds, mean ms, and the bucket (s) holding the median, by phase:")
    for name, runs in (("baseline", base), ("hub", hub)):
        for r in runs:
            cells = "; ".join(
                f"{phase} {n} rounds, mean {mean:.0f} ms, median <= {median}"
                for phase, (n, mean, median) in sorted(r["rounds"].items())
            )
            print(f"  {r['rate']:>5.0f}/s {name:<8} {cells}")
    for r in base + hub:
        if r["missing"] or r["acked"] != r["offered"]:
            print(
                f"  CHECK FAILED at {r['rate']:.0f}/s: {r['acked']} acked, "
                f"{r['missing']} never seen, {r['statuses']}"
            )


def main() -> int:
    args = parser().parse_args()
    args.rate = args.rate or [50.0, 300.0]
    env = bench_env()
    cookies = prepare(env, args.pages)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path="/usr/bin/chromium", headless=True)
        hub = scenario(env, args, cookies, browser, visible_only=False, first=0)
        first = sum(int(r * args.seconds) for r in args.rate)
        base = scenario(env, args, cookies, browser, visible_only=True, first=first)
        browser.close()
    report(base, hub, args)
    if args.json:
        args.json.write_text(json.dumps({"baseline": base, "hub": hub}, indent=1))
    failed = any(r["missing"] or r["acked"] != r["offered"] for r in base + hub)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
