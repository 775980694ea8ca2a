"""One way in for every delivery: events, test events and Replays are queued through the
outbound pipeline's ``lanes.enqueue``, and the admin's Replay (the action and a
delivery's button) finds the lane by the row's table in the pipeline's registry
(``lanes.lane_of``) and replays through it."""

from dataclasses import replace
from datetime import timedelta

import pytest
from django.db import transaction
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from tests.webhooks.conftest import customer_writes
from zalohub.events.models import ZaloEvent
from zalohub.events.outbound import lanes, runner
from zalohub.webhooks.lane import DELIVERIES
from zalohub.webhooks.models import Delivery
from zalohub.webhooks.services import deliveries_replay, delivery_replay, subscription_send_test

pytestmark = pytest.mark.django_db


@pytest.fixture
def registry_spy():
    """The webhooks lane, registered again with ``again`` and ``notify`` that note their
    calls (the registry's lane is what the admin finds)."""
    calls: dict[str, list] = {"again": [], "notify": []}

    def again(row):
        calls["again"].append(row.pk)
        return DELIVERIES.again(row)

    spied = replace(DELIVERIES, again=again, notify=lambda ids: calls["notify"].append(ids))
    lanes.register_lane(spied)
    try:
        yield calls
    finally:
        lanes.register_lane(DELIVERIES)


def _admin_client(admin) -> Client:
    client = Client()
    client.force_login(admin)
    return client


def test_the_admin_action_replays_through_the_registry_s_lane(
    admin, subscribe, receiver, deliver, registry_spy, django_capture_on_commit_callbacks
):
    sub = subscribe()
    first = subscription_send_test(subscription_id=sub.pk)
    second = subscription_send_test(subscription_id=sub.pk)
    assert deliver() == 2
    registry_spy["notify"].clear()
    with django_capture_on_commit_callbacks(execute=True):
        answer = _admin_client(admin).post(
            reverse("admin:webhooks_delivery_changelist"),
            {"action": "replay_selected", "_selected_action": [first.pk, second.pk]},
            follow=True,
        )
    assert answer.status_code == 200
    assert "2 deliveries queued again." in answer.content.decode()
    # It should make each copy with the lane's ``again`` and queue them through the way
    # in, whose workers are told once, after the commit, of both new rows.
    assert sorted(registry_spy["again"]) == sorted([first.pk, second.pk])
    copies = Delivery.objects.filter(replay_of__isnull=False)
    told = [sorted(ids) for ids in registry_spy["notify"]]
    assert told == [sorted(copies.values_list("pk", flat=True))]
    assert {(c.replay_of_id, c.webhook_id, c.state) for c in copies} == {
        (first.pk, first.webhook_id, Delivery.State.PENDING),
        (second.pk, second.webhook_id, Delivery.State.PENDING),
    }
    assert deliver() == 2
    assert receiver.effects == {first.webhook_id: 1, second.webhook_id: 1}


def test_the_replay_button_replays_through_the_registry_s_lane(
    admin, subscribe, receiver, deliver, registry_spy, django_capture_on_commit_callbacks
):
    sub = subscribe()
    first = subscription_send_test(subscription_id=sub.pk)
    deliver()
    url = reverse("admin:webhooks_delivery_replay", args=[first.pk])
    with django_capture_on_commit_callbacks(execute=True):
        answer = _admin_client(admin).post(url)
    copy = Delivery.objects.get(replay_of=first)
    # It should answer on the copy's page, the copy made by the lane's ``again``.
    assert answer.status_code == 302
    assert answer["Location"] == reverse("admin:webhooks_delivery_change", args=[copy.pk])
    assert registry_spy["again"] == [first.pk] and registry_spy["notify"][-1] == [copy.pk]
    assert _admin_client(admin).get(url).status_code == 405


def test_every_delivery_enters_by_the_way_in(connected_oa, subscribe, receiver, monkeypatch):
    entered: list[tuple[str, list[int]]] = []
    enqueue = lanes.enqueue

    def noted(lane, rows):
        made = enqueue(lane, rows)
        entered.append((lane.name, [row.pk for row in made]))
        return made

    monkeypatch.setattr(lanes, "enqueue", noted)
    sub = subscribe()
    test = subscription_send_test(subscription_id=sub.pk)
    customer_writes(connected_oa)
    made = list(Delivery.objects.exclude(pk=test.pk).values_list("pk", flat=True))
    assert made
    replayed = delivery_replay(delivery_id=test.pk)
    now = timezone.now()
    count = deliveries_replay(
        subscription_id=sub.pk, since=now - timedelta(hours=1), until=now + timedelta(hours=1)
    )
    # It should have queued every row, an event's, a test event's, a replay's, through
    # the pipeline's way in, on the webhooks lane.
    assert {name for name, _ in entered} == {"webhooks"}
    queued = sorted(pk for _, pks in entered for pk in pks)
    assert queued == sorted(Delivery.objects.values_list("pk", flat=True))
    assert replayed.pk in queued and count == 1 + len(made)


@pytest.mark.django_db(transaction=True)
def test_the_loop_is_woken_only_once_the_rows_commit(subscribe, receiver):
    sub = subscribe()
    runner.WAKE.clear()
    with transaction.atomic():
        subscription_send_test(subscription_id=sub.pk)
        # It should not wake the loop for rows that are not committed yet...
        assert not runner.WAKE.is_set()
    # ...and wake it once they are.
    assert runner.WAKE.is_set()
    runner.WAKE.clear()
    with pytest.raises(RuntimeError), transaction.atomic():
        subscription_send_test(subscription_id=sub.pk)
        raise RuntimeError("rolled back")
    assert not runner.WAKE.is_set() and Delivery.objects.count() == 1


def test_a_lane_without_replay_refuses_it():
    zalo = lanes.lane_of(ZaloEvent)
    assert zalo is not None and zalo.again is None
    with pytest.raises(ValueError):
        lanes.replay(zalo, [])
