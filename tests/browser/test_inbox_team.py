"""The team's inbox in headless Chromium (issue 19): two agents on a round-robin OA get
alternating new conversations live, with a browser notification; snoozed until the
customer writes, then reopened; a saved reply with its variables filled in; a note whose
mention notifies the colleague and never reaches Zalo; resolving a selection; the shortcuts."""

import re
import time
from collections.abc import Iterator

import pytest
from django.contrib.auth.models import Group, User
from playwright.sync_api import expect

from zalohub.core.roles import CS_AGENT
from zalohub.core.worker import WorkerProcess
from zalohub.events.models import Direction, Message
from zalohub.inbox.models import (
    Agent,
    AssignmentMode,
    Conversation,
    InboxPolicy,
    OAMembership,
    SavedReply,
)
from zalohub.sandbox import customers
from zalohub.sandbox.world import OA_SUPPORT_ID, SON_SUPPORT_USER_ID

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
LIVE = 10_000
CUSTOMERS = ["5830174629118340317", "5830174629118340528"]  # with Son: the OA's three
# Records what the page shows as browser notifications (the real constructor still runs).
RECORD_NOTIFICATIONS = """
window.__notified = [];
const Real = window.Notification;
window.Notification = function (title, options) {
  window.__notified.push(title);
  return new Real(title, options);
};
Object.defineProperty(window.Notification, "permission", { get: () => Real.permission });
window.Notification.requestPermission = (...args) => Real.requestPermission(...args);
"""


@pytest.fixture
def worker(sandbox, live_server, connected_oa, settings) -> Iterator[WorkerProcess]:
    settings.INBOX_STREAM_SECONDS = 8.0
    customers.configure_webhooks(sandbox, hub=live_server.url, receipt_delay=None)
    process = WorkerProcess(threads=1, poll_seconds=0.1, worker_id="team-test", scheduler=False)
    process.start()
    yield process
    process.stop(timeout=10)


@pytest.fixture
def open_inbox(browser, live_server, connected_oa) -> Iterator[object]:
    """``open_inbox(username, language="en")``: a CS agent of the Support OA, logged in,
    the inbox open, notifications allowed and recorded."""
    contexts = []

    def open_page(username: str, language: str = "en"):  # type: ignore[no-untyped-def]
        user = User.objects.filter(username=username).first()
        if user is None:
            user = User.objects.create_user(username, password="pw-" + username, is_staff=True)
            user.groups.set(Group.objects.filter(name=CS_AGENT))
            OAMembership.objects.create(user=user, oa=connected_oa)
        locale = {"en": "en-US", "vi": "vi-VN"}[language]
        context = browser.new_context(locale=locale, viewport={"width": 1400, "height": 900})
        context.grant_permissions(["notifications"], origin=live_server.url)
        context.add_init_script(RECORD_NOTIFICATIONS)
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(15_000)
        page.goto(f"{live_server.url}/admin/login/?next=/inbox/")
        page.fill("#id_username", username)
        page.fill("#id_password", "pw-" + username)
        page.click("input[type=submit]")
        page.wait_for_selector("#inbox")
        return page

    yield open_page
    for context in contexts:
        context.close()


def _writes(sandbox, text: str, user_id: str = SON_SUPPORT_USER_ID) -> None:
    customers.customer_send_message(sandbox, oa_id=OA_SUPPORT_ID, user_id=user_id, text=text)


def _online(*usernames: str) -> None:
    """Wait until each agent's open page has told the hub it is there (its stream)."""
    for _ in range(100):
        seen = Agent.objects.filter(user__username__in=usernames, last_seen_at__isnull=False)
        if seen.count() == len(usernames):
            return
        time.sleep(0.1)
    raise AssertionError(f"{usernames} never came online")


def _sent_texts(sandbox) -> list[str]:
    with sandbox.lock:
        return [m.message.get("text", "") for m in sandbox.mailbox.sent_messages()]


def test_round_robin_gives_two_agents_alternating_conversations_live(
    open_inbox, sandbox, worker, connected_oa, live_server, output_dir
):
    InboxPolicy.objects.create(oa=connected_oa, assignment=AssignmentMode.ROUND_ROBIN)
    mine = f"{live_server.url}/inbox/?oa=all&scope=mine"
    lan, hoa = open_inbox("lan"), open_inbox("hoa")
    lan.goto(mine)
    hoa.goto(mine)
    _online("lan", "hoa")
    for n, user_id in enumerate([*CUSTOMERS, SON_SUPPORT_USER_ID]):
        _writes(sandbox, f"Khách số {n + 1} hỏi giá", user_id=user_id)
        for _ in range(100):
            if Conversation.objects.filter(zalo_user_id=user_id, assigned_to__isnull=False):
                break
            lan.wait_for_timeout(100)
    holders = [
        Conversation.objects.get(zalo_user_id=u).assigned_to.username
        for u in [*CUSTOMERS, SON_SUPPORT_USER_ID]
    ]
    # It should alternate between the two agents...
    assert holders == ["lan", "hoa", "lan"]
    # ...and each should see their own in "Mine" without a reload,
    for page, count in ((lan, 2), (hoa, 1)):
        expect(page.locator("#conversation-list .ib-row")).to_have_count(count, timeout=LIVE)
        expect(page.locator("#conversation-list")).to_contain_text("Khách số")
        # with a browser notification for each.
        page.wait_for_function(f"window.__notified.length >= {count}", timeout=LIVE)
        assert page.evaluate("window.__notified") == ["A conversation was assigned to you"] * count
    lan.screenshot(path=str(output_dir / "team-round-robin-lan.png"), full_page=True)
    hoa.screenshot(path=str(output_dir / "team-round-robin-hoa.png"), full_page=True)


def test_snoozed_until_the_customer_writes_then_reopens(open_inbox, sandbox, worker, output_dir):
    page = open_inbox("lan")
    _writes(sandbox, "Để tôi hỏi lại vợ đã")
    page.locator("#conversation-list .ib-row a").first.click(timeout=LIVE)
    expect(page.locator("#conversation-status")).to_have_text("Open")
    page.select_option("#snooze-until", "customer")
    page.click("#snooze")
    # It should say snoozed until the customer writes, in the header and the timeline.
    expect(page.locator("#conversation-status")).to_have_text(
        "Snoozed · until the customer writes", timeout=LIVE
    )
    expect(page.locator("#messages .ib-event").last).to_contain_text(
        "lan set the status to Snoozed (until the customer writes)"
    )
    expect(page.locator("#status-snoozed .ib-tab-count")).to_have_text("1", timeout=LIVE)
    page.screenshot(path=str(output_dir / "team-snoozed.png"), full_page=True)
    # The customer writes: it should be open again, live, and say why.
    _writes(sandbox, "Vợ tôi đồng ý rồi, đặt hàng nhé")
    expect(page.locator("#conversation-status")).to_have_text("Open", timeout=LIVE)
    expect(page.locator("#messages")).to_contain_text("Reopened: the customer wrote")
    expect(page.locator("#messages")).to_contain_text("đặt hàng nhé")
    expect(page.locator("#status-snoozed .ib-tab-count")).to_have_text("0", timeout=LIVE)
    page.screenshot(path=str(output_dir / "team-reopened.png"), full_page=True)


def test_a_saved_reply_fills_in_its_variables(
    open_inbox, sandbox, worker, connected_oa, output_dir
):
    SavedReply.objects.create(
        shortcut="chao", text="Dạ em chào {{customer_name}}, em là {{agent_name}} của {{oa_name}}."
    )
    SavedReply.objects.create(shortcut="gia", text="Dạ em gửi bảng giá ạ.")
    page = open_inbox("lan")
    User.objects.filter(username="lan").update(first_name="Lan", last_name="Nguyễn")
    _writes(sandbox, "Chào shop")
    page.locator("#conversation-list .ib-row a").first.click(timeout=LIVE)
    name = page.locator("#thread-name").inner_text()
    # It should offer the replies matching what follows "/"...
    page.type("#reply-text", "/ch")
    menu = page.locator("#saved-menu li")
    expect(menu).to_have_count(1)
    expect(menu.first).to_contain_text("/chao")
    page.screenshot(path=str(output_dir / "team-saved-reply.png"), full_page=True)
    # ...insert it on Enter with the variables filled in, and send it on the next Enter.
    page.press("#reply-text", "Enter")
    filled = f"Dạ em chào {name}, em là Lan Nguyễn của {connected_oa.name}."
    expect(page.locator("#reply-text")).to_have_value(filled)
    page.press("#reply-text", "Enter")
    expect(page.locator("#reply-text")).to_have_value("")
    expect(page.locator(".ib-out .ib-status").last).to_have_text("Sent", timeout=LIVE)
    assert _sent_texts(sandbox) == [filled]


def test_a_note_mentions_a_colleague_who_is_notified_and_zalo_receives_nothing(
    open_inbox, sandbox, worker, output_dir
):
    lan, hoa = open_inbox("lan"), open_inbox("hoa")
    _writes(sandbox, "Tôi muốn đổi size áo")
    lan.locator("#conversation-list .ib-row a").first.click(timeout=LIVE)
    hoa.reload()
    lan.click("#mode-note")
    lan.fill("#note-text", "@hoa chị xem giúp kho còn size L không?")
    lan.press("#note-text", "Enter")
    # It should show the private note in the thread...
    note = lan.locator("#messages .ib-note")
    expect(note).to_contain_text("Private note by lan", timeout=LIVE)
    expect(note).to_contain_text("kho còn size L")
    lan.screenshot(path=str(output_dir / "team-note.png"), full_page=True)
    # ...tell hoa live, with a browser notification...
    expect(hoa.locator("#mentions")).to_contain_text("lan mentioned you", timeout=LIVE)
    hoa.wait_for_function("window.__notified.length >= 1", timeout=LIVE)
    assert hoa.evaluate("window.__notified") == ["lan mentioned you in a note"]
    hoa.screenshot(path=str(output_dir / "team-mentioned.png"), full_page=True)
    # ...and send nothing to Zalo.
    lan.wait_for_timeout(500)
    assert _sent_texts(sandbox) == []
    assert not Message.objects.filter(direction=Direction.OUTBOUND).exists()
    # Opening the conversation reads the mention.
    hoa.locator("#mentions a").first.click()
    expect(hoa.locator("#messages .ib-note")).to_contain_text("kho còn size L")
    expect(hoa.locator("#mentions")).to_have_text("")


def test_resolving_a_selection_and_the_keyboard(open_inbox, sandbox, worker, output_dir):
    page = open_inbox("lan")
    for user_id in CUSTOMERS[:2]:
        _writes(sandbox, "Cảm ơn shop", user_id=user_id)
    rows = page.locator("#conversation-list .ib-row")
    expect(rows).to_have_count(2, timeout=LIVE)
    # It should list the shortcuts on "?".
    page.keyboard.press("?")
    expect(page.locator("#shortcuts")).to_be_visible()
    expect(page.locator("#shortcuts")).to_contain_text("Next conversation")
    page.screenshot(path=str(output_dir / "team-shortcuts.png"), full_page=True)
    page.keyboard.press("Escape")
    expect(page.locator("#shortcuts")).to_be_hidden()
    # "j" opens the first conversation, "e" resolves it.
    page.keyboard.press("j")
    page.wait_for_selector("#status-bar")
    page.keyboard.press("e")
    expect(page.locator("#conversation-status")).to_have_text("Resolved", timeout=LIVE)
    expect(rows).to_have_count(1, timeout=LIVE)
    # Tick the other one and resolve the selection.
    rows.first.locator(".ib-pick").check()
    page.click("#resolve-selected")
    expect(page.locator("#no-conversations")).to_be_visible(timeout=LIVE)
    expect(page.locator("#status-resolved .ib-tab-count")).to_have_text("2")
    assert set(Conversation.objects.values_list("status", flat=True)) == {"resolved"}


def test_the_team_inbox_in_vietnamese(open_inbox, sandbox, worker, output_dir):
    page = open_inbox("lan", language="vi")
    _writes(sandbox, "Shop ơi")
    page.locator("#conversation-list .ib-row a").first.click(timeout=LIVE)
    expect(page.locator("#conversation-status")).to_have_text("Đang mở")
    expect(page.locator("#resolve")).to_have_text("Xử lý xong")
    page.select_option("#snooze-until", "1h")
    page.click("#snooze")
    expect(page.locator("#conversation-status")).to_contain_text("Tạm ẩn", timeout=LIVE)
    expect(page.locator("#status-tabs")).to_contain_text("Tạm ẩn")
    page.click("#mode-note")
    expect(page.locator("#note-send")).to_have_text("Thêm ghi chú")
    page.screenshot(path=str(output_dir / "team-vi.png"), full_page=True)


def test_the_reports_page_shows_times_and_exports_csv(
    open_inbox, sandbox, worker, live_server, output_dir
):
    page = open_inbox("lan")
    _writes(sandbox, "Cho tôi hỏi giá máy lọc nước")
    page.locator("#conversation-list .ib-row a").first.click(timeout=LIVE)
    page.fill("#reply-text", "Dạ 5 triệu ạ")
    page.press("#reply-text", "Enter")
    expect(page.locator(".ib-out .ib-status").last).to_have_text("Sent", timeout=LIVE)
    page.click("#resolve")
    expect(page.locator("#conversation-status")).to_have_text("Resolved", timeout=LIVE)
    # It should count lan's conversation, reply and resolution, and draw both charts.
    page.click("#reports-link")
    expect(page.locator("#reports h1")).to_have_text("How fast customers are answered")
    row = page.locator("#report-agents tbody tr", has_text="lan")
    expect(row.locator("td")).to_have_text(
        ["1", "1", re.compile(r"\d+ s"), re.compile(r"\d+ s"), "1", "0"]
    )
    expect(page.locator("#chart-volume rect.a")).to_have_count(7)
    assert page.locator("#chart-volume rect.a").last.get_attribute("height") not in ("0", None)
    page.screenshot(path=str(output_dir / "team-reports.png"), full_page=True)
    # It should export the same days as CSV.
    with page.expect_download() as download:
        page.click("#report-csv")
    lines = download.value.path().read_text().splitlines()
    assert lines[0].startswith("day,new_conversations,resolved") and len(lines) == 8
    assert lines[-1].split(",")[1:3] == ["1", "1"]
