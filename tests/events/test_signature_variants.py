"""Every documented variant of Zalo's webhook signature is accepted (API.md §3.2, two
CONFLICTs: the app id or the OA id first; the OA secret key or the app secret key), the
one that matched is kept on each event and on the app, and diagnostics names it when it
blames the key (issue 16 §5). Each variant is signed both by the tests' own signer and by
the sandbox Zalo's (its ``signing`` setting), and the sandbox delivers each to a live hub."""

import json
from datetime import timedelta

import httpx
import pytest
from django.test import Client
from django.utils import timezone

from tests.diagnostics.conftest import age
from tests.helpers import fixture, post_webhook
from zalohub.accounts.models import ZaloApp
from zalohub.diagnostics.services import health_refresh
from zalohub.events.ingestion import receive
from zalohub.events.models import RejectedRequest, ZaloEvent
from zalohub.sandbox import payloads
from zalohub.sandbox.world import (
    APP_SUPPORT_ID,
    OA_SUPPORT_ID,
    SON_BY_APP,
    SON_SUPPORT_USER_ID,
    demo_world,
)

pytestmark = pytest.mark.django_db
FIXTURE_OA = "4310500000000000001"  # the OA id in follow__official
APP_SECRET = demo_world()["apps"][0]["secret_key"]
# The sandbox's name for each of the hub's variants ("<first term>+<key>").
SANDBOX_SIGNING = {
    "app_id": "app_id+oa_key",
    "oa_id": "oa_id+oa_key",
    "app_id+app_key": "app_id+app_key",
    "oa_id+app_key": "oa_id+app_key",
}


def _sandbox(base: str, path: str, body: dict) -> dict:
    answer = httpx.post(f"{base}/_sandbox/{path}", json=body, timeout=5)
    assert answer.status_code == 200, answer.text
    return answer.json()


def _signed_by_sandbox(base: str, raw: str, variant: str) -> tuple[bytes, str]:
    """The body and X-ZEvent-Signature the sandbox Zalo sends for this event when set to
    sign as ``variant`` (no webhook target: the delivery stays in its log)."""
    settings = _sandbox(base, "webhooks", {"signing": SANDBOX_SIGNING[variant]})
    assert settings["signing"] == SANDBOX_SIGNING[variant]
    body = {"oa_id": OA_SUPPORT_ID, "app_id": APP_SUPPORT_ID, "payload": json.loads(raw)}
    [made] = _sandbox(base, "webhooks/emit", body)["emitted"][0]["deliveries"]
    log = httpx.get(f"{base}/_sandbox/webhooks/deliveries", timeout=5).json()
    [delivery] = [d for d in log["deliveries"] if d["id"] == made]
    assert delivery["state"] == "no_target"
    return delivery["body"].encode(), delivery["headers"]["X-ZEvent-Signature"]


def _follow(n: int) -> str:
    # A distinct body each time (events without msg_id are deduplicated by their body).
    return fixture("follow__official", **{'"timestamp": "': f'"timestamp": "{n}'})


@pytest.mark.parametrize("signer", ["tests", "sandbox"])
@pytest.mark.parametrize(
    ("first", "key", "variant"),
    [
        ("app", "oa", "app_id"),
        ("oa", "oa", "oa_id"),
        ("app", "app", "app_id+app_key"),
        ("oa", "app", "oa_id+app_key"),
    ],
)
def test_it_accepts_each_variant_and_notes_it_on_the_app(
    zalo_app, sandbox_server, first, key, variant, signer
):
    receive.forget_cached_lookups()
    raw = _follow(1)
    assert json.loads(raw)["oa_id"] == FIXTURE_OA
    if signer == "tests":
        answer = post_webhook(
            Client(),
            zalo_app.app_id,
            raw,
            key=zalo_app.oa_secret_key if key == "oa" else APP_SECRET,
            first=zalo_app.app_id if first == "app" else FIXTURE_OA,
            prefix=first == "oa",  # with and without "mac="
        )
    else:
        # The sandbox Zalo's own signer, set to this variant through its control URL.
        body, signature = _signed_by_sandbox(sandbox_server.base_url, raw, variant)
        answer = Client().post(
            f"/zalo/webhook/{zalo_app.app_id}/",
            data=body,
            content_type="application/json",
            HTTP_X_ZEVENT_SIGNATURE=signature,
        )
    assert answer.status_code == 200, answer.content
    # It should keep the variant on the event and on the app, with when it matched.
    assert ZaloEvent.objects.get().signature_variant == variant
    zalo_app.refresh_from_db()
    assert zalo_app.webhook_mac_variant == variant
    assert timezone.now() - zalo_app.webhook_mac_matched_at < timedelta(minutes=1)


def test_the_app_follows_what_zalo_sends_and_writes_only_on_a_change(zalo_app):
    receive.forget_cached_lookups()
    client = Client()
    assert post_webhook(client, zalo_app.app_id, _follow(1), key=APP_SECRET).status_code == 200
    zalo_app.refresh_from_db()
    first_seen = zalo_app.webhook_mac_matched_at
    assert zalo_app.webhook_mac_variant == "app_id+app_key"
    # The same variant again, within the minute: the app row is not written again.
    assert post_webhook(client, zalo_app.app_id, _follow(2), key=APP_SECRET).status_code == 200
    zalo_app.refresh_from_db()
    assert zalo_app.webhook_mac_matched_at == first_seen
    # Another variant: the app says so at once.
    key = zalo_app.oa_secret_key
    assert post_webhook(client, zalo_app.app_id, _follow(3), key=key).status_code == 200
    zalo_app.refresh_from_db()
    assert zalo_app.webhook_mac_variant == "app_id"
    # It should never take a key it does not hold, whatever the first term.
    for first in (zalo_app.app_id, FIXTURE_OA):
        forged = post_webhook(client, zalo_app.app_id, _follow(4), key="guess", first=first)
        assert forged.status_code == 401
    assert ZaloEvent.objects.count() == 3


def test_the_app_page_shows_the_variant_that_matched(admin_client, zalo_app):
    receive.forget_cached_lookups()
    assert post_webhook(Client(), zalo_app.app_id, _follow(1), key=APP_SECRET).status_code == 200
    page = admin_client.get(f"/admin/accounts/zaloapp/{zalo_app.pk}/change/").content.decode()
    # It should show the admin which variant Zalo's deliveries match.
    assert 'data-variant="app_id+app_key"' in page
    assert "App ID + app secret key" in page


def _event(n: int) -> str:
    payload = payloads.user_send(
        app_id=APP_SUPPORT_ID,
        oa_id=OA_SUPPORT_ID,
        user_id=SON_SUPPORT_USER_ID,
        by_app=SON_BY_APP[APP_SUPPORT_ID],
        kind="text",
        text=f"variant {n}",
        msg_id=f"variant-{n}-{timezone.now().timestamp()}",
        timestamp=str(int(timezone.now().timestamp() * 1000)),
    )
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":"))


def test_the_wrong_secret_finding_names_the_variant_that_last_matched(client, connected_oa):
    receive.forget_cached_lookups()
    # Zalo's deliveries matched with the app secret key, then Zalo's key changed.
    assert post_webhook(client, APP_SUPPORT_ID, _event(1), key=APP_SECRET).status_code == 200
    age(ZaloEvent, "received_at", timedelta(minutes=10))
    body, wrong = _event(2), "the-console-was-reset"
    assert post_webhook(client, APP_SUPPORT_ID, body, key=wrong).status_code == 401
    age(RejectedRequest, "received_at", timedelta(seconds=30))
    age(ZaloApp, "updated_at", timedelta(minutes=30))
    assert post_webhook(client, APP_SUPPORT_ID, body, key=wrong, num_retry="1").status_code == 401
    connected_oa.refresh_from_db()
    webhook = health_refresh(oa=connected_oa).check("webhook")
    # It should blame the key, and say which variant Zalo's deliveries last matched.
    assert webhook.level == "red", webhook.summary
    assert "re-sent by Zalo" in webhook.summary
    assert "matched the signature variant: App ID + app secret key" in webhook.summary
    assert "App ID + app secret key" in dict(webhook.facts)["Signature variant"]


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("variant", list(SANDBOX_SIGNING))
def test_a_webhook_the_sandbox_sends_is_accepted_and_its_variant_recorded(
    zalo_app, sandbox_server, live_server, variant
):
    receive.forget_cached_lookups()
    base = sandbox_server.base_url
    settings = {"hub": live_server.url, "signing": SANDBOX_SIGNING[variant], "receipt_delay": None}
    assert _sandbox(base, "webhooks", settings)["signing"] == SANDBOX_SIGNING[variant]
    # Mr. Son follows the Support OA: the sandbox signs and POSTs to the live hub.
    follow = {"oa_id": OA_SUPPORT_ID, "user_id": SON_SUPPORT_USER_ID}
    [made] = _sandbox(base, "customers/follow", follow)["emitted"][0]["deliveries"]
    log = httpx.get(f"{base}/_sandbox/webhooks/deliveries", params={"wait": "10"}, timeout=15)
    [delivery] = [d for d in log.json()["deliveries"] if d["id"] == made]
    # It should be accepted at the first attempt...
    assert delivery["state"] == "delivered", delivery
    assert [a["status"] for a in delivery["attempts"]] == [200]
    # ... and the app should record this variant as the one that matched.
    event = ZaloEvent.objects.get()
    assert (event.event_name, event.signature_variant) == ("follow", variant)
    zalo_app.refresh_from_db()
    assert zalo_app.webhook_mac_variant == variant
