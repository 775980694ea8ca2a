"""Template sends: routes and fallbacks, every refusal, Zalo's errors at send time, and
retries that never send twice (issue 6, §5 and "Bad input")."""

import time

import pytest
from django.utils import timezone

from tests.zbs.conftest import VALUES, make_partner
from zalohub.events.models import ErrorCategory, EventAttempt, ProcessingState, ZaloEvent, ZaloState
from zalohub.events.outbound import recover_stuck_sends
from zalohub.sandbox import reviewer
from zalohub.sandbox.world import OA_SUPPORT_ID, SON_PHONE, SON_SUPPORT_USER_ID
from zalohub.zbs.delivery import deliver_template
from zalohub.zbs.models import RoutePolicy, Template, TemplateSend, ZbsSettings
from zalohub.zbs.sending import TemplateSendRefused, template_preview, template_send
from zalohub.zbs.services import oa_settings, template_reset_to_draft

pytestmark = pytest.mark.django_db


def _event(send: TemplateSend) -> ZaloEvent:
    return ZaloEvent.objects.get(message=send.message)


def _deliver(send: TemplateSend) -> str:
    return deliver_template(event_id=_event(send).pk, worker_id="test")


def _sandbox_sends(sandbox) -> list:
    with sandbox.lock:
        return sandbox.zns.all_sends(OA_SUPPORT_ID)


def _time_passes() -> None:
    ZaloEvent.objects.filter(processing_state=ProcessingState.QUEUED).update(
        next_attempt_at=timezone.now()
    )


def test_it_sends_by_phone_and_the_receipt_makes_it_received(approved, son, sandbox, relay):
    send = template_send(partner=son, template=approved, params=VALUES, route_policy="phone")
    event = _event(send)
    # It should queue an outbound event with the message On Queue.
    assert event.processing_state == ProcessingState.QUEUED
    assert send.message.zalo_state == ZaloState.ON_QUEUE
    assert send.message.text == "Đơn hàng DH8821 của Anh Sơn đã được xác nhận."
    assert _deliver(send) == "sent"
    send.message.refresh_from_db()
    [zalo_send] = _sandbox_sends(sandbox)
    # It should send by phone 84xxxxxxxxx with the send's tracking id.
    assert (zalo_send.channel, zalo_send.recipient) == ("phone", SON_PHONE)
    assert zalo_send.tracking_id == send.tracking_id
    assert send.message.zalo_state == ZaloState.SENT
    assert send.message.zalo_msg_id == zalo_send.msg_id
    assert ZbsSettings.objects.get(oa=approved.oa).remaining_quota == 499
    reviewer.deliver_all(sandbox)
    relay("user_received_message")
    send.message.refresh_from_db()
    # It should move the message to Received on Zalo's ZNS receipt.
    assert send.message.zalo_state == ZaloState.RECEIVED
    receipt = ZaloEvent.objects.get(event_name="user_received_message")
    assert receipt.message_id == send.message.pk and receipt.oa_id == approved.oa_id


def test_it_sends_by_uid_to_the_partners_link_on_the_oa(approved, son, sandbox):
    send = template_send(partner=son, template=approved, params=VALUES, route_policy="uid")
    assert _deliver(send) == "sent"
    [zalo_send] = _sandbox_sends(sandbox)
    # It should use the UID template endpoint with the partner's UID on this OA.
    assert (zalo_send.channel, zalo_send.recipient) == ("uid", SON_SUPPORT_USER_ID)
    assert send.message.partner_link.zalo_user_id == SON_SUPPORT_USER_ID


def test_it_follows_the_oas_route_policy_unless_the_send_overrides_it(approved, son, sandbox):
    ZbsSettings.objects.filter(pk=oa_settings(approved.oa).pk).update(route_policy="phone")
    by_policy = template_send(partner=son, template=approved, params=VALUES)
    overridden = template_send(partner=son, template=approved, params=VALUES, route_policy="uid")
    # It should take the OA's policy by default and the send's when given.
    assert (by_policy.route, overridden.route) == (RoutePolicy.PHONE, RoutePolicy.UID)


def test_it_falls_back_to_phone_when_the_uid_cannot_be_reached(approved, son, sandbox):
    sandbox_refuse = {SON_SUPPORT_USER_ID: -141}
    with sandbox.lock:
        sandbox.zns.refusals.update(sandbox_refuse)
    send = template_send(partner=son, template=approved, params=VALUES, route_policy="uid_phone")
    assert send.route == RoutePolicy.UID
    assert _deliver(send) == "sent"
    send.refresh_from_db()
    [zalo_send] = _sandbox_sends(sandbox)
    # It should try the link first, then send by phone with the same tracking id.
    assert send.fell_back and send.route == RoutePolicy.PHONE
    assert (zalo_send.channel, zalo_send.tracking_id) == ("phone", send.tracking_id)
    assert sandbox.call_count("oa.message.template") == 1


def test_it_uses_the_phone_when_uid_and_phone_finds_no_link(approved, oa, sandbox):
    mai = make_partner(oa, name="Trần Thị Mai", phone="0903 123 456")
    send = template_send(partner=mai, template=approved, params=VALUES, route_policy="uid_phone")
    assert (send.route, send.phone) == (RoutePolicy.PHONE, "84903123456")
    assert _deliver(send) == "sent"


@pytest.mark.parametrize(
    ("policy", "phone", "link", "text"),
    [
        ("uid", "84903123456", False, "no Zalo link on this OA"),
        ("phone", "", True, "no valid phone was found"),
        ("phone", "+1 415 555 0100", False, "no valid phone was found"),
        ("uid_phone", "0123", False, "no valid phone was found"),
        ("phone", "84987654321", False, "no valid phone was found"),
    ],
)
def test_it_records_a_send_with_no_usable_route_as_a_recipient_error(
    approved, oa, sandbox, policy, phone, link, text
):
    partner = make_partner(
        oa, name="Khách", phone=phone, user_id=SON_SUPPORT_USER_ID if link else ""
    )
    with pytest.raises(TemplateSendRefused, match=text) as refused:
        template_send(partner=partner, template=approved, params=VALUES, route_policy=policy)
    event = _event(refused.value.send)
    # It should keep the send as an event in Error, category recipient, and send nothing.
    assert event.processing_state == ProcessingState.ERROR
    assert event.error_category == ErrorCategory.RECIPIENT
    assert text in event.error_message
    assert refused.value.send.message.zalo_state == ZaloState.FAILED
    assert _sandbox_sends(sandbox) == []


@pytest.mark.parametrize(
    ("params", "text"),
    [
        ({"order_code": "DH1"}, "“customer_name” is missing"),
        ({**VALUES, "order_code": "DH-123456789"}, "at most 10"),
        ({**VALUES, "coupon": "X"}, "not a parameter"),
    ],
)
def test_it_refuses_bad_parameters_before_calling_zalo(approved, son, sandbox, params, text):
    with pytest.raises(TemplateSendRefused, match=text) as refused:
        template_send(partner=son, template=approved, params=params)
    event = _event(refused.value.send)
    assert event.processing_state == ProcessingState.ERROR
    assert event.error_category == ErrorCategory.SEND
    assert sandbox.call_count("zns.message") == 0


def test_it_refuses_a_template_that_is_not_approved(approved, son, sandbox, relay):
    reviewer.set_status(sandbox, template_id=approved.zalo_template_id, status="DISABLE")
    relay()
    template_reset_to_draft(template=approved)
    with pytest.raises(TemplateSendRefused, match="not Approved") as refused:
        template_send(partner=son, template=approved, params=VALUES)
    assert _event(refused.value.send).error_category == ErrorCategory.TEMPLATE


@pytest.mark.parametrize(
    ("setup", "code", "category"),
    [
        ("refuse", -141, ErrorCategory.SEND),
        ("quota", -144, ErrorCategory.SEND),
        ("not_approved", -131, ErrorCategory.TEMPLATE),
        ("no_account", -118, ErrorCategory.RECIPIENT),
    ],
)
def test_it_fails_the_send_when_zalo_refuses_it(approved, son, sandbox, setup, code, category):
    send = template_send(partner=son, template=approved, params=VALUES, route_policy="phone")
    if setup == "refuse":
        sandbox.zns.refusals[SON_PHONE] = -141
    elif setup == "no_account":
        sandbox.zns.refusals[SON_PHONE] = -118
    elif setup == "quota":
        reviewer.set_daily_quota(sandbox, oa_id=OA_SUPPORT_ID, remaining=0)
    else:
        reviewer.set_status(sandbox, template_id=approved.zalo_template_id, status="DISABLE")
    assert _deliver(send) == "failed"
    event, message = _event(send), send.message
    message.refresh_from_db()
    # It should fail once, with Zalo's code, a readable reason and the right category.
    assert event.processing_state == ProcessingState.ERROR
    assert (message.zalo_state, message.failure_code) == (ZaloState.FAILED, code)
    assert event.error_category == category
    assert str(code) in event.error_message
    if setup == "quota":
        assert ZbsSettings.objects.get(oa=approved.oa).remaining_quota == 0


def test_it_retries_after_an_unknown_outcome_without_sending_twice(approved, son, sandbox):
    sandbox.add_fault("zns.message.template", "timeout", times=1, delay=2.5)
    send = template_send(partner=son, template=approved, params=VALUES, route_policy="phone")
    # It should requeue after the timeout: Zalo may have it, but the tracking id dedupes.
    assert _deliver(send) == "retry"
    while not _sandbox_sends(sandbox):  # the stalled request completes on Zalo's side
        time.sleep(0.05)
    _time_passes()
    assert _deliver(send) == "sent"
    [zalo_send] = _sandbox_sends(sandbox)
    send.message.refresh_from_db()
    assert send.message.zalo_msg_id == zalo_send.msg_id
    assert sandbox.call_count("zns.message.template") == 2
    # It should ignore a duplicate task once the send is settled.
    assert _deliver(send) == "not claimable"


def test_it_retries_a_5xx_and_recovers_a_send_whose_worker_died(approved, son, sandbox):
    sandbox.add_fault("zns.message.template", "http_500", times=1)
    send = template_send(partner=son, template=approved, params=VALUES, route_policy="phone")
    assert _deliver(send) == "retry"
    # A worker claims it and dies mid-call: the attempt stays Running.
    event = _event(send)
    ZaloEvent.objects.filter(pk=event.pk).update(
        processing_state=ProcessingState.PROCESSING, claimed_by="dead"
    )
    EventAttempt.objects.create(
        event=event,
        number=2,
        claim_token="dead",
        started_at=timezone.now() - timezone.timedelta(minutes=5),
        call_started_at=timezone.now() - timezone.timedelta(minutes=5),
    )
    # It should put it back in the queue (not Failed: the tracking id makes it safe).
    assert recover_stuck_sends(lease=timezone.timedelta(seconds=30)) == 1
    assert _deliver(send) == "sent"
    assert len(_sandbox_sends(sandbox)) == 1


def test_it_previews_the_rendered_message(approved):
    text = template_preview(template=approved, params=VALUES)
    assert text == "Đơn hàng DH8821 của Anh Sơn đã được xác nhận."


def test_it_keeps_the_template_status_choices_the_seed_names():
    labels = [str(label) for _value, label in Template.Status.choices]
    assert labels == ["Draft", "Pending", "Approved", "Rejected", "Disabled"]


def test_resend_from_zalo_events_sends_a_failed_template_again_once(approved, son, sandbox):
    from zalohub.events.actions import message_resend

    sandbox.zns.refusals[SON_PHONE] = -141
    send = template_send(partner=son, template=approved, params=VALUES, route_policy="phone")
    assert _deliver(send) == "failed"
    del sandbox.zns.refusals[SON_PHONE]
    # It should queue a new attempt through the template sender, with the same tracking id.
    new_event = message_resend(message=send.message)
    assert new_event.event_name == "oa_send_template"
    assert deliver_template(event_id=new_event.pk, worker_id="test") == "sent"
    [zalo_send] = _sandbox_sends(sandbox)
    assert zalo_send.tracking_id == send.tracking_id
    send.message.refresh_from_db()
    assert send.message.zalo_state == ZaloState.SENT


def test_resend_of_a_send_that_never_had_a_route_says_what_to_fix(approved, oa, sandbox):
    from zalohub.events.actions import ActionRefused, message_resend

    nobody = make_partner(oa, name="Khách không SĐT")
    with pytest.raises(TemplateSendRefused):
        template_send(partner=nobody, template=approved, params=VALUES, route_policy="phone")
    send = TemplateSend.objects.get(partner=nobody)
    # It should refuse a blind resend and say why the send had no recipient.
    with pytest.raises(ActionRefused, match="never had a route"):
        message_resend(message=send.message)
