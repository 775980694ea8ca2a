"""Every event type comes from the hook of the app that owns it, queued in the
transaction that made it, and reaches a subscriber verified."""

import json
import time

import pytest
from django.test import Client

from tests.helpers import post_webhook
from tests.webhooks.conftest import customer_writes
from zalohub.events.models import Direction, Message, ZaloState
from zalohub.events.processing.queue import drain
from zalohub.webhooks.models import Delivery
from zalohub.webhooks.schemas import DATA

pytestmark = pytest.mark.django_db


def _types(receiver) -> list[str]:  # type: ignore[no-untyped-def]
    assert all(a.verified for a in receiver.arrivals)
    # Each body is what the OpenAPI document's webhooks section says it is.
    for arrival in receiver.arrivals:
        DATA[arrival.payload["type"]].model_validate(arrival.payload["data"])
    return [a.payload["type"] for a in receiver.arrivals]


def test_a_first_message_makes_a_partner_a_link_and_a_message(
    connected_oa, subscribe, receiver, deliver
):
    subscribe()
    message = customer_writes(connected_oa)
    deliver()
    # It should tell of the shadow partner, its Zalo link and the message.
    assert sorted(_types(receiver)) == [
        "message.received",
        "partner.created",
        "partner_link.created",
    ]
    link = receiver.of_type("partner_link.created")[0].payload["data"]
    assert link["link_id"] == message.partner_link_id and link["oa_id"] == connected_oa.pk


def test_a_receipt_changes_a_message_s_status(connected_oa, subscribe, receiver, deliver):
    from zalohub.sandbox import payloads
    from zalohub.sandbox.world import OA_SUPPORT_ID, SON_BY_APP, SON_SUPPORT_USER_ID

    customer_writes(connected_oa)  # the conversation exists
    ours = Message.objects.create(
        oa=connected_oa,
        direction=Direction.OUTBOUND,
        zalo_user_id=SON_SUPPORT_USER_ID,
        text="Dạ, đơn của anh đã gửi",
        zalo_msg_id="out-webhook-1",
        zalo_state=ZaloState.SENT,
    )
    subscribe(event_types=["message.status_changed"])
    app = connected_oa.app
    raw = json.dumps(
        payloads.user_seen(
            app_id=app.app_id,
            oa_id=OA_SUPPORT_ID,
            user_id=SON_SUPPORT_USER_ID,
            by_app=SON_BY_APP[app.app_id],
            msg_ids=["out-webhook-1"],
            timestamp=str(int(time.time() * 1000)),
        )
    )
    assert post_webhook(Client(), app.app_id, raw, key=app.oa_secret_key).status_code == 200
    drain()
    deliver()
    assert _types(receiver) == ["message.status_changed"]
    data = receiver.arrivals[0].payload["data"]
    assert (data["message_id"], data["previous"], data["state"]) == (ours.pk, "sent", "read")


def test_our_own_sends_becoming_sent_or_failed(connected_oa, subscribe, receiver, deliver, sandbox):
    from tests.api.conftest import Api
    from tests.inbox.conftest import send_due
    from tests.zbs.conftest import make_partner
    from zalohub.api.keys import key_create
    from zalohub.api.models import Capability
    from zalohub.sandbox.world import SON_PHONE, SON_SUPPORT_USER_ID

    make_partner(connected_oa, name="Nguyễn Văn Sơn", phone=SON_PHONE, user_id=SON_SUPPORT_USER_ID)
    subscribe(event_types=["message.status_changed"])
    _key, raw = key_create(
        name="ERP", oas=[connected_oa], capabilities=Capability.values, rate_limit_per_minute=60
    )
    api = Api(raw)

    def api_send(text: str) -> int:
        body = {"oa": connected_oa.pk, "to": {"user_id": SON_SUPPORT_USER_ID}, "text": text}
        status, answer, _ = api.post("/messages", body)
        assert status == 202, answer
        return int(answer["event_id"])

    def message_of(event_id: int) -> int:
        from zalohub.events.models import ZaloEvent

        message_id = ZaloEvent.objects.get(pk=event_id).message_id
        assert message_id is not None  # given by the sends loop, with the send
        return message_id

    sent_event = api_send("Đơn DH8821 đã giao")
    assert send_due() == ["sent"]
    sent = message_of(sent_event)
    sandbox.add_fault("oa.message.cs", "zalo_error", code=-230, times=1)  # Zalo refuses it
    refused_event = api_send("Đơn DH8822 đã giao")
    assert send_due() == ["failed"]
    refused = message_of(refused_event)
    deliver()
    # It should tell of each send as Zalo settled it, in the documented shape.
    assert _types(receiver) == ["message.status_changed"] * 2
    by_message = {a.payload["data"]["message_id"]: a.payload["data"] for a in receiver.arrivals}
    ok, failed = by_message[sent], by_message[refused]
    assert (ok["previous"], ok["state"]) == ("on_queue", "sent")
    assert ok["zalo_msg_id"] == Message.objects.get(pk=sent).zalo_msg_id != ""
    assert (failed["previous"], failed["state"]) == ("on_queue", "failed")
    assert (ok["oa_id"], failed["oa_id"]) == (connected_oa.pk, connected_oa.pk)
    assert Message.objects.get(pk=refused).zalo_state == ZaloState.FAILED


def test_a_resend_and_a_mark_error_change_a_message_s_status(
    connected_oa, subscribe, receiver, deliver, sandbox
):
    from tests.inbox.conftest import send_due
    from zalohub.events.actions import event_mark_error, message_resend
    from zalohub.events.models import ZaloEvent
    from zalohub.events.outbound.oa_message import message_send
    from zalohub.sandbox.world import SON_SUPPORT_USER_ID

    customer_writes(connected_oa)
    subscribe(event_types=["message.status_changed"])
    message = message_send(oa=connected_oa, user_id=SON_SUPPORT_USER_ID, text="Chào anh")
    event_mark_error(event=ZaloEvent.objects.get(message=message), reason="stuck")
    message.refresh_from_db()
    message_resend(message=message)
    assert send_due() == ["sent"]
    deliver()
    # It should tell of every move: given up, queued again, sent (delivered in any order).
    moves = [(a.payload["data"]["previous"], a.payload["data"]["state"]) for a in receiver.arrivals]
    assert _types(receiver) == ["message.status_changed"] * 3
    assert sorted(moves) == sorted(
        [("on_queue", "failed"), ("failed", "on_queue"), ("on_queue", "sent")]
    )


def test_a_send_given_up_by_the_sweeper_changes_its_status(
    connected_oa, subscribe, receiver, deliver
):
    from django.utils import timezone

    from zalohub.events.models import EventAttempt, ProcessingState, ZaloEvent
    from zalohub.events.outbound import recover_stuck_sends
    from zalohub.events.outbound.oa_message import message_send
    from zalohub.sandbox.world import SON_SUPPORT_USER_ID

    customer_writes(connected_oa)
    subscribe(event_types=["message.status_changed"])
    message = message_send(oa=connected_oa, user_id=SON_SUPPORT_USER_ID, text="Chào anh")
    # A worker claims it and dies during the call: whether Zalo has it is unknown.
    event = ZaloEvent.objects.get(message=message)
    long_ago = timezone.now() - timezone.timedelta(minutes=5)
    ZaloEvent.objects.filter(pk=event.pk).update(
        processing_state=ProcessingState.PROCESSING, claimed_by="dead"
    )
    EventAttempt.objects.create(
        event=event, number=1, claim_token="dead", started_at=long_ago, call_started_at=long_ago
    )
    assert recover_stuck_sends(lease=timezone.timedelta(seconds=30)) == 1
    deliver()
    # It should tell subscribers the message failed, as a refusal would.
    assert _types(receiver) == ["message.status_changed"]
    data = receiver.arrivals[0].payload["data"]
    assert (data["message_id"], data["previous"], data["state"]) == (
        message.pk,
        "on_queue",
        "failed",
    )
    assert Message.objects.get(pk=message.pk).zalo_state == ZaloState.FAILED


def _template(oa):  # type: ignore[no-untyped-def]
    from zalohub.zbs.models import Template

    return Template.objects.create(
        oa=oa,
        name="Xác nhận đơn hàng",
        body="Đơn <order_code> đã xác nhận",
        status=Template.Status.PENDING,
        zalo_template_id="298745",
        quality="HIGH",
    )


def test_template_status_and_quality(connected_oa, subscribe, receiver, deliver):
    from zalohub.zbs.models import Template
    from zalohub.zbs.services import apply_zalo_status, template_apply_detail

    template = _template(connected_oa)
    subscribe(event_types=["template.status_changed", "template.quality_changed"])
    apply_zalo_status(template, "ENABLE")
    template_apply_detail(
        Template.objects.get(pk=template.pk), {"status": "ENABLE", "templateQuality": "LOW"}
    )
    deliver()
    assert sorted(_types(receiver)) == ["template.quality_changed", "template.status_changed"]
    status = receiver.of_type("template.status_changed")[0].payload["data"]
    quality = receiver.of_type("template.quality_changed")[0].payload["data"]
    assert (status["previous"], status["status"]) == ("pending", "approved")
    assert (quality["previous"], quality["quality"]) == ("HIGH", "LOW")


def test_quota(connected_oa, subscribe, receiver, deliver):
    from zalohub.zbs.services import quota_store

    subscribe(event_types=["quota.changed"])
    quota_store(oa=connected_oa, daily=500, remaining=420)
    quota_store(oa=connected_oa, daily=500, remaining=420)  # unchanged: no event
    deliver()
    assert _types(receiver) == ["quota.changed"]
    (arrival,) = receiver.arrivals
    assert arrival.payload["data"] == {
        "oa_id": connected_oa.pk,
        "template_id": None,
        "daily_quota": 500,
        "remaining_quota": 420,
    }


def test_merge_and_undo(db, subscribe, receiver, deliver):
    from zalohub.partners.merge import partner_merge, partner_merge_undo
    from zalohub.partners.models import Partner

    survivor = Partner.objects.create(name="Lê Văn Hùng", is_shadow=False)
    merged = Partner.objects.create(name="Le Van Hung", is_shadow=False)
    subscribe(event_types=["partner.merged", "partner.unmerged"])
    journal = partner_merge(survivor=survivor, merged=merged)
    partner_merge_undo(journal=journal)
    deliver()
    assert sorted(_types(receiver)) == ["partner.merged", "partner.unmerged"]
    for arrival in receiver.arrivals:
        data = arrival.payload["data"]
        assert (data["survivor_id"], data["merged_id"]) == (survivor.pk, merged.pk)


def test_oa_status_and_health(connected_oa, subscribe, receiver, deliver):
    from zalohub.accounts.models import OfficialAccount
    from zalohub.diagnostics.models import HealthSnapshot, Level
    from zalohub.webhooks.watch import watch_oas

    subscribe(event_types=["oa.status_changed", "oa.health_changed"])
    HealthSnapshot.objects.update_or_create(
        oa=connected_oa, defaults={"level": Level.GREEN, "computed_at": connected_oa.created_at}
    )
    assert watch_oas() == 0  # the first look notes what is
    OfficialAccount.objects.filter(pk=connected_oa.pk).update(status="expired")
    HealthSnapshot.objects.filter(oa=connected_oa).update(level=Level.RED)
    assert watch_oas() == 2
    assert watch_oas() == 0
    deliver()
    assert sorted(_types(receiver)) == ["oa.health_changed", "oa.status_changed"]
    status = receiver.of_type("oa.status_changed")[0].payload["data"]
    health = receiver.of_type("oa.health_changed")[0].payload["data"]
    assert (status["previous"], status["status"]) == ("connected", "expired")
    assert (health["previous"], health["level"]) == ("green", "red")


def test_nothing_is_queued_without_subscribers(connected_oa):
    customer_writes(connected_oa)
    assert not Delivery.objects.exists()


def test_a_failing_webhook_queue_never_fails_the_message(connected_oa, subscribe, monkeypatch):
    from zalohub.webhooks import outgoing

    subscribe()

    def broken(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise RuntimeError("webhook rows cannot be built")

    monkeypatch.setattr(outgoing, "_rows", broken)
    message = customer_writes(connected_oa)
    # It should store the message and its conversation as without webhooks.
    assert message.pk and message.events.first().processing_state == "processed"
