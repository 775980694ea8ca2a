"""The sandbox's copy of Zalo's wire format and the hub's (zalo.webhook, zalo.bodies,
zalo.catalogue) are kept apart on purpose; this test feeds both the same fixtures so
they cannot drift: what the sandbox emits for a fixture's values reads, through the hub,
as the fixture does, and uses only key paths and types the fixture has; what the hub
builds, the sandbox's request checks accept."""

import json
import time
from pathlib import Path
from typing import Any

import pytest

from tests.sandbox.test_zns import TEMPLATE, Zns
from zalohub.sandbox import messaging, payloads, zns
from zalohub.zalo import bodies, catalogue, webhook

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "zalo"
# Zalo's published webhook samples, kept in the repository beside our own fixtures.
SAMPLES = Path(__file__).parents[1] / "fixtures" / "zalo_samples"


def _sandbox_event(fixture: dict[str, Any]) -> dict[str, Any] | None:
    """The sandbox's generator for this event, given the fixture's values; None for an
    event the sandbox does not generate from values alone."""
    wire = webhook.parse(fixture)
    who = {
        "app_id": wire.app_id,
        "oa_id": wire.oa_id,
        "user_id": wire.user_id,
        "by_app": wire.user_id_by_app,
        "timestamp": str(fixture["timestamp"]),
    }
    name = wire.name
    if name.startswith("user_send_") and name.removeprefix("user_send_") in payloads.KINDS:
        attachments = fixture["message"].get("attachments")
        return payloads.user_send(
            **who,
            kind=name.removeprefix("user_send_"),
            msg_id=wire.msg_id,
            text=wire.text,
            attachment=attachments[0] if attachments else None,
            quote_msg_id=wire.quote_msg_id or None,
        )
    if name == "user_received_message" and not wire.tracking_id:
        delivery = str(fixture["message"]["delivery_time"])
        return payloads.user_received(**who, msg_id=wire.msg_id, delivery_time=delivery)
    if name == "user_seen_message":
        return payloads.user_seen(**who, msg_ids=list(wire.msg_ids))
    if name in ("follow", "unfollow"):
        source = str(fixture.get("source") or "")
        return payloads.follow(**who, followed=name == "follow", source=source)
    if name == "user_submit_info":
        return payloads.submit_info(**who, info=dict(wire.info))
    return None


def _shape(node: Any, path: str = "") -> set[tuple[str, str]]:
    """Every key path of a JSON value with the JSON type found there."""
    found = {(path, type(node).__name__)}
    if isinstance(node, dict):
        for key, value in node.items():
            found |= _shape(value, f"{path}.{key}")
    elif isinstance(node, list):
        for value in node:
            found |= _shape(value, f"{path}[]")
    return found


GENERATED = [
    path
    for path in sorted(FIXTURES.glob("*.json")) + sorted(SAMPLES.glob("webhook_*.json"))
    if _sandbox_event(json.loads(path.read_text())) is not None
]


@pytest.mark.parametrize("path", GENERATED, ids=lambda p: p.name)
def test_the_sandbox_emits_what_the_hub_reads_as_the_fixture(path):
    fixture = json.loads(path.read_text())
    emitted = _sandbox_event(fixture)
    assert emitted is not None
    # It should read the sandbox's event as it reads Zalo's (every typed field).
    assert webhook.parse(emitted) == webhook.parse(fixture)
    # It should emit no key, nesting or type the fixture does not have.
    assert _shape(emitted) <= _shape(fixture)


def test_the_sandbox_and_the_hub_agree_on_names_and_request_bodies():
    # It should cover each kind of event the sandbox generates from values.
    names = {json.loads(p.read_text())["event_name"] for p in GENERATED}
    assert {"user_received_message", "user_seen_message", "follow", "unfollow"} <= names
    assert {"user_send_text", "user_send_image", "user_submit_info"} <= names
    # It should know the same customer message kinds.
    assert set(payloads.KINDS) == set(catalogue.USER_MESSAGE_KINDS)
    # It should accept the consultation messages the hub builds (no upload needed).
    text = bodies.oa_message("text", text="Chào anh")
    image = bodies.oa_message("image", attachment={"url": "http://127.0.0.1/a.jpg"})
    assert messaging._message_kind(None, None, text) == "text"
    assert messaging._message_kind(None, None, image) == "image"
    # It should accept the template the hub submits, as the hub builds it.
    request = bodies.TemplateRequest(
        name="Xác nhận đơn hàng",
        template_type=1,
        tag=1,
        body_text="Đơn <order> đã được xác nhận",
        note="",
        tracking_id="tpl-1",
        params=[bodies.TemplateParam(name="order", type=4, sample_value="DH1", max_length=10)],
        buttons=[bodies.TemplateButton(type=1, title="Xem", content="https://example.com")],
    ).body()
    assert zns._checked_payload(request) is request
    listed = zns._list_params(request["params"])
    assert (listed[0]["name"], listed[0]["maxLength"]) == ("order", 10)


# Events the sandbox emits from its own state (the reviewer, ZNS sends), by the fixture
# each must read like.
LIVE = {
    "change_template_status": "change_template_status__rejected.json",
    "change_template_quality": "change_template_quality__low.json",
    "change_template_quota": "change_template_quota__basic.json",
    "user_received_message": "user_received_message__zns.json",
}


def test_the_sandbox_emits_template_events_and_zns_receipts_as_the_fixtures(wire, hooked):
    zns = Zns(wire)
    rejected = zns.call("POST", "template/create", TEMPLATE)["data"]["template_id"]
    zns.control("review", template_id=rejected, decision="reject", reason="Mẫu tin bị lặp")
    template_id = zns.approved(template_name="Nhắc lịch hẹn khám")
    assert zns.send(template_id, tracking_id="trk-9")["error"] == 0
    zns.control("deliver")
    zns.control("template_quota", template_id=template_id, daily=1000)
    zns.control("quality", template_id=template_id, quality="LOW")
    emitted = {}
    for event in _delivered(hooked):
        emitted.setdefault(event["event_name"], event)
    assert LIVE.keys() <= emitted.keys(), sorted(emitted)
    for name, fixture_name in LIVE.items():
        fixture = json.loads((FIXTURES / fixture_name).read_text())
        event = emitted[name]
        # It should use only key paths and types Zalo's payload has...
        assert _shape(event) <= _shape(fixture), name
        # ... and the hub should read from it every field it reads from the fixture.
        theirs, ours = webhook.parse(fixture), webhook.parse(event)
        for field in ("template_id", "status", "reason", "quality", "quota", "tracking_id"):
            assert bool(getattr(ours, field)) == bool(getattr(theirs, field)), (name, field)
        assert ours.time is not None and ours.oa_id and ours.app_id
    assert webhook.parse(emitted["user_received_message"]).tracking_id == "trk-9"


def _delivered(hooked) -> list[dict[str, Any]]:
    for _ in range(100):
        if {e["event_name"] for e in hooked.events()} >= LIVE.keys():
            break
        time.sleep(0.05)
    return hooked.events()
