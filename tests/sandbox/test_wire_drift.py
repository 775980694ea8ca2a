"""The sandbox's copy of Zalo's wire format and the hub's (zalo.webhook, zalo.bodies,
zalo.catalogue) are kept apart on purpose; this test feeds both the same fixtures so
they cannot drift: what the sandbox emits for a fixture's values reads, through the hub,
as the fixture does, and uses only key paths and types the fixture has; what the hub
builds, the sandbox's request checks accept."""

import dataclasses
import json
import time
from pathlib import Path
from typing import Any

import pytest

from tests.sandbox.test_zns import TEMPLATE, Zns
from zalohub.sandbox import messaging, payloads, zns
from zalohub.sandbox.world import OA_SUPPORT_ID
from zalohub.zalo import bodies, catalogue, webhook

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "zalo"
# Zalo's published webhook samples, kept in the repository beside our own fixtures.
SAMPLES = Path(__file__).parents[1] / "fixtures" / "zalo_samples"


# The OAs the fixtures and Zalo's samples name (the samples' own ids disagree with each
# other): the hub tells the OA from the user by the OAs it knows.
KNOWN_OAS = {
    "4310500000000000001",
    "388613280878808645",
    "388613280879808645",
    "388613280879880645",
}


def _read(payload: dict[str, Any]) -> webhook.WebhookEvent:
    return webhook.parse(payload, is_oa=KNOWN_OAS.__contains__)


def _sandbox_event(fixture: dict[str, Any]) -> dict[str, Any] | None:
    """The sandbox's generator for this event, given the fixture's values; None for an
    event the sandbox does not generate from values alone."""
    wire = _read(fixture)
    who = {
        "app_id": wire.app_id,
        "oa_id": wire.oa_id,
        "user_id": wire.user_id,
        "by_app": wire.user_id_by_app,
        "timestamp": str(fixture["timestamp"]),
    }
    name = wire.name
    # Receipts and echoes either way round: the fixture's sender says which.
    oa_sends = isinstance(fixture.get("sender"), dict) and fixture["sender"]["id"] == wire.oa_id
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
    if name.startswith("oa_send_") and name.removeprefix("oa_send_") in payloads.ECHO_KINDS:
        attachments = fixture["message"].get("attachments")
        return payloads.oa_send(
            **who,
            kind=name.removeprefix("oa_send_"),
            msg_id=wire.msg_id,
            text=wire.text,
            attachment=attachments[0] if attachments else None,
        )
    if name == "user_received_message":
        delivery = str(fixture["message"]["delivery_time"])
        if wire.tracking_id:
            return payloads.zns_received(
                app_id=wire.app_id,
                oa_id=wire.oa_id,
                recipient=wire.user_id,
                msg_id=wire.msg_id,
                tracking_id=wire.tracking_id,
                delivery_time=delivery,
                timestamp=who["timestamp"],
                oa_sends=oa_sends,
            )
        return payloads.user_received(
            **who, msg_id=wire.msg_id, delivery_time=delivery, oa_sends=oa_sends
        )
    if name == "user_seen_message":
        return payloads.user_seen(**who, msg_ids=list(wire.msg_ids), oa_sends=oa_sends)
    if name in ("follow", "unfollow"):
        source = str(fixture.get("source") or "")
        return payloads.follow(**who, followed=name == "follow", source=source)
    if name == "user_submit_info":
        return payloads.submit_info(**who, info=dict(wire.info))
    if name == "change_template_status":
        return payloads.template_status(
            app_id=wire.app_id,
            oa_id=wire.oa_id,
            template_id=wire.template_id,
            previous=str(fixture["status"]["prev_status"]),
            status=wire.status,
            reason=wire.reason,
            timestamp=who["timestamp"],
        )
    return None


def _filled(node: Any) -> Any:
    """The JSON value without its empty strings."""
    if isinstance(node, dict):
        return {k: _filled(v) for k, v in node.items() if v != ""}
    if isinstance(node, list):
        return [_filled(v) for v in node]
    return node


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


SAMPLE_WEBHOOKS = sorted(SAMPLES.glob("webhook_*.json"))
GENERATED = [
    path
    for path in sorted(FIXTURES.glob("*.json")) + SAMPLE_WEBHOOKS
    if _sandbox_event(json.loads(path.read_text())) is not None
]


@pytest.mark.parametrize("path", GENERATED, ids=lambda p: p.name)
def test_the_sandbox_emits_what_the_hub_reads_as_the_fixture(path):
    fixture = json.loads(path.read_text())
    emitted = _sandbox_event(fixture)
    assert emitted is not None
    # It should read the sandbox's event as it reads Zalo's (every typed field); the
    # sandbox echoes API sends only, never an admin's in Zalo's chat tool.
    assert _read(emitted) == dataclasses.replace(_read(fixture), admin_id="")
    # It should emit no key, nesting or type the fixture does not have...
    assert _shape(emitted) <= _shape(fixture)
    # ... and every one it fills (an empty caption may be left out), but the web tool's admin.
    assert _shape(_filled(fixture)) - _shape(emitted) <= {(".sender.admin_id", "str")}


def test_every_published_sample_goes_through_the_hub_and_the_sandbox():
    # It should hold the webhooks the shared reference publishes, unchanged...
    assert len(SAMPLE_WEBHOOKS) >= 5
    reference = Path(__file__).resolve().parents[3] / "shared" / "zalo" / "samples"
    for path in SAMPLE_WEBHOOKS:
        if (reference / path.name).exists():
            assert path.read_bytes() == (reference / path.name).read_bytes(), path.name
    # ... and generate each of them (user_feedback from the sandbox's state, below).
    generated = {p.name for p in GENERATED} | {"webhook_user_feedback.json"}
    assert {p.name for p in SAMPLE_WEBHOOKS} <= generated


def test_the_sandbox_emits_user_feedback_as_the_sample(wire, hooked):
    sample = json.loads((SAMPLES / "webhook_user_feedback.json").read_text())
    asked = sample["message"]
    response = wire.control(
        "POST",
        "customers/feedback",
        {
            "oa_id": OA_SUPPORT_ID,
            "msg_id": asked["msg_id"],
            "rate": asked["rate"],
            "note": asked["note"],
            "feedbacks": asked["feedbacks"],
            "tracking_id": asked["tracking_id"],
        },
    )
    assert response.status_code == 200, response.text
    wire.deliveries()
    [emitted] = hooked.events()
    # It should use exactly the sample's key paths and types...
    assert _shape(emitted) == _shape(sample)
    # ... and the hub should read the same rating from both.
    ours, theirs = _read(emitted), _read(sample)
    for field in ("name", "msg_id", "msg_ids", "tracking_id", "user_id"):
        assert getattr(ours, field) == getattr(theirs, field), field
    assert ours.oa_id == OA_SUPPORT_ID and ours.time is not None


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
        theirs, ours = _read(fixture), _read(event)
        for field in ("template_id", "status", "reason", "quality", "quota", "tracking_id"):
            assert bool(getattr(ours, field)) == bool(getattr(theirs, field)), (name, field)
        assert ours.time is not None and ours.oa_id and ours.app_id
    assert _read(emitted["user_received_message"]).tracking_id == "trk-9"


def _delivered(hooked) -> list[dict[str, Any]]:
    for _ in range(100):
        if {e["event_name"] for e in hooked.events()} >= LIVE.keys():
            break
        time.sleep(0.05)
    return hooked.events()
