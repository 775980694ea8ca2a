"""Shared fixtures: the sandbox Zalo on loopback, the personas, and OAs in each state.

Personas (STYLE.md §5): ``admin`` (Zalo Admin), ``agent`` (CS Agent, inbox only),
``auditor`` (granted Zalo Events), ``outsider`` (staff with no role).
"""

import os
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from django.conf import settings
from django.contrib.auth.models import Group, User

from zalohub.core.roles import CS_AGENT, ZALO_ADMIN, ZALO_EVENTS
from zalohub.zalo import reset_client

if TYPE_CHECKING:
    from zalohub.sandbox.server import SandboxServer
    from zalohub.sandbox.state import SandboxState


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup: None) -> Iterator[None]:
    """pytest-django's, and before it drops the test database: close the connections that
    webhook batches and API send batches are written on (PostgreSQL refuses to drop a
    database in use)."""
    from zalohub.api import accept
    from zalohub.events.ingestion.store import committer

    yield
    committer.close()
    accept.committer.close()


@pytest.fixture(autouse=True)
def _site_language() -> Iterator[None]:
    """Each test starts in the site's language: Django's LocaleMiddleware activates the
    language of each request in the thread that serves it, which for the test client is
    the test's own, and nothing deactivates it afterwards."""
    from django.utils import translation

    translation.activate(settings.LANGUAGE_CODE)
    yield
    translation.deactivate()


@pytest.fixture(autouse=True)
def _report_task_forgotten() -> None:
    """The reports' settle task a process believes waiting (``inbox.report_summary.wake``)
    went with the last test's database: each test's first commit that marks a day enqueues
    one, as a process's first does."""
    from zalohub.inbox import report_summary

    report_summary.wake.forget()


@pytest.fixture(scope="session")
def sandbox_server() -> Iterator["SandboxServer"]:
    from zalohub.sandbox.server import SandboxServer
    from zalohub.sandbox.state import SandboxState
    from zalohub.sandbox.world import demo_world

    server = SandboxServer(SandboxState(world=demo_world()))
    url = server.start(host="127.0.0.1", port=0)
    settings.ZALO_OAUTH_BASE_URL = f"{url}/oauth"
    settings.ZALO_OPENAPI_BASE_URL = f"{url}/openapi"
    settings.ZALO_BUSINESS_BASE_URL = f"{url}/business"
    settings.SANDBOX_URL = url  # the webhook self-test asks this Zalo for a test delivery
    settings.ZALO_TIMEOUT_SECONDS = 2.0
    reset_client()
    yield server
    server.stop()


@pytest.fixture
def sandbox(sandbox_server: "SandboxServer") -> "SandboxState":
    """The sandbox's state, reset to the demo world for this test."""
    from zalohub.sandbox.world import demo_world

    sandbox_server.state.reset(demo_world())
    return sandbox_server.state


@pytest.fixture
def output_dir() -> Path:
    path = Path(os.environ.get("ZALOHUB_TEST_OUTPUT", settings.BASE_DIR / "test-output"))
    path.mkdir(parents=True, exist_ok=True)
    return path


def _person(username: str, groups: list[str]) -> User:
    user = User.objects.create_user(username, password="pw-" + username, is_staff=True)
    user.groups.set(Group.objects.filter(name__in=groups))
    return user


@pytest.fixture
def admin(db) -> User:
    return _person("admin", [ZALO_ADMIN])


@pytest.fixture
def agent(db) -> User:
    return _person("agent", [CS_AGENT])


@pytest.fixture
def auditor(db) -> User:
    return _person("auditor", [ZALO_EVENTS])


@pytest.fixture
def outsider(db) -> User:
    return _person("outsider", [])


@pytest.fixture
def zalo_app(sandbox, db):
    """App A of the sandbox's demo world, as an admin would enter it."""
    from zalohub.accounts.models import ZaloApp
    from zalohub.sandbox.world import demo_world

    spec = demo_world()["apps"][0]
    return ZaloApp.objects.create(
        name=spec["name"],
        app_id=spec["app_id"],
        secret_key=spec["secret_key"],
        oa_secret_key=spec["oa_secret_key"],
    )


@pytest.fixture
def connected_oa(zalo_app):
    """The Support OA, authorized through the sandbox's consent page."""
    from tests.helpers import consent
    from zalohub.accounts.models import OfficialAccount
    from zalohub.accounts.oauth import oauth_complete, oauth_start

    oa = OfficialAccount.objects.create(app=zalo_app, name="Support")
    return oauth_complete(app_id=zalo_app.app_id, params=consent(oauth_start(oa=oa)))
