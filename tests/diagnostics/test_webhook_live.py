"""Webhook scenarios over real HTTP both ways: the sandbox Zalo delivers to the hub's
live server; the self-test probe goes to the hub's own public URL."""

import time
from datetime import timedelta
from io import StringIO

import pytest
from django.core import mail
from django.core.management import call_command
from django.utils import timezone

from tests.diagnostics.conftest import age, refresh
from zalohub.accounts.models import ZaloApp
from zalohub.diagnostics.checks.webhook import PROBE_EVENT, customer_events
from zalohub.diagnostics.models import Incident, WebhookProbe
from zalohub.diagnostics.probe import probe_settle, webhook_selftest
from zalohub.diagnostics.services import run_health_checks
from zalohub.events.models import ErrorCategory, RejectedRequest, ZaloEvent
from zalohub.events.processing.queue import drain
from zalohub.sandbox import customers
from zalohub.sandbox.simulate import run_scenario
from zalohub.sandbox.world import APP_SUPPORT_ID, OA_SUPPORT_ID, SON_SUPPORT_USER_ID

pytestmark = pytest.mark.django_db(transaction=True)


def hub_url() -> str:
    from django.conf import settings

    return settings.PUBLIC_URL


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
    # It should recompute as the customer's message arrives, before anyone recomputes.
    assert not Incident.objects.filter(oa=hub, check_key="webhook", resolved_at=None).exists()
    assert any("recovered" in m.subject for m in mail.outbox)
    assert refresh(hub).check("webhook").level == "green"


def _retried(sandbox, app_id: str = APP_SUPPORT_ID) -> None:
    """Wait until Zalo (the sandbox, on a compressed schedule) re-sent a refused delivery."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if any(len(d.attempts) >= 2 for d in sandbox.webhooks.deliveries(app_id=app_id)):
            return
        time.sleep(0.02)
    raise AssertionError("Zalo did not re-send the refused delivery")


def test_it_names_a_wrong_oa_secret_key(hub, sandbox, scenario):
    customers.configure_webhooks(sandbox, time_factor=0.001)  # Zalo's retries in ms
    assert _customer_writes(sandbox) == "delivered"
    age(ZaloEvent, "received_at", timedelta(minutes=2))  # a while ago, with the old key
    new_key = scenario("wrong_secret", app_id=APP_SUPPORT_ID)["oa_secret_keys"][APP_SUPPORT_ID]
    assert _customer_writes(sandbox) != "delivered"
    # Zalo's retry, 30 s later on its schedule (compressed here: the rows are aged).
    age(RejectedRequest, "received_at", timedelta(seconds=30))
    age(ZaloApp, "updated_at", timedelta(minutes=5))  # the key was entered before all this
    _retried(sandbox)
    check = refresh(hub).check("webhook")
    # It should be red, blame the OA secret key, and link the refused requests.
    assert check.level == "red" and "OA secret key" in check.summary, check.summary
    assert RejectedRequest.objects.filter(app_id=APP_SUPPORT_ID, status_code=401).exists()
    assert any("/admin/events/rejectedrequest/" in e.url for e in check.evidence)
    assert any("Webhook receiving is red" in m.subject for m in mail.outbox)
    # The fix: enter the console's new key on the Zalo app. It should recompute at
    # once (the incident closes before anyone presses Recompute).
    app = ZaloApp.objects.get(app_id=APP_SUPPORT_ID)
    app.oa_secret_key = new_key
    app.save()
    assert not Incident.objects.filter(oa=hub, check_key="webhook", resolved_at=None).exists()
    assert any("recovered" in m.subject for m in mail.outbox)
    assert _customer_writes(sandbox) == "delivered"
    health = refresh(hub)
    assert health.check("webhook").level == "green"
    assert health.check("refused").level == "amber"  # the refusals, within the window


def test_it_asks_zalo_to_deliver_the_probe(hub, sandbox, settings):
    # The hub's own idea of its URL is unreachable: a self-post would fail. Zalo holds
    # the right URL, so Zalo reaches the hub, and that is what the self-test proves.
    settings.PUBLIC_URL = "http://127.0.0.1:9"
    probe = webhook_selftest(oa=hub, wait=5)
    assert probe.method == "zalo_delivery"
    assert probe.arrived, probe.result_text
    assert probe.http_status == 200
    assert "Zalo delivered a test event" in probe.result_text
    delivery = sandbox.webhooks.deliveries(app_id=APP_SUPPORT_ID, event_name=PROBE_EVENT)[-1]
    assert delivery.id == probe.delivery_id and delivery.state == "delivered"
    assert probe.event.event_name == PROBE_EVENT
    drain()
    probe.event.refresh_from_db()
    # It should be stored, ignored by processing, and not counted as customer traffic.
    assert probe.event.outcome == "ignored"
    assert not customer_events(hub).exists()
    assert refresh(hub).check("webhook").level == "green"


def test_it_fails_when_zalo_cannot_reach_the_hub(hub, sandbox, scenario):
    # The hub reaches its own URL fine (a self-post would pass); Zalo has unsubscribed
    # the app: the self-test should fail, and say why.
    scenario("silent_webhook", app_id=APP_SUPPORT_ID)
    probe = webhook_selftest(oa=hub, wait=5)
    assert not probe.arrived and not probe.pending
    assert "no webhook URL" in probe.result_text
    check = refresh(hub).check("webhook")
    assert check.level == "red" and "test delivery did not arrive" in check.summary


def test_it_names_a_wrong_key_from_a_refused_probe(hub, sandbox, scenario):
    scenario("wrong_secret", app_id=APP_SUPPORT_ID)
    probe = webhook_selftest(oa=hub, wait=5)
    # Zalo reached the hub and the hub refused the signature: proof of a wrong key.
    assert probe.signature_refused and probe.http_status == 401
    check = refresh(hub).check("webhook")
    assert check.level == "red" and "OA secret key" in check.summary


def test_it_sees_a_silent_webhook_within_its_window(hub, sandbox, scenario, settings):
    settings.DIAGNOSTICS_WEBHOOK_WINDOW_MINUTES = 30
    assert _customer_writes(sandbox) == "delivered"
    scenario("silent_webhook", app_id=APP_SUPPORT_ID)
    # Customers write; nothing arrives. Within the window nothing is wrong yet...
    assert _customer_writes(sandbox) == "no_target"
    assert run_health_checks() == 1
    assert refresh(hub).check("webhook").level == "green"
    # ... once the window has passed with nothing from Zalo, the worker's health run asks
    # Zalo for a test delivery, which cannot arrive: red within one run.
    age(ZaloEvent, "received_at", timedelta(minutes=31))
    assert run_health_checks() == 1
    check = refresh(hub).check("webhook")
    assert check.level == "red", check.summary
    assert "no webhook URL" in check.summary
    assert "30 min" in dict(check.facts)["Window"]
    assert Incident.objects.filter(oa=hub, check_key="webhook", resolved_at=None).count() == 1
    # Zalo subscribes the app again: the next run asks again (the last test failed), the
    # delivery arrives, and the alert clears.
    scenario("silent_webhook", undo=True)
    assert run_health_checks() == 1
    probe = probe_settle(WebhookProbe.objects.filter(oa=hub).first(), wait=5)
    assert probe.arrived, probe.result_text
    assert refresh(hub).check("webhook").level == "green"
    assert not Incident.objects.filter(oa=hub, check_key="webhook", resolved_at=None).exists()


def test_simulate_does_not_undo_a_silent_webhook(hub, sandbox, sandbox_server, scenario):
    scenario("silent_webhook", app_id=APP_SUPPORT_ID)
    lines: list[str] = []
    report = run_scenario(
        sandbox_url=sandbox_server.base_url,
        hub=hub_url(),
        scenario="son",
        wait=5,
        say=lines.append,
    )
    # It should point the webhooks at the hub and still deliver nothing to the silenced
    # app, and say why.
    support = [d for d in report.deliveries if d["app_id"] == APP_SUPPORT_ID]
    assert support and {d["state"] for d in support} == {"no_target"}
    assert any("unsubscribed from webhooks" in line for line in lines)
    assert sandbox.apps[APP_SUPPORT_ID]["unsubscribed"] is True
    scenario("silent_webhook", undo=True)
    assert _customer_writes(sandbox) == "delivered"


@pytest.mark.parametrize("corrupt", ["signature", "unsigned", "tampered", "body"])
def test_the_readmes_corrupt_demo_raises_no_alarm(hub, sandbox, sandbox_server, corrupt):
    # README: `./run sandbox simulate --corrupt ...` next to genuine customers, with
    # duplicates (copies of the forged requests too) and Zalo's compressed retries.
    report = run_scenario(
        sandbox_url=sandbox_server.base_url,
        hub=hub_url(),
        scenario="all",
        duplicate=1,
        corrupt=corrupt,
        wait=10,
    )
    assert any(d["corrupt"] for d in report.deliveries)
    drain()
    health = refresh(hub)
    # It should refuse the forgeries and show them amber, with no red and no incident...
    assert health.check("refused").level == "amber"
    assert health.level != "red", [(c.key, c.summary) for c in health.checks]
    assert not Incident.objects.exists()
    assert not [m for m in mail.outbox if "red" in m.subject]
    # ... and `doctor` should exit 0.
    out = StringIO()
    call_command("doctor", stdout=out)
