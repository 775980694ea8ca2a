"""Each outbound lane carries its own rate per target, through one mechanism
(``lanes.Rate`` over ``accounts.ratelimit.WindowCounter``): the zalo lane per OA, the
webhooks lane per subscription. A burst on one target waits on its own count and never
holds up another target: counted and ordered here, never timed."""

from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone

from tests.helpers import consent
from zalohub.accounts.models import OfficialAccount
from zalohub.accounts.oauth import oauth_complete, oauth_start
from zalohub.events.models import Direction, LaneRateWindow, ProcessingState, ZaloEvent
from zalohub.events.outbound import lanes, send_outbound
from zalohub.events.outbound.oa_message import message_send
from zalohub.events.outbound.zalo_lane import ZALO_SENDS
from zalohub.sandbox.world import (
    APP_SUPPORT_ID,
    OA_SALES_ID,
    SON_SALES_USER_ID,
    SON_SUPPORT_USER_ID,
)
from zalohub.webhooks.lane import DELIVERIES

pytestmark = pytest.mark.django_db
SECOND = datetime(2026, 12, 6, 5, 0, 10, tzinfo=UTC)


@pytest.fixture
def second_oa(sandbox, zalo_app):
    """The Sales OA, linked to the Support OA's app too and authorized on it: two OAs
    that share one app's call budget."""
    with sandbox.lock:
        sandbox.oas[OA_SALES_ID]["app_ids"].append(APP_SUPPORT_ID)
        sandbox.apps[APP_SUPPORT_ID]["oa_ids"].append(OA_SALES_ID)
    oa = OfficialAccount.objects.create(app=zalo_app, name="Sales")
    params = consent(oauth_start(oa=oa), oa_id=OA_SALES_ID)
    return oauth_complete(app_id=zalo_app.app_id, params=params)


def _send_due_in_order() -> list[tuple[int, str]]:
    """What the workers' send tasks do, in the order the sends were queued: (OA, result)."""
    due = ZaloEvent.objects.filter(
        direction=Direction.OUTBOUND,
        processing_state=ProcessingState.QUEUED,
        next_attempt_at__lte=timezone.now(),
    ).order_by("id")
    return [
        (oa_id, send_outbound(event_id=pk, worker_id="t"))
        for pk, oa_id in due.values_list("pk", "oa_id")
    ]


def _same_minute() -> None:
    import time

    if timezone.now().second >= 55:
        time.sleep(60 - timezone.now().second + 0.1)


def test_a_busy_oa_does_not_hold_up_another_oa_of_its_app(
    connected_oa, second_oa, settings, sandbox
):
    # The app may make five calls this minute; each OA may send three.
    settings.ZALO_RATE_LIMIT_PER_MINUTE = 5
    settings.ZALO_SENDS_PER_OA_PER_MINUTE = 3
    settings.REDIS_URL = ""
    _same_minute()
    for n in range(6):
        message_send(oa=connected_oa, user_id=SON_SUPPORT_USER_ID, text=f"Khuyến mãi {n}")
    message_send(oa=second_oa, user_id=SON_SALES_USER_ID, text="Báo giá cho anh Sơn")
    results = _send_due_in_order()
    # It should send three of the busy OA's, hold its other three for its next window
    # without spending the app's budget, and send the other OA's queued behind them.
    busy, other = connected_oa.pk, second_oa.pk
    assert results == [(busy, "sent")] * 3 + [(busy, "rate limited")] * 3 + [(other, "sent")]
    held = ZaloEvent.objects.filter(oa=connected_oa, processing_state=ProcessingState.QUEUED)
    assert held.count() == 3
    for event in held:
        assert event.attempts == 0 and "OA's per-minute send rate" in event.error_message
        assert event.next_attempt_at > timezone.now()
    # Counted per OA, in the lanes' one table (the app's budget is counted apart).
    counts = dict(LaneRateWindow.objects.values_list("key", "count"))
    assert counts == {f"zalo:{busy}": 3, f"zalo:{other}": 1}


def test_an_oa_s_rate_opens_again_in_its_next_window(connected_oa, settings):
    settings.ZALO_SENDS_PER_OA_PER_MINUTE = 2
    settings.REDIS_URL = ""
    # It should allow two of the OA's sends this minute, none more, two the next.
    assert lanes.take(ZALO_SENDS, connected_oa, 3, now=SECOND) == (2, 50.0)
    assert lanes.take(ZALO_SENDS, connected_oa, now=SECOND)[0] == 0
    assert lanes.take(ZALO_SENDS, connected_oa, now=SECOND + timedelta(minutes=1))[0] == 1


def test_both_lanes_count_through_the_one_mechanism():
    # It should give each lane a Rate over the shared window counter, the zalo lane per
    # OA each minute, the webhooks lane per subscription each second.
    assert ZALO_SENDS.rate is not None and DELIVERIES.rate is not None
    assert (ZALO_SENDS.target_field, ZALO_SENDS.rate.counter.seconds) == ("oa", 60)
    assert (DELIVERIES.target_field, DELIVERIES.rate.counter.seconds) == ("subscription", 1)
    assert ZALO_SENDS.rate.counter.model is DELIVERIES.rate.counter.model is LaneRateWindow
