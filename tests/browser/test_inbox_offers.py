"""Once the free reply window has closed, the composer offers the OA's Approved templates
with the customer's fields filled, and one click sends one (issue 19), in headless
Chromium: what refuses the send says why and keeps the agent's values; the send reaches
the sandbox's ZNS with the values, shows in the thread with its Zalo State; a customer's
message reopens the window and the offer goes."""

from collections.abc import Iterator
from datetime import timedelta

import pytest
from django.contrib.auth.models import Group, User
from django.utils import timezone
from playwright.sync_api import expect

from tests.browser.hub import hub_worker, wait_for
from tests.zbs.conftest import make_template
from zalohub.core.roles import CS_AGENT
from zalohub.core.worker import WorkerProcess
from zalohub.events.models import Direction, Message, ZaloState
from zalohub.inbox.models import Conversation, OAMembership
from zalohub.partners.models import Partner, ZaloPartnerLink
from zalohub.sandbox import customers, reviewer
from zalohub.sandbox.world import OA_SUPPORT_ID, SON_SUPPORT_USER_ID
from zalohub.zbs.models import RoutePolicy, Template, ZbsSettings
from zalohub.zbs.services import oa_settings, template_submit

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
LIVE = 10_000  # ms

# What the agent reads, in each language (the Vietnamese from the catalogue).
WORDS = {
    "en": {
        "summary": "Send an approved template, filled from the customer",
        "send": "Send template",
        "phone": "no valid phone was found",
        "disabled": "is Disabled, not Approved",
        "quota": "quota for today is spent",
        "sent": "Sent",
    },
    "vi": {
        "summary": "Gửi mẫu đã duyệt, điền sẵn thông tin khách hàng",
        "send": "Gửi mẫu",
        "phone": "không tìm thấy số điện thoại hợp lệ",
        "disabled": "đang ở trạng thái Bị vô hiệu hóa, không phải Đã duyệt",
        "quota": "Hạn mức ZBS hôm nay của OA đã hết",
        "sent": "Đã gửi",
    },
}


@pytest.fixture
def worker(sandbox, live_server, connected_oa, settings) -> Iterator[WorkerProcess]:
    """The sandbox delivers webhooks to this live server; a worker processes and sends."""
    settings.INBOX_STREAM_SECONDS = 8.0
    with hub_worker(sandbox, live_server, "offers-test") as process:
        yield process


def _approved_template(sandbox, oa) -> Template:
    """Submitted through the hub, approved by the sandbox's reviewer, the status arriving
    as Zalo's webhook through the worker."""
    template = template_submit(template=make_template(oa))
    reviewer.review(sandbox, template_id=template.zalo_template_id, decision="approve")

    def approved() -> bool:
        template.refresh_from_db()
        return template.status == Template.Status.APPROVED

    wait_for(approved, "the template's approval")
    return template


def _close_the_window(sandbox, conversation: Conversation) -> None:
    """The customer last interacted 8 days ago, as Zalo's quota and the hub both say."""
    eight_days_ago = timezone.now() - timedelta(days=8)
    with sandbox.lock:
        sandbox.users[OA_SUPPORT_ID][SON_SUPPORT_USER_ID]["last_interaction"] = int(
            eight_days_ago.timestamp()
        )
    Conversation.objects.filter(pk=conversation.pk).update(last_inbound_at=eight_days_ago)
    ZaloPartnerLink.objects.filter(pk=conversation.partner_link_id).update(
        last_interaction_at=eight_days_ago
    )


def _zns_sends(sandbox) -> list:
    with sandbox.lock:
        return sandbox.zns.all_sends(OA_SUPPORT_ID)


@pytest.mark.parametrize("language", ["en", "vi"])
def test_a_closed_window_offers_filled_templates_and_one_click_sends(
    browser, live_server, sandbox, worker, connected_oa, output_dir, language
):
    words = WORDS[language]
    agent = User.objects.create_user("mai", password="pw-mai", is_staff=True)
    agent.groups.set(Group.objects.filter(name=CS_AGENT))
    OAMembership.objects.create(user=agent, oa=connected_oa)
    customers.customer_send_message(
        sandbox, oa_id=OA_SUPPORT_ID, user_id=SON_SUPPORT_USER_ID, text="Đơn của tôi sao rồi?"
    )
    conversation = wait_for(
        lambda: Conversation.objects.filter(zalo_user_id=SON_SUPPORT_USER_ID).first(),
        "the customer's conversation",
    )
    # The customer's record: a name and the ERP's order code; no phone.
    link = ZaloPartnerLink.objects.get(pk=conversation.partner_link_id)
    Partner.objects.filter(pk=link.partner_id).update(
        name="Nguyễn Văn Sơn", external_refs={"order_code": "DH8821"}
    )
    template = _approved_template(sandbox, connected_oa)
    _close_the_window(sandbox, conversation)

    context = browser.new_context(
        locale={"en": "en-US", "vi": "vi-VN"}[language], viewport={"width": 1400, "height": 900}
    )
    page = context.new_page()
    page.set_default_timeout(15_000)
    page.goto(f"{live_server.url}/admin/login/?next=/inbox/c/{conversation.pk}/")
    page.fill("#id_username", "mai")
    page.fill("#id_password", "pw-mai")
    page.click("input[type=submit]")
    page.wait_for_selector("#inbox")
    assert page.locator("html").get_attribute("lang") == language

    # It should offer the OA's Approved template, its parameters filled from the customer.
    expect(page.locator("#reply-window")).to_have_attribute("data-band", "closed")
    offers = page.locator("#window-offers")
    expect(offers).to_be_visible()
    expect(offers.locator("summary")).to_have_text(words["summary"])
    expect(page.locator("#offer-choice option")).to_have_text([template.name])
    form = page.locator("#offer-1")
    name, code = form.locator("[name=param_customer_name]"), form.locator("[name=param_order_code]")
    expect(name).to_have_value("Nguyễn Văn Sơn")
    expect(code).to_have_value("DH8821")
    expect(form.locator(".ib-offer-preview")).to_have_text(
        "Đơn hàng DH8821 của Nguyễn Văn Sơn đã được xác nhận."
    )
    # The agent edits a value; the preview follows.
    name.fill("Anh Sơn")
    expect(form.locator(".ib-offer-preview")).to_have_text(
        "Đơn hàng DH8821 của Anh Sơn đã được xác nhận."
    )
    send = form.get_by_role("button", name=words["send"])
    error = form.locator(".ib-offer-error")

    # It should refuse, say why and keep the agent's values, when the route policy needs a
    # phone the customer does not have, the template is no longer Approved, the quota is spent.
    settings_row = oa_settings(connected_oa)
    ZbsSettings.objects.filter(pk=settings_row.pk).update(route_policy=RoutePolicy.PHONE)
    send.click()
    expect(error).to_contain_text(words["phone"])
    ZbsSettings.objects.filter(pk=settings_row.pk).update(route_policy=RoutePolicy.UID_PHONE)
    Template.objects.filter(pk=template.pk).update(status=Template.Status.DISABLED)
    send.click()
    expect(error).to_contain_text(words["disabled"])
    Template.objects.filter(pk=template.pk).update(status=Template.Status.APPROVED)
    ZbsSettings.objects.filter(pk=settings_row.pk).update(remaining_quota=0, daily_quota=500)
    send.click()
    expect(error).to_contain_text(words["quota"])
    expect(name).to_have_value("Anh Sơn")
    expect(code).to_have_value("DH8821")
    assert _zns_sends(sandbox) == []
    assert not Message.objects.filter(kind=Message.Kind.TEMPLATE).exists()
    page.screenshot(path=str(output_dir / f"inbox-offer-refused-{language}.png"), full_page=True)

    # It should send in one click, by the customer's UID (the OA's policy: UID + Phone).
    ZbsSettings.objects.filter(pk=settings_row.pk).update(remaining_quota=None)
    send.click()
    expect(error).to_have_text("")
    [zalo_send] = wait_for(lambda: _zns_sends(sandbox) or None, "the sandbox's ZNS send")
    assert (zalo_send.channel, zalo_send.recipient) == ("uid", SON_SUPPORT_USER_ID)
    assert zalo_send.template_id == template.zalo_template_id
    assert zalo_send.template_data == {"order_code": "DH8821", "customer_name": "Anh Sơn"}
    sent = Message.objects.get(kind=Message.Kind.TEMPLATE)
    assert (sent.direction, sent.sent_by_id) == (Direction.OUTBOUND, agent.pk)

    # It should show the message in the thread, with its Zalo State, as any send.
    bubble = page.locator(f"#m-{sent.pk}")
    expect(bubble).to_contain_text("Đơn hàng DH8821 của Anh Sơn đã được xác nhận.", timeout=LIVE)
    expect(bubble.locator(".ib-status")).to_have_text(words["sent"], timeout=LIVE)
    sent.refresh_from_db()
    assert (sent.zalo_state, sent.zalo_msg_id) == (ZaloState.SENT, zalo_send.msg_id)
    page.screenshot(path=str(output_dir / f"inbox-offer-sent-{language}.png"), full_page=True)

    # A customer's message reopens the free window: the offer goes, live and on a new load.
    customers.customer_send_message(
        sandbox, oa_id=OA_SUPPORT_ID, user_id=SON_SUPPORT_USER_ID, text="Cảm ơn shop"
    )
    expect(page.locator("#reply-window")).to_have_attribute("data-band", "free", timeout=LIVE)
    expect(offers).to_be_hidden()
    page.reload()
    page.wait_for_selector("#reply-text")
    expect(page.locator("#reply-window")).to_have_attribute("data-band", "free")
    expect(page.locator("#window-offers")).to_have_count(0)
    context.close()
