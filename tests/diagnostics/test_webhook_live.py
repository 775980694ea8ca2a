"""Webhook scenarios over real HTTP both ways: the sandbox Zalo delivers to the hub's
live server; the self-test probe goes to the hub's own public URL."""

import time
from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone

from tests.diagnostics.conftest import age, refresh
from zalohub.accounts.models import ZaloApp
from zalohub.diagnostics.checks.webhook import PROBE_EVENT, customer_events
from zalohub.diagnostics.models import Incident
from zalohub.diagnostics.probe import webhook_selftest
from zalohub.events.models import ErrorCategory, RejectedRequest, ZaloEvent
from zalohub.events.queue import drain
from zalohub.sandbox import customers
from zalohub.sandbox.world import APP_SUPPORT_ID, OA_SUPPORT_ID, SON_SUPPORT_USER_ID

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def hub(sandbox, live_server, settings, connected_oa, admin):
    """The sandbox's console points the app's webhook at the live hub; an admin to alert."""
    settings.PUBLIC_URL = live_server.url
    customers.configure_webhooks(sandbox, hub=live_server.url, receipt_delay=None)
    admin.email = "it@example.com"
    admin.save()
    return connected_oa


def _customer_writes(sandbox, text: str = "Alo") -> str:
    """Son writes; returns how the sandbox's delivery ended (delivered, failed, no_target)."""
    emitted = customers.customer_send_message(
        sandbox, oa_id=OA_SUPPORT_ID, user_id=SON_SUPPORT_USER_ID, text=text
    )
    delivery = emitted.deliveries[0]
    deadline = time.monotonic() + 10
    while delivery.state == "pending" and not delivery.attempts and time.monotonic() < deadline:
        time.sleep(0.02)  # the sandbox's delivery thread is posting to the hub
    drain()
    return delivery.state


def _spread_traffic(sandbox, n: int = 12) -> None:
    for i in range(n):
        assert _customer_writes(sandbox, f"tin {i}") == "delivered"
    for i, event in enumerate(ZaloEvent.objects.filter(event_name="user_send_text")):
        ZaloEvent.objects.filter(pk=event.pk).update(
            received_at=timezone.now() - timedelta(hours=6 * (i + 1))
        )


def test_it_names_a_silent_webhook(hub, sandbox, scenario):
    _spread_traffic(sandbox)
    assert refresh(hub).check("webhook").level == "green"
    scenario("silent_webhook", app_id=APP_SUPPORT_ID)
    # Zalo stopped delivering: the customer writes, nothing arrives for two days.
    assert _customer_writes(sandbox) == "no_target"
    age(ZaloEvent, "received_at", timedelta(hours=40), event_name="user_send_text")
    check = refresh(hub).check("webhook")
    # It should be red, name the category, link the events, and alert once.
    assert check.level == "red" and check.category == ErrorCategory.WEBHOOK
    assert "Webhook URL" in check.next_step
    assert any("/admin/events/zaloevent/" in e.url for e in check.evidence)
    assert Incident.objects.filter(oa=hub, check_key="webhook", resolved_at=None).count() == 1
    assert [m.subject for m in mail.outbox if "red" in m.subject] == [
        "[zalohub] Support OA: Webhook receiving is red"
    ]
    # The fix: the webhook URL is set again in the console; events arrive.
    scenario("silent_webhook", undo=True)
    assert _customer_writes(sandbox) == "delivered"
    assert refresh(hub).check("webhook").level == "green"
    assert any("recovered" in m.subject for m in mail.outbox)


def test_it_names_a_wrong_oa_secret_key(hub, sandbox, scenario):
    assert _customer_writes(sandbox) == "delivered"
    new_key = scenario("wrong_secret", app_id=APP_SUPPORT_ID)["oa_secret_keys"][APP_SUPPORT_ID]
    assert _customer_writes(sandbox) != "delivered"
    check = refresh(hub).check("webhook")
    # It should be red, blame the OA secret key, and link the refused requests.
    assert check.level == "red" and "OA secret key" in check.summary
    assert RejectedRequest.objects.filter(app_id=APP_SUPPORT_ID, status_code=401).exists()
    assert any("/admin/events/rejectedrequest/" in e.url for e in check.evidence)
    assert any("Webhook receiving is red" in m.subject for m in mail.outbox)
    # The fix: enter the console's new key on the Zalo app.
    app = ZaloApp.objects.get(app_id=APP_SUPPORT_ID)
    app.oa_secret_key = new_key
    app.save()
    assert _customer_writes(sandbox) == "delivered"
    assert refresh(hub).check("webhook").level == "amber"  # refusals within the hour
    assert any("recovered" in m.subject for m in mail.outbox)
    age(RejectedRequest, "received_at", timedelta(hours=1, minutes=1))
    assert refresh(hub).check("webhook").level == "green"


def test_it_sends_a_signed_probe_to_the_public_url(hub, sandbox):
    probe = webhook_selftest(oa=hub)
    # It should arrive through the public URL, be stored, and not count as traffic.
    assert probe.arrived, probe.answer
    assert probe.http_status == 200
    assert probe.url == f"{hub.app.webhook_url}"
    assert probe.event.event_name == PROBE_EVENT
    drain()
    probe.event.refresh_from_db()
    assert probe.event.outcome == "ignored"
    assert not customer_events(hub).exists()


def test_it_reports_a_probe_that_did_not_arrive(hub, settings):
    settings.PUBLIC_URL = "http://127.0.0.1:9"  # nothing listens there
    probe = webhook_selftest(oa=hub)
    # It should say so, and the webhook check should be red until events arrive.
    assert not probe.arrived
    assert "could not be reached" in probe.answer
    check = refresh(hub).check("webhook")
    assert check.level == "red" and "self-test" in check.summary
