"""The /_sandbox/ control endpoints: JSON in, JSON out, loopback only."""

import pytest
from django.test import RequestFactory

from zalohub.sandbox import control
from zalohub.sandbox.world import APP_SUPPORT_ID, OA_SALES_ID, OA_SUPPORT_ID, demo_world


def test_state_shows_the_world_tokens_and_faults(wire, sandbox):
    tokens = wire.connect()
    sandbox.add_fault("oa.getoa", "http_503", times=1)
    body = wire.control("GET", "state").json()
    assert {a["app_id"] for a in body["world"]["apps"]} >= {APP_SUPPORT_ID}
    live = [t for t in body["access_tokens"] if t["status"] == "live"]
    assert [t["access_token"] for t in live] == [tokens["access_token"]]
    assert body["refresh_tokens"][0]["refresh_token"] == tokens["refresh_token"]
    assert body["faults"][0]["mode"] == "http_503"
    assert body["call_count"] == 2


def test_reset_takes_a_world_or_falls_back_to_the_demo(wire, sandbox):
    world = demo_world()
    world["oas"] = [o for o in world["oas"] if o["oa_id"] == OA_SUPPORT_ID]
    world["apps"] = [{**world["apps"][0]}]
    world["users"] = [u for u in world["users"] if u["oa_id"] == OA_SUPPORT_ID]
    wire.connect()
    assert wire.control("POST", "reset", world).json()["reset"] is True
    # It should forget tokens, calls and the other OA.
    assert list(sandbox.oas) == [OA_SUPPORT_ID]
    assert not sandbox.tokens.access and sandbox.calls == []
    assert wire.control("POST", "reset").status_code == 200
    assert OA_SALES_ID in sandbox.oas


@pytest.mark.parametrize(
    "world",
    [
        [1, 2],
        {"apps": [{"name": "no id"}], "oas": [], "users": []},
        {"apps": [{"app_id": "1", "oa_ids": ["9"]}], "oas": [], "users": []},
    ],
)
def test_reset_refuses_a_broken_world_and_keeps_the_old_one(wire, sandbox, world):
    response = wire.control("POST", "reset", world)
    assert response.status_code == 400 and response.json()["error"]
    assert APP_SUPPORT_ID in sandbox.apps


def test_faults_can_be_armed_listed_and_cleared_over_http(wire, sandbox):
    token = wire.connect()["access_token"]
    armed = wire.control(
        "POST", "faults", {"endpoint": "oa.getoa", "mode": "zalo_error", "code": -220, "times": 1}
    )
    assert armed.status_code == 201 and armed.json()["code"] == -220
    assert len(wire.control("GET", "faults").json()["faults"]) == 1
    assert wire.getoa(token).json()["error"] == -220
    assert wire.getoa(token).json()["error"] == 0
    wire.control("POST", "faults", {"endpoint": "*", "mode": "http_500"})
    assert wire.control("DELETE", "faults").status_code == 200
    assert sandbox.faults == []
    for bad in (
        {"mode": "http_500"},
        {"endpoint": "oa", "mode": "nope"},
        {"endpoint": "oa", "mode": "http_500", "colour": "red"},
    ):
        assert wire.control("POST", "faults", bad).status_code == 400


def test_the_clock_moves_forward_on_request(wire, sandbox):
    before = sandbox.now()
    body = wire.control("POST", "clock", {"advance_seconds": 3600}).json()
    assert body["clock_offset"] == 3600
    assert body["now"] - before >= 3600
    assert wire.control("POST", "clock", {"advance_seconds": "soon"}).status_code == 400


def test_calls_lists_what_was_called(wire):
    wire.connect()
    body = wire.control("GET", "calls").json()
    assert [c["route"] for c in body["calls"]] == [
        "oauth.permission.submit",
        "oauth.access_token.code",
    ]
    assert body["calls"][1]["app_id"] == APP_SUPPORT_ID
    narrowed = wire.http.get(f"{wire.base}/_sandbox/calls", params={"prefix": "oauth.access_token"})
    assert narrowed.json()["count"] == 1


def test_tokens_are_minted_like_zalos_api_explorer(wire):
    body = wire.control("POST", "tokens", {"app_id": APP_SUPPORT_ID, "oa_id": OA_SUPPORT_ID})
    assert body.json()["expires_in"] == "90000"
    assert wire.getoa(body.json()["access_token"]).json()["data"]["oa_id"] == OA_SUPPORT_ID
    refused = wire.control("POST", "tokens", {"app_id": APP_SUPPORT_ID, "oa_id": OA_SALES_ID})
    assert refused.status_code == 400


def test_controls_refuse_anything_but_loopback(sandbox):
    request = RequestFactory().get("/_sandbox/state", REMOTE_ADDR="192.0.2.10")
    assert control.state_view(request).status_code == 403
    request = RequestFactory().get("/_sandbox/state", REMOTE_ADDR="::1")
    assert control.state_view(request).status_code == 200


def test_controls_refuse_the_wrong_method_and_bad_json(wire):
    assert wire.control("GET", "reset").status_code == 405
    response = wire.http.post(f"{wire.base}/_sandbox/clock", content=b"{not json")
    assert response.status_code == 400


def test_avatars_are_svg_drawn_by_the_sandbox(wire):
    response = wire.http.get(f"{wire.base}/_sandbox/avatar/nguyen-van-son.svg?size=120")
    assert response.headers["content-type"] == "image/svg+xml"
    assert 'width="120"' in response.text and ">NS</text>" in response.text
    assert wire.http.get(f"{wire.base}/_sandbox/avatar/../x.svg").status_code == 404
