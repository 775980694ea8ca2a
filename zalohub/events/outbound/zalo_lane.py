"""The lane of sends to Zalo: outbound ``ZaloEvent`` rows (each with its ``Message``),
one django.tasks task per row (a batch of API sends: none, the workers' sends loop finds
its rows, ``queued.py``), of every kind a sender registers (``registry.py``). Its
rate per target is per OA (ZALO_SENDS_PER_OA_PER_MINUTE, taken by the attempt before
the app's call budget): one OA's burst waits on its own count and leaves the app's
budget to its other OAs."""

from datetime import datetime

from django.conf import settings

from zalohub.events.models import PENDING, Direction, ProcessingState, ZaloEvent
from zalohub.events.outbound.lanes import Lane, rate


def _recover(now: datetime) -> int:
    from zalohub.events.outbound.sweep import recover_stuck_sends

    return recover_stuck_sends(now=now)


ZALO_SENDS = Lane(
    name="zalo",
    model=ZaloEvent,
    state_field="processing_state",
    waiting=tuple(PENDING),
    queued=ProcessingState.QUEUED,
    running=ProcessingState.PROCESSING,
    lease_seconds=lambda: settings.EVENTS_LEASE_SECONDS,
    recover=_recover,
    scope=lambda: ZaloEvent.objects.filter(direction=Direction.OUTBOUND),
    target_field="oa",
    rate=rate(limit=lambda oa: settings.ZALO_SENDS_PER_OA_PER_MINUTE),
)
