"""Whose event it is: its OA, and the user (or phone) on the other side.

``zalo.webhook.orient`` decides which of an event's sender and recipient is the OA by
the OAs the hub knows, for every event kind (sources disagree on the side receipts put
the OA on). Ingest decides it with the OAs it knows when the event arrives; the batch
decides it again here with the OAs known now, so an event that arrived before its OA was
connected is attributed to it once it is (``requeue_for_oa`` hands such events back to
the workers when an OA is authorized), and its row says so.
"""

import json
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from django.utils import timezone

from zalohub.accounts.models import OfficialAccount
from zalohub.core.setwise import update_rows
from zalohub.core.stored_text import reason_fields
from zalohub.events.models import Direction, ErrorCategory, ProcessingState, ZaloEvent
from zalohub.zalo import webhook
from zalohub.zalo.webhook import WebhookEvent

if TYPE_CHECKING:
    from zalohub.events.processing.batch import Batch

REQUEUE_CHUNK = 500  # waiting events read and requeued per statement


def fetch_oas(batch: "Batch") -> None:
    """Look up at once the OAs that the batch's events stored without one may name."""
    wanted: set[str] = set()
    apps: set[int] = set()
    for event, payload in batch.payloads():
        if event.oa_id is None and event.direction == Direction.INBOUND:
            wanted.update(webhook.oa_candidates(payload))
            apps.add(event.app_id)
    if not wanted:
        return
    found = OfficialAccount.objects.select_related("app").filter(
        app_id__in=sorted(apps), oa_id__in=sorted(wanted)
    )
    for oa in found:
        batch.oas[(oa.app_id, oa.oa_id)] = oa


def known_oas(batch: "Batch", event: ZaloEvent) -> frozenset[str]:
    """The OA ids that may be this event's: its own OA's, or those of its app the batch
    found (only an OA of the app whose URL and secret accepted the event may have it)."""
    if event.oa is not None:
        return frozenset({event.oa.oa_id} if event.oa.oa_id else ())
    return frozenset(oa_id for app, oa_id in batch.oas if app == event.app_id)


def attribute(batch: "Batch", event: ZaloEvent, wire: WebhookEvent, known: frozenset[str]) -> None:
    """Give the event the OA and user ``wire`` names, and keep them on its row when they
    differ from what was stored (written when the batch ends)."""
    stored = event.__dict__.setdefault(
        "_zalohub_stored", (event.oa_id, event.zalo_user_id, event.conversation_key)
    )
    if event.oa is None and wire.oa_id in known:
        event.oa = batch.oas[(event.app_id, wire.oa_id)]
    event.zalo_user_id = wire.user_id[:64]
    event.conversation_key = f"{wire.oa_id}:{wire.user_id}"[:100] if wire.user_id else ""
    if (event.oa_id, event.zalo_user_id, event.conversation_key) != stored and event.pk:
        batch.event_changes[event.pk] = {
            "oa": event.oa_id,
            "zalo_user_id": event.zalo_user_id,
            "conversation_key": event.conversation_key,
        }


def requeue_for_oa(*, oa_id: int | None, reason: str = "", **kwargs: Any) -> int:
    """An OA was authorized: the events that waited for it (stored while it was not
    connected, failed as such) go back to the workers, no Retry needed, attributed to it
    (and keyed to their conversation, so they are processed in its order). Connected to
    ``accounts.signals.oa_fixed``; runs in the authorization's transaction."""
    if oa_id is None or reason != "authorized":
        return 0
    oa = OfficialAccount.objects.filter(pk=oa_id).only("pk", "app_id", "oa_id").first()
    if oa is None or not oa.oa_id:
        return 0
    waiting = ZaloEvent.objects.filter(
        app_id=oa.app_id,
        oa__isnull=True,
        direction=Direction.INBOUND,
        processing_state=ProcessingState.ERROR,
        error_category=ErrorCategory.TOKEN,
        raw_body__contains=f'"{oa.oa_id}"',
    )
    pks = list(waiting.order_by("pk").values_list("pk", flat=True))
    requeued = 0
    for start in range(0, len(pks), REQUEUE_CHUNK):
        rows = ZaloEvent.objects.filter(pk__in=pks[start : start + REQUEUE_CHUNK])
        requeued += update_rows(ZaloEvent, _requeued(oa, rows.values_list("pk", "raw_body")))
    return requeued


def _requeued(oa: OfficialAccount, rows: Iterable[tuple[int, str]]) -> dict[int, dict[str, Any]]:
    """What each waiting event becomes: queued, the OA's, keyed to its conversation."""
    now = timezone.now()
    changes: dict[int, dict[str, Any]] = {}
    for pk, raw in rows:
        payload = _payload(raw)
        top = webhook.head(payload, is_oa=lambda named: named == oa.oa_id) if payload else None
        if top is None or top.oa_id != oa.oa_id:
            continue  # it names the OA's id in another role
        changes[pk] = {
            "oa": oa.pk,
            "zalo_user_id": top.user_id[:64],
            "conversation_key": f"{top.oa_id}:{top.user_id}"[:100] if top.user_id else "",
            "processing_state": ProcessingState.QUEUED,
            "next_attempt_at": now,
            "error_category": "",
            "error_at": None,
            "outcome": "",
            **reason_fields("error_message", None),
        }
    return changes


def _payload(raw: str) -> dict[str, Any] | None:
    try:
        payload = json.loads(raw)
    except ValueError:
        return None
    return payload if isinstance(payload, dict) else None
