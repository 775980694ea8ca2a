"""Outbound webhooks, delivered for real to a loopback receiver that verifies every
request with the standardwebhooks library."""

import json
from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone

from tests.webhooks.conftest import customer_writes
from zalohub.webhooks.models import Delivery, DeliveryAttempt, Subscription
from zalohub.webhooks.services import (
    deliveries_replay,
    delivery_replay,
    subscription_rotate_secret,
    subscription_send_test,
    subscription_update,
)
from zalohub.webhooks.tasks import recover_interrupted

pytestmark = pytest.mark.django_db


def _due_now() -> None:
    Delivery.objects.filter(state=Delivery.State.PENDING).update(next_attempt_at=timezone.now())


def test_it_delivers_a_customer_message_signed_and_verified(
    connected_oa, subscribe, receiver, deliver
):
    subscribe(event_types=["message.received"])
    message = customer_writes(connected_oa, "Cho mình hỏi đơn #1024")
    assert deliver() == 1
    # It should arrive once, verified by the Standard Webhooks verifier, with the message.
    (arrival,) = receiver.arrivals
    assert arrival.verified
    assert arrival.payload["type"] == "message.received"
    data = arrival.payload["data"]
    assert data["message_id"] == message.pk and data["text"] == "Cho mình hỏi đơn #1024"
    assert data["oa_id"] == connected_oa.pk
    delivery = Delivery.objects.get()
    assert delivery.state == Delivery.State.DELIVERED and delivery.last_status == 200
    assert arrival.webhook_id == delivery.webhook_id
    # It should log the attempt: request headers, answer, duration.
    (attempt,) = DeliveryAttempt.objects.all()
    assert attempt.result == DeliveryAttempt.Result.OK and attempt.status == 200
    assert attempt.request_headers["webhook-id"] == delivery.webhook_id
    assert attempt.response_body == '{"ok":true}' and attempt.duration_ms is not None


def test_it_retries_with_the_same_webhook_id_and_the_effect_happens_once(
    connected_oa, subscribe, receiver, deliver
):
    subscribe()
    receiver.answers = [500, 200]
    subscription_send_test(subscription_id=Subscription.objects.get().pk)
    assert deliver() == 1
    delivery = Delivery.objects.get()
    # It should keep it pending, due again later (backoff with jitter: 5 s +- 20 %).
    assert delivery.state == Delivery.State.PENDING and delivery.last_status == 500
    wait = (delivery.next_attempt_at - timezone.now()).total_seconds()
    assert 3 <= wait <= 6.5
    assert deliver() == 0  # not due yet
    _due_now()
    assert deliver() == 1
    delivery.refresh_from_db()
    assert delivery.state == Delivery.State.DELIVERED and delivery.attempts == 2
    # It should send the same webhook-id both times, each verified; the effect once.
    assert [a.webhook_id for a in receiver.arrivals] == [delivery.webhook_id] * 2
    assert all(a.verified for a in receiver.arrivals)
    assert receiver.effects == {delivery.webhook_id: 1}
    results = list(delivery.attempt_log.values_list("result", flat=True))
    assert results == [DeliveryAttempt.Result.RETRY, DeliveryAttempt.Result.OK]


def test_it_gives_up_after_the_schedule(connected_oa, subscribe, receiver, deliver, settings):
    settings.WEBHOOKS_RETRY_SCALE = 0.0
    settings.WEBHOOKS_DISABLE_AFTER_FAILURES = 1000
    subscribe()
    receiver.answers = [503]
    subscription_send_test(subscription_id=Subscription.objects.get().pk)
    deliver(100)
    delivery = Delivery.objects.get()
    # It should try 14 times (the first and 13 retries over about three days), then stop.
    assert delivery.state == Delivery.State.FAILED and delivery.attempts == 14
    assert len(receiver.arrivals) == 14 and len({a.webhook_id for a in receiver.arrivals}) == 1


def test_the_schedule_spans_about_three_days():
    from zalohub.webhooks.conf import DEFAULT_SCHEDULE

    assert 2.9 * 86400 <= sum(DEFAULT_SCHEDULE) <= 3.2 * 86400


def test_a_410_disables_the_subscription_and_tells_the_admins(
    connected_oa, subscribe, receiver, deliver, admin, client, django_capture_on_commit_callbacks
):
    admin.email = "admin@example.com"
    admin.save()
    sub = subscribe()
    receiver.answers = [410]
    subscription_send_test(subscription_id=sub.pk)
    with django_capture_on_commit_callbacks(execute=True):
        deliver()
    sub.refresh_from_db()
    # It should disable it at once, saying why, and mail the Zalo Admins.
    assert not sub.active and "410" in sub.disabled_text
    assert Delivery.objects.get().state == Delivery.State.FAILED
    (sent,) = mail.outbox
    assert sub.name in sent.subject and sent.to == ["admin@example.com"]
    # It should show a banner on admin pages until it is enabled again.
    client.force_login(admin)
    page = client.get("/admin/").content.decode()
    assert 'id="webhooks-banner"' in page and "410" in page
    # Nothing more goes to a disabled subscription.
    subscription_send_test(subscription_id=sub.pk)
    assert deliver() == 0
    subscription_update(subscription_id=sub.pk, active=True)
    receiver.answers = [200]
    assert deliver() == 1
    assert 'id="webhooks-banner"' not in client.get("/admin/").content.decode()


def test_failures_in_a_row_disable_it(
    connected_oa, subscribe, receiver, deliver, settings, django_capture_on_commit_callbacks
):
    settings.WEBHOOKS_DISABLE_AFTER_FAILURES = 3
    settings.WEBHOOKS_DISABLE_AFTER_SECONDS = 0
    settings.WEBHOOKS_RETRY_SCALE = 0.0
    settings.DIAGNOSTICS_ALERT_EMAILS = ["ops@example.com"]
    sub = subscribe()
    receiver.answers = [500]
    subscription_send_test(subscription_id=sub.pk)
    with django_capture_on_commit_callbacks(execute=True):
        deliver()
    sub.refresh_from_db()
    # It should stop after three failed tries in a row and mail who Diagnostics mails.
    assert not sub.active and len(receiver.arrivals) == 3
    assert "3 deliveries failed in a row" in sub.disabled_text
    assert mail.outbox[0].to == ["ops@example.com"]


def test_a_failing_receiver_is_not_disabled_before_its_time(
    connected_oa, subscribe, receiver, deliver, settings
):
    settings.WEBHOOKS_DISABLE_AFTER_FAILURES = 2
    settings.WEBHOOKS_RETRY_SCALE = 0.0
    sub = subscribe()
    receiver.answers = [500, 500, 500, 200]
    subscription_send_test(subscription_id=sub.pk)
    deliver()
    sub.refresh_from_db()
    # It should keep it (failing for a day is the default's other half) and recover.
    assert sub.active and sub.failure_streak == 0
    assert Delivery.objects.get().state == Delivery.State.DELIVERED


def test_rotation_signs_with_both_secrets_for_the_overlap(
    connected_oa, subscribe, receiver, deliver
):
    from standardwebhooks import Webhook

    sub = subscribe()
    old = sub.secret
    sub = subscription_rotate_secret(subscription_id=sub.pk, overlap_seconds=3600)
    assert sub.secret != old
    subscription_send_test(subscription_id=sub.pk)
    deliver()
    (arrival,) = receiver.arrivals
    # It should verify with the old secret and with the new one.
    assert len(arrival.headers["webhook-signature"].split(" ")) == 2
    Webhook(old).verify(arrival.body, arrival.headers)
    Webhook(sub.secret).verify(arrival.body, arrival.headers)
    # Once the overlap is over only the new secret signs.
    Subscription.objects.filter(pk=sub.pk).update(
        previous_secret_until=timezone.now() - timedelta(seconds=1)
    )
    receiver.secret = old
    subscription_send_test(subscription_id=sub.pk)
    deliver()
    assert not receiver.arrivals[1].verified
    Webhook(sub.secret).verify(receiver.arrivals[1].body, receiver.arrivals[1].headers)


def test_replay_sends_the_same_event_again(connected_oa, subscribe, receiver, deliver):
    sub = subscribe()
    first = subscription_send_test(subscription_id=sub.pk)
    deliver()
    copy = delivery_replay(delivery_id=first.pk)
    deliver()
    # It should send the same body under the same webhook-id (applied once).
    assert copy.webhook_id == first.webhook_id and copy.replay_of_id == first.pk
    assert [a.webhook_id for a in receiver.arrivals] == [first.webhook_id] * 2
    assert receiver.arrivals[0].body == receiver.arrivals[1].body
    assert receiver.effects == {first.webhook_id: 1}


def test_replay_of_a_time_range(connected_oa, subscribe, receiver, deliver):
    sub = subscribe()
    now = timezone.now()
    for _ in range(3):
        subscription_send_test(subscription_id=sub.pk)
    deliver()
    Delivery.objects.filter(pk=Delivery.objects.order_by("pk").first().pk).update(
        created_at=now - timedelta(days=2)
    )
    # It should replay the two made in the range, not the older one.
    count = deliveries_replay(
        subscription_id=sub.pk, since=now - timedelta(hours=1), until=now + timedelta(hours=1)
    )
    assert count == 2
    deliver()
    assert len(receiver.arrivals) == 5


def test_events_and_oas_filter_what_a_subscription_gets(connected_oa, subscribe, receiver, deliver):
    from zalohub.accounts.models import OfficialAccount

    other = OfficialAccount.objects.create(app=connected_oa.app, name="Sales")
    subscribe(event_types=["partner.created"])
    subscribe(name="other OA", event_types=["message.received"], oa_ids=[other.pk])
    customer_writes(connected_oa)
    deliver()
    # It should send the new shadow partner to the first, nothing to the second.
    assert [a.payload["type"] for a in receiver.arrivals] == ["partner.created"]


def test_the_rate_limit_holds_a_claim_to_the_subscription_s_rate(connected_oa, subscribe, receiver):
    from zalohub.webhooks.delivery import claim

    sub = subscribe(rate_per_second=5)
    for _ in range(12):
        subscription_send_test(subscription_id=sub.pk)
    now = (timezone.now() + timedelta(seconds=1)).replace(microsecond=0)
    # It should claim five this second, none more in the same second, five the next.
    assert [len(b.deliveries) for b in claim("w", now=now)] == [5]
    assert claim("w", now=now) == []
    assert [len(b.deliveries) for b in claim("w", now=now + timedelta(seconds=1))] == [5]


def test_a_delivery_whose_worker_died_goes_again(connected_oa, subscribe, receiver, deliver):
    from zalohub.webhooks.delivery import claim

    sub = subscribe()
    delivery = subscription_send_test(subscription_id=sub.pk)
    (batch,) = claim("dead-worker")  # claimed, then the worker died: never settled
    assert deliver() == 0
    later = timezone.now() + timedelta(minutes=5)
    assert recover_interrupted(now=later) == 1
    assert deliver() == 1
    delivery.refresh_from_db()
    # It should go again under the same id, the interrupted try in the log.
    assert delivery.state == Delivery.State.DELIVERED and delivery.attempts == 2
    results = list(delivery.attempt_log.values_list("result", flat=True))
    assert DeliveryAttempt.Result.INTERRUPTED in results
    assert [a.webhook_id for a in receiver.arrivals] == [delivery.webhook_id]
    assert batch.token


def test_the_body_is_the_documented_envelope(connected_oa, subscribe, receiver, deliver):
    from zalohub.webhooks.schemas import DATA

    sub = subscribe()
    subscription_send_test(subscription_id=sub.pk)
    deliver()
    payload = json.loads(receiver.arrivals[0].body)
    assert set(payload) == {"type", "timestamp", "data"}
    DATA[payload["type"]].model_validate(payload["data"])


def test_every_event_type_has_a_documented_schema_whose_example_fits():
    from zalohub.webhooks.catalogue import EVENT_TYPES, TEST_EVENT
    from zalohub.webhooks.schemas import DATA, openapi_webhooks

    assert set(DATA) == set(EVENT_TYPES) | {TEST_EVENT}
    documented = openapi_webhooks()
    for event_type, schema in DATA.items():
        body = documented[event_type]["post"]["requestBody"]["content"]["application/json"]
        example = body["schema"]["example"]
        assert example["type"] == event_type
        schema.model_validate(example["data"])
