"""The inbox in headless Chromium: a customer writes and the message appears live; the
agent answers and sees Delivered then Read; a failed send shows why and Resend works;
an agent cannot open the inbox of an OA they are not a member of."""

import re
from collections.abc import Iterator

import httpx
import pytest
from django.contrib.auth.models import Group, User
from playwright.sync_api import expect

from zalohub.accounts.models import OfficialAccount
from zalohub.core.roles import CS_AGENT
from zalohub.core.worker import WorkerProcess
from zalohub.events.models import Direction, Message
from zalohub.inbox.models import Conversation, OAMembership
from zalohub.sandbox import customers, pictures
from zalohub.sandbox.world import OA_SUPPORT_ID, SON_SUPPORT_USER_ID

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
LIVE = 10_000  # ms: generous deadline for "appears live" (the promise is two seconds)
MAI = "5830174629118340317"


@pytest.fixture
def worker(sandbox, live_server, connected_oa, settings) -> Iterator[WorkerProcess]:
    """The sandbox delivers webhooks to this live server; a worker processes and sends."""
    settings.INBOX_STREAM_SECONDS = 8.0  # streams end and reconnect during the test too
    customers.configure_webhooks(sandbox, hub=live_server.url, receipt_delay=None)
    process = WorkerProcess(threads=1, poll_seconds=0.1, worker_id="inbox-test", scheduler=False)
    process.start()
    yield process
    process.stop(timeout=10)


def _log_in(page, live_server, username: str) -> None:
    page.goto(f"{live_server.url}/admin/login/?next=/inbox/")
    page.fill("#id_username", username)
    page.fill("#id_password", "pw-" + username)
    page.click("input[type=submit]")
    page.wait_for_selector("#inbox")


@pytest.fixture
def agent_page(page, live_server, agent, connected_oa):
    OAMembership.objects.create(user=agent, oa=connected_oa)
    _log_in(page, live_server, "agent")
    return page


@pytest.fixture
def colleague_page(browser, live_server, connected_oa) -> Iterator[object]:
    """A second CS agent of the same OA, in a browser context of their own."""
    colleague = User.objects.create_user("lan", password="pw-lan", is_staff=True)
    colleague.groups.set(Group.objects.filter(name=CS_AGENT))
    OAMembership.objects.create(user=colleague, oa=connected_oa)
    context = browser.new_context(locale="en-US", viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(15_000)
    _log_in(page, live_server, "lan")
    yield page
    context.close()


def _customer_writes(sandbox, text: str, user_id: str = SON_SUPPORT_USER_ID) -> None:
    customers.customer_send_message(sandbox, oa_id=OA_SUPPORT_ID, user_id=user_id, text=text)


def _last_outbound() -> Message:
    return Message.objects.filter(direction=Direction.OUTBOUND).latest("id")


def test_it_shows_messages_live_and_the_answer_delivered_then_read(
    agent_page, sandbox, worker, connected_oa, output_dir
):
    page = agent_page
    # It should show a new conversation in the list without a reload.
    _customer_writes(sandbox, "Xin chào, tôi cần báo giá máy lọc nước")
    rows = page.locator("#conversation-list .ib-row")
    expect(rows.first).to_contain_text("báo giá máy lọc nước", timeout=LIVE)
    expect(rows.first.locator(".ib-count")).to_have_text("1")
    _customer_writes(sandbox, "Chị Mai hỏi về bảo hành", user_id=MAI)
    expect(rows.first).to_contain_text("bảo hành", timeout=LIVE)
    page.screenshot(path=str(output_dir / "inbox-list.png"), full_page=True)

    # It should open the thread, mark it read, and add new messages live.
    rows.filter(has_text="báo giá").locator("a").click()
    page.wait_for_selector("#reply-text")
    expect(page.locator("#reply-window")).to_contain_text("Free reply window")
    _customer_writes(sandbox, "Giao hàng trong bao lâu?")
    messages = page.locator("#messages")
    expect(messages).to_contain_text("Giao hàng trong bao lâu?", timeout=LIVE)
    expect(messages.locator(".ib-in .ib-group-head")).to_have_count(1)  # grouped

    # It should send on Enter, keep Shift+Enter as a new line.
    page.fill("#reply-text", "Dạ, máy lọc nước giá 5 triệu.")
    page.press("#reply-text", "Shift+Enter")
    page.type("#reply-text", "Giao trong 2 ngày ạ.")
    page.press("#reply-text", "Enter")
    expect(page.locator("#reply-text")).to_have_value("")
    sent = None
    for _ in range(100):
        sent = Message.objects.filter(direction=Direction.OUTBOUND).first()
        if sent and sent.zalo_msg_id:
            break
        page.wait_for_timeout(100)
    assert sent is not None and sent.text == "Dạ, máy lọc nước giá 5 triệu.\nGiao trong 2 ngày ạ."
    status = page.locator(f"#m-{sent.pk} .ib-status")
    expect(status).to_have_text("Sent", timeout=LIVE)
    # The sandbox (Zalo) received it, for this customer.
    with sandbox.lock:
        mailbox = sandbox.mailbox.sent_messages(user_id=SON_SUPPORT_USER_ID)
    assert [m.message_id for m in mailbox] == [sent.zalo_msg_id]

    # It should show Delivered, then Read, as the customer's phone reports them.
    customers.send_receipts(sandbox, message_ids=[sent.zalo_msg_id], seen=False)
    expect(status).to_have_text("Delivered", timeout=LIVE)
    assert "Delivered at" in (status.get_attribute("title") or "")
    customers.send_receipts(sandbox, message_ids=[sent.zalo_msg_id], seen=True)
    expect(status).to_have_text("Read", timeout=LIVE)
    assert "Read at" in (status.get_attribute("title") or "")
    page.screenshot(path=str(output_dir / "inbox-thread.png"), full_page=True)


def test_it_shows_why_a_send_failed_and_resends(agent_page, sandbox, worker, output_dir):
    page = agent_page
    _customer_writes(sandbox, "Alo shop ơi")
    page.locator("#conversation-list .ib-row a").first.click(timeout=LIVE)
    page.wait_for_selector("#reply-text")

    # It should refuse a file Zalo would refuse, before uploading it.
    page.set_input_files(
        "#reply-file",
        files=[
            {
                "name": "setup.exe",
                "mimeType": "application/x-msdownload",
                "buffer": b"MZ" + b"\0" * 100,
            }
        ],
    )
    expect(page.locator("#reply-error")).to_contain_text("Zalo accepts JPG or PNG images and PDF")
    # It should refuse an empty message.
    page.press("#reply-text", "Enter")
    expect(page.locator("#reply-error")).to_have_text("The message is empty.")

    # Zalo refuses the next send once.
    sandbox.add_fault("oa.message.cs", "zalo_error", code=-230, times=1)
    page.fill("#reply-text", "Dạ shop đây ạ")
    page.click("#reply-send")
    expect(page.locator(".ib-status-failed")).to_have_text("Failed", timeout=LIVE)
    failed = _last_outbound()
    status = page.locator(f"#m-{failed.pk} .ib-status")
    # It should give the reason in the tooltip and under the message.
    assert re.search(r"-230|interacted", status.get_attribute("title") or "")
    expect(page.locator(f"#m-{failed.pk} .ib-failure")).to_contain_text("-230")
    page.screenshot(path=str(output_dir / "inbox-failed.png"), full_page=True)

    # It should send it again on Resend.
    page.locator(f"#m-{failed.pk} button.resend").click()
    expect(status).to_have_text("Sent", timeout=LIVE)
    with sandbox.lock:
        texts = [m.message.get("text") for m in sandbox.mailbox.sent_messages()]
    assert texts == ["Dạ shop đây ạ"]
    page.screenshot(path=str(output_dir / "inbox-resent.png"), full_page=True)


def test_it_keeps_an_agent_out_of_an_oa_they_are_not_a_member_of(
    agent_page, live_server, zalo_app, output_dir
):
    page = agent_page
    sales = OfficialAccount.objects.create(app=zalo_app, name="Sales", oa_id="4310500000000000002")
    # It should not list the OA...
    expect(page.locator("#oa-nav")).not_to_contain_text("Sales")
    # ...and answer it, asked for by address, as an address that does not exist (404:
    # a guessed id confirms nothing), on a page of the hub's own.
    response = page.goto(f"{live_server.url}/inbox/?oa={sales.pk}")
    assert response is not None and response.status == 404
    expect(page.locator("#not-found")).to_contain_text("nothing at this address")
    page.screenshot(path=str(output_dir / "inbox-denied.png"), full_page=True)
    # An admin adds the agent: the OA opens.
    OAMembership.objects.create(user=User.objects.get(username="agent"), oa=sales)
    response = page.goto(f"{live_server.url}/inbox/?oa={sales.pk}")
    assert response is not None and response.status == 200
    expect(page.locator("#oa-nav a.selected")).to_contain_text("Sales")


def test_it_takes_releases_and_assigns_and_a_colleague_sees_each_live(
    agent_page, colleague_page, live_server, sandbox, worker, output_dir
):
    page, other = agent_page, colleague_page
    _customer_writes(sandbox, "Cho tôi hỏi giá")
    page.locator("#conversation-list .ib-row a").first.click(timeout=LIVE)
    page.wait_for_selector("#assignment")
    conversation = Conversation.objects.get()
    other.goto(f"{live_server.url}/inbox/c/{conversation.pk}/")
    expect(other.locator("#assignee")).to_have_text("Unassigned")

    # It should take the conversation (the form posts to its own address, not a 404)...
    page.click("#take")
    expect(page.locator("#assignee")).to_have_text("Assigned to agent", timeout=LIVE)
    expect(page.locator("#release")).to_be_visible()
    expect(page.locator("#reply-error")).to_have_text("")
    assert Conversation.objects.get().assigned_to.username == "agent"
    # ...and the colleague's open page should say so without a reload.
    expect(other.locator("#assignee")).to_have_text("Assigned to agent", timeout=LIVE)
    expect(other.locator("#conversation-list .ib-row-meta")).to_contain_text("agent")
    other.screenshot(path=str(output_dir / "inbox-taken-seen-by-colleague.png"), full_page=True)

    # It should release it, seen live by the colleague.
    page.click("#release")
    expect(page.locator("#assignee")).to_have_text("Unassigned", timeout=LIVE)
    assert Conversation.objects.get().assigned_to is None
    expect(other.locator("#assignee")).to_have_text("Unassigned", timeout=LIVE)

    # It should hand it to the colleague, whose page then offers to release it.
    page.select_option("#assign-user", label="lan")
    page.locator(".ib-assign-to button").click()
    expect(page.locator("#assignee")).to_have_text("Assigned to lan", timeout=LIVE)
    assert Conversation.objects.get().assigned_to.username == "lan"
    expect(other.locator("#assignee")).to_have_text("Assigned to lan", timeout=LIVE)
    expect(other.locator("#release")).to_be_visible()
    other.screenshot(path=str(output_dir / "inbox-assigned-to-colleague.png"), full_page=True)


def test_it_shows_a_reply_retrying_while_zalo_fails(
    agent_page, sandbox_server, sandbox, worker, settings, output_dir
):
    page = agent_page
    settings.EVENTS_RETRY_BASE_SECONDS = 1.0
    _customer_writes(sandbox, "Shop ơi, còn hàng không?")
    page.locator("#conversation-list .ib-row a").first.click(timeout=LIVE)
    page.wait_for_selector("#reply-text")
    scenarios = f"{sandbox_server.base_url}/_sandbox/scenarios/zalo_5xx"
    assert httpx.post(scenarios, json={}, timeout=5).status_code in (200, 201)

    page.fill("#reply-text", "Dạ còn ạ")
    page.press("#reply-text", "Enter")
    # It should say the reply is retrying, which attempt failed, and when the next is...
    retrying = page.locator(".ib-retrying")
    expect(retrying).to_contain_text(
        re.compile(rf"Retrying, attempt \d of {settings.EVENTS_MAX_ATTEMPTS}, next at \d\d:\d\d"),
        timeout=LIVE,
    )
    expect(page.locator(".ib-status-pending")).to_have_text("Retrying")
    assert "503" in (page.locator(".ib-status-pending").get_attribute("title") or "")
    # ...and count the attempts up live, as Zalo keeps failing.
    expect(retrying).to_have_attribute("data-attempts", re.compile(r"[2-8]"), timeout=LIVE)
    page.screenshot(path=str(output_dir / "inbox-retrying.png"), full_page=True)

    # Zalo recovers: the next attempt goes through and the line goes.
    assert httpx.delete(scenarios, timeout=5).status_code == 200
    expect(page.locator(".ib-status").last).to_have_text("Sent", timeout=LIVE * 2)
    expect(retrying).to_have_count(0)


def test_it_shows_the_customers_pictures_and_a_thumbnail_of_a_sent_one(
    agent_page, sandbox, worker, output_dir
):
    page = agent_page
    customers.customer_send_message(
        sandbox, oa_id=OA_SUPPORT_ID, user_id=SON_SUPPORT_USER_ID, kind="image", text="Mẫu này"
    )
    page.locator("#conversation-list .ib-row a").first.click(timeout=LIVE)
    page.wait_for_selector("#reply-text")
    # It should show the customer's photo as a picture (it was a 1-pixel placeholder).
    photo = page.locator(".ib-in img.ib-img")
    expect(photo).to_be_visible(timeout=LIVE)
    page.wait_for_function(
        "img => img.complete && img.naturalWidth > 0", arg=photo.element_handle()
    )
    assert photo.evaluate("img => [img.naturalWidth, img.naturalHeight]") == [320, 240]

    # It should show an image the agent sends as a thumbnail, not just its file name.
    page.set_input_files(
        "#reply-file",
        files=[
            {"name": "mau-moi.png", "mimeType": "image/png", "buffer": pictures.landscape("mau")}
        ],
    )
    page.click("#reply-send")
    sent = page.locator(".ib-out img.ib-img")
    expect(sent).to_be_visible(timeout=LIVE)
    page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=sent.element_handle())
    assert sent.evaluate("img => img.naturalWidth") == 320
    box = sent.bounding_box()
    assert box is not None and 0 < box["width"] <= 260 and box["height"] <= 220  # a thumbnail
    expect(page.locator(".ib-out .ib-status").last).to_have_text("Sent", timeout=LIVE)
    page.screenshot(path=str(output_dir / "inbox-pictures.png"), full_page=True)
