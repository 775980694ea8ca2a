"""Diagnostics fixtures: the sandbox's scenario switch over loopback HTTP, a customer
who writes to the OA (a signed webhook through the hub's endpoint), sends, and time
moved by editing rows, never by sleeping."""

import json
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import httpx
import pytest
from django.utils import timezone

from tests.helpers import post_webhook
from zalohub.diagnostics.checks.run import OAHealth
from zalohub.diagnostics.services import health_refresh
from zalohub.events.models import Direction, ProcessingState, ZaloEvent
from zalohub.events.outbound.oa_message import PENDING, message_send, send_outbound
from zalohub.events.processing.queue import drain
from zalohub.sandbox import payloads
from zalohub.sandbox.world import APP_SUPPORT_ID, OA_SUPPORT_ID, SON_BY_APP, SON_SUPPORT_USER_ID


@pytest.fixture
def scenario(sandbox_server, sandbox) -> Callable[..., dict[str, Any]]:
    """Break (or with undo=True, un-break) the sandbox Zalo through its control URL."""

    def call(name: str, *, undo: bool = False, **body: Any) -> dict[str, Any]:
        url = f"{sandbox_server.base_url}/_sandbox/scenarios/{name}"
        answer = httpx.request("DELETE" if undo else "POST", url, json=body, timeout=5)
        assert answer.status_code in (200, 201), answer.text
        return answer.json()

    return call


@pytest.fixture
def customer_writes(client, zalo_app, sandbox) -> Callable[..., ZaloEvent]:
    """Son writes to the Support OA: the event Zalo would POST, signed, then processed."""
    counter = iter(range(1, 10_000))

    def write(text: str = "Xin chào", *, key: str | None = None, expect: int = 200) -> ZaloEvent:
        n = next(counter)
        payload = payloads.user_send(
            app_id=APP_SUPPORT_ID,
            oa_id=OA_SUPPORT_ID,
            user_id=SON_SUPPORT_USER_ID,
            by_app=SON_BY_APP[APP_SUPPORT_ID],
            kind="text",
            text=f"{text} {n}",
            msg_id=f"diag-msg-{n}-{timezone.now().timestamp()}",
            timestamp=str(int(timezone.now().timestamp() * 1000)),
        )
        raw = json.dumps(payload, ensure_ascii=False, separators=(",", ":"))
        answer = post_webhook(client, APP_SUPPORT_ID, raw, key=key or zalo_app.oa_secret_key)
        assert answer.status_code == expect, answer.content
        drain()
        return ZaloEvent.objects.filter(event_name="user_send_text").latest("id")

    return write


def send_due() -> list[str]:
    due = ZaloEvent.objects.filter(
        direction=Direction.OUTBOUND,
        processing_state__in=PENDING,
        next_attempt_at__lte=timezone.now(),
    ).order_by("id")
    return [send_outbound(event_id=pk, worker_id="test") for pk in due.values_list("pk", flat=True)]


def give_up_retries() -> None:
    """Sends waiting to retry are due now (as if their backoff had passed)."""
    ZaloEvent.objects.filter(processing_state=ProcessingState.QUEUED).update(
        next_attempt_at=timezone.now()
    )


@pytest.fixture
def send(connected_oa) -> Callable[..., list[str]]:
    """Queue ``n`` messages to Son and run the sender once over them."""

    def run(n: int = 1, text: str = "Báo giá") -> list[str]:
        for i in range(n):
            message_send(oa=connected_oa, user_id=SON_SUPPORT_USER_ID, text=f"{text} {i}")
        return send_due()

    return run


def age(model, field: str, delta: timedelta, **filters: Any) -> None:  # type: ignore[no-untyped-def]
    """Move rows' timestamps into the past instead of waiting."""
    for row in model.objects.filter(**filters):
        model.objects.filter(pk=row.pk).update(**{field: getattr(row, field) - delta})


def check(health: OAHealth, key: str):  # type: ignore[no-untyped-def]
    return health.check(key)


def refresh(oa) -> OAHealth:  # type: ignore[no-untyped-def]
    oa.refresh_from_db()
    return health_refresh(oa=oa)
