"""A Zalo Admin creates a key in the admin: its text is on the answer page once, only
its hash is stored, it works at once; revoking it stops it. Others cannot see keys."""

import re

import pytest
from django.test import Client

from zalohub.api.models import ApiKey

pytestmark = pytest.mark.django_db


def test_an_admin_creates_a_key_shown_once_then_revokes_it(admin, oa, sales):
    browser = Client()
    browser.force_login(admin)
    r = browser.post(
        "/admin/api/apikey/add/",
        {
            "name": "Odoo",
            "oas": [oa.pk],
            "capabilities": ["send_messages", "read_conversations"],
            "rate_limit_per_minute": "600",
        },
    )
    assert r.status_code == 200, r.content
    page = r.content.decode()
    raw = re.search(r'value="(zh_[^"]+)"', page).group(1)
    key = ApiKey.objects.get()
    assert key.created_by == admin and key.prefix == raw[:11]
    assert raw not in str(ApiKey.objects.values().get())
    assert key.capabilities == ["send_messages", "read_conversations"]
    # Shown once: the key's own page never shows it again.
    assert raw not in browser.get(f"/admin/api/apikey/{key.pk}/change/").content.decode()
    api = Client(headers={"Authorization": f"Bearer {raw}"})
    assert [o["id"] for o in api.get("/api/v1/oas").json()["items"]] == [oa.pk]
    changelist = browser.get("/admin/api/apikey/").content.decode()
    assert "Odoo" in changelist and "127.0.0.1" in changelist
    r = browser.post(
        "/admin/api/apikey/", {"action": "revoke", "_selected_action": [key.pk]}, follow=True
    )
    assert r.status_code == 200
    key.refresh_from_db()
    assert key.revoked_at is not None
    assert api.get("/api/v1/oas").status_code == 401


def test_only_zalo_admins_see_keys(agent, auditor):
    for user in (agent, auditor):
        browser = Client()
        browser.force_login(user)
        assert browser.get("/admin/api/apikey/").status_code == 403
