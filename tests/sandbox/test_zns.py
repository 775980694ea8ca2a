"""The business host over raw HTTP: templates, the reviewer, quota, sends by phone and
by UID, Zalo's error codes, and idempotent sends by tracking_id (API.md §4)."""

import pytest

from zalohub.sandbox.world import OA_SUPPORT_ID, SON_SUPPORT_USER_ID

PHONE = "84912345678"
TEMPLATE = {
    "template_name": "Xác nhận đơn hàng",
    "template_type": 1,
    "tag": 1,
    "layout": {"body": {"components": [{"PARAGRAPH": {"value": "Đơn <order_code> đã xác nhận"}}]}},
    "params": [{"type": 4, "name": "order_code", "sample_value": "DH001", "max_length": 10}],
    "note": "",
    "tracking_id": "tpl-1",
}


class Zns:
    def __init__(self, wire) -> None:
        self.wire = wire
        self.token = wire.connect()["access_token"]

    def call(self, method: str, path: str, body: object = None, token: str | None = None, **params):
        return self.wire.http.request(
            method,
            f"{self.wire.base}/business/{path}",
            headers={"access_token": self.token if token is None else token},
            json=body,
            params=params or None,
        ).json()

    def control(self, action: str, **body: object) -> dict:
        response = self.wire.control("POST", f"zns/{action}", body)
        assert response.status_code == 200, response.text
        return response.json()

    def approved(self, **changes: object) -> str:
        created = self.call("POST", "template/create", {**TEMPLATE, **changes})
        template_id = created["data"]["template_id"]
        self.control("review", template_id=template_id, decision="approve")
        return template_id

    def send(self, template_id: str, *, phone: str = PHONE, tracking_id: str = "t-1", **data):
        body = {
            "phone": phone,
            "template_id": template_id,
            "template_data": data or {"order_code": "DH8821"},
            "tracking_id": tracking_id,
        }
        return self.call("POST", "message/template", body)


@pytest.fixture
def zns(wire) -> Zns:
    return Zns(wire)


def test_it_creates_lists_and_details_a_template_pending_review(zns):
    created = zns.call("POST", "template/create", TEMPLATE)
    # It should answer Zalo's create shape, the template waiting for review.
    assert created["error"] == 0
    template_id = created["data"]["template_id"]
    assert created["data"]["template_status"] == "PENDING_REVIEW"
    listed = zns.call("GET", "template/all", offset=0, limit=100)
    assert listed["metadata"]["total"] == 1
    assert listed["data"][0]["status"] == "PENDING_REVIEW"
    detail = zns.call("GET", "template/info/v2", template_id=template_id)["data"]
    assert detail["listParams"][0]["name"] == "order_code"
    assert detail["listParams"][0]["maxLength"] == 10
    # One id type in the list and the detail, as Zalo's (issue 16 §15); an absolute
    # preview page that opens; the prices by phone and by user id.
    assert listed["data"][0]["templateId"] == detail["templateId"] == template_id
    assert detail["previewUrl"].startswith(zns.wire.base + "/")
    preview = zns.wire.http.get(detail["previewUrl"])
    assert preview.status_code == 200 and TEMPLATE["template_name"] in preview.text
    assert detail["price_sdt"].isdigit() and detail["price_uid"].isdigit()
    assert detail["price"] == detail["price_sdt"]
    # It should filter by Zalo's integer status (2 = PENDING_REVIEW, 1 = ENABLE).
    assert zns.call("GET", "template/all", status=1)["data"] == []


def test_it_rejects_with_a_reason_and_edits_only_rejected_templates(zns, sandbox):
    template_id = zns.call("POST", "template/create", TEMPLATE)["data"]["template_id"]
    # It should refuse to edit a template under review (-1091).
    edit = {**TEMPLATE, "template_id": template_id}
    assert zns.call("POST", "template/edit", edit)["error"] == -1091
    done = zns.control("review", template_id=template_id, decision="reject", reason="Logo lỗi")
    assert done["emitted"][0]["event_name"] == "change_template_status"
    detail = zns.call("GET", "template/info/v2", template_id=template_id)["data"]
    assert detail["status"] == "REJECT" and detail["reason"] == "Logo lỗi"
    # It should accept the edit of a rejected template, which goes back to review.
    assert zns.call("POST", "template/edit", edit)["data"]["template_status"] == "PENDING_REVIEW"


def test_it_reviews_on_its_own_after_a_delay_by_its_rule_or_a_queued_decision(zns, sandbox):
    zns.control("reviewer", delay=0, queue=[{"decision": "reject", "reason": "Mẫu tin bị lặp"}])
    first = zns.call("POST", "template/create", TEMPLATE)["data"]["template_id"]
    linked = {"layout": {"body": {"components": [{"PARAGRAPH": {"value": "Xem https://x.vn"}}]}}}
    second = zns.call("POST", "template/create", {**TEMPLATE, **linked, "params": []})
    third = zns.call("POST", "template/create", TEMPLATE)["data"]["template_id"]
    assert sandbox.webhooks.wait_idle(5)
    statuses = {t["templateId"]: t for t in zns.call("GET", "template/all")["data"]}
    # It should use the queued decision first, then reject raw links, then approve.
    assert statuses[first]["status"] == "REJECT"
    assert statuses[second["data"]["template_id"]]["status"] == "REJECT"
    assert statuses[third]["status"] == "ENABLE"


def test_it_sends_by_phone_counts_quota_and_dedupes_by_tracking_id(zns, sandbox):
    template_id = zns.approved()
    first = zns.send(template_id, tracking_id="order-88213")
    # It should answer the documented success shape with the quota left.
    assert first["error"] == 0
    assert first["data"]["quota"] == {"dailyQuota": "500", "remainingQuota": "499"}
    again = zns.send(template_id, tracking_id="order-88213")
    # It should answer a retry with the first msg_id and deliver nothing more.
    assert again["data"]["msg_id"] == first["data"]["msg_id"]
    assert again["data"]["quota"]["remainingQuota"] == "499"
    with sandbox.lock:
        assert len(sandbox.zns.all_sends(OA_SUPPORT_ID)) == 1
    assert zns.call("GET", "message/quota")["data"]["remainingQuota"] == 499


@pytest.mark.parametrize(
    ("setup", "send", "code"),
    [
        ({}, {"phone": "0912345678"}, -108),
        ({}, {"phone": "14155550100"}, -108),
        ({}, {"order_code": ""}, -1122),
        ({}, {"order_code": "X" * 11}, -1121),
        ({"refuse": -141}, {}, -141),
        ({"quota": 0}, {}, -144),
        ({"pending": True}, {}, -131),
        ({"quality": "LOW"}, {}, -146),
    ],
)
def test_it_answers_zalos_error_codes_for_bad_sends(zns, setup, send, code):
    if setup.get("pending"):
        template_id = zns.call("POST", "template/create", TEMPLATE)["data"]["template_id"]
    else:
        template_id = zns.approved()
    if "refuse" in setup:
        zns.control("refuse", recipient=PHONE, code=setup["refuse"])
    if "quota" in setup:
        zns.control("quota", oa_id=OA_SUPPORT_ID, remaining=setup["quota"])
    if "quality" in setup:
        zns.control("quality", template_id=template_id, quality=setup["quality"])
    phone = send.pop("phone", PHONE)
    data = {"order_code": "DH8821", **send}
    body = zns.send(template_id, phone=phone, **data)
    # It should refuse with Zalo's code and no data.
    assert body["error"] == code, body
    assert "data" not in body


def test_it_refuses_an_unknown_token_with_minus_124(zns):
    assert zns.call("GET", "message/quota", token="nope")["error"] == -124


def test_it_sends_by_uid_on_the_oa_host_only_to_this_oas_users(zns, wire):
    template_id = zns.approved()

    def send(user_id: str, tracking_id: str) -> dict:
        body = {
            "user_id": user_id,
            "template_id": template_id,
            "template_data": {"order_code": "DH1"},
            "tracking_id": tracking_id,
        }
        return wire.http.post(
            f"{wire.base}/openapi/v3.0/oa/message/template",
            headers={"access_token": zns.token},
            json=body,
        ).json()

    first = send(SON_SUPPORT_USER_ID, "u-1")
    # It should answer the UID shape (message_id, not msg_id), deduped by tracking_id.
    assert first["error"] == 0 and first["data"]["user_id"] == SON_SUPPORT_USER_ID
    assert send(SON_SUPPORT_USER_ID, "u-1")["data"]["message_id"] == first["data"]["message_id"]
    assert send("123", "u-2")["error"] == -201


def test_it_emits_quality_quota_and_receipt_events(zns, sandbox, hooked):
    template_id = zns.approved()
    zns.control("quality", template_id=template_id, quality="LOW")
    zns.control("quota", oa_id=OA_SUPPORT_ID, daily=1000)
    template_id2 = zns.approved(template_name="Nhắc lịch hẹn khám")
    zns.send(template_id2, tracking_id="trk-9")
    zns.control("deliver")
    assert sandbox.webhooks.wait_idle(5)
    names = [e["event_name"] for e in hooked.events()]
    # It should tell the hub each change as Zalo does, the receipt echoing tracking_id.
    assert "change_template_quality" in names and "change_oa_daily_quota" in names
    receipt = next(e for e in hooked.events() if e["event_name"] == "user_received_message")
    assert receipt["message"]["tracking_id"] == "trk-9"
    assert receipt["recipient"]["id"] == PHONE
