"""Simulated customers: messages, follows, forms, and receipts for what the OA sent."""

import pytest

from zalohub.sandbox import customers
from zalohub.sandbox.payloads import KINDS
from zalohub.sandbox.world import (
    APP_SALES_ID,
    APP_SUPPORT_ID,
    OA_SALES_ID,
    OA_SUPPORT_ID,
    SON_BY_APP,
    SON_SALES_USER_ID,
    SON_SUPPORT_USER_ID,
)

HA = "5830174629118340528"  # Support OA, not a follower


@pytest.fixture
def token(wire) -> str:
    return wire.connect()["access_token"]


def test_a_customer_message_is_an_interaction(wire, sandbox, hooked):
    before = sandbox.users[OA_SUPPORT_ID][SON_SUPPORT_USER_ID]["last_interaction"]
    said = wire.customer("message", oa_id=OA_SUPPORT_ID, user_id=SON_SUPPORT_USER_ID, text="Alo")
    assert sandbox.users[OA_SUPPORT_ID][SON_SUPPORT_USER_ID]["last_interaction"] > before
    assert said["event_name"] == "user_send_text" and len(said["msg_id"]) == 20
    wire.deliveries()
    [event] = hooked.events()
    assert event["user_id_by_app"] == SON_BY_APP[APP_SUPPORT_ID]


def test_customers_write_to_both_oas_each_app_hearing_its_own(wire, hooked):
    wire.customer("message", oa_id=OA_SUPPORT_ID, user_id=SON_SUPPORT_USER_ID)
    wire.customer("message", oa_id=OA_SALES_ID, user_id=SON_SALES_USER_ID)
    wire.deliveries()
    by_path = {r.path: r.json() for r in hooked.received}
    assert by_path[f"/zalo/webhook/{APP_SUPPORT_ID}/"]["recipient"]["id"] == OA_SUPPORT_ID
    sales = by_path[f"/zalo/webhook/{APP_SALES_ID}/"]
    assert (sales["app_id"], sales["sender"]["id"]) == (APP_SALES_ID, SON_SALES_USER_ID)
    assert sales["user_id_by_app"] == SON_BY_APP[APP_SALES_ID]


@pytest.mark.parametrize("kind", [k for k in KINDS if k != "text"])
def test_every_message_kind_carries_a_documented_attachment(wire, hooked, kind):
    wire.customer("message", oa_id=OA_SUPPORT_ID, user_id=SON_SUPPORT_USER_ID, kind=kind)
    wire.deliveries()
    [event] = hooked.events()
    assert event["event_name"] == f"user_send_{kind}"
    [attachment] = event["message"]["attachments"]
    payload = attachment["payload"]
    expected = {
        "image": {"thumbnail", "url"},
        "gif": {"thumbnail", "url"},
        "link": {"thumbnail", "description", "url"},
        "audio": {"url"},
        "video": {"url", "thumbnail", "description"},
        "sticker": {"url", "id"},
        "location": {"coordinates"},
        "file": {"size", "name", "checksum", "type", "url"},
        "business_card": {"thumbnail", "description", "url"},
    }[kind]
    assert set(payload) == expected
    assert attachment["type"] == ("link" if kind == "business_card" else kind)
    if kind == "location":
        assert set(payload["coordinates"]) == {"latitude", "longitude"}
    if kind == "file":
        # It should serve the file the event points at, matching its checksum.
        got = wire.http.get(payload["url"])
        assert got.status_code == 200 and len(got.content) == int(payload["size"])


def test_a_quoted_reply_names_the_quoted_message(wire, hooked):
    wire.customer(
        "message", oa_id=OA_SUPPORT_ID, user_id=SON_SUPPORT_USER_ID, quote_msg_id="abc123"
    )
    wire.deliveries()
    assert hooked.events()[0]["message"]["quote_msg_id"] == "abc123"


def test_it_refuses_unknown_customers_and_kinds(wire, sandbox):
    for body in (
        {"oa_id": OA_SUPPORT_ID, "user_id": SON_SALES_USER_ID},
        {"oa_id": OA_SUPPORT_ID, "user_id": SON_SUPPORT_USER_ID, "kind": "hologram"},
        {"oa_id": OA_SUPPORT_ID, "user_id": SON_SUPPORT_USER_ID, "duplicate": -1},
        {"oa_id": OA_SUPPORT_ID, "user_id": SON_SUPPORT_USER_ID, "corrupt": "a bit"},
    ):
        response = wire.control("POST", "customers/message", body)
        assert response.status_code == 400 and response.json()["error"]
    assert wire.control("POST", "customers/dance", {}).status_code == 400


def test_follow_and_unfollow(wire, sandbox, hooked, token):
    followers = sandbox.oas[OA_SUPPORT_ID]["num_follower"]
    wire.customer("follow", oa_id=OA_SUPPORT_ID, user_id=HA)
    # It should let the OA write to a new follower.
    assert wire.send_text(token, HA)["error"] == 0
    wire.customer("unfollow", oa_id=OA_SUPPORT_ID, user_id=HA, source="oa_profile")
    assert wire.send_text(token, HA)["error"] == -213
    assert sandbox.oas[OA_SUPPORT_ID]["num_follower"] == followers
    wire.deliveries()
    follow, unfollow = hooked.events()[:2]
    assert list(follow) == [
        "oa_id",
        "follower",
        "user_id_by_app",
        "event_name",
        "source",
        "app_id",
        "timestamp",
    ]
    assert (follow["event_name"], follow["follower"], follow["oa_id"]) == (
        "follow",
        {"id": HA},
        OA_SUPPORT_ID,
    )
    assert unfollow["event_name"] == "unfollow" and unfollow["source"] == "oa_profile"


def test_submit_info_shares_the_customers_details(wire, sandbox, hooked, token):
    info = {
        "name": "Trần Thị Mai",
        "phone": "84987000111",
        "user_dob": "02/03/1991",
        "gender": "female",
        "full_address": {"user_city": "Huế", "user_ward": "Phú Hội", "user_address": "3 Lê Lợi"},
    }
    wire.customer("submit_info", oa_id=OA_SUPPORT_ID, user_id=SON_SUPPORT_USER_ID, info=info)
    wire.deliveries()
    [event] = hooked.events()
    assert event["event_name"] == "user_submit_info" and event["info"] == info
    assert event["sender"] == {"id": SON_SUPPORT_USER_ID}
    # It should show in the OA's user detail from now on.
    detail = wire.user_detail(token, SON_SUPPORT_USER_ID).json()["data"]
    assert detail["shared_info"]["phone"] == "84987000111"
    assert detail["shared_info"]["city"] == "Huế"


def test_receipts_on_command_say_delivered_then_read(wire, sandbox, hooked, token):
    first = wire.send_text(token, SON_SUPPORT_USER_ID)["data"]["message_id"]
    second = wire.send_text(token, SON_SUPPORT_USER_ID)["data"]["message_id"]
    assert wire.deliveries()["count"] == 0  # receipts are on command in this fixture
    response = wire.control("POST", "messages/receipts", {"seen": True})
    names = [e["event_name"] for e in response.json()["emitted"]]
    assert names == ["user_received_message", "user_received_message", "user_seen_message"]
    wire.deliveries()
    received_1, received_2, seen = hooked.events()
    assert received_1["message"]["msg_id"] == first and received_2["message"]["msg_id"] == second
    assert received_1["message"]["delivery_time"].isdigit()
    # It should name the OA as the sender, as real receipts do (test_echoes: either way).
    assert received_1["sender"] == {"id": OA_SUPPORT_ID}
    assert received_1["recipient"] == {"id": SON_SUPPORT_USER_ID}
    # It should name every read message in one list.
    assert seen["message"] == {"msg_ids": [first, second]}
    assert [m.status for m in sandbox.mailbox.sent_messages()] == ["seen", "seen"]
    # It should not acknowledge a message twice.
    assert wire.control("POST", "messages/receipts", {}).json()["emitted"] == []


def test_receipts_can_stop_at_delivered(wire, sandbox, hooked, token):
    message_id = wire.send_text(token, SON_SUPPORT_USER_ID)["data"]["message_id"]
    body = {"message_ids": [message_id], "seen": False}
    assert [
        e["event_name"] for e in wire.control("POST", "messages/receipts", body).json()["emitted"]
    ] == ["user_received_message"]
    assert sandbox.mailbox.find_sent(message_id).status == "received"
    emitted = customers.send_receipts(sandbox, message_ids=[message_id])
    assert [e.event_name for e in emitted] == ["user_seen_message"]


def test_receipts_follow_a_send_by_themselves(wire, sandbox, hooked, token):
    wire.control("POST", "webhooks", {"receipt_delay": 0.05})
    message_id = wire.send_text(token, SON_SUPPORT_USER_ID)["data"]["message_id"]
    log = wire.deliveries()
    # It should deliver the receipt, then the read, to the app that sent the message.
    assert [d["event_name"] for d in log["deliveries"]] == [
        "user_received_message",
        "user_seen_message",
    ]
    assert {r.path for r in hooked.received} == {f"/zalo/webhook/{APP_SUPPORT_ID}/"}
    assert hooked.events()[1]["message"]["msg_ids"] == [message_id]
    assert sandbox.mailbox.find_sent(message_id).status == "seen"


def test_any_event_can_be_emitted_raw(wire, hooked):
    payload = {"event_name": "user_click_chatnow", "oa_id": OA_SUPPORT_ID, "user_id": "1"}
    response = wire.control(
        "POST", "webhooks/emit", {"oa_id": OA_SUPPORT_ID, "payload": payload, "duplicate": 1}
    )
    assert response.status_code == 200
    wire.deliveries()
    first, copy = hooked.events()
    assert first == copy
    assert first["app_id"] == APP_SUPPORT_ID and first["timestamp"].isdigit()
    assert wire.control("POST", "webhooks/emit", {"oa_id": "nope"}).status_code == 400
