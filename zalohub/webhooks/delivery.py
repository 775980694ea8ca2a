"""Delivering: claim what is due, per subscription within its rate, send each claimed
batch concurrently over one keep-alive client, settle the batch set-wise.

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
from zalohub.webhooks.models import Delivery, Subscription
from zalohub.webhooks.signing import sign_headers, signers
from zalohub.webhooks.urlcheck import check_url

ANSWER_KEPT = 2000  # characters of the receiver's answer kept in the log
GONE = gettext_noop("The receiver answered 410 Gone: it wants no more deliveries.")
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


def claim(worker_id: str, *, now: datetime | None = None) -> list[Batch]:
    """Claim what is due, subscription by subscription, within each one's rate (the
    pipeline's claim: ``events.outbound.lanes``)."""
    now = now or timezone.now()
    limit = conf.get("WEBHOOKS_BATCH_SIZE")
    batches = []
    for taken in lanes.claim_per_target(DELIVERIES, worker_id=worker_id, now=now, limit=limit):
        rows = Delivery.objects.filter(pk__in=taken.ids).values_list(
            "id", "webhook_id", "body", "attempts"
        )
        claimed = [Claimed(*row) for row in rows]
        batches.append(Batch(subscription=taken.target, token=taken.token, deliveries=claimed))
    return batches


class Courier:
    """One delivery thread's event loop and HTTP client (kept alive between batches)."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.client = httpx.AsyncClient(
            timeout=conf.get("WEBHOOKS_TIMEOUT_SECONDS"),
            follow_redirects=False,  # a redirect could lead anywhere (SSRF)
            trust_env=False,
            limits=httpx.Limits(max_connections=200, max_keepalive_connections=100),
        )
        self.in_flight = asyncio.Semaphore(conf.get("WEBHOOKS_IN_FLIGHT"))

    def send(self, batches: list[Batch]) -> list[list[Outcome]]:
        return self.loop.run_until_complete(self._send_all(batches))

    async def _send_all(self, batches: list[Batch]) -> list[list[Outcome]]:
        return list(await asyncio.gather(*(self._send_batch(b) for b in batches)))

    async def _send_batch(self, batch: Batch) -> list[Outcome]:
        sub = batch.subscription
        try:
            check_url(sub.url, allow_private=sub.allow_private_network)
            previous = reveal(sub.previous_secret) if sub.previous_secret else ""
            signing = signers(reveal(sub.secret), previous, sub.previous_secret_until)
        except (ValidationError, Exception) as exc:
            refused = "; ".join(exc.messages) if isinstance(exc, ValidationError) else str(exc)
            at = datetime.now(UTC)
            return [Outcome(d, at, 0, {}, error=refused) for d in batch.deliveries]
        return list(
            await asyncio.gather(*(self._post(sub.url, signing, d) for d in batch.deliveries))
        )

    async def _post(self, url: str, signing: list, d: Claimed) -> Outcome:
        async with self.in_flight:
            return await self._post_now(url, signing, d)

    async def _post_now(self, url: str, signing: list, d: Claimed) -> Outcome:
        at = datetime.now(UTC)
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
        self.loop.run_until_complete(self.client.aclose())
        self.loop.close()


def retry_delay(attempts: int) -> float | None:
    """Seconds before the next try after ``attempts`` tries, or None: no more tries."""
    return lanes.next_try(attempts, conf.retry_delays())
