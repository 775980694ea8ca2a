"""An admin authorizes both demo OAs in a real browser and sees them Connected."""

import pytest
from django.contrib.auth.models import Group, User

from zalohub.accounts.models import OfficialAccount
from zalohub.core.roles import ZALO_ADMIN
from zalohub.demo import seed_demo

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _login(page, live_server, username: str, password: str) -> None:
    page.goto(f"{live_server.url}/admin/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    page.click("input[type=submit]")


def test_an_admin_connects_both_demo_oas(page, live_server, sandbox, output_dir):
    seed_demo()
    user = User.objects.create_user("it-admin", password="pw-it-admin", is_staff=True)
    user.groups.set(Group.objects.filter(name=ZALO_ADMIN))
    _login(page, live_server, "it-admin", "pw-it-admin")
    for oa in OfficialAccount.objects.order_by("pk"):
        page.goto(f"{live_server.url}/admin/accounts/officialaccount/{oa.pk}/change/")
        # It should show a Draft OA with a red token icon and the console URLs.
        assert page.locator(".oa-stage-current").inner_text() == "Draft"
        assert page.locator(".token-bad").count() == 1
        assert page.input_value("#callback-url").endswith(f"/zalo/oauth/{oa.app.app_id}/callback/")
        assert page.input_value("#webhook-url").endswith(f"/zalo/webhook/{oa.app.app_id}/")
        page.click("#btn-authorize")
        # It should land on Zalo's (sandbox) consent page; the admin approves.
        page.wait_for_selector("#approve")
        page.check("input[name=oa_id] >> nth=0")
        page.click("#approve")
        # It should come back Connected, with a green icon and the synced profile.
        page.wait_for_selector(".oa-stage-current.oa-stage-connected")
        assert page.locator(".token-ok").count() == 1
        assert "is connected to Zalo" in page.locator(".messagelist").inner_text()
        oa.refresh_from_db()
        assert oa.status == OfficialAccount.Status.CONNECTED
        assert page.locator("#id_name").input_value() == oa.name
        assert page.locator("img.oa-avatar").count() == 1
        page.screenshot(path=str(output_dir / f"oa-connected-{oa.pk}.png"), full_page=True)
    names = set(OfficialAccount.objects.values_list("name", flat=True))
    assert names == {"Support OA", "Sales OA"}
    page.goto(f"{live_server.url}/admin/accounts/officialaccount/")
    page.screenshot(path=str(output_dir / "oa-list.png"), full_page=True)
    assert page.locator(".oa-status-connected").count() == 2
