"""The sandbox echoes the OA's API sends (``oa_send_*``) and names the OA on the side of
receipts its settings say, as Zalo does (API.md §3.3-§3.6)."""

import json
from pathlib import Path

import pytest

from zalohub.sandbox import reviewer
from zalohub.sandbox.world import APP_SUPPORT_ID, OA_SUPPORT_ID, SON_BY_APP, SON_SUPPORT_USER_ID

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "zalo"
PDF = b"%PDF-1.4\n" + b"x" * 64


@pytest.fixture
def token(wire) -> str:
    return wire.connect()["access_token"]


@pytest.fixture
def echoing(wire, hooked):
    assert wire.control("POST", "webhooks", {"echo": True}).json()["echo"] is True
    return hooked


def _attachment_keys(name: str) -> set[str]:
    fixture = json.loads((FIXTURES / name).read_text())
    return set(fixture["message"]["attachments"][0]["payload"])


def test_an_api_send_is_echoed_from_the_oa_to_the_user(wire, echoing, token):
    sent = wire.send_text(token, SON_SUPPORT_USER_ID, "Chào anh Sơn")["data"]
    wire.deliveries()
    [echo] = echoing.events()
    # It should echo the message as oa_send_text, the OA as the sender, as Zalo does...
    assert echo["event_name"] == "oa_send_text"
    assert echo["sender"] == {"id": OA_SUPPORT_ID}  # no admin_id: not Zalo's chat tool
    assert echo["recipient"] == {"id": SON_SUPPORT_USER_ID}
    assert echo["message"] == {"text": "Chào anh Sơn", "msg_id": sent["message_id"]}
    assert echo["app_id"] == APP_SUPPORT_ID
    assert echo["user_id_by_app"] == SON_BY_APP[APP_SUPPORT_ID]
    assert echo["timestamp"] == sent["sent_time"]
    # ... in the shape of Zalo's echo, less the admin a web-tool send names.
    fixture = json.loads((FIXTURES / "oa_send_text__web_tool.json").read_text())
    del fixture["sender"]["admin_id"]
    assert {k: type(v) for k, v in echo.items()} == {k: type(v) for k, v in fixture.items()}


def test_media_and_files_are_echoed_with_their_attachment(wire, echoing, token):
    image = {
        "attachment": {
            "type": "template",
            "payload": {
                "template_type": "media",
                "elements": [{"media_type": "image", "url": "https://x/a.jpg"}],
            },
        }
    }
    upload = wire.upload(token, "file", "bao-gia.pdf", PDF, "application/pdf").json()
    file = {"attachment": {"type": "file", "payload": {"token": upload["data"]["token"]}}}
    for message in (image, file):
        body = {"recipient": {"user_id": SON_SUPPORT_USER_ID}, "message": message}
        assert wire.send_cs(token, body).json()["error"] == 0
    wire.deliveries()
    shown, filed = echoing.events()
    # It should name each kind as Zalo does, with the attachment's documented keys.
    assert shown["event_name"] == "oa_send_image"
    assert shown["message"]["attachments"][0]["payload"]["url"] == "https://x/a.jpg"
    assert set(shown["message"]["attachments"][0]["payload"]) <= _attachment_keys(
        "user_send_image__basic.json"
    )
    assert filed["event_name"] == "oa_send_file"
    assert filed["message"]["attachments"][0]["payload"]["name"] == "bao-gia.pdf"
    assert set(filed["message"]["attachments"][0]["payload"]) <= _attachment_keys(
        "user_send_file__pdf.json"
    )


def test_echoes_can_be_turned_off(wire, hooked, token):
    assert wire.control("POST", "webhooks", {"echo": False}).json()["echo"] is False
    wire.send_text(token, SON_SUPPORT_USER_ID)
    assert wire.deliveries()["count"] == 0
    assert wire.control("POST", "webhooks", {"echo": "yes"}).status_code == 400


@pytest.mark.parametrize("side", ["oa", "user"])
def test_receipts_name_the_oa_on_the_side_the_settings_say(wire, sandbox, hooked, token, side):
    settings = wire.control("POST", "webhooks", {"receipt_sender": side}).json()
    assert settings["receipt_sender"] == side
    message_id = wire.send_text(token, SON_SUPPORT_USER_ID)["data"]["message_id"]
    wire.control("POST", "messages/receipts", {"seen": True})
    wire.deliveries()
    received, seen = hooked.events()
    oa, user = {"id": OA_SUPPORT_ID}, {"id": SON_SUPPORT_USER_ID}
    # It should put the OA on the side asked, for every receipt.
    for receipt in (received, seen):
        assert (receipt["sender"], receipt["recipient"]) == (
            (oa, user) if side == "oa" else (user, oa)
        )
    assert received["message"]["msg_id"] == message_id
    assert seen["message"]["msg_ids"] == [message_id]


def test_zalos_orientation_is_the_default_and_unknown_sides_are_refused(wire, sandbox):
    # It should send receipts as the real ones come: the OA as the sender.
    assert wire.control("GET", "webhooks").json()["receipt_sender"] == "oa"
    assert sandbox.webhooks.config.receipt_sender == "oa"
    refused = wire.control("POST", "webhooks", {"receipt_sender": "phone"})
    assert refused.status_code == 400


@pytest.mark.parametrize("side", ["oa", "user"])
def test_zns_receipts_name_the_oa_on_the_side_the_settings_say(sandbox, side):
    from zalohub.sandbox.znsbook import ZnsSend

    sandbox.webhooks.config.update(receipt_sender=side)
    send = ZnsSend(
        msg_id="15a0cc0bbb13bd4ce403",
        oa_id=OA_SUPPORT_ID,
        app_id=APP_SUPPORT_ID,
        channel="phone",
        recipient="84912345678",
        template_id="318001",
        template_data={},
        tracking_id="order-1",
        sent_time=1,
    )
    with sandbox.lock:
        sandbox.zns.record_send(send)
    emitted = reviewer.mark_delivered(sandbox, send.msg_id)
    receipt = json.loads(emitted.deliveries[0].body)
    oa, phone = {"id": OA_SUPPORT_ID}, {"id": "84912345678"}
    expected = (oa, phone) if side == "oa" else (phone, oa)
    assert (receipt["sender"], receipt["recipient"]) == expected
    assert receipt["message"]["tracking_id"] == "order-1"
