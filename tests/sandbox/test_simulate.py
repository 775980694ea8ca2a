"""`zalohub sandbox simulate`: customers play a scenario against a running hub."""

import io
import os
import subprocess
import sys

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command

from zalohub.sandbox.world import APP_SALES_ID, APP_SUPPORT_ID, SON_SUPPORT_USER_ID


def _simulate(*args: str) -> str:
    out = io.StringIO()
    call_command("sandbox", "simulate", *args, stdout=out)
    return out.getvalue()


def test_the_chat_scenario_writes_to_both_oas_and_acknowledges(wire, sandbox, receiver):
    token = wire.connect()["access_token"]
    sent = wire.send_text(token, SON_SUPPORT_USER_ID)["data"]["message_id"]
    printed = _simulate("--hub", receiver.url, "--sandbox", wire.base, "--wait", "20")
    events = receiver.events()
    names = [e["event_name"] for e in events]
    # It should make every follower of both OAs write, and read the OA's message.
    users = [u for per_oa in sandbox.users.values() for u in per_oa.values()]
    followers = [u for u in users if u["is_follower"]]
    assert sum(n.startswith("user_send_") for n in names) == len(followers)
    assert {r.path for r in receiver.received} == {
        f"/zalo/webhook/{APP_SUPPORT_ID}/",
        f"/zalo/webhook/{APP_SALES_ID}/",
    }
    seen = [e for e in events if e["event_name"] == "user_seen_message"]
    assert [e["message"]["msg_ids"] for e in seen] == [[sent]]
    assert names.index("user_received_message") < names.index("user_seen_message")
    # It should say what it did.
    assert "Nguyễn Văn Sơn -> Support OA: user_send_" in printed
    assert f"Receipt user_seen_message for OA message {sent}" in printed
    assert "Deliveries: " in printed and "delivered" in printed


def test_duplicates_and_a_forgery_on_request(wire, sandbox, receiver):
    printed = _simulate(
        "--hub", receiver.url, "--sandbox", wire.base, "--duplicates", "1", "--corrupt", "signature"
    )
    log = wire.deliveries()["deliveries"]
    assert sum(1 for d in log if d["copy_of"]) >= 1
    assert [d["corrupt"] for d in log if d["corrupt"]] == ["signature"]
    assert "corrupt=signature" in printed and "duplicate=1" in printed


def test_the_follow_scenario(wire, sandbox, receiver):
    _simulate("--hub", receiver.url, "--sandbox", wire.base, "--scenario", "follow")
    names = [e["event_name"] for e in receiver.events()]
    assert {"follow", "unfollow", "user_submit_info"} <= set(names)


def test_it_refuses_a_hub_beyond_loopback(wire):
    with pytest.raises(CommandError, match="loopback"):
        _simulate("--hub", "http://example.com", "--sandbox", wire.base)


def test_it_starts_a_private_sandbox_when_none_is_named(receiver):
    result = subprocess.run(
        [sys.executable, "-m", "django", "sandbox", "simulate", "--hub", receiver.url],
        cwd=settings.BASE_DIR,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "zalohub.settings"},
    )
    assert result.returncode == 0, result.stderr
    assert "private sandbox" in result.stdout
    assert any(e["event_name"] == "user_send_text" for e in receiver.events())
