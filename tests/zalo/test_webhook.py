"""zalo.webhook reads every webhook fixture and sample into a typed event."""

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from zalohub.zalo import catalogue
from zalohub.zalo.webhook import WebhookEvent, capped, head, parse

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "zalo"
# Zalo's published webhook samples, kept in the repository beside our own fixtures.
SAMPLES = Path(__file__).parents[1] / "fixtures" / "zalo_samples"
WEBHOOKS = sorted(FIXTURES.glob("*.json")) + sorted(SAMPLES.glob("webhook_*.json"))


def _load(name: str) -> dict:
    return json.loads((FIXTURES / name).read_text())


def _ms(epoch_ms: int) -> datetime:
    return datetime.fromtimestamp(epoch_ms / 1000, tz=UTC)


@pytest.mark.parametrize("path", WEBHOOKS, ids=lambda p: p.name)
def test_it_reads_every_fixture_and_sample(path):
    payload = json.loads(path.read_text())
    event = parse(payload)
    # It should read the name and the ids from the body, and agree with the hot path.
    assert isinstance(event, WebhookEvent)
    assert event.name == payload["event_name"]
    assert event.app_id == str(payload.get("app_id") or "")
    top = head(payload)
    assert (top.name, top.oa_id, top.user_id, top.time, top.msg_id) == (
        event.name,
        event.oa_id,
        event.user_id,
        event.time,
        event.msg_id,
    )
    # It should find the OA and the user among the ids the body names.
    named = {
        str(v.get("id") if isinstance(v, dict) else v)
        for k, v in payload.items()
        if k in ("sender", "recipient", "follower", "oa_id", "user_id")
    }
    assert event.oa_id in named
    assert event.user_id in named | {""}
    assert event.oa_id != event.user_id
    # It should give times as aware datetimes, or None when the body's is no epoch ms.
    assert event.time is None or event.time.tzinfo is not None
    raw = path.read_bytes()
    assert top.dedupe_key(raw) == head(json.loads(raw)).dedupe_key(raw)
    assert top.dedupe_key(raw).startswith(event.name + ":")


@pytest.mark.parametrize(
    "name, oa_id, user_id",
    [
        ("user_send_text__official.json", "4310500000000000001", "7800000000000000101"),
        ("oa_send_text__web_tool.json", "4310500000000000001", "7800000000000000101"),
        ("follow__official.json", "4310500000000000001", "7800000000000000101"),
        ("change_template_quota__basic.json", "4310500000000000001", ""),
    ],
)
def test_it_names_the_oa_and_the_user_either_way_round(name, oa_id, user_id):
    event = parse(_load(name))
    assert (event.oa_id, event.user_id) == (oa_id, user_id)


def test_it_reads_a_customer_message():
    event = parse(_load("user_send_text__quote_reply.json"))
    assert event.name in catalogue.USER_MESSAGES
    assert event.text == "Đồng ý"
    assert event.msg_id == "96d3cdf3af150460910"
    assert event.msg_ids == ("96d3cdf3af150460910",)
    assert event.quote_msg_id == "63ecf43f0df7dba892e6"
    assert event.user_id_by_app == "5500000000000000101"
    assert event.time == _ms(1763800000000)
    image = parse(_load("user_send_image__basic.json"))
    assert image.attachments[0]["payload"]["url"] == "http://127.0.0.1/i.jpg"


def test_it_reads_receipts_and_caps_their_times_at_arrival():
    seen = parse(_load("user_seen_message__oa.json"))
    assert seen.msg_ids == ("REPLACE_MSG_ID",)
    zns = _load("user_received_message__zns.json")
    delivered = _ms(1763800003000)
    assert parse(zns).tracking_id == "order-88213"
    assert parse(zns).receipt_time == delivered
    # It should never put a receipt after the event reached the hub.
    early = delivered - timedelta(seconds=5)
    assert parse(zns, received_at=early).receipt_time == early
    assert parse(zns, received_at=delivered + timedelta(seconds=1)).receipt_time == delivered
    zns["message"]["delivery_time"] = "9" * 30  # past any datetime
    assert parse(zns, received_at=early).receipt_time is None


def test_it_reads_management_events():
    status = parse(_load("change_template_status__rejected.json"))
    assert (status.template_id, status.status) == ("301234", "REJECT")
    assert status.reason.startswith("Mẫu tin bị lặp")
    assert parse(_load("change_template_quality__low.json")).quality == "LOW"
    assert parse(_load("change_template_quota__basic.json")).quota == 1000
    # Its exact payload is unconfirmed (API.md §8): a number is read as well as a string.
    assert parse({"event_name": "change_oa_daily_quota", "quota": {"new_value": 7}}).quota == 7
    info = parse(_load("user_submit_info__current.json")).info
    assert (info["name"], info["phone"]) == ("Nguyễn Văn Sơn", "84912345678")


def test_it_keys_a_redelivery_by_msg_id_or_by_body():
    raw = (FIXTURES / "user_send_text__official.json").read_bytes()
    payload = json.loads(raw)
    assert head(payload).dedupe_key(raw) == f"user_send_text:{payload['message']['msg_id']}"
    seen = (FIXTURES / "user_seen_message__oa.json").read_bytes()
    # It should key a seen receipt by its body: one msg_id may be seen in several.
    assert ":sha256:" in head(json.loads(seen)).dedupe_key(seen)


def test_it_rejects_times_that_are_not_epoch_milliseconds():
    for stamp in ("154397978274", "1763800000000"):
        assert head({"timestamp": stamp}).time == _ms(int(stamp))
    for stamp in ("", "abc", "17638000", "1" * 15, None, "<epoch ms string>"):
        assert head({"timestamp": stamp}).time is None


def test_it_caps_a_claimed_time_at_arrival():
    now = _ms(1763800000000)
    assert capped(now + timedelta(days=1), now) == now
    assert capped(now - timedelta(days=1), now) == now - timedelta(days=1)
    assert capped(None, now) == now
    assert capped(None, None) is None


def test_zalos_published_samples_are_part_of_the_run():
    # It should read Zalo's own samples, not silently run on our fixtures alone.
    assert len(list(SAMPLES.glob("webhook_*.json"))) >= 5
