"""The fault switch: each way Zalo or the network can fail, on demand, for a while."""

import threading
import time

import httpx
import pytest

from tests.events.workerproc import wait_until
from tests.sandbox.wire import CALLBACK, make_verifier
from zalohub.sandbox.faults import Fault, route_matches
from zalohub.sandbox.world import APP_SUPPORT_ID, SON_SUPPORT_USER_ID


@pytest.fixture
def token(wire) -> str:
    return wire.connect()["access_token"]


@pytest.mark.parametrize(("mode", "status"), [("http_500", 500), ("http_503", 503)])
def test_server_errors_answer_plain_text(wire, sandbox, token, mode, status):
    sandbox.add_fault("oa.getoa", mode)
    response = wire.getoa(token)
    assert response.status_code == status
    assert response.headers["content-type"].startswith("text/plain")
    with pytest.raises(ValueError):
        response.json()


def test_429_says_when_to_come_back(wire, sandbox, token):
    sandbox.add_fault("oa", "http_429", retry_after=7)
    response = wire.getoa(token)
    assert response.status_code == 429
    assert response.headers["Retry-After"] == "7"


def test_a_zalo_error_uses_the_routes_error_shape(wire, sandbox, token):
    sandbox.add_fault("oa.getoa", "zalo_error", code=-216)
    sandbox.add_fault("oauth.access_token", "zalo_error", code=-14014)
    sandbox.add_fault("oauth.permission", "zalo_error", code=-14003, message="No such callback")
    # It should answer the OA envelope with Zalo's own text when none is given.
    oa = wire.getoa(token)
    assert (oa.status_code, oa.json()) == (
        200,
        {"error": -216, "message": "Access token is invalid"},
    )
    # It should answer the OAuth shape on the token endpoint.
    body = wire.by_refresh("anything")
    assert body["error"] == -14014 and body["error_name"] == "Invalid refresh token."
    assert "message" not in body
    # It should show an error page on the consent screen.
    page = wire.consent_page(app_id=APP_SUPPORT_ID, redirect_uri=CALLBACK)
    assert "-14003" in page.text and "No such callback" in page.text


def test_a_timeout_stalls_then_answers_normally(wire, sandbox, token):
    sandbox.add_fault("oa.getoa", "timeout", delay=0.5, times=2)
    # It should outlast a client's patience...
    with pytest.raises(httpx.ReadTimeout):
        wire.getoa(token, timeout=0.2)
    # ...and answer a patient client after the delay, as if nothing happened.
    started = time.monotonic()
    assert wire.getoa(token, timeout=5).json()["error"] == 0
    assert time.monotonic() - started >= 0.45
    assert sandbox.call_count("oa.getoa") == 2


def test_a_timeout_on_the_token_endpoint_still_spends_the_code(wire, sandbox):
    # The classic double-submit: Zalo did the work, the client never heard.
    verifier = make_verifier()
    code = wire.approve(verifier=verifier)["code"]
    sandbox.add_fault("oauth.access_token.code", "timeout", delay=0.4, times=1)
    form = {
        "code": code,
        "app_id": APP_SUPPORT_ID,
        "grant_type": "authorization_code",
        "code_verifier": verifier,
    }
    with pytest.raises(httpx.ReadTimeout):
        wire.token(form, timeout=0.1)
    time.sleep(0.5)
    assert wire.by_code(code, verifier)["error"] == -14005


def test_a_fault_fires_the_times_asked_then_disarms(wire, sandbox, token):
    sandbox.add_fault("oa.getoa", "http_503", times=2)
    statuses = [wire.getoa(token).status_code for _ in range(3)]
    assert statuses == [503, 503, 200]
    assert sandbox.faults == []


def test_a_fault_without_times_lasts_until_cleared(wire, sandbox, token):
    sandbox.add_fault("*", "http_500")
    assert [wire.getoa(token).status_code for _ in range(3)] == [500, 500, 500]
    assert wire.token({"app_id": APP_SUPPORT_ID}).status_code == 500
    # It should leave the controls reachable, so the switch can be turned off over HTTP.
    assert wire.control("GET", "state").status_code == 200
    assert wire.control("DELETE", "faults").status_code == 200
    assert wire.getoa(token).status_code == 200


def test_faults_match_whole_dotted_segments():
    assert route_matches("oa", "oa.getoa") and route_matches("oa.user", "oa.user.detail")
    assert route_matches("oauth.access_token", "oauth.access_token.refresh")
    assert route_matches("*", "oauth.permission") and route_matches("", "oa.getoa")
    assert not route_matches("oa", "oauth.permission")
    assert not route_matches("oa.user.det", "oa.user.detail")
    assert not route_matches("oauth.access_token.code", "oauth.access_token.refresh")


def test_a_fault_on_one_grant_spares_the_other(wire, sandbox):
    tokens = wire.connect()
    sandbox.add_fault("oauth.access_token.refresh", "http_503")
    assert (
        wire.token(
            {
                "refresh_token": tokens["refresh_token"],
                "app_id": APP_SUPPORT_ID,
                "grant_type": "refresh_token",
            }
        ).status_code
        == 503
    )
    assert "access_token" in wire.connect()


@pytest.mark.parametrize(
    "kwargs",
    [
        {"mode": "explode"},
        {"mode": "zalo_error"},
        {"mode": "http_500", "times": 0},
        {"mode": "timeout", "delay": -1},
    ],
)
def test_it_refuses_a_malformed_fault(sandbox, kwargs):
    mode = kwargs.pop("mode")
    with pytest.raises(ValueError):
        sandbox.add_fault("oa", mode, **kwargs)
    assert sandbox.faults == []


def test_a_fault_reports_itself(sandbox):
    fault = sandbox.add_fault("oa.getoa", "zalo_error", code=-230, times=1)
    assert isinstance(fault, Fault)
    assert fault.as_dict()["code"] == -230 and fault.fired == 0


def test_a_call_stalled_across_a_reset_leaves_the_new_world_alone(wire, sandbox, token):
    # A call stalled by a "timeout" fault, and the sandbox reset meanwhile (as between two
    # tests): the stalled call must not deliver its message into the new world.
    sandbox.add_fault("oa.message.cs", "timeout", delay=0.5, times=1)
    answers: list[httpx.Response] = []
    stalled = threading.Thread(
        target=lambda: answers.append(wire.send_cs(token, _text(SON_SUPPORT_USER_ID)))
    )
    stalled.start()
    assert wait_until(lambda: sandbox.call_count("oa.message.cs") == 1)
    sandbox.reset()
    stalled.join()
    # It should answer the stalled call as gone, and leave the new mailbox empty.
    assert answers[0].status_code == 503
    assert sandbox.mailbox.sent_messages() == []


def _text(user_id: str) -> dict[str, object]:
    return {"recipient": {"user_id": user_id}, "message": {"text": "Chào anh"}}
