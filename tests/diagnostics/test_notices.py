"""Recovery notices (issue 14 item 10): shown once to each admin, then gone; a check
that recovered several times shows one notice, and none while it is broken again."""

from datetime import timedelta

import pytest
from django.contrib.auth.models import Group, User
from django.utils import timezone

from zalohub.core.roles import ZALO_ADMIN
from zalohub.diagnostics.models import Incident

pytestmark = pytest.mark.django_db


def _incident(oa, key: str, minutes_ago: int, *, resolved: bool = True) -> Incident:  # type: ignore[no-untyped-def]
    now = timezone.now()
    return Incident.objects.create(
        oa=oa,
        check_key=key,
        summary="broken",
        opened_at=now - timedelta(minutes=minutes_ago + 5),
        resolved_at=now - timedelta(minutes=minutes_ago) if resolved else None,
    )


def _notices(client) -> int:  # type: ignore[no-untyped-def]
    return client.get("/admin/").content.decode().count("dx-recovered")


def test_it_shows_each_recovery_once_to_each_admin_without_piling_up(client, admin, connected_oa):
    # The token check flapped three times; the sends check recovered once; the webhook
    # check recovered, then broke again.
    for minutes in (30, 20, 10):
        _incident(connected_oa, "token", minutes)
    _incident(connected_oa, "sends", 15)
    _incident(connected_oa, "webhook", 25)
    _incident(connected_oa, "webhook", 0, resolved=False)
    other = User.objects.create_user("admin2", password="pw", is_staff=True)
    other.groups.set(Group.objects.filter(name=ZALO_ADMIN))
    client.force_login(admin)
    # It should show one notice per recovered check (token, sends), none for the
    # webhook (broken again: its red alert shows instead)...
    assert _notices(client) == 2
    # ... then none on the next page.
    assert _notices(client) == 0
    # Every admin sees them once.
    client.force_login(other)
    assert _notices(client) == 2
    assert _notices(client) == 0
    # A new recovery shows (once) again.
    _incident(connected_oa, "templates", 0)
    assert _notices(client) == 1
    assert _notices(client) == 0


def test_it_recomputes_when_the_quota_is_back(connected_oa, django_capture_on_commit_callbacks):
    from zalohub.diagnostics.services import health_refresh
    from zalohub.zbs.services import quota_store

    quota_store(oa=connected_oa, daily=500, remaining=0)
    with django_capture_on_commit_callbacks(execute=True):
        assert health_refresh(oa=connected_oa).check("templates").level == "red"
    assert Incident.objects.filter(check_key="templates", resolved_at=None).exists()
    # Zalo's daily reset, read by the quota sync: the alert should clear at once.
    with django_capture_on_commit_callbacks(execute=True):
        quota_store(oa=connected_oa, daily=500, remaining=500)
    assert not Incident.objects.filter(check_key="templates", resolved_at=None).exists()
