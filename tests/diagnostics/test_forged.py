"""Forged webhook requests must not raise alarms (issue 13 item 10): anyone can POST to
the public webhook URL, so refused requests alone are an amber finding of their own,
with counts, and never an incident, a mail or a failing ``doctor``. "Wrong OA secret
key" is said only on evidence a forger does not produce (checks/webhook.wrong_secret)."""

import json
from datetime import timedelta
from io import StringIO

import pytest
from django.core import mail
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from tests.diagnostics.conftest import age
from tests.helpers import post_webhook
from zalohub.accounts.models import ZaloApp
from zalohub.diagnostics.models import Incident
from zalohub.diagnostics.services import health_refresh
from zalohub.events.models import RejectedRequest
from zalohub.sandbox import payloads
from zalohub.sandbox.world import APP_SUPPORT_ID, OA_SUPPORT_ID, SON_BY_APP, SON_SUPPORT_USER_ID

pytestmark = pytest.mark.django_db


def _event(n: int) -> str:
    """A well-formed event for the Support OA, as Zalo (or a careful forger) sends it."""
    payload = payloads.user_send(
        app_id=APP_SUPPORT_ID,
        oa_id=OA_SUPPORT_ID,
        user_id=SON_SUPPORT_USER_ID,
        by_app=SON_BY_APP[APP_SUPPORT_ID],
        kind="text",
        text=f"forged {n}",
        msg_id=f"forged-{n}-{timezone.now().timestamp()}",
        timestamp=str(int(timezone.now().timestamp() * 1000)),
    )
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":"))


def _forge(client, n: int = 3) -> None:  # type: ignore[no-untyped-def]
    for i in range(n):
        answer = post_webhook(client, APP_SUPPORT_ID, _event(i), key="not-the-oa-secret-key")
        assert answer.status_code == 401


def _doctor() -> int:
    try:
        call_command("doctor", stdout=StringIO())
    except CommandError as exc:
        return exc.returncode
    return 0


def _refresh(oa, capture):  # type: ignore[no-untyped-def]
    oa.refresh_from_db()
    with capture(execute=True):
        return health_refresh(oa=oa)


@pytest.mark.parametrize("genuine_first", [False, True], ids=["quiet-oa", "with-traffic"])
def test_it_shows_three_forged_posts_as_amber_and_alerts_nobody(
    client,
    admin,
    connected_oa,
    customer_writes,
    genuine_first,
    django_capture_on_commit_callbacks,
):
    admin.email = "it@example.com"
    admin.save()
    if genuine_first:
        customer_writes()
    _forge(client, 3)
    health = _refresh(connected_oa, django_capture_on_commit_callbacks)
    webhook, refused = health.check("webhook"), health.check("refused")
    # It should not blame the OA secret key, nor turn anything red.
    assert webhook.level != "red", webhook.summary
    assert "secret key" not in webhook.summary
    assert health.level != "red"
    # It should show the forged traffic as its own amber finding, with counts.
    assert refused.level == "amber"
    assert "3 webhook request(s) refused" in refused.summary
    assert "3 with a bad signature" in refused.summary
    assert dict(refused.facts)["Bad signature"] == "3"
    assert any(e.count == 3 and "/rejectedrequest/" in e.url for e in refused.evidence)
    # It should open no incident, mail nobody, and let `doctor` exit 0.
    assert not Incident.objects.exists()
    assert mail.outbox == []
    assert _doctor() == 0


def test_it_names_a_wrong_secret_when_zalo_resends_what_was_refused(
    client, admin, connected_oa, django_capture_on_commit_callbacks
):
    admin.email = "it@example.com"
    admin.save()
    # Zalo signs with a key the hub does not have: refused, then re-sent, the same bytes
    # and signature (30 s later on Zalo's schedule), and no genuine delivery since.
    body = _event(1)
    wrong = "the-console-was-reset"
    assert post_webhook(client, APP_SUPPORT_ID, body, key=wrong).status_code == 401
    # A copy right behind it is a burst, not Zalo's retry: still no alarm.
    assert post_webhook(client, APP_SUPPORT_ID, body, key=wrong).status_code == 401
    assert _refresh(connected_oa, django_capture_on_commit_callbacks).level != "red"
    # Zalo's retry comes 30 s later (time moved by editing rows).
    age(RejectedRequest, "received_at", timedelta(seconds=30))
    age(ZaloApp, "updated_at", timedelta(minutes=5))  # the key was entered before all this
    assert post_webhook(client, APP_SUPPORT_ID, body, key=wrong, num_retry="1").status_code == 401
    health = _refresh(connected_oa, django_capture_on_commit_callbacks)
    webhook = health.check("webhook")
    # It should be red as before, blame the key, open an incident, alert, and fail doctor.
    assert webhook.level == "red", webhook.summary
    assert "OA secret key" in webhook.summary and "re-sent by Zalo" in webhook.summary
    assert Incident.objects.filter(check_key="webhook", resolved_at=None).count() == 1
    assert [m.subject for m in mail.outbox] == ["[zalohub] Support OA: Webhook receiving is red"]
    assert _doctor() == 1
    # The refused requests are explained, amber, not a second alarm.
    assert health.check("refused").level == "amber"


def test_it_does_not_blame_the_key_when_a_genuine_delivery_passed_since(
    client, connected_oa, customer_writes, django_capture_on_commit_callbacks
):
    # A forger who also fakes Zalo's retry header, while Zalo's own deliveries pass.
    body = _event(2)
    assert post_webhook(client, APP_SUPPORT_ID, body, key="forged").status_code == 401
    age(RejectedRequest, "received_at", timedelta(seconds=30))
    customer_writes()
    assert (
        post_webhook(client, APP_SUPPORT_ID, body, key="forged", num_retry="1").status_code == 401
    )
    health = _refresh(connected_oa, django_capture_on_commit_callbacks)
    # It should see that the key works (a genuine delivery since the first refusal).
    assert health.check("webhook").level == "green"
    assert health.check("refused").level == "amber"
    assert not Incident.objects.exists()


def test_it_names_a_missing_oa_secret_key_of_a_connected_oa(
    connected_oa, django_capture_on_commit_callbacks
):
    app = connected_oa.app
    app.oa_secret_key = ""
    app.save()
    webhook = _refresh(connected_oa, django_capture_on_commit_callbacks).check("webhook")
    # It should be red from the hub's own state: nothing a request says.
    assert webhook.level == "red"
    assert "no OA secret key" in webhook.summary
