"""The webhook emitter: sign events as Zalo does and POST them to the hub, retrying.

Written from API.md §3.1-§3.2, independently of the hub's verifier (``zalohub.zalo``):
``X-ZEvent-Signature: mac=<sha256 hex of app_id + raw body + timestamp + OA secret key>``,
as documented; sources disagree on the first term and the key (two CONFLICTs), so the
``signing`` setting picks any of the four (``SIGNINGS``) for tests and demos.
A delivery that is not answered HTTP 200 is tried again on Zalo's schedule (30 s, 5 min,
15 min, 30 min, 1 h), each retry carrying ``num_retry``; ``time_factor`` compresses the
schedule for tests. One background thread sends, in due-time order, so events of one
conversation leave in the order they were made. Only loopback URLs are ever contacted.
"""

import functools
import hashlib
import heapq
import ipaddress
import itertools
import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any
from urllib.parse import urlsplit

import httpx

logger = logging.getLogger(__name__)

RETRY_SCHEDULE = (30.0, 300.0, 900.0, 1800.0, 3600.0)  # seconds after each failure
CORRUPTIONS = ("signature", "body", "tampered", "unsigned")
MAX_LOG = 10_000  # deliveries remembered; the oldest finished ones are forgotten first
USER_AGENT = "zalohub-sandbox-webhook/1"


def check_target(url: str) -> str:
    """``url`` if it is an http(s) URL on a loopback host; ValueError otherwise."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"A webhook target must be an http(s) URL, not {url!r}.")
    host = parts.hostname
    if host != "localhost":
        try:
            loopback = ipaddress.ip_address(host).is_loopback
        except ValueError:
            loopback = False
        if not loopback:
            raise ValueError(
                f"The sandbox only delivers webhooks to loopback addresses, not {host!r}."
            )
    return url


def sign(*, first: str, raw_body: bytes, timestamp: str, key: str) -> str:
    """The ``X-ZEvent-Signature`` value: plain SHA-256 (not HMAC), prefixed ``mac=``."""
    digest = hashlib.sha256(first.encode() + raw_body + timestamp.encode() + key.encode())
    return f"mac={digest.hexdigest()}"


# How the MAC is made, "<first term>+<key>": the app id or the OA id first, the OA secret
# key or the app secret key last (API.md §3.2, both CONFLICT). The first is documented.
SIGNINGS = ("app_id+oa_key", "oa_id+oa_key", "app_id+app_key", "oa_id+app_key")


def encode(payload: dict[str, Any]) -> bytes:
    # Compact UTF-8 JSON, Vietnamese unescaped, as Zalo sends it.
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()


# Which side a receipt names the OA on: "oa" = sender (the OA sent the message; Zalo's
# ZNS receipts and the receipts replayed from real OAs), "user" = recipient (as the user
# events are). Sources disagree for 1:1 receipts (API.md §3.3-§3.6): tests play both.
RECEIPT_SENDERS = ("oa", "user")


@dataclass
class WebhookConfig:
    time_factor: float = 1.0  # multiplies RETRY_SCHEDULE (0.001: 30 s becomes 30 ms)
    timeout: float = 2.0  # Zalo waits about 2 s for the 200 (API.md §3.1)
    receipt_delay: float | None = 0.5  # auto receipts after a send; None: on command only
    receipt_sender: str = "oa"  # see RECEIPT_SENDERS
    echo: bool = True  # oa_send_* for each message sent through the API, as Zalo does
    signing: str = SIGNINGS[0]  # see SIGNINGS

    def update(self, **changes: Any) -> None:
        known = {"time_factor", "timeout", "receipt_delay", "receipt_sender", "echo", "signing"}
        for name, value in changes.items():
            if name not in known:
                raise ValueError(f"unknown webhook setting {name!r}")
            if value is None and name != "receipt_delay":
                continue
            if name == "signing":
                if value not in SIGNINGS:
                    raise ValueError(f"signing must be one of {SIGNINGS}")
                self.signing = value
                continue
            if name == "receipt_sender":
                if value not in RECEIPT_SENDERS:
                    raise ValueError(f"receipt_sender must be one of {RECEIPT_SENDERS}")
                self.receipt_sender = value
                continue
            if name == "echo":
                if not isinstance(value, bool):
                    raise ValueError("echo must be true or false")
                self.echo = value
                continue
            if value is not None:
                if not isinstance(value, int | float) or isinstance(value, bool) or value < 0:
                    raise ValueError(f"{name} must be a number of seconds (or factor) >= 0")
                value = float(value)
            setattr(self, name, value)


@dataclass
class Attempt:
    attempt: int  # 1 = first delivery
    num_retry: int  # the header sent (0: none, the first delivery)
    at: float  # epoch seconds, real time
    status: int | None  # HTTP status, None when no answer
    error: str
    elapsed_ms: float
    response: str


@dataclass
class Delivery:
    id: int
    app_id: str
    oa_id: str
    event_name: str
    url: str
    body: bytes
    headers: dict[str, str]
    state: str = "pending"  # pending | delivered | failed | refused | no_target
    corrupt: str | None = None
    copy_of: int | None = None
    created_at: float = field(default_factory=time.time)
    next_attempt_at: float | None = None
    attempts: list[Attempt] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["body"] = self.body.decode("utf-8", "replace")
        return data


class Emitter:
    """A queue of timed jobs (deliveries, receipts) run by one daemon thread."""

    def __init__(self) -> None:
        self.config = WebhookConfig()
        self._cond = threading.Condition()
        self._queue: list[tuple[float, int, int, Callable[[], object]]] = []
        self._seq = itertools.count(1)
        self._ids = itertools.count(1)
        self._generation = 0
        self._busy = 0
        self._log: dict[int, Delivery] = {}
        self._thread: threading.Thread | None = None
        self._client: httpx.Client | None = None

    # --- scheduling ----------------------------------------------------------------------
    def call_later(self, delay: float, job: Callable[[], object]) -> None:
        with self._cond:
            due = time.monotonic() + max(0.0, delay)
            heapq.heappush(self._queue, (due, next(self._seq), self._generation, job))
            self._ensure_thread()
            self._cond.notify_all()

    def _ensure_thread(self) -> None:
        if self._thread is None or not self._thread.is_alive():
            self._thread = threading.Thread(target=self._run, name="zalo-webhooks", daemon=True)
            self._thread.start()

    def _run(self) -> None:
        # trust_env=False: a proxy from the environment must never carry loopback traffic.
        self._client = httpx.Client(follow_redirects=False, trust_env=False)
        while True:
            with self._cond:
                while not self._queue or self._queue[0][0] > time.monotonic():
                    wait = self._queue[0][0] - time.monotonic() if self._queue else None
                    self._cond.wait(wait)
                _, _, generation, job = heapq.heappop(self._queue)
                if generation != self._generation:
                    continue
                self._busy += 1
            try:
                job()
            except Exception:
                logger.exception("sandbox webhook job failed")
            finally:
                with self._cond:
                    self._busy -= 1
                    self._cond.notify_all()

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Block until nothing is queued or running (retries included); False on timeout."""
        with self._cond:
            return self._cond.wait_for(lambda: not self._queue and not self._busy, timeout)

    def reset(self) -> None:
        """Forget queued jobs, the log and the settings (a world reset)."""
        with self._cond:
            self._generation += 1
            self._queue.clear()
            self._log.clear()
            self.config = WebhookConfig()
            self._cond.notify_all()

    # --- deliveries ----------------------------------------------------------------------
    def deliver(
        self,
        *,
        app_id: str,
        oa_id: str,
        url: str,
        payload: dict[str, Any],
        oa_secret_key: str,
        app_secret_key: str = "",
        duplicate: int = 0,
        delay: float = 0.0,
        corrupt: str | None = None,
    ) -> list[Delivery]:
        """Sign and queue one event for one app (plus ``duplicate`` identical copies), the
        MAC made as the ``signing`` setting says."""
        if corrupt is not None and corrupt not in CORRUPTIONS:
            raise ValueError(f"corrupt must be one of {CORRUPTIONS}, not {corrupt!r}")
        if duplicate < 0 or delay < 0:
            raise ValueError("duplicate and delay cannot be negative")
        head, tail = self.config.signing.split("+")
        term = app_id if head == "app_id" else oa_id
        key = oa_secret_key if tail == "oa_key" else app_secret_key
        if not term or not key:
            raise ValueError(f"signing {self.config.signing!r} needs the {head} and the {tail}")
        body, headers = self._wire(term, payload, key, corrupt)
        event_name = str(payload.get("event_name") or "")
        first: Delivery | None = None
        made: list[Delivery] = []
        for _copy in range(1 + duplicate):
            delivery = Delivery(
                id=next(self._ids),
                app_id=app_id,
                oa_id=oa_id,
                event_name=event_name,
                url=url,
                body=body,
                headers=dict(headers),
                corrupt=corrupt,
                copy_of=first.id if first else None,
            )
            first = first or delivery
            made.append(delivery)
            with self._cond:
                self._remember(delivery)
                if not url:
                    delivery.state = "no_target"
                    continue
                generation = self._generation
            self.call_later(delay, functools.partial(self._attempt, delivery, generation))
        return made

    @staticmethod
    def _wire(
        first: str, payload: dict[str, Any], key: str, corrupt: str | None
    ) -> tuple[bytes, dict[str, str]]:
        body = encode(payload)
        timestamp = str(payload.get("timestamp") or "")
        signature = sign(first=first, raw_body=body, timestamp=timestamp, key=key)
        if corrupt == "signature":  # a MAC made with the wrong key
            signature = sign(first=first, raw_body=body, timestamp=timestamp, key=key + "-wrong")
        elif corrupt == "body":  # cut in transit: invalid JSON under the original MAC
            body = body[: max(1, len(body) // 2)]
        elif corrupt == "tampered":  # valid JSON, edited after signing
            edited = dict(payload, timestamp=str(int(timestamp or "0") + 1))
            body = encode(edited)
        headers = {"Content-Type": "application/json", "User-Agent": USER_AGENT}
        if corrupt != "unsigned":
            headers["X-ZEvent-Signature"] = signature
        return body, headers

    def _remember(self, delivery: Delivery) -> None:
        self._log[delivery.id] = delivery
        if len(self._log) > MAX_LOG:
            for old_id, old in list(self._log.items()):
                if old.state != "pending":
                    del self._log[old_id]
                if len(self._log) <= MAX_LOG:
                    break

    def _attempt(self, delivery: Delivery, generation: int) -> None:
        number = len(delivery.attempts) + 1
        headers = dict(delivery.headers)
        if number > 1:
            headers["num_retry"] = str(number - 1)
        status, error, answer, refused = None, "", "", False
        at, started = time.time(), time.monotonic()
        try:
            check_target(delivery.url)  # again at send time: the URL may have come from a file
            assert self._client is not None
            response = self._client.post(
                delivery.url, content=delivery.body, headers=headers, timeout=self.config.timeout
            )
            status, answer = response.status_code, response.text[:300]
        except ValueError as exc:
            error, refused = str(exc), True
        except httpx.HTTPError as exc:
            error = f"{type(exc).__name__}: {exc}"
        attempt = Attempt(
            attempt=number,
            num_retry=number - 1,
            at=at,
            status=status,
            error=error,
            elapsed_ms=round((time.monotonic() - started) * 1000, 1),
            response=answer,
        )
        with self._cond:
            if generation != self._generation:
                return
            delivery.attempts.append(attempt)
            if status == 200:
                delivery.state, delivery.next_attempt_at = "delivered", None
                return
            if refused:
                delivery.state, delivery.next_attempt_at = "refused", None
                return
            if number > len(RETRY_SCHEDULE):
                # Zalo would now unsubscribe the app from webhooks (API.md §3.1).
                delivery.state, delivery.next_attempt_at = "failed", None
                return
            wait = RETRY_SCHEDULE[number - 1] * self.config.time_factor
            delivery.next_attempt_at = time.time() + wait
        self.call_later(wait, lambda: self._attempt(delivery, generation))

    # --- reporting -----------------------------------------------------------------------
    def deliveries(
        self, *, app_id: str | None = None, event_name: str | None = None
    ) -> list[Delivery]:
        with self._cond:
            return [
                d
                for d in self._log.values()
                if (app_id is None or d.app_id == app_id)
                and (event_name is None or d.event_name == event_name)
            ]

    def pending(self) -> int:
        with self._cond:
            return sum(1 for d in self._log.values() if d.state == "pending")
