"""The admin sees which variant of Zalo's webhook signature the deliveries match, on the
Zalo app and on the OA (issue 16 §5), in headless Chromium. Screenshot:
test-output/signature/."""

import pytest
from django.test import Client

from tests.helpers import fixture, post_webhook
from zalohub.events.ingestion import receive
from zalohub.sandbox.world import demo_world

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_an_admin_sees_the_signature_variant_zalo_uses(
    admin_page, live_server, connected_oa, output_dir
):
    page = admin_page("en")
    app = connected_oa.app
    # Before any delivery: nothing matched yet, said so.
    page.goto(f"{live_server.url}/admin/accounts/zaloapp/{app.pk}/change/")
    assert "None yet" in page.locator(".field-webhook_mac_display").inner_text()
    # Zalo signs a delivery with the app secret key (one of API.md's variants).
    receive.forget_cached_lookups()
    app_secret = demo_world()["apps"][0]["secret_key"]
    raw = fixture("follow__official")
    assert post_webhook(Client(), app.app_id, raw, key=app_secret).status_code == 200
    for url in (
        f"/admin/accounts/zaloapp/{app.pk}/change/",
        f"/admin/accounts/officialaccount/{connected_oa.pk}/change/",
    ):
        page.goto(f"{live_server.url}{url}")
        shown = page.locator("#webhook-mac-variant")
        # It should name the variant on the app's page and on its OA's.
        assert shown.inner_text() == "App ID + app secret key"
        assert shown.get_attribute("data-variant") == "app_id+app_key"
        assert "last matched" in page.locator(".field-webhook_mac_display").inner_text()
    path = output_dir / "signature"
    path.mkdir(exist_ok=True)
    page.screenshot(path=str(path / "oa_signature_variant.png"), full_page=True)
