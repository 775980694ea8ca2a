"""SandboxState on its own: the demo world, persistence, and the one-per-process rule."""

import json
from collections.abc import Iterator

import httpx
import pytest

from tests.sandbox.wire import Wire
from zalohub.sandbox.server import SandboxServer
from zalohub.sandbox.state import SandboxState, set_state
from zalohub.sandbox.tokens import TokenRejected
from zalohub.sandbox.world import (
    APP_SUPPORT_ID,
    DEMO_WORLD,
    OA_SALES_ID,
    OA_SUPPORT_ID,
    SON_PHONE,
    demo_world,
)


def test_the_demo_world_has_two_apps_two_oas_and_mr_son_in_both():
    world = demo_world()
    assert [a["name"] for a in world["apps"]] == ["zalohub Support App", "zalohub Sales App"]
    assert [o["name"] for o in world["oas"]] == ["Support OA", "Sales OA"]
    people = {u["person"] for u in world["users"]}
    assert 4 <= len(people) <= 6
    son = [u for u in world["users"] if u["display_name"] == "Nguyễn Văn Sơn"]
    assert {u["oa_id"] for u in son} == {OA_SUPPORT_ID, OA_SALES_ID}
    assert son[0]["user_id"] != son[1]["user_id"]
    assert len(set(son[0]["user_id_by_app"].values())) == 2
    phones = {u["oa_id"]: u["shared_info"].get("phone") for u in son}
    assert phones == {OA_SALES_ID: SON_PHONE, OA_SUPPORT_ID: None}
    # It should name no host outside the sandbox.
    assert "http" not in json.dumps(world)


def test_demo_world_is_a_fresh_copy_each_time():
    world = demo_world()
    world["apps"][0]["name"] = "changed"
    world["users"][0]["user_id_by_app"].clear()
    assert demo_world()["apps"][0]["name"] == DEMO_WORLD["apps"][0]["name"] != "changed"
    assert demo_world()["users"][0]["user_id_by_app"]


def test_the_state_does_not_share_the_callers_world():
    world = demo_world()
    state = SandboxState(world=world)
    state.apps[APP_SUPPORT_ID]["oa_ids"].append("x")
    state.users[OA_SUPPORT_ID][world["users"][0]["user_id"]]["user_id_by_app"].clear()
    assert world["apps"][0]["oa_ids"] == [OA_SUPPORT_ID]
    assert world["users"][0]["user_id_by_app"]


def test_an_app_and_an_oa_are_linked_from_either_side():
    world = demo_world()
    world["apps"][1]["oa_ids"] = []  # only the OA says it belongs to the Sales app
    state = SandboxState(world=world)
    assert state.oa_ids_of(world["apps"][1]["app_id"]) == [OA_SALES_ID]


def test_tokens_and_the_clock_survive_a_restart(tmp_path):
    path = tmp_path / "sandbox.json"
    first = SandboxState(world=demo_world(), persist_path=path)
    # It should write the seeded world at once.
    assert json.loads(path.read_text())["world"]["apps"][0]["app_id"] == APP_SUPPORT_ID
    pair = first.mint_tokens(APP_SUPPORT_ID, OA_SUPPORT_ID)
    first.advance_clock(3600)
    second = SandboxState(world={"apps": [], "oas": [], "users": []}, persist_path=path)
    # It should load the file and ignore the world it was given.
    assert APP_SUPPORT_ID in second.apps
    assert second.clock_offset == 3600
    assert second.tokens.check_access(pair.access_token, second.now()).oa_id == OA_SUPPORT_ID
    # It should leave no temporary file behind.
    assert [p.name for p in tmp_path.iterdir()] == ["sandbox.json"]


def test_a_spent_refresh_token_stays_spent_after_a_restart(tmp_path):
    path = tmp_path / "sandbox.json"
    first = SandboxState(persist_path=path)
    old = first.mint_tokens(APP_SUPPORT_ID, OA_SUPPORT_ID)
    with first.changing():
        new = first.tokens.rotate(
            app_id=APP_SUPPORT_ID, refresh_token=old.refresh_token, now=first.now()
        )
    second = SandboxState(persist_path=path)
    assert old.refresh_token not in second.tokens.refresh
    assert new.refresh_token in second.tokens.refresh
    with pytest.raises(TokenRejected) as rejected:
        second.tokens.check_access(old.access_token, second.now())
    assert rejected.value.code == -220


def test_a_broken_state_file_is_set_aside_not_fatal(tmp_path):
    path = tmp_path / "sandbox.json"
    path.write_text("{ half a file")
    state = SandboxState(persist_path=path)
    assert APP_SUPPORT_ID in state.apps
    assert (tmp_path / "sandbox.json.broken").read_text() == "{ half a file"
    assert json.loads(path.read_text())["version"] == 1


def test_reset_clears_tokens_faults_calls_and_clock():
    state = SandboxState()
    state.mint_tokens(APP_SUPPORT_ID, OA_SUPPORT_ID)
    state.add_fault("*", "http_500")
    state.record_call("oa.getoa", APP_SUPPORT_ID)
    state.advance_clock(99)
    state.rate_limit = 1
    state.reset()
    assert not state.tokens.access and not state.faults and not state.calls
    assert state.clock_offset == 0 and state.rate_limit == 4000


@pytest.fixture
def restore_active(sandbox_server) -> Iterator[None]:
    """A second server takes over the process's active state; give it back afterwards."""
    yield
    set_state(sandbox_server.state)


def test_a_restarted_server_still_honours_its_tokens(tmp_path, restore_active):
    path = tmp_path / "sandbox.json"
    with httpx.Client(timeout=5) as http:
        server = SandboxServer(SandboxState(persist_path=path))
        tokens = Wire(server.start(), http).connect()
        server.stop()
        server = SandboxServer(SandboxState(persist_path=path))
        try:
            wire = Wire(server.start(), http)
            # It should accept the access token and the refresh token issued before.
            assert wire.getoa(tokens["access_token"]).json()["error"] == 0
            assert "access_token" in wire.by_refresh(tokens["refresh_token"])
        finally:
            server.stop()


@pytest.mark.parametrize("host", ["0.0.0.0", "192.0.2.1", "example.com", "::"])
def test_the_server_binds_loopback_only(host):
    server = SandboxServer(SandboxState())
    with pytest.raises(ValueError, match="loopback"):
        server.start(host=host)
    assert not server.running


def test_the_server_speaks_ipv6_loopback(restore_active):
    server = SandboxServer(SandboxState())
    try:
        url = server.start(host="::1")
    except OSError:
        pytest.skip("no IPv6 loopback here")
    try:
        assert url.startswith("http://[::1]:")
        assert httpx.get(f"{url}/_sandbox/state", timeout=5).status_code == 200
    finally:
        server.stop()
