"""Sandbox tests talk to the session's SandboxServer (tests/conftest.py) over real HTTP."""

from collections.abc import Iterator

import httpx
import pytest

from tests.sandbox.receiver import Receiver
from tests.sandbox.wire import Wire


@pytest.fixture
def http() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=5.0, follow_redirects=False) as client:
        yield client


@pytest.fixture
def wire(sandbox_server, sandbox, http) -> Wire:
    """Raw HTTP to a sandbox freshly reset to the demo world."""
    return Wire(sandbox_server.base_url, http)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    """A stand-in hub on 127.0.0.1 that records webhooks (answers 200 unless scripted)."""
    hub = Receiver()
    yield hub
    hub.close()


@pytest.fixture
def hooked(wire, receiver) -> Receiver:
    """The sandbox's apps deliver to ``receiver``; retries 1000x faster, receipts on command,
    no echoes of the OA's sends (test_echoes.py turns them on)."""
    settings = {"hub": receiver.url, "time_factor": 0.001, "receipt_delay": None, "echo": False}
    response = wire.control("POST", "webhooks", settings)
    assert response.status_code == 200, response.text
    return receiver
