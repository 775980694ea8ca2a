"""Each sandbox scenario, end to end: Zalo (the sandbox, over loopback HTTP) breaks, the
right check turns red with the guide's category and the evidence, admins are alerted
once (mail and banner), and after the fix the check recovers with a notice."""

from datetime import timedelta

import pytest
from django.contrib.auth.models import Group
from django.core import mail

from tests.diagnostics.conftest import age, give_up_retries, send_due
from tests.diagnostics.conftest import refresh as refresh_health
from tests.helpers import consent
from zalohub.accounts.oauth import oauth_complete, oauth_start
from zalohub.apilog.models import ApiLog
from zalohub.core.roles import ZALO_EVENTS
from zalohub.diagnostics.models import Incident
from zalohub.events.actions import message_resend
from zalohub.events.models import ErrorCategory, Message, ZaloState

pytestmark = pytest.mark.django_db


@pytest.fixture
def watch(client, admin, django_capture_on_commit_callbacks):
    """Asserts on the alert (mail + banner) and the recovery of one check."""
    admin.email = "it@example.com"
    admin.save()
    # The Zalo Events list is granted separately, even to admins (the guide).
    admin.groups.add(Group.objects.get(name=ZALO_EVENTS))
    client.force_login(admin)
    admin_client = client

    def refresh(oa):  # type: ignore[no-untyped-def]
        # The alert mails go out when the health job's transaction commits.
        with django_capture_on_commit_callbacks(execute=True):
            return refresh_health(oa)

    class Watch:
        def red(self, oa, key: str, category: str, evidence: str):  # type: ignore[no-untyped-def]
            health = refresh(oa)
            check = health.check(key)
            # It should turn the check red with the guide's category and next step...
            assert check.level == "red", check.summary
            assert check.category == category
            assert check.next_step
            # ... link to the rows that prove it (and the link should open) ...
            urls = [e.url for e in check.evidence if evidence in e.url]
            assert urls, check.evidence
            for url in urls:
                page = admin_client.get(url)
                assert page.status_code == 200 and "?e=1" not in page.get("Location", "")
            # ... alert the admins once, by mail and on every admin page ...
            alerts = [m for m in mail.outbox if check.title in m.subject and "red" in m.subject]
            assert len(alerts) == 1 and alerts[0].to == ["it@example.com"]
            assert check.next_step in alerts[0].body
            refresh(oa)
            assert len([m for m in mail.outbox if "red" in m.subject]) == 1
            banner = admin_client.get("/admin/").content.decode()
            assert 'id="health-banner"' in banner
            # ... and name the same category on the health page.
            page = admin_client.get(f"/admin/diagnostics/healthsnapshot/?oa={oa.pk}")
            assert str(ErrorCategory(category).label) in page.content.decode()
            return check

        def fixing(self):  # type: ignore[no-untyped-def]
            """Around a fix: its recompute's mails go out when it commits."""
            return django_capture_on_commit_callbacks(execute=True)

        def recovered(self, oa, key: str, *, green: bool = True):  # type: ignore[no-untyped-def]
            # It should have recomputed at the fix itself, not at the next periodic run:
            # the incident is closed and the red banner gone before anyone recomputes.
            assert not Incident.objects.filter(oa=oa, check_key=key, resolved_at=None).exists()
            banner = admin_client.get("/admin/").content.decode()
            assert "dx-alert-red" not in banner
            # It should show the recovery notice once, then never again.
            assert "recovered" in banner
            assert "recovered" not in admin_client.get("/admin/").content.decode()
            check = refresh(oa).check(key)
            # It should no longer be red, and say so once by mail.
            assert check.level == ("green" if green else "amber"), check.summary
            notices = [m for m in mail.outbox if "recovered" in m.subject]
            assert len(notices) == 1
            return check

    return Watch()


def _fail_three(send, scenario, name: str) -> None:  # type: ignore[no-untyped-def]
    scenario(name, endpoint="oa.message")
    assert send(3) == ["failed"] * 3


def _fix_and_resend(scenario, name: str) -> None:  # type: ignore[no-untyped-def]
    scenario(name, undo=True)
    for message in Message.objects.filter(zalo_state=ZaloState.FAILED):
        message_resend(message=message)
    assert set(send_due()) == {"sent"}


def test_it_names_an_expired_token(connected_oa, customer_writes, send, scenario, watch):
    customer_writes()
    scenario("expired_token")
    assert send(1) == ["failed"]
    check = watch.red(connected_oa, "token", ErrorCategory.TOKEN, "/officialaccount/")
    assert "Authorize Account" in check.next_step
    # The fix: authorize the account again.
    with watch.fixing():
        oauth_complete(app_id=connected_oa.app.app_id, params=consent(oauth_start(oa=connected_oa)))
    watch.recovered(connected_oa, "token")


def test_it_names_a_zalo_5xx_storm(connected_oa, customer_writes, send, scenario, watch):
    customer_writes()
    scenario("zalo_5xx")
    assert send(6) == ["retry"] * 6
    check = watch.red(connected_oa, "sends", ErrorCategory.SEND, "/apilog/")
    assert "server error" in check.summary
    # The fix: Zalo answers again; the waiting sends go out on their own.
    scenario("zalo_5xx", undo=True)
    give_up_retries()
    with watch.fixing():
        assert set(send_due()) == {"sent"}
    watch.recovered(connected_oa, "sends", green=False)
    # An hour later the failed calls are history: green.
    age(ApiLog, "created_at", timedelta(hours=1, minutes=1), ok=False)
    assert refresh_health(connected_oa).check("sends").level == "green"


def test_it_names_a_rejected_template(connected_oa, customer_writes, send, scenario, watch):
    customer_writes()
    _fail_three(send, scenario, "rejected_template")
    check = watch.red(connected_oa, "templates", ErrorCategory.TEMPLATE, "quick=failed")
    assert "Zalo code -131" in dict(check.facts).__repr__()
    with watch.fixing():
        _fix_and_resend(scenario, "rejected_template")
    watch.recovered(connected_oa, "templates")


def test_it_names_a_spent_quota(connected_oa, customer_writes, send, scenario, watch):
    customer_writes()
    _fail_three(send, scenario, "quota_exhausted")
    check = watch.red(connected_oa, "sends", ErrorCategory.SEND, "quick=failed")
    assert dict(check.facts)["Zalo code -144 (quota used up)"] == "3"
    assert "daily ZNS quota" in check.next_step
    with watch.fixing():
        _fix_and_resend(scenario, "quota_exhausted")
    watch.recovered(connected_oa, "sends")


def test_it_names_a_missing_phone(connected_oa, customer_writes, send, scenario, watch):
    customer_writes()
    _fail_three(send, scenario, "missing_phone")
    check = watch.red(connected_oa, "recipients", ErrorCategory.RECIPIENT, "quick=failed")
    assert "84xxxxxxxxx" in check.next_step
    with watch.fixing():
        _fix_and_resend(scenario, "missing_phone")
    watch.recovered(connected_oa, "recipients")
