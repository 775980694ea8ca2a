"""One outbound pipeline (issue 15 §1): an OA message and a ZNS template send, left behind
by a dead worker or a lost task, are each recovered by the sender of their kind, by one
sweeper, however long ago it happened. Before, two sweepers (60 s and 120 s) raced for
template rows, and the OA message sweeper failed a template send Zalo would have
deduplicated."""

from datetime import timedelta

import pytest
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from tests.zbs.conftest import VALUES
from zalohub.events import tasks as event_jobs
from zalohub.events.models import (
    EventAttempt,
    ProcessingState,
    ZaloEvent,
    ZaloState,
)
from zalohub.events.outbound import requeue_lost_sends, send_outbound
from zalohub.events.outbound.oa_message import message_send
from zalohub.sandbox.world import OA_SUPPORT_ID, SON_SUPPORT_USER_ID
from zalohub.zbs.sending import template_send

pytestmark = pytest.mark.django_db
AGES = [timedelta(seconds=1), timedelta(seconds=90), timedelta(minutes=10)]


@pytest.fixture
def rows(oa, approved, son):
    """An OA message and a template send, both queued: (message event, template event)."""
    message = message_send(oa=oa, user_id=SON_SUPPORT_USER_ID, text="Báo giá #88213")
    send = template_send(partner=son, template=approved, params=VALUES, route_policy="phone")
    return ZaloEvent.objects.get(message=message), ZaloEvent.objects.get(message=send.message)


def _died_mid_call(event: ZaloEvent, *, age: timedelta) -> None:
    """A worker claimed the row, noted that its call started, and died; its lease ran
    out ``age`` ago."""
    then = timezone.now() - age
    ZaloEvent.objects.filter(pk=event.pk).update(
        processing_state=ProcessingState.PROCESSING,
        claimed_by=f"dead-{event.pk}",
        attempts=1,
        lease_until=then,
    )
    EventAttempt.objects.create(
        event=event,
        number=1,
        claim_token=f"dead-{event.pk}",
        started_at=then - timedelta(seconds=30),
        call_started_at=then - timedelta(seconds=29),
    )


@pytest.mark.parametrize("age", AGES, ids=["1s", "90s", "10min"])
def test_each_interrupted_send_is_recovered_by_the_sender_of_its_kind(rows, sandbox, age):
    message_event, template_event = rows
    for event in rows:
        _died_mid_call(event, age=age)
    # The worker's one periodic sweep looks at both rows.
    event_jobs.sweep()
    message_event.refresh_from_db()
    template_event.refresh_from_db()
    # It should fail the OA message (Zalo may have it and does not deduplicate it)...
    assert message_event.processing_state == ProcessingState.ERROR
    assert message_event.message.zalo_state == ZaloState.FAILED
    assert "unknown" in message_event.message.failure_reason
    # ...and queue the template send again (its tracking id makes a second call safe).
    assert template_event.processing_state == ProcessingState.QUEUED
    assert template_event.message.zalo_state == ZaloState.ON_QUEUE
    assert set(EventAttempt.objects.values_list("result", flat=True)) == {
        EventAttempt.Result.INTERRUPTED
    }
    # The next send should go out once, by ZNS, and never as an OA message.
    assert send_outbound(event_id=message_event.pk, worker_id="t") == "not claimable"
    assert send_outbound(event_id=template_event.pk, worker_id="t") == "sent"
    template_event.message.refresh_from_db()
    assert template_event.message.zalo_state == ZaloState.SENT
    with sandbox.lock:
        assert len(sandbox.zns.all_sends(OA_SUPPORT_ID)) == 1
        assert sandbox.mailbox.sent_messages(oa_id=OA_SUPPORT_ID) == []


@pytest.mark.parametrize("age", AGES[1:], ids=["90s", "10min"])
def test_a_lost_task_of_either_kind_is_requeued_by_the_one_sweeper_alike(rows, sandbox, age):
    DBTaskResult.objects.all().delete()  # the tasks queued with the rows were "lost"
    ZaloEvent.objects.filter(pk__in=[e.pk for e in rows]).update(
        next_attempt_at=timezone.now() - age
    )
    found = requeue_lost_sends()
    tasks = list(DBTaskResult.objects.order_by("id"))
    if age < timedelta(minutes=2):
        # It should leave both alone while young: the same rule for both kinds.
        assert found == 0 and tasks == []
        return
    # It should give each a new task, the same send task whatever the kind...
    assert found == 2
    assert sorted((t.task_path.rsplit(".", 1)[-1], t.args_kwargs["args"]) for t in tasks) == [
        ("send_event", [rows[0].pk]),
        ("send_event", [rows[1].pk]),
    ]
    # ...which sends each by its own sender: an OA message, and a ZNS template.
    assert [send_outbound(event_id=e.pk, worker_id="task") for e in rows] == ["sent", "sent"]
    with sandbox.lock:
        assert len(sandbox.mailbox.sent_messages(oa_id=OA_SUPPORT_ID)) == 1
        assert len(sandbox.zns.all_sends(OA_SUPPORT_ID)) == 1


def test_a_send_of_one_kind_is_never_claimed_as_another(rows):
    message_event, template_event = rows
    # It should refuse to claim a row for a kind that does not own it.
    assert send_outbound(event_id=message_event.pk, worker_id="t", kind="zns_template") == (
        "not claimable"
    )
    assert send_outbound(event_id=template_event.pk, worker_id="t", kind="oa_message") == (
        "not claimable"
    )
    assert not EventAttempt.objects.exists()
