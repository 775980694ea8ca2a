"""ZBS templates in a real browser: Draft → Submit → Rejected (reason shown) → Reset →
Submit → Approved → Send, with the sandbox as Zalo's reviewer. Screenshots are saved."""

import pytest
from django.contrib.auth.models import Group, User
from django.utils import timezone

from zalohub.core.roles import ZALO_ADMIN, ZALO_EVENTS
from zalohub.events.models import Direction, ProcessingState, ZaloEvent
from zalohub.events.processing.queue import drain
from zalohub.partners.models import LinkMethod, Partner, PartnerPhone, ZaloPartnerLink
from zalohub.sandbox import reviewer
from zalohub.sandbox.customers import configure_webhooks
from zalohub.sandbox.world import SON_PHONE, SON_SUPPORT_USER_ID
from zalohub.zbs.delivery import deliver_template
from zalohub.zbs.models import Template

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
PARAMS = [
    {"name": "order_code", "type": 4, "sample": "DH001"},
    {"name": "customer_name", "type": 1, "sample": "Sơn"},
]


def _login(page, live_server) -> None:
    user = User.objects.create_user("it-admin", password="pw-it-admin", is_staff=True)
    user.groups.set(Group.objects.filter(name__in=[ZALO_ADMIN, ZALO_EVENTS]))
    page.goto(f"{live_server.url}/admin/login/")
    page.fill("#id_username", "it-admin")
    page.fill("#id_password", "pw-it-admin")
    page.click("input[type=submit]")
    page.wait_for_selector("#user-tools")


def _zalo_says(sandbox) -> None:
    """Zalo's webhooks reach the live hub; a worker processes them."""
    assert sandbox.webhooks.wait_idle(10)
    drain()


def _status(page) -> str:
    return page.locator(".zbs-stage-current").inner_text()


def test_it_walks_a_template_from_draft_to_a_sent_message(
    page, live_server, sandbox, connected_oa, output_dir
):
    shots = output_dir / "zbs"
    shots.mkdir(exist_ok=True)
    print(f"\nScreenshots: {shots}")
    oa = connected_oa
    configure_webhooks(sandbox, hub=live_server.url, receipt_delay=None)
    son = Partner.objects.create(name="Nguyễn Văn Sơn", is_shadow=False)
    PartnerPhone.objects.create(partner=son, number=SON_PHONE, source="manual", verified=True)
    ZaloPartnerLink.objects.create(
        partner=son,
        oa=oa,
        app=oa.app,
        zalo_user_id=SON_SUPPORT_USER_ID,
        is_shadow=False,
        link_method=LinkMethod.MANUAL,
    )
    _login(page, live_server)
    page.goto(f"{live_server.url}/admin/accounts/officialaccount/{oa.pk}/change/")
    page.click("#btn-zbs-templates")
    page.wait_for_selector("#btn-starters")
    page.screenshot(path=str(shots / "0-templates-list.png"), full_page=True)
    page.click(".object-tools a.addlink")
    page.select_option("#id_oa", str(oa.pk))
    page.fill("#id_name", "Xác nhận đơn hàng")
    page.fill("#id_body", "Đơn hàng <order_code> của <customer_name>: xem https://shop.vn")
    # The parameters are rows of the form (issue 14 §6), not JSON.
    for i, param in enumerate(PARAMS):
        page.fill(f"input[name=params-{i}-name]", param["name"])
        page.select_option(f"select[name=params-{i}-type]", str(param["type"]))
        page.fill(f"input[name=params-{i}-sample]", param["sample"])
    page.click("input[name=_continue]")
    page.wait_for_selector("#zbs-statusbar")
    # It should start as a Draft, and the lint should name the raw link.
    assert _status(page) == "Draft"
    page.click("#btn-lint")
    assert "link" in page.locator(".messagelist").inner_text()
    page.screenshot(path=str(shots / "1-draft-lint.png"), full_page=True)
    # Fix the content, save, submit.
    page.fill("#id_body", "Đơn hàng <order_code> của <customer_name> đã được xác nhận.")
    page.click("input[name=_continue]")
    page.click("#btn-submit")
    assert _status(page) == "Pending"
    page.screenshot(path=str(shots / "2-pending.png"), full_page=True)

    template = Template.objects.get(name="Xác nhận đơn hàng")
    reviewer.review(
        sandbox,
        template_id=template.zalo_template_id,
        decision="reject",
        reason="Logo không hợp lệ",
    )
    _zalo_says(sandbox)
    page.reload()
    # It should show Rejected with Zalo's Reject Reason.
    assert _status(page) == "Rejected"
    assert "Logo không hợp lệ" in page.locator("#zbs-reject-reason").inner_text()
    page.screenshot(path=str(shots / "3-rejected.png"), full_page=True)

    page.click("#btn-reset")
    assert _status(page) == "Draft"
    page.fill("#id_note", "Đã sửa logo")
    page.click("input[name=_continue]")
    page.click("#btn-submit")
    assert _status(page) == "Pending"
    reviewer.review(sandbox, template_id=template.zalo_template_id, decision="approve")
    _zalo_says(sandbox)
    page.reload()
    assert _status(page) == "Approved"
    page.screenshot(path=str(shots / "4-approved.png"), full_page=True)

    page.click("#btn-send")
    page.select_option("#id_partner", str(son.pk))
    page.fill("#id_param_order_code", "DH8821")
    page.fill("#id_param_customer_name", "Anh Sơn")
    page.select_option("#id_route_policy", "phone")
    page.click("#btn-preview")
    # It should preview the rendered message and its route before sending.
    preview = page.locator("#zbs-preview").inner_text()
    assert preview == "Đơn hàng DH8821 của Anh Sơn đã được xác nhận."
    assert SON_PHONE in page.locator("#zbs-route").inner_text()
    page.screenshot(path=str(shots / "5-preview.png"), full_page=True)
    page.click("#btn-confirm-send")
    page.wait_for_selector(".messagelist")

    event = ZaloEvent.objects.get(direction=Direction.OUTBOUND, event_name="oa_send_template")
    ZaloEvent.objects.filter(pk=event.pk).update(next_attempt_at=timezone.now())
    assert deliver_template(event_id=event.pk, worker_id="browser") == "sent"
    reviewer.deliver_all(sandbox)
    _zalo_says(sandbox)
    event.refresh_from_db()
    assert event.processing_state == ProcessingState.PROCESSED
    page.goto(f"{live_server.url}/admin/events/zaloevent/")
    page.wait_for_selector("#result_list")
    row = page.locator("#result_list tbody tr", has_text="oa_send_template")
    # It should show the send on the Zalo Events list, Received on the phone.
    assert row.count() == 1
    assert "Received" in row.inner_text()
    page.screenshot(path=str(shots / "6-zalo-events.png"), full_page=True)
