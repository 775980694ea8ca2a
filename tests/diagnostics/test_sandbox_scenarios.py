"""The sandbox's scenario switch: listed, applied and undone over its control URLs."""

import httpx
import pytest

from zalohub.sandbox.scenarios import SCENARIOS
from zalohub.sandbox.world import APP_SUPPORT_ID


def test_it_lists_a_scenario_per_category(sandbox_server, sandbox):
    answer = httpx.get(f"{sandbox_server.base_url}/_sandbox/scenarios").json()
    # It should offer the seven scenarios, covering the guide's five categories.
    assert {s["name"] for s in answer["scenarios"]} == set(SCENARIOS)
    assert {s["category"] for s in answer["scenarios"]} == {
        "token",
        "webhook",
        "send",
        "template",
        "recipient",
    }


def test_it_undoes_what_it_broke(sandbox_server, sandbox):
    base = f"{sandbox_server.base_url}/_sandbox/scenarios"
    key = sandbox.apps[APP_SUPPORT_ID]["oa_secret_key"]
    changed = httpx.post(f"{base}/wrong_secret", json={"app_id": APP_SUPPORT_ID}).json()
    # It should reset the key (as the console's Reset button) and put it back on undo.
    assert changed["oa_secret_keys"][APP_SUPPORT_ID] != key
    httpx.request("DELETE", f"{base}/wrong_secret", json={})
    assert sandbox.apps[APP_SUPPORT_ID]["oa_secret_key"] == key
    httpx.post(f"{base}/zalo_5xx", json={"endpoint": "oa"})
    assert [f.mode for f in sandbox.faults] == ["http_503"]
    httpx.request("DELETE", f"{base}/zalo_5xx")
    assert sandbox.faults == []


@pytest.mark.parametrize("body", [{"nope": 1}, {"oa_id": "unknown"}])
def test_it_refuses_a_bad_request(sandbox_server, sandbox, body):
    answer = httpx.post(f"{sandbox_server.base_url}/_sandbox/scenarios/expired_token", json=body)
    assert answer.status_code == 400
    unknown = httpx.post(f"{sandbox_server.base_url}/_sandbox/scenarios/nope", json={})
    assert unknown.status_code == 400
