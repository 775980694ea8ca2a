"""The health page in a real browser: an admin sees the broken OA first, red, with the
category, the next step and the evidence, opens the evidence and the escalation bundle."""

import pytest
from django.contrib.auth.models import Group, User
from django.utils import timezone

from zalohub.accounts.models import OfficialAccount
from zalohub.core.roles import ZALO_ADMIN, ZALO_EVENTS
from zalohub.events.outbound.oa_message import message_send, send_outbound
from zalohub.sandbox.world import SON_SUPPORT_USER_ID

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _login(page, live_server, username: str) -> None:
    page.goto(f"{live_server.url}/admin/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", f"pw-{username}")
    page.click("input[type=submit]")
    page.wait_for_selector("#user-tools")


def test_it_shows_the_broken_oa_first_with_its_evidence(
    page, live_server, sandbox, zalo_app, connected_oa, output_dir
):
    # Zalo refuses the recipient's phone three times: the Recipients check turns red.
    sandbox.add_fault("oa.message", "zalo_error", code=-108)
    for i in range(3):
        message = message_send(oa=connected_oa, user_id=SON_SUPPORT_USER_ID, text=f"Đơn {i}")
        send_outbound(event_id=message.events.get().pk, worker_id="test")
    OfficialAccount.objects.create(
        app=zalo_app, name="A healthy-to-be", status=OfficialAccount.Status.DRAFT
    )
    user = User.objects.create_user("it-admin", password="pw-it-admin", is_staff=True)
    user.groups.set(Group.objects.filter(name__in=[ZALO_ADMIN, ZALO_EVENTS]))

    _login(page, live_server, "it-admin")
    page.goto(f"{live_server.url}/admin/diagnostics/healthsnapshot/")
    cards = page.locator(".dx-card")
    # It should put the red OA first, though its name sorts last.
    assert cards.first.get_attribute("data-level") == "red"
    assert "Support OA" in cards.first.locator("h2").inner_text()
    recipients = cards.first.locator("details[data-check='recipients']")
    assert recipients.get_attribute("data-level") == "red"
    assert "Recipient not identified" in recipients.inner_text()
    assert "84xxxxxxxxx" in recipients.locator(".dx-step").inner_text()
    assert cards.first.locator("svg.dx-chart rect.fl").count() == 7
    # It should show the admins the alert banner on the page.
    page.locator("#btn-recompute").click()
    page.wait_for_selector("#health-banner")
    path = output_dir / f"health-{timezone.now():%Y%m%d-%H%M%S}.png"
    page.screenshot(path=str(path), full_page=True)
    print(f"\nhealth page screenshot: {path}")
    # It should open the failed deliveries that prove the check.
    page.locator(".dx-card").first.locator(
        "details[data-check='recipients'] a.dx-link"
    ).first.click()
    page.wait_for_selector("#result_list")
    assert page.locator("#result_list tbody tr").count() == 3
    # It should produce the escalation summary in one click from the card.
    page.go_back()
    page.locator(".dx-card").first.locator("a.dx-escalate").click()
    text = page.locator("#escalation-text").inner_text()
    assert "Support OA" in text and "Pre-escalation checklist" in text
    assert "Recipient not identified" in text
