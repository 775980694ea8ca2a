"""/metrics: Prometheus's text format, for a token or an allowed address only.

Counters are the process's (other tests add to them too), so each test compares a
scrape before and after what it does; the gauges are computed from the test's rows.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from tests.helpers import fixture, post_webhook
from zalohub.diagnostics.models import HealthSnapshot
from zalohub.events.models import Direction, ZaloEvent
from zalohub.events.outbound.oa_message import PENDING, message_send, send_outbound
from zalohub.sandbox.world import SON_SUPPORT_USER_ID

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]
OUTSIDE = "203.0.113.9"  # TEST-NET-3: never an allowed address by default


def scrape(client, **extra: str) -> Samples:
    response = client.get("/metrics", **extra)
    assert response.status_code == 200, response.status_code
    assert response["Content-Type"].startswith("text/plain")
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(response.content.decode())
        for s in family.samples
    }


def value(samples: Samples, metric: str, /, **labels: str) -> float:
    return samples.get((metric, frozenset(labels.items())), 0.0)


# --- who may scrape -------------------------------------------------------------------------


@pytest.mark.django_db
def test_it_refuses_an_outside_address_without_the_token(client, settings):
    settings.METRICS_TOKEN = "s3cret-scrape-token"
    # It should refuse an address off the allow-list, with no token or a wrong one.
    assert client.get("/metrics", REMOTE_ADDR=OUTSIDE).status_code == 403
    wrong = {"REMOTE_ADDR": OUTSIDE, "HTTP_AUTHORIZATION": "Bearer guess"}
    assert client.get("/metrics", **wrong).status_code == 403
    # It should serve the bearer of the token from anywhere.
    scrape(client, REMOTE_ADDR=OUTSIDE, HTTP_AUTHORIZATION="Bearer s3cret-scrape-token")


@pytest.mark.django_db
def test_it_serves_the_allow_list_but_not_through_a_proxy(client, settings):
    settings.METRICS_TOKEN = ""
    # It should serve loopback by default (Prometheus on the same machine)...
    scrape(client, REMOTE_ADDR="127.0.0.1")
    # ...but not a request a local proxy forwarded: its visitor may be anyone.
    proxied = {"REMOTE_ADDR": "127.0.0.1", "HTTP_X_FORWARDED_FOR": OUTSIDE}
    assert client.get("/metrics", **proxied).status_code == 403
    # It should serve the networks an operator allows, and only those.
    settings.METRICS_ALLOW = ["203.0.113.0/24"]
    scrape(client, REMOTE_ADDR=OUTSIDE)
    assert client.get("/metrics", REMOTE_ADDR="127.0.0.1").status_code == 403


# --- what it counts -------------------------------------------------------------------------


@pytest.mark.django_db
def test_it_counts_webhooks_by_result(client, zalo_app, connected_oa):
    raw = fixture("user_send_text__official")
    before = scrape(client)
    key = zalo_app.oa_secret_key
    assert post_webhook(client, zalo_app.app_id, raw, key=key).status_code == 200
    assert post_webhook(client, zalo_app.app_id, raw, key=key).status_code == 200
    assert post_webhook(client, zalo_app.app_id, raw, key=None).status_code == 401
    after = scrape(client)

    def delta(**labels: str) -> float:
        name = "zalohub_webhooks_total"
        return value(after, name, **labels) - value(before, name, **labels)

    # It should count one accepted, one duplicate and one rejected for its signature.
    assert delta(result="accepted", reason="") == 1
    assert delta(result="duplicate", reason="") == 1
    assert delta(result="rejected", reason="signature") == 1
    # It should show the stored event waiting, and the queue's ages.
    assert value(after, "zalohub_events", state="received") == 1
    assert value(after, "zalohub_events", state="processing") == 0
    assert ("zalohub_oldest_pending_event_age_seconds", frozenset()) in after
    assert ("zalohub_processing_lag_seconds", frozenset()) in after


@pytest.mark.django_db
def test_it_counts_sends_and_zalo_calls_per_oa(client, connected_oa, sandbox):
    before = scrape(client)
    message_send(oa=connected_oa, user_id=SON_SUPPORT_USER_ID, text="Báo giá đơn hàng #88213")
    due = ZaloEvent.objects.filter(direction=Direction.OUTBOUND, processing_state__in=PENDING)
    results = [send_outbound(event_id=pk, worker_id="t") for pk in due.values_list("pk", flat=True)]
    assert results == ["sent"]
    after = scrape(client)
    oa = str(connected_oa.pk)
    sends = "zalohub_outbound_sends_total"
    # It should count the send under its OA and outcome.
    sent = {"oa": oa, "outcome": "sent", "category": ""}
    assert value(after, sends, **sent) - value(before, sends, **sent) == 1
    # It should count Zalo's answer to the call, with its duration.
    call = {"endpoint": "oa.message.cs", "status": "200", "result": "ok"}
    count = "zalohub_zalo_call_seconds_count"
    assert value(after, count, **call) - value(before, count, **call) == 1
    assert value(after, "zalohub_zalo_call_seconds_sum", **call) > value(
        before, "zalohub_zalo_call_seconds_sum", **call
    )


@pytest.mark.django_db
def test_it_shows_each_oas_token_and_health(client, connected_oa):
    HealthSnapshot.objects.create(
        oa=connected_oa,
        level="red",
        computed_at=timezone.now(),
        checks=[
            {"key": "token", "level": "green", "category": ""},
            {"key": "sends", "level": "red", "category": "send"},
        ],
    )
    samples = scrape(client)
    oa = str(connected_oa.pk)
    # It should name the OA once, and label everything else by its id only.
    info = {"oa": oa, "name": connected_oa.name, "status": "connected"}
    assert value(samples, "zalohub_oa_info", **info) == 1
    # It should say how long the sandbox's fresh token has left.
    assert value(samples, "zalohub_oa_token_seconds_to_expiry", oa=oa) > 0
    # It should give each health check's level.
    health = "zalohub_oa_health_level"
    assert value(samples, health, oa=oa, check="token", category="") == 0
    assert value(samples, health, oa=oa, check="sends", category="send") == 2


# --- several processes ----------------------------------------------------------------------

_CHILD = """
import django, sys
django.setup()
from zalohub.core import metrics
if sys.argv[1] == "count":
    metrics.WEBHOOK_ACCEPTED.inc()
else:
    sys.stdout.write(metrics.exposition().decode())
"""


def test_several_processes_add_up_in_multiprocess_mode(tmp_path: Path):
    env = {
        **os.environ,
        "PROMETHEUS_MULTIPROC_DIR": str(tmp_path),
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "ZALOHUB_DATA_DIR": str(tmp_path / "data"),
    }

    def child(mode: str) -> str:
        return subprocess.run(
            [sys.executable, "-c", _CHILD, mode],
            env=env,
            capture_output=True,
            text=True,
            check=True,
            timeout=120,
            cwd=Path(__file__).parents[2],
        ).stdout

    child("count")
    child("count")
    text = child("show")
    accepted = [
        s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if s.name == "zalohub_webhooks_total" and s.labels["result"] == "accepted"
    ]
    # It should add up what two processes counted, as a third process's scrape.
    assert accepted == [2.0], json.dumps(text[:500])
