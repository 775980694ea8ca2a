"""Alarms that tell the truth, as admins see them at 1400 px in English and Vietnamese:
forged webhook requests are an amber finding (no red, no banner); after a fix the red
banner goes at once and the recovery notice shows once to each admin, then goes; the
card says what the webhook self-test checks and its window."""

import json

import httpx
import pytest
from django.utils import timezone, translation
from django.utils.translation import gettext

from tests.helpers import consent, zalo_signature
from zalohub.accounts.models import OfficialAccount
from zalohub.accounts.oauth import oauth_complete, oauth_start
from zalohub.diagnostics.models import Incident
from zalohub.diagnostics.services import health_refresh
from zalohub.sandbox import payloads
from zalohub.sandbox.world import APP_SUPPORT_ID, OA_SUPPORT_ID, SON_BY_APP, SON_SUPPORT_USER_ID

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
LOCALES = {"en": "en-US", "vi": "vi-VN"}
HEALTH = "/admin/diagnostics/healthsnapshot/"


@pytest.fixture
def shots(output_dir):
    path = output_dir / "health"
    path.mkdir(exist_ok=True)
    return path


def _in(language: str, msgid: str) -> str:
    with translation.override(language):
        return gettext(msgid)


def _forge(live_server, n: int) -> None:
    """Someone POSTs well-formed events for the Support OA, signed with a guessed key."""
    for i in range(n):
        payload = payloads.user_send(
            app_id=APP_SUPPORT_ID,
            oa_id=OA_SUPPORT_ID,
            user_id=SON_SUPPORT_USER_ID,
            by_app=SON_BY_APP[APP_SUPPORT_ID],
            kind="text",
            text=f"forged {i}",
            msg_id=f"forged-{i}-{timezone.now().timestamp()}",
            timestamp=str(int(timezone.now().timestamp() * 1000)),
        )
        raw = json.dumps(payload, separators=(",", ":"))
        signature = zalo_signature(
            first=APP_SUPPORT_ID,
            raw=raw,
            timestamp=payload["timestamp"],
            key="guessed",
            prefix=True,
        )
        answer = httpx.post(
            f"{live_server.url}/zalo/webhook/{APP_SUPPORT_ID}/",
            content=raw.encode(),
            headers={"Content-Type": "application/json", "X-ZEvent-Signature": signature},
        )
        assert answer.status_code == 401


@pytest.mark.parametrize("language", ["en", "vi"])
def test_forged_requests_show_as_an_amber_finding_not_an_alarm(
    admin_page, live_server, connected_oa, shots, language
):
    _forge(live_server, 3)
    page = admin_page(language, f"admin-{language}")
    page.goto(f"{live_server.url}{HEALTH}?oa={connected_oa.pk}")
    page.locator("#btn-recompute").click()
    card = page.locator(f"#oa-{connected_oa.pk}")
    refused = card.locator("details[data-check='refused']")
    # It should show the forged traffic as its own amber finding, with its counts...
    assert refused.get_attribute("data-level") == "amber"
    assert _in(language, "Refused webhook requests") in refused.inner_text()
    assert "3" in refused.locator("summary").inner_text()
    # ... not turn the OA or its webhook red, and show no alarm banner.
    assert card.get_attribute("data-level") != "red"
    assert card.locator("details[data-check='webhook']").get_attribute("data-level") != "red"
    assert page.locator(".dx-alert-red").count() == 0
    # The card should say what the webhook self-test checks, and its window.
    info = card.locator(".dx-selftest-info").inner_text()
    assert _in(language, "%d min") % 60 in info
    assert "Zalo" in info and len(info) > 80
    path = shots / f"forged-amber-{language}.png"
    page.screenshot(path=str(path), full_page=True)
    print(f"\nforged requests, amber ({language}): {path}")


def test_the_banner_goes_after_the_fix_and_the_notice_shows_once_to_each_admin(
    admin_page, live_server, connected_oa, shots
):
    OfficialAccount.objects.filter(pk=connected_oa.pk).update(
        status=OfficialAccount.Status.EXPIRED, last_error="Zalo rejected the refresh token."
    )
    connected_oa.refresh_from_db()
    health_refresh(oa=connected_oa)
    assert Incident.objects.filter(oa=connected_oa, resolved_at=None).exists()
    pages = {language: admin_page(language, f"admin-{language}") for language in LOCALES}
    for language, page in pages.items():
        page.goto(f"{live_server.url}/admin/")
        # Each admin should see the red banner, in their language.
        red = page.locator("#health-banner .dx-alert-red")
        assert red.count() == 1 and "Support OA" in red.inner_text()
        assert _in(language, "Token / authorization") in red.inner_text()
        page.screenshot(path=str(shots / f"banner-red-{language}.png"), full_page=True)
    # The fix: authorize the account again (the flow itself: test_authorize.py). Nobody
    # presses Recompute, and the periodic job does not run.
    oauth_complete(app_id=connected_oa.app.app_id, params=consent(oauth_start(oa=connected_oa)))
    for language, page in pages.items():
        page.goto(f"{live_server.url}/admin/")
        # The red banner should be gone, and the recovery shown once...
        assert page.locator(".dx-alert-red").count() == 0
        notice = page.locator("#health-banner .dx-recovered")
        assert notice.count() == 1 and "Support OA" in notice.inner_text()
        path = shots / f"banner-recovered-{language}.png"
        page.screenshot(path=str(path), full_page=True)
        print(f"\nrecovered notice ({language}): {path}")
        # ... then never again for this admin.
        page.goto(f"{live_server.url}/admin/")
        assert page.locator("#health-banner").count() == 0


@pytest.mark.parametrize("language", ["en", "vi"])
def test_the_self_test_shows_whether_zalo_reaches_the_hub(
    admin_page, live_server, sandbox, sandbox_server, connected_oa, shots, language
):
    from zalohub.sandbox import customers

    # Zalo's console points the app's webhook at this hub; then Zalo unsubscribes it.
    customers.configure_webhooks(sandbox, hub=live_server.url, receipt_delay=None)
    scenarios = f"{sandbox_server.base_url}/_sandbox/scenarios/silent_webhook"
    httpx.post(scenarios, json={"app_id": APP_SUPPORT_ID}).raise_for_status()
    page = admin_page(language, f"admin-{language}")
    page.goto(f"{live_server.url}{HEALTH}?oa={connected_oa.pk}")
    card = page.locator(f"#oa-{connected_oa.pk}")
    card.locator("button.dx-selftest").click()
    card = page.locator(f"#oa-{connected_oa.pk}")
    # It should say it failed because Zalo holds no webhook URL, and turn the webhook red.
    assert card.locator(".dx-selftest-info").get_attribute("data-probe") == "failed"
    assert card.locator("details[data-check='webhook']").get_attribute("data-level") == "red"
    result = card.locator(".dx-selftest-result").inner_text()
    no_url = _in(
        language,
        "Zalo holds no webhook URL for this app (as after it unsubscribes an app whose webhook "
        "kept failing): nothing was delivered. Enter the Webhook URL in Zalo's console.",
    )
    assert no_url in result
    assert _in(language, "Test delivery asked of Zalo") in result
    page.screenshot(path=str(shots / f"selftest-failed-{language}.png"), full_page=True)
    # Zalo subscribes the app again: the self-test proves Zalo reaches the hub.
    httpx.request("DELETE", scenarios).raise_for_status()
    page.locator(f"#oa-{connected_oa.pk} button.dx-selftest").click()
    for _ in range(50):  # the delivery is settled on the next page load
        state = page.locator(f"#oa-{connected_oa.pk} .dx-selftest-info").get_attribute("data-probe")
        if state != "pending":
            break
        page.wait_for_timeout(100)
        page.reload()
    card = page.locator(f"#oa-{connected_oa.pk}")
    assert card.locator(".dx-selftest-info").get_attribute("data-probe") == "arrived"
    assert card.locator("details[data-check='webhook']").get_attribute("data-level") != "red"
    assert live_server.url in card.locator(".dx-selftest-result").inner_text()
    path = shots / f"selftest-arrived-{language}.png"
    page.screenshot(path=str(path), full_page=True)
    print(f"\nself-test, Zalo reaches the hub ({language}): {path}")
