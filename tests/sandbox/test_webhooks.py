"""The webhook emitter: Zalo's signature, retries with num_retry, duplicates, forgeries,
and loopback-only targets. A tiny receiver on 127.0.0.1 plays the hub."""

import hashlib
import json

import pytest

from tests.sandbox.receiver import Receiver
from zalohub.sandbox.webhooks import RETRY_SCHEDULE, Emitter, check_target
from zalohub.sandbox.world import (
    APP_SALES_ID,
    APP_SUPPORT_ID,
    OA_SUPPORT_ID,
    SON_SUPPORT_USER_ID,
)
from zalohub.zalo.signature import verify_webhook

OA_SECRET = "sandbox-oa-secret-a"  # the Support app's OA secret key in the demo world


def _expected_mac(app_id: str, body: bytes, timestamp: str, key: str) -> str:
    # Written out from API.md §3.2, not imported from the sandbox.
    digest = hashlib.sha256(app_id.encode() + body + timestamp.encode() + key.encode())
    return "mac=" + digest.hexdigest()


def _say(wire, **body: object) -> dict:
    return wire.customer("message", oa_id=OA_SUPPORT_ID, user_id=SON_SUPPORT_USER_ID, **body)


def test_it_signs_each_event_as_zalo_does(wire, hooked):
    said = _say(wire, text="Chào shop")
    wire.deliveries()
    [got] = hooked.received
    assert got.path == f"/zalo/webhook/{APP_SUPPORT_ID}/"
    event = got.json()
    # It should sign app_id + raw body + the body's timestamp + the OA secret key.
    signature = got.header("X-ZEvent-Signature")
    assert signature == _expected_mac(APP_SUPPORT_ID, got.body, event["timestamp"], OA_SECRET)
    assert got.header("num_retry") is None
    # It should pass the hub's own verifier too.
    assert (
        verify_webhook(
            header=signature,
            raw_body=got.body.decode(),
            timestamp=event["timestamp"],
            secret_key=OA_SECRET,
            app_id=APP_SUPPORT_ID,
        )
        == "app_id"
    )
    # It should send the documented user_send_text shape, ids and timestamp as strings.
    assert list(event) == [
        "app_id",
        "sender",
        "user_id_by_app",
        "recipient",
        "event_name",
        "message",
        "timestamp",
    ]
    assert event["sender"] == {"id": SON_SUPPORT_USER_ID}
    assert event["recipient"] == {"id": OA_SUPPORT_ID}
    assert event["message"] == {"text": "Chào shop", "msg_id": said["msg_id"]}
    assert event["timestamp"].isdigit() and len(event["timestamp"]) == 13
    assert b": " not in got.body  # compact JSON, as Zalo sends it


def test_it_retries_a_refused_delivery_with_num_retry(wire, hooked):
    hooked.statuses[:] = [500, 503]
    _say(wire)
    [delivery] = wire.deliveries()["deliveries"]
    # It should try three times, the retries numbered, and stop once answered 200.
    assert delivery["state"] == "delivered"
    assert [(a["num_retry"], a["status"]) for a in delivery["attempts"]] == [
        (0, 500),
        (1, 503),
        (2, 200),
    ]
    assert [r.header("num_retry") for r in hooked.received] == [None, "1", "2"]
    # It should resend the very same bytes and signature.
    assert len({r.body for r in hooked.received}) == 1
    assert len({r.header("X-ZEvent-Signature") for r in hooked.received}) == 1


def test_it_gives_up_after_zalos_five_retries(wire, hooked):
    wire.control("POST", "webhooks", {"time_factor": 0.0001})
    hooked.statuses[:] = [500] * 10
    _say(wire)
    [delivery] = wire.deliveries()["deliveries"]
    assert delivery["state"] == "failed"
    assert [a["num_retry"] for a in delivery["attempts"]] == [0, 1, 2, 3, 4, 5]
    assert len(hooked.received) == 1 + len(RETRY_SCHEDULE)


def test_it_retries_when_nobody_listens(wire, sandbox):
    closed = Receiver()
    closed.close()  # a port that was just free: connection refused
    wire.control("POST", "webhooks", {"hub": closed.url, "time_factor": 0.0001})
    _say(wire)
    [delivery] = wire.deliveries()["deliveries"]
    assert delivery["state"] == "failed"
    assert all(a["status"] is None and a["error"] for a in delivery["attempts"])


def test_it_duplicates_a_delivery_on_request(wire, hooked):
    said = _say(wire, duplicate=2)
    log = wire.deliveries()["deliveries"]
    assert len(said["deliveries"]) == 3
    assert [d["copy_of"] for d in log] == [None, log[0]["id"], log[0]["id"]]
    assert len(hooked.received) == 3
    assert len({(r.body, r.header("X-ZEvent-Signature")) for r in hooked.received}) == 1


@pytest.mark.parametrize("corrupt", ["signature", "body", "tampered", "unsigned"])
def test_it_corrupts_a_delivery_on_request(wire, hooked, corrupt):
    hooked.statuses[:] = [403]  # the hub refuses the forgery; the retry is answered 200
    _say(wire, corrupt=corrupt)
    wire.deliveries()
    got = hooked.received[0]
    signature = got.header("X-ZEvent-Signature")
    if corrupt == "unsigned":
        assert signature is None
        return
    try:
        timestamp = json.loads(got.body)["timestamp"]
        valid_json = True
    except ValueError:
        timestamp, valid_json = "", False
    # It should never carry a signature that matches the body it came with.
    assert signature != _expected_mac(APP_SUPPORT_ID, got.body, timestamp, OA_SECRET)
    assert valid_json is (corrupt != "body")
    assert hooked.received[1].header("num_retry") == "1"


def test_it_delays_a_delivery_on_request(wire, hooked):
    _say(wire, text="first", delay=1.5)
    _say(wire, text="second")
    wire.deliveries()
    assert [e["message"]["text"] for e in hooked.events()] == ["second", "first"]


def test_it_logs_each_delivery_over_http(wire, hooked):
    hooked.statuses[:] = [500]
    _say(wire)
    body = wire.deliveries(event_name="user_send_text")
    assert (body["count"], body["pending"]) == (1, 0)
    delivery = body["deliveries"][0]
    assert delivery["app_id"] == APP_SUPPORT_ID and delivery["oa_id"] == OA_SUPPORT_ID
    assert delivery["url"] == f"{hooked.url}/zalo/webhook/{APP_SUPPORT_ID}/"
    assert json.loads(delivery["body"])["event_name"] == "user_send_text"
    assert delivery["headers"]["X-ZEvent-Signature"].startswith("mac=")
    for attempt in delivery["attempts"]:
        assert {"attempt", "num_retry", "at", "status", "error", "elapsed_ms"} <= set(attempt)
    assert wire.deliveries(app_id=APP_SALES_ID)["count"] == 0


def test_it_logs_events_of_apps_without_a_webhook_url(wire, sandbox):
    _say(wire)
    [delivery] = wire.deliveries()["deliveries"]
    assert (delivery["state"], delivery["url"], delivery["attempts"]) == ("no_target", "", [])


@pytest.mark.parametrize(
    "url",
    [
        "http://example.com/hook",
        "http://10.0.0.8:8000/",
        "http://127.0.0.1@example.com/",
        "ftp://127.0.0.1/",
        "not a url",
    ],
)
def test_it_only_delivers_to_loopback(wire, sandbox, url):
    with pytest.raises(ValueError):
        check_target(url)
    for body in ({"hub": url}, {"app_id": APP_SUPPORT_ID, "url": url}):
        response = wire.control("POST", "webhooks", body)
        assert response.status_code == 400 and response.json()["error"]
    assert all(not app["webhook_url"] for app in sandbox.apps.values())
    # It should refuse a world that names such a target, too.
    world = sandbox.export_world()
    world["apps"][0]["webhook_url"] = url
    assert wire.control("POST", "reset", world).status_code == 400


def test_loopback_targets_are_accepted():
    for url in (
        "http://127.0.0.1:8000/x/",
        "http://localhost/x",
        "http://[::1]:9/x",
        "https://127.0.0.2/",
    ):
        assert check_target(url) == url


APP_SECRET = "sandbox-secret-app-a"  # the Support app's secret key in the demo world


@pytest.mark.parametrize(
    ("signing", "first", "key", "variant"),
    [
        ("app_id+oa_key", APP_SUPPORT_ID, OA_SECRET, "app_id"),
        ("oa_id+oa_key", OA_SUPPORT_ID, OA_SECRET, "oa_id"),
        ("app_id+app_key", APP_SUPPORT_ID, APP_SECRET, "app_id+app_key"),
        ("oa_id+app_key", OA_SUPPORT_ID, APP_SECRET, "oa_id+app_key"),
    ],
)
def test_it_signs_the_way_its_setting_says(wire, hooked, signing, first, key, variant):
    settings = wire.control("POST", "webhooks", {"signing": signing})
    assert settings.status_code == 200 and settings.json()["signing"] == signing
    _say(wire, text="Chào shop")
    wire.deliveries()
    [got] = hooked.received
    timestamp = got.json()["timestamp"]
    # It should make the MAC from that first term and that key (API.md §3.2, CONFLICTs)...
    signature = got.header("X-ZEvent-Signature")
    assert signature == _expected_mac(first, got.body, timestamp, key)
    # ... which the hub's verifier names as that variant.
    named = verify_webhook(
        header=signature,
        raw_body=got.body.decode(),
        timestamp=timestamp,
        secret_key=OA_SECRET,
        app_id=APP_SUPPORT_ID,
        oa_id=OA_SUPPORT_ID,
        app_secret_key=APP_SECRET,
    )
    assert named == variant


def test_it_signs_as_documented_unless_told_and_refuses_unknown_signings(wire, sandbox):
    # It should start with the documented MAC, and again after a world reset.
    assert wire.control("GET", "webhooks").json()["signing"] == "app_id+oa_key"
    assert wire.control("POST", "webhooks", {"signing": "oa_id+app_key"}).status_code == 200
    for bad in ("hmac", "", 1):
        assert wire.control("POST", "webhooks", {"signing": bad}).status_code == 400, bad
    assert wire.control("GET", "webhooks").json()["signing"] == "oa_id+app_key"
    sandbox.reset()
    assert wire.control("GET", "webhooks").json()["signing"] == "app_id+oa_key"


def test_it_refuses_at_send_time_a_target_that_slipped_through(wire, sandbox):
    emitter = Emitter()
    [delivery] = emitter.deliver(
        app_id=APP_SUPPORT_ID,
        oa_id=OA_SUPPORT_ID,
        url="http://example.com/zalo/webhook/1/",
        payload={"event_name": "follow", "timestamp": "1"},
        oa_secret_key="k",
    )
    assert emitter.wait_idle(10)
    assert delivery.state == "refused" and "loopback" in delivery.attempts[0].error


def test_settings_are_shown_and_validated(wire, sandbox, receiver):
    body = wire.control(
        "POST",
        "webhooks",
        {"app_id": APP_SALES_ID, "url": f"{receiver.url}/custom/", "receipt_delay": 0.2},
    ).json()
    assert body["targets"] == {APP_SUPPORT_ID: "", APP_SALES_ID: f"{receiver.url}/custom/"}
    assert (body["receipt_delay"], body["time_factor"], body["timeout"]) == (0.2, 1.0, 2.0)
    for bad in ({"time_factor": -1}, {"timeout": "fast"}, {"colour": "red"}, {"url": receiver.url}):
        assert wire.control("POST", "webhooks", bad).status_code == 400
    # It should start over on a world reset.
    sandbox.reset()
    assert wire.control("GET", "webhooks").json()["targets"][APP_SALES_ID] == ""
