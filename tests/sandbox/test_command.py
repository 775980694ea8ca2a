"""`zalohub sandbox` serves until it is told to stop, keeping its state in a file."""

import json
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from django.conf import settings


def _serve(*args: str) -> tuple[subprocess.Popen, str]:
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "zalohub.settings", "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen(
        [sys.executable, "-m", "django", "sandbox", "--port", "0", *args],
        cwd=settings.BASE_DIR,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert process.stdout is not None
    seen = []
    for line in process.stdout:
        seen.append(line)
        if match := re.search(r"(http://127\.0\.0\.1:\d+)", line):
            return process, match.group(1)
    process.wait(10)
    pytest.fail("the sandbox command did not start:\n" + "".join(seen))


@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM])
def test_it_serves_the_demo_world_from_a_state_file_until_stopped(tmp_path: Path, stop):
    state = tmp_path / "sandbox.json"
    state.write_text("{}")  # an unusable file: --reset should discard it
    process, url = _serve("--state", str(state), "--reset")
    try:
        body = httpx.get(f"{url}/_sandbox/state", timeout=5).json()
        assert [o["name"] for o in body["world"]["oas"]] == ["Support OA", "Sales OA"]
        assert json.loads(state.read_text())["version"] == 1
        assert not (tmp_path / "sandbox.json.broken").exists()
    finally:
        process.send_signal(stop)
        assert process.wait(10) == 0


def test_it_refuses_to_listen_beyond_loopback():
    result = subprocess.run(
        [sys.executable, "-m", "django", "sandbox", "--host", "0.0.0.0", "--memory"],
        cwd=settings.BASE_DIR,
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "zalohub.settings"},
    )
    assert result.returncode != 0
    assert "loopback" in result.stderr
