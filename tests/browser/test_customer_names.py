"""Customers have names (issue 14 §3), in a real browser: once the worker has fetched a
new customer's Zalo profile, Zalo Events and the OA's Zalo Partners list show the name
and avatar, the Zalo user id on hover, in English and Vietnamese."""

import json
import time

import pytest
from django.contrib.auth.models import Group, User
from django.core.management import call_command
from django.test import Client

from tests.helpers import post_webhook
from zalohub.core.roles import ZALO_ADMIN, ZALO_EVENTS
from zalohub.events.processing.queue import drain
from zalohub.sandbox import payloads
from zalohub.sandbox.world import OA_SUPPORT_ID

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

MAI = "5830174629118340317"


def _mai_writes(app) -> None:
    event = payloads.user_send(
        app_id=app.app_id,
        oa_id=OA_SUPPORT_ID,
        user_id=MAI,
        by_app="3104458812290779917",
        kind="text",
        msg_id=f"m{time.monotonic_ns()}",
        timestamp=str(int(time.time() * 1000)),
        text="Cho tôi hỏi đơn hàng #88213",
    )
    response = post_webhook(Client(), app.app_id, json.dumps(event), key=app.oa_secret_key)
    assert response.status_code == 200


@pytest.mark.parametrize(("language", "locale"), [("en", "en-US"), ("vi", "vi-VN")])
def test_events_and_partner_links_show_the_customers_name(
    browser, live_server, sandbox, connected_oa, zalo_app, output_dir, language, locale
):
    _mai_writes(zalo_app)
    drain()
    # What a worker does: run the queued tasks (here, the new customer's profile fetch).
    call_command(
        "db_worker", queue_name="*", batch=True, reload=False, startup_delay=False, verbosity=0
    )
    user = User.objects.create_user("it-admin", password="pw-it-admin", is_staff=True)
    user.groups.set(Group.objects.filter(name__in=[ZALO_ADMIN, ZALO_EVENTS]))
    context = browser.new_context(locale=locale, viewport={"width": 1400, "height": 900})
    page = context.new_page()
    page.set_default_timeout(15_000)
    try:
        page.goto(f"{live_server.url}/admin/login/")
        page.fill("#id_username", "it-admin")
        page.fill("#id_password", "pw-it-admin")
        page.click("input[type=submit]")
        page.wait_for_selector("#user-tools")
        page.goto(f"{live_server.url}/admin/events/zaloevent/")
        cell = page.locator("#result_list td.field-customer a.zh-customer").first
        # It should name the customer in the list, the id on hover, not the id itself.
        assert cell.inner_text() == "Trần Thị Mai"
        assert MAI in cell.get_attribute("title")
        choice = page.locator(f"#changelist-filter a[title*='{MAI}']").first
        assert choice.inner_text() == "Trần Thị Mai"
        cell.hover()
        page.screenshot(path=output_dir / f"customer-names-events-{language}.png")
        # It should show the Zalo name and avatar on the OA's Zalo Partners list.
        page.goto(
            f"{live_server.url}/admin/partners/zalopartnerlink/?oa__id__exact={connected_oa.pk}"
        )
        row = page.locator("#result_list tbody tr").first
        assert "Trần Thị Mai" in row.inner_text()
        avatar = row.locator("img.link-avatar")
        # The avatar is the sandbox's picture, loaded by the browser.
        assert avatar.evaluate("img => img.complete && img.naturalWidth > 0")
        page.screenshot(path=output_dir / f"customer-names-partner-links-{language}.png")
    finally:
        context.close()
