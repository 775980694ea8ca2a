"""Delivering: claim what is due, per subscription within its rate, send the claimed
deliveries concurrently over one keep-alive client, settle them set-wise as their
answers come (``tasks.Deliverer``: the next claim and the settles happen while other
requests are on their way, so no batch waits for its slowest request).

At least once: a delivery is claimed with a token and a lease, and only the holder of
the claim settles it; a worker that dies mid-delivery leaves the row in Delivering until
the sweeper puts it back (the same webhook-id goes again, so the receiver applies it
once). A 2xx answer delivers; 410 Gone disables the subscription; anything else (or no
answer) retries on the schedule in conf (about three days, with jitter), and a
subscription that fails N times running for long enough is disabled and the Zalo Admins
are told."""

import asyncio
import time
from dataclasses import dataclass
from datetime import UTC, datetime

import httpx
from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext_noop

from zalohub.core.crypto import reveal
from zalohub.events.outbound import lanes
from zalohub.webhooks import conf
from zalohub.webhooks.lane import DELIVERIES
from zalohub.webhooks.models import Subscription
from zalohub.webhooks.signing import sign_headers, signers
from zalohub.webhooks.urlcheck import check_url

ANSWER_KEPT = 2000  # characters of the receiver's answer kept in the log
GONE = gettext_noop("The receiver answered 410 Gone: it wants no more deliveries.")
CLAIMED_FIELDS = ("webhook_id", "body", "attempts")
FAILING = gettext_noop("%(count)s deliveries failed in a row since %(since)s (last: %(last)s).")


@dataclass
class Claimed:
    id: int
    webhook_id: str
    body: str
    attempts: int


@dataclass
class Batch:
    subscription: Subscription
    token: str
    deliveries: list[Claimed]


@dataclass
class Outcome:
    delivery: Claimed
    started_at: datetime
    duration_ms: int
    headers: dict[str, str]
    status: int | None = None
    answer: str = ""
    error: str = ""

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


def claim(worker_id: str, *, now: datetime | None = None, limit: int = 0) -> list[Batch]:
    """Claim what is due, subscription by subscription, within each one's rate (the
    pipeline's claim: ``events.outbound.lanes``), at most ``limit`` of each (default:
    WEBHOOKS_BATCH_SIZE); what is sent is read by the query that picks the rows."""
    now = now or timezone.now()
    limit = limit or conf.get("WEBHOOKS_BATCH_SIZE")
    batches = []
    for taken in lanes.claim_per_target(
        DELIVERIES, worker_id=worker_id, now=now, limit=limit, fields=CLAIMED_FIELDS
    ):
        claimed = [
            Claimed(pk, webhook_id, body, attempts + 1)  # the claim counted this attempt
            for pk, (webhook_id, body, attempts) in zip(taken.ids, taken.rows, strict=True)
        ]
        batches.append(Batch(subscription=taken.target, token=taken.token, deliveries=claimed))
    return batches


Finished = tuple[Batch, Outcome]


class Courier:
    """One delivery thread's event loop and HTTP client (kept alive between batches).
    Requests started (``start``) go on while the thread claims and settles: they are on
    the wire and the receiver answers meanwhile; the loop runs while the thread waits
    for answers (``collect``). One thread for both: a second thread for the loop would
    make every database round trip wait for the GIL behind it."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.client = httpx.AsyncClient(
            timeout=conf.get("WEBHOOKS_TIMEOUT_SECONDS"),
            follow_redirects=False,  # a redirect could lead anywhere (SSRF)
            trust_env=False,
            limits=httpx.Limits(max_connections=200, max_keepalive_connections=100),
        )
        self.in_flight = asyncio.Semaphore(conf.get("WEBHOOKS_IN_FLIGHT"))
        self.finished: list[Finished] = []
        self._tasks: set[asyncio.Task[None]] = set()
        self._enough = 0  # answers that wake a waiting collect
        self._waiter: asyncio.Future[None] | None = None

    def start(self, batch: Batch) -> None:
        """Queue the batch's deliveries (at most WEBHOOKS_IN_FLIGHT on their way at once,
        over every batch); a subscription whose URL or secret is refused answers each."""
        sub = batch.subscription
        try:
            check_url(sub.url, allow_private=sub.allow_private_network)
            previous = reveal(sub.previous_secret) if sub.previous_secret else ""
            signing = signers(reveal(sub.secret), previous, sub.previous_secret_until)
        except (ValidationError, Exception) as exc:
            refused = "; ".join(exc.messages) if isinstance(exc, ValidationError) else str(exc)
            at = datetime.now(UTC)
            self.finished += [
                (batch, Outcome(d, at, 0, {}, error=refused)) for d in batch.deliveries
            ]
            return
        for d in batch.deliveries:
            task = self.loop.create_task(self._post(batch, signing, d))
            self._tasks.add(task)  # the loop keeps only weak references
            task.add_done_callback(self._tasks.discard)

    @property
    def busy(self) -> bool:
        """Requests on their way or answers not collected yet."""
        return bool(self._tasks or self.finished)

    def collect(self, *, timeout: float, want: int = 1, linger: float = 0.0) -> list[Finished]:
        """The answers so far: runs the loop up to ``timeout`` seconds for the first, then
        up to ``linger`` more until there are ``want``."""
        if not self.finished and self._tasks:
            self.loop.run_until_complete(self._until(1, timeout))
        if self.finished and len(self.finished) < want and linger > 0 and self._tasks:
            self.loop.run_until_complete(self._until(want, linger))
        got, self.finished = self.finished, []
        return got

    async def _until(self, count: int, timeout: float) -> None:
        self._enough, self._waiter = count, self.loop.create_future()
        try:
            await asyncio.wait_for(self._waiter, timeout)
        except TimeoutError:
            pass
        finally:
            self._waiter = None

    async def _post(self, batch: Batch, signing: list, d: Claimed) -> None:
        async with self.in_flight:
            at = datetime.now(UTC)
            try:
                outcome = await self._post_now(batch.subscription.url, signing, d, at)
            except Exception as exc:  # never a delivery left without an outcome
                outcome = Outcome(d, at, 0, {}, error=f"{type(exc).__name__}: {exc}")
        self.finished.append((batch, outcome))
        waiter = self._waiter
        if waiter is not None and not waiter.done() and len(self.finished) >= self._enough:
            waiter.set_result(None)

    async def _post_now(self, url: str, signing: list, d: Claimed, at: datetime) -> Outcome:
        headers = sign_headers(signing, webhook_id=d.webhook_id, body=d.body, at=at)
        start = time.perf_counter()
        outcome = Outcome(d, at, 0, headers)
        try:
            answer = await self.client.post(url, content=d.body.encode(), headers=headers)
            outcome.status, outcome.answer = answer.status_code, answer.text[:ANSWER_KEPT]
        except httpx.HTTPError as exc:
            outcome.error = f"{type(exc).__name__}: {exc}".strip().rstrip(":")
        outcome.duration_ms = int((time.perf_counter() - start) * 1000)
        return outcome

    def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        if self._tasks:
            self.loop.run_until_complete(asyncio.wait(list(self._tasks)))
        self.loop.run_until_complete(self.client.aclose())
        self.loop.close()


def retry_delay(attempts: int) -> float | None:
    """Seconds before the next try after ``attempts`` tries, or None: no more tries."""
    return lanes.next_try(attempts, conf.retry_delays())
