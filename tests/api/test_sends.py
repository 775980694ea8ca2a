"""Sends through the API: 202 once queued, then the worker's send to the sandbox Zalo,
read back through the API (Processing State, Zalo State, attempts)."""

import pytest

from tests.api.conftest import SON, send_due
from tests.zbs.conftest import VALUES
from zalohub.events.models import Message, ZaloEvent
from zalohub.zbs.models import TemplateSend

pytestmark = pytest.mark.django_db


def test_text_to_a_user_id_is_accepted_then_sent_and_readable(api, oa, son):
    status, body, _response = api.post(
        "/messages", {"oa": oa.pk, "to": {"user_id": SON}, "text": "Đơn DH8821 đã giao"}
    )
    assert status == 202, body
    # Accepted as its event alone: a worker gives it its message, then sends it.
    assert body["processing_state"] == "received" and body["zalo_state"] == "on_queue"
    assert body["message_id"] is None
    event = ZaloEvent.objects.get(pk=body["event_id"])
    assert (event.direction, event.processing_state, event.message_id) == ("out", "received", None)
    status, read, _ = api.get(f"/events/{event.pk}")
    assert (status, read["processing_state"], read["message"]) == (200, "received", None)
    assert send_due() and ZaloEvent.objects.get(pk=event.pk).processing_state == "processed"
    status, read, _ = api.get(f"/events/{event.pk}")
    assert status == 200
    assert read["processing_state"] == "processed"
    assert read["zalo_state"] == "sent"
    assert read["attempts"] == 1 and read["attempt_log"][0]["result"] == "ok"
    assert read["message"]["text"] == "Đơn DH8821 đã giao"
    assert read["message"]["partner_id"] == son.pk


def test_partner_and_link_recipients_reach_the_partners_uid(api, oa, son):
    link = son.zalo_links.get()
    for to in ({"partner_id": son.pk}, {"link_id": link.pk}):
        status, body, _ = api.post("/messages", {"oa": oa.pk, "to": to, "text": "Xin chào"})
        assert status == 202, body
        assert Message.objects.get(pk=body["message_id"]).zalo_user_id == SON


def test_image_by_url_and_refusals_as_problems(api, oa, son):
    status, body, _ = api.post(
        "/messages",
        {
            "oa": oa.pk,
            "to": {"user_id": SON},
            "kind": "image",
            "attachment": {"url": "http://127.0.0.1/a.png"},
        },
    )
    assert status == 202, body
    status, body, response = api.post(
        "/messages", {"oa": oa.pk, "to": {"user_id": SON}, "kind": "file"}
    )
    assert status == 422 and body["code"] == "send_refused"
    assert response["Content-Type"] == "application/problem+json"
    status, body, _ = api.post("/messages", {"oa": oa.pk, "to": {}, "text": "x"})
    assert status == 422 and body["code"] == "invalid_request" and body["errors"]


def test_template_send_by_external_ref_with_tracking_id(api, oa, son, approved, sandbox):
    son.external_refs = {"erp": "C-0042"}
    son.save()
    status, body, _ = api.post(
        "/template-sends",
        {
            "oa": oa.pk,
            "template_id": approved.pk,
            "external_ref": {"system": "erp", "reference": "C-0042"},
            "params": VALUES,
            "route_policy": "phone",
            "tracking_id": "erp-order-8821",
        },
    )
    assert status == 202, body
    assert body["tracking_id"] == "erp-order-8821" and body["route"] == "phone"
    send = TemplateSend.objects.get(tracking_id="erp-order-8821")
    assert send.partner_id == son.pk and send.message_id == body["message_id"]
    send_due()
    status, read, _ = api.get(f"/events/{body['event_id']}")
    assert read["processing_state"] == "processed" and read["zalo_state"] == "sent"
    # The same tracking id again is refused: Zalo would deduplicate it away.
    status, again, _ = api.post(
        "/template-sends",
        {
            "oa": oa.pk,
            "template_id": approved.pk,
            "partner_id": son.pk,
            "params": VALUES,
            "tracking_id": "erp-order-8821",
        },
    )
    assert status == 409 and again["code"] == "tracking_id_used"


def test_a_template_send_that_cannot_go_is_recorded_and_answered_422(api, oa, approved):
    from tests.zbs.conftest import make_partner

    nobody = make_partner(oa, name="Không có Zalo")
    status, body, _ = api.post(
        "/template-sends",
        {
            "oa": oa.pk,
            "template_id": approved.pk,
            "partner_id": nobody.pk,
            "params": VALUES,
            "route_policy": "uid",
        },
    )
    assert status == 422 and body["code"] == "send_refused"
    status, read, _ = api.get(f"/events/{body['event_id']}")
    assert read["processing_state"] == "error" and read["error_category"] == "recipient"
