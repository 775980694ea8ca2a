"""Retention of processed events (ZALOHUB_EVENT_RETENTION_DAYS): what goes, what stays."""

from datetime import timedelta

import pytest
from django.utils import timezone

from zalohub.accounts.models import OfficialAccount, ZaloApp
from zalohub.apilog.models import ApiLog
from zalohub.core import periodic
from zalohub.diagnostics.models import WebhookProbe
from zalohub.events import retention
from zalohub.events.models import (
    Direction,
    EventAttempt,
    Message,
    ProcessingState,
    ZaloEvent,
)

pytestmark = pytest.mark.django_db
NOW = timezone.now()
OLD = NOW - timedelta(days=91)


@pytest.fixture
def world() -> dict:
    app = ZaloApp.objects.create(name="A", app_id="111", secret_key="s", oa_secret_key="k")
    busy = OfficialAccount.objects.create(app=app, name="Busy", oa_id="201")
    quiet = OfficialAccount.objects.create(app=app, name="Quiet", oa_id="202")
    return {"app": app, "busy": busy, "quiet": quiet}


def event(
    world: dict, key: str, *, oa: str = "busy", at=OLD, state=ProcessingState.PROCESSED, **kw
):
    return ZaloEvent.objects.create(
        app=world["app"],
        oa=world[oa],
        event_name=kw.pop("event_name", "user_send_text"),
        dedupe_key=key,
        raw_body="{}",
        received_at=at,
        processing_state=state,
        **kw,
    )


def remaining() -> set[str]:
    return set(ZaloEvent.objects.values_list("dedupe_key", flat=True))


def test_it_deletes_old_processed_events_and_keeps_what_is_pointed_at(world, settings):
    settings.EVENT_RETENTION_DAYS = 90
    settings.EVENT_RETENTION_BATCH = 2  # several batches in one run
    gone = [event(world, f"gone{i}", at=OLD - timedelta(minutes=i)) for i in range(5)]
    EventAttempt.objects.create(event=gone[0], number=1)
    message = Message.objects.create(
        oa=world["busy"], direction=Direction.INBOUND, zalo_user_id="u"
    )
    event(world, "with-message", message=message)
    event(world, "error", state=ProcessingState.ERROR)
    event(world, "pending", state=ProcessingState.RECEIVED)
    event(world, "young", at=NOW - timedelta(days=89))
    logged = event(world, "logged")
    ApiLog.objects.create(
        created_at=NOW,
        method="POST",
        endpoint="message",
        url="u",
        duration_ms=1,
        ref_type="event",
        ref_id=str(logged.pk),
    )
    probed = event(world, "probed", event_name="zalohub_probe")
    WebhookProbe.objects.create(oa=world["busy"], url="u", nonce="n1", sent_at=NOW, event=probed)
    # The quiet OA's newest customer event is what Diagnostics reports as its last one.
    event(world, "quiet-older", oa="quiet", at=OLD - timedelta(days=3))
    event(world, "quiet-newest", oa="quiet", at=OLD - timedelta(days=1))

    deleted = retention.delete_expired_events(now=NOW)

    # It should delete the old processed events nothing points at, their attempts too.
    assert deleted == 7
    assert remaining() == {"error", "pending", "young", "logged", "probed", "quiet-newest"}
    assert not EventAttempt.objects.exists()
    # It should leave the message (its own row) in place.
    assert Message.objects.filter(pk=message.pk).exists()
    # It should find nothing more to do on the next run.
    assert retention.delete_expired_events(now=NOW) == 0


def test_it_stops_when_its_time_budget_is_spent(world, settings):
    settings.EVENT_RETENTION_BATCH = 2
    for i in range(5):
        event(world, f"e{i}", at=OLD - timedelta(minutes=i))
    event(world, "newest", at=NOW)
    # It should delete one batch per run when the budget is spent, oldest first, and go
    # on where it stopped at the next run.
    assert retention.delete_expired_events(now=NOW, budget=0) == 2
    assert remaining() == {"e0", "e1", "e2", "newest"}
    assert retention.delete_expired_events(now=NOW) == 3


def test_it_runs_as_a_periodic_job_and_reads_its_setting(world, settings):
    settings.EVENT_RETENTION_DAYS = 200
    event(world, "e0", at=OLD)
    event(world, "newest", at=NOW)
    # It should be registered for the workers, and keep events within the retention.
    assert "events.retention" in periodic.JOBS
    assert periodic.JOBS["events.retention"].func() == 0
    settings.EVENT_RETENTION_DAYS = 90
    assert periodic.JOBS["events.retention"].func() == 1
    assert remaining() == {"newest"}
