"""An OA's sends held: Zalo answered a code about the OA itself (-227, the account banned
or inactive), so every send of the OA would meet it too. The sends wait, requeued and
not failed, until the hold ends; then the next send tries Zalo again: accepted, the
hold is lifted (the OA recovered); refused the same way, the hold starts over.

Kept on the OA row (``sends_held_*``) so that every worker and the health check see it.
"""

from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from zalohub.accounts.models import OfficialAccount
from zalohub.accounts.signals import announce_fix


def hold_length() -> timedelta:
    return timedelta(seconds=settings.OA_SEND_HOLD_SECONDS)


def oa_hold_sends(*, oa_id: int, code: int, now: datetime | None = None) -> datetime:
    """Hold the OA's sends for one hold length from now; returns when the hold ends. A
    hold already running keeps the time it began."""
    now = now or timezone.now()
    until = now + hold_length()
    OfficialAccount.objects.filter(pk=oa_id, sends_held_since__isnull=True).update(
        sends_held_since=now
    )
    OfficialAccount.objects.filter(pk=oa_id).update(sends_held_until=until, sends_held_code=code)
    return until


def held_until(oa: OfficialAccount, *, now: datetime | None = None) -> datetime | None:
    """When the OA's hold ends, while it runs; None when its sends may go."""
    until = oa.sends_held_until
    if until is None or until <= (now or timezone.now()):
        return None
    return until


def is_held(oa: OfficialAccount) -> bool:
    """A hold was put and not lifted yet (it may have run out, waiting for a send)."""
    return oa.sends_held_code is not None


def oa_release_sends(*, oa_id: int) -> bool:
    """Zalo accepted a send of the OA again: lift its hold (True if there was one)."""
    lifted = (
        OfficialAccount.objects.filter(pk=oa_id)
        .filter(Q(sends_held_code__isnull=False) | Q(sends_held_until__isnull=False))
        .update(sends_held_until=None, sends_held_since=None, sends_held_code=None)
    )
    if lifted:
        announce_fix(oa_id=oa_id, reason="sent")
    return bool(lifted)
