"""Sandbox tests talk to the session's SandboxServer (tests/conftest.py) over real HTTP."""

from collections.abc import Iterator

import httpx
import pytest

from tests.sandbox.wire import Wire


@pytest.fixture
def http() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=5.0, follow_redirects=False) as client:
        yield client


@pytest.fixture
def wire(sandbox_server, sandbox, http) -> Wire:
    """Raw HTTP to a sandbox freshly reset to the demo world."""
    return Wire(sandbox_server.base_url, http)
