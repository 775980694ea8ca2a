"""The role matrix: who may see OAs, apps (secrets) and API logs."""

import pytest
from django.contrib.auth.models import Group
from django.urls import reverse

from zalohub.accounts.models import OfficialAccount, ZaloApp
from zalohub.apilog.models import ApiLog
from zalohub.core.roles import CS_AGENT, ZALO_ADMIN, ZALO_EVENTS

pytestmark = pytest.mark.django_db


@pytest.fixture
def records():
    app = ZaloApp.objects.create(name="App A", app_id="100", secret_key="s3cret-app")
    oa = OfficialAccount.objects.create(app=app, name="Support OA", access_token="tok-123")
    log = ApiLog.objects.create(
        created_at="2026-01-01T00:00:00Z",
        method="GET",
        endpoint="oa.getoa",
        url="u",
        duration_ms=1.0,
        oa=oa,
    )
    return app, oa, log


def _pages(app, oa, log) -> list[str]:
    return [
        reverse("admin:accounts_officialaccount_changelist"),
        reverse("admin:accounts_officialaccount_change", args=[oa.pk]),
        reverse("admin:accounts_zaloapp_change", args=[app.pk]),
        reverse("admin:apilog_apilog_changelist"),
        reverse("admin:apilog_apilog_change", args=[log.pk]),
        reverse("admin:accounts_officialaccount_clear_session", args=[oa.pk]),
    ]


def test_it_creates_the_three_roles():
    names = set(Group.objects.values_list("name", flat=True))
    assert {ZALO_ADMIN, CS_AGENT, ZALO_EVENTS} <= names
    # It should give the Zalo Admin the OA and API log permissions, and the agent none.
    admin_perms = set(
        Group.objects.get(name=ZALO_ADMIN).permissions.values_list("codename", flat=True)
    )
    assert {"change_officialaccount", "view_apilog", "change_zaloapp"} <= admin_perms
    agent_perms = Group.objects.get(name=CS_AGENT).permissions.values_list("codename", flat=True)
    assert not [p for p in agent_perms if "account" in p or "apilog" in p or "zaloapp" in p]


@pytest.mark.parametrize("persona", ["agent", "outsider", "auditor"])
def test_it_refuses_oas_apps_and_logs_to_other_roles(client, request, records, persona):
    user = request.getfixturevalue(persona)
    client.force_login(user)
    pages = _pages(*records)
    if persona == "auditor":
        # It should show a Zalo Events auditor the (redacted) API logs its events link to,
        # and nothing of the OAs and apps.
        logs = [p for p in pages if "/apilog/" in p]
        assert all(client.get(url).status_code == 200 for url in logs)
        pages = [p for p in pages if p not in logs]
    for url in pages:
        response = client.get(url)
        # It should refuse (403) or hide (404) each page; never show it.
        assert response.status_code in (403, 404), url
    # It should not reveal a token in any page it did serve (the admin index).
    index = client.get(reverse("admin:index"))
    assert b"tok-123" not in index.content and b"s3cret-app" not in index.content
    assert b"Official accounts" not in index.content


def test_it_lets_the_zalo_admin_in_without_showing_secrets(client, admin, records):
    client.force_login(admin)
    for url in _pages(*records):
        response = client.get(url)
        assert response.status_code == 200, url
        assert b"tok-123" not in response.content
        assert b"s3cret-app" not in response.content


def test_it_refuses_an_agent_the_oa_actions(client, agent, records):
    _app, oa, _log = records
    client.force_login(agent)
    for name in ("authorize", "sync_profile", "clear_session"):
        url = reverse(f"admin:accounts_officialaccount_{name}", args=[oa.pk])
        assert client.post(url).status_code == 403
