"""Live updates in small parts (issue 19's latency), in headless Chromium: a customer's new
message is appended to the open thread and its row moved in the list while every other
node stays the one drawn before; a status change shows in the thread's top and timeline;
a thread that no longer matches the database is drawn whole again; the reply window
closing while the page is open brings the composer's template offers."""

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
from zalohub.events.models import Message
from zalohub.inbox import live, team
from zalohub.inbox.models import Conversation, OAMembership, Status
from zalohub.partners.models import ZaloPartnerLink
from zalohub.sandbox import customers, reviewer
from zalohub.sandbox.world import OA_SUPPORT_ID, SON_SUPPORT_USER_ID
from zalohub.zbs.models import Template
from zalohub.zbs.services import template_submit

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
LIVE = 10_000  # ms
MAI = "5830174629118340317"

# Marks nodes as they are now: a node redrawn since has no mark.
KEEP = "sel => { const n = document.querySelector(sel); n.__kept = true; return !!n; }"
KEPT = "sel => { const n = document.querySelector(sel); return !!(n && n.__kept && n.isConnected) }"


@pytest.fixture
def worker(sandbox, live_server, connected_oa, settings) -> Iterator[WorkerProcess]:
    """The sandbox delivers webhooks to this live server; a worker processes and sends."""
    settings.INBOX_STREAM_SECONDS = 60.0  # no reconnect (which draws all) during a test
    with hub_worker(sandbox, live_server, "parts-test") as process:
        yield process


def _writes(sandbox, text: str, user_id: str = SON_SUPPORT_USER_ID) -> Conversation:
    customers.customer_send_message(sandbox, oa_id=OA_SUPPORT_ID, user_id=user_id, text=text)
    return wait_for(
        lambda: Conversation.objects.filter(zalo_user_id=user_id, last_message__text=text).first(),
        f"the message {text!r} stored",
    )


@pytest.fixture
def agent_on(browser, live_server, connected_oa):  # type: ignore[no-untyped-def]
    """``agent_on(conversation)``: an agent's page open on that conversation."""
    user = User.objects.create_user("lan", password="pw-lan", is_staff=True)
    user.groups.set(Group.objects.filter(name=CS_AGENT))
    OAMembership.objects.create(user=user, oa=connected_oa)
    context = browser.new_context(locale="en-US", viewport={"width": 1400, "height": 900})

    def open_page(conversation: Conversation):  # type: ignore[no-untyped-def]
        page = context.new_page()
        page.set_default_timeout(15_000)
        page.goto(f"{live_server.url}/admin/login/?next=/inbox/c/{conversation.pk}/")
        page.fill("#id_username", "lan")
        page.fill("#id_password", "pw-lan")
        page.click("input[type=submit]")
        page.wait_for_selector("#messages")
        page.wait_for_function("() => window.zalohubInbox !== undefined")
        return page

    yield open_page
    context.close()


def test_a_new_message_is_appended_and_its_row_moved_keeping_the_rest(
    agent_on, sandbox, worker, output_dir
):
    mai = _writes(sandbox, "Chị Mai hỏi giá", user_id=MAI)
    son = _writes(sandbox, "Anh Sơn hỏi bảo hành")
    page = agent_on(son)
    first = Message.objects.get(text="Anh Sơn hỏi bảo hành")
    rows = page.locator("#conversation-list .ib-row")
    expect(rows).to_have_count(2)
    for selector in (f"#m-{first.pk}", "#thread-head"):
        assert page.evaluate(KEEP, selector)

    _writes(sandbox, "Mai có giao hàng tận nơi không?", user_id=MAI)
    # It should move Mai's row to the top with her new message, live...
    expect(rows.first).to_contain_text("giao hàng tận nơi", timeout=LIVE)
    mai_row = f'.ib-row[data-conversation="{mai.pk}"]'
    assert page.evaluate(KEEP, mai_row)
    _writes(sandbox, "Bảo hành mấy năm vậy?")
    # ...and append Son's new message to the open thread, in the group of his last one,
    expect(page.locator("#messages")).to_contain_text("Bảo hành mấy năm vậy?", timeout=LIVE)
    expect(rows.first).to_contain_text("Bảo hành mấy năm", timeout=LIVE)
    expect(page.locator("#messages .ib-in .ib-group-head")).to_have_count(1)
    # ...without drawing again what did not change: the bubble and the thread's top
    # drawn at load are the same nodes (a row that changed is a new one).
    assert page.evaluate(KEPT, f"#m-{first.pk}")
    assert page.evaluate(KEPT, "#thread-head")
    assert page.evaluate(KEPT, mai_row)  # the row that did not change this time
    second = Message.objects.get(text="Bảo hành mấy năm vậy?")
    assert page.evaluate("() => document.querySelector('#reply-seen').value") == str(second.pk)
    page.screenshot(path=str(output_dir / "inbox-parts-appended.png"), full_page=True)


def test_a_status_change_shows_in_the_top_and_the_timeline(agent_on, sandbox, worker, output_dir):
    son = _writes(sandbox, "Cảm ơn shop, vậy là xong")
    page = agent_on(son)
    first = Message.objects.get(text="Cảm ơn shop, vậy là xong")
    assert page.evaluate(KEEP, f"#m-{first.pk}")
    expect(page.locator("#conversation-status")).to_have_text("Open")
    colleague = User.objects.create_user("hoa", is_staff=True)

    # A colleague resolves it from their own page.
    team.conversation_set_status(conversation=son, status=Status.RESOLVED, actor=colleague)
    # It should say so in the top and as a timeline entry, live, and count it in the tabs.
    expect(page.locator("#conversation-status")).to_have_text("Resolved", timeout=LIVE)
    expect(page.locator("#messages .ib-event").last).to_contain_text(
        "hoa set the status to Resolved"
    )
    expect(page.locator("#status-resolved .ib-tab-count")).to_have_text("1", timeout=LIVE)
    # Its row leaves the Open list.
    expect(page.locator(f'.ib-row[data-conversation="{son.pk}"]')).to_have_count(0)
    # The messages were not drawn again.
    assert page.evaluate(KEPT, f"#m-{first.pk}")
    page.screenshot(path=str(output_dir / "inbox-parts-status.png"), full_page=True)


def test_a_thread_that_no_longer_matches_is_drawn_whole(
    agent_on, sandbox, worker, connected_oa, output_dir
):
    son = _writes(sandbox, "Số điện thoại của tôi là 0901234567")
    page = agent_on(son)
    first = Message.objects.get(text__startswith="Số điện thoại")
    assert page.evaluate(KEEP, f"#m-{first.pk}")
    # A message the page shows is emptied (as a data removal does), which no wake-up says.
    Message.objects.filter(pk=first.pk).update(text="")
    live.notify(connected_oa.pk)
    _writes(sandbox, "Anh gọi lại giúp em")
    expect(page.locator("#messages")).to_contain_text("Anh gọi lại giúp em", timeout=LIVE)
    # It should draw the thread whole: the emptied text is gone, the bubble a new node.
    expect(page.locator("#messages")).not_to_contain_text("0901234567")
    assert not page.evaluate(KEPT, f"#m-{first.pk}")
    expect(page.locator(f"#m-{first.pk}")).to_have_count(1)
    page.screenshot(path=str(output_dir / "inbox-parts-stale.png"), full_page=True)


def test_the_offers_come_when_the_free_window_closes_while_the_page_is_open(
    agent_on, sandbox, worker, connected_oa, output_dir
):
    son = _writes(sandbox, "Đơn của tôi sao rồi?")
    template = template_submit(template=make_template(connected_oa))
    reviewer.review(sandbox, template_id=template.zalo_template_id, decision="approve")
    wait_for(
        lambda: Template.objects.filter(pk=template.pk, status=Template.Status.APPROVED).exists(),
        "the template's approval",
    )
    # The customer's last interaction was 48 hours ago less 6 seconds, for Zalo and the hub.
    last = timezone.now() - timedelta(hours=48) + timedelta(seconds=6)
    with sandbox.lock:
        sandbox.users[OA_SUPPORT_ID][SON_SUPPORT_USER_ID]["last_interaction"] = last.timestamp()
    Conversation.objects.filter(pk=son.pk).update(last_inbound_at=last)
    ZaloPartnerLink.objects.filter(pk=son.partner_link_id).update(last_interaction_at=last)

    page = agent_on(son)
    # It should say the reply is free, and offer no template yet...
    expect(page.locator("#reply-window")).to_have_attribute("data-band", "free")
    expect(page.locator("#window-offers")).to_have_count(0)
    # ...and when the 48 hours end, with no message and no reload, offer the templates.
    expect(page.locator("#reply-window")).to_have_attribute("data-band", "billed", timeout=LIVE)
    offers = page.locator("#window-offers")
    expect(offers).to_be_visible(timeout=LIVE)
    expect(page.locator("#offer-choice option")).to_have_text([template.name])
    expect(page.locator("#offers-title")).to_have_text(
        "Free reply window over: send an approved template instead"
    )
    # The offer is the one-step offer: its preview follows the agent's edits.
    page.click("#offers-title")
    form = page.locator("#offer-1")
    form.locator("[name=param_order_code]").fill("DH77")
    expect(form.locator(".ib-offer-preview")).to_contain_text("DH77")
    page.screenshot(path=str(output_dir / "inbox-parts-offers-live.png"), full_page=True)


AT_BOTTOM = "() => { const m = document.querySelector('#messages');"
AT_BOTTOM += " return m.scrollHeight - m.scrollTop - m.clientHeight < 2 && m.scrollTop > 0; }"


def test_the_thread_follows_new_messages_unless_the_agent_scrolled_up(
    agent_on, sandbox, worker, output_dir
):
    # A message long enough that the thread scrolls in a short window.
    son = _writes(sandbox, "Em cần tư vấn bảo hành máy lạnh. " * 40)
    page = agent_on(son)
    page.set_viewport_size({"width": 1400, "height": 420})
    page.evaluate("() => window.dispatchEvent(new Event('resize'))")
    _writes(sandbox, "Tin thứ hai")
    # At the bottom, it should follow what arrives...
    expect(page.locator("#messages")).to_contain_text("Tin thứ hai", timeout=LIVE)
    page.wait_for_function(AT_BOTTOM)
    # ...and once the agent scrolls up to read, stay where the agent is,
    page.evaluate("() => { document.querySelector('#messages').scrollTop = 0; }")
    page.wait_for_timeout(200)  # the scroll event
    _writes(sandbox, "Tin thứ ba")
    expect(page.locator("#messages")).to_contain_text("Tin thứ ba", timeout=LIVE)
    page.wait_for_timeout(200)  # a frame or more: where a stick to the bottom would run
    assert page.evaluate("() => document.querySelector('#messages').scrollTop") == 0
    # ...until the agent is back at the bottom.
    page.evaluate(
        "() => { const m = document.querySelector('#messages'); m.scrollTop = m.scrollHeight; }"
    )
    page.wait_for_timeout(200)
    _writes(sandbox, "Tin thứ tư")
    expect(page.locator("#messages")).to_contain_text("Tin thứ tư", timeout=LIVE)
    page.wait_for_function(AT_BOTTOM)
    page.screenshot(path=str(output_dir / "inbox-parts-follow.png"))


def test_a_message_delivered_late_shows_in_its_place_keeping_the_thread_before_it(
    agent_on, sandbox, worker, zalo_app, live_server, output_dir
):
    """Zalo may deliver a customer's message after a later one (a retry): the page puts
    it in its place, as a page opened now draws the thread, without drawing all of it."""
    import time

    from django.test import Client

    from tests.helpers import post_webhook
    from tests.inbox.conftest import user_payload

    now = int(time.time() * 1000)

    def delivered(text: str, stamp: int) -> Message:
        raw = user_payload(text, user_id=SON_SUPPORT_USER_ID, stamp=stamp)
        response = post_webhook(Client(), zalo_app.app_id, raw, key=zalo_app.oa_secret_key)
        assert response.status_code == 200, response.content
        return wait_for(lambda: Message.objects.filter(text=text).first(), f"{text!r} stored")

    first = delivered("Tin một", now - 3000)
    son = Conversation.objects.get(zalo_user_id=SON_SUPPORT_USER_ID)
    page = agent_on(son)
    for selector in (f"#m-{first.pk}", "#thread-head"):
        assert page.evaluate(KEEP, selector)
    third = delivered("Tin ba", now - 1000)
    expect(page.locator(f"#m-{third.pk}")).to_have_count(1, timeout=LIVE)
    second = delivered("Tin hai", now - 2000)  # sent before the third, delivered after
    expect(page.locator(f"#m-{second.pk}")).to_have_count(1, timeout=LIVE)
    order = "() => Array.from(document.querySelectorAll('#messages .ib-bubble'), b => b.id)"
    heads = "() => document.querySelectorAll('#messages .ib-group-head').length"
    # It should show it between the two, in their one group...
    assert page.evaluate(order) == [f"m-{first.pk}", f"m-{second.pk}", f"m-{third.pk}"]
    assert page.evaluate(heads) == 1
    # ...as a page opened now draws the thread...
    fresh = page.context.new_page()  # (the agent is logged in)
    fresh.goto(f"{live_server.url}/inbox/c/{son.pk}/")
    assert fresh.evaluate(order) == page.evaluate(order)
    assert fresh.evaluate(heads) == 1
    # ...keeping what comes before its place: the first message and the top are the
    # nodes drawn at load.
    assert page.evaluate(KEPT, f"#m-{first.pk}") and page.evaluate(KEPT, "#thread-head")
    page.screenshot(path=str(output_dir / "inbox-parts-late.png"), full_page=True)


# The page's stream, as window.__source, and how many times it opened (window.__opens).
CAPTURE_STREAM = (
    "const O = window.EventSource; window.__opens = 0; window.EventSource = function (u, i) {"
    " const s = new O(u, i); window.__source = s;"
    " s.addEventListener('open', () => { window.__opens += 1; }); return s; };"
    " window.EventSource.prototype = O.prototype;"
)


# Counts the page's fetches of its list and its thread.
COUNT_FETCHES = (
    "window.__parts = 0; const F = window.fetch; window.fetch = function (input, init) {"
    " const url = String(input && input.url ? input.url : input);"
    " if (url.includes('/inbox/list/') || url.includes('/thread/')) window.__parts += 1;"
    " return F.call(this, input, init); };"
)


def test_a_streams_planned_end_fetches_what_changed_not_everything(
    agent_on, sandbox, worker, settings, output_dir
):
    """Each stream ends after a while and the page comes back on a new one: it fetches
    what changed meanwhile, and nothing when nothing did, instead of drawing its list
    and thread whole (a flood's threads took seconds to draw, every 20-25 s on every
    page) or fetching both (two fetches a page every 20-25 s)."""
    mai = _writes(sandbox, "Chị Mai hỏi giá", user_id=MAI)
    son = _writes(sandbox, "Tin trước khi mở")
    settings.INBOX_STREAM_SECONDS = 2.0  # (the live server reads it at each stream's start)
    page = agent_on(son)
    page.add_init_script(CAPTURE_STREAM)
    page.add_init_script(COUNT_FETCHES)
    page.reload()
    page.wait_for_selector("#messages")
    first = Message.objects.get(text="Tin trước khi mở")
    mai_row = f'.ib-row[data-conversation="{mai.pk}"]'
    for selector in (f"#m-{first.pk}", "#thread-head", mai_row):
        assert page.evaluate(KEEP, selector)
    page.wait_for_function("() => window.__opens >= 1", timeout=LIVE)
    fetched = page.evaluate("window.__parts")
    page.wait_for_function("() => window.__opens >= 3", timeout=LIVE)  # two planned ends
    # Nothing changed meanwhile: it should have fetched nothing.
    assert page.evaluate("window.__parts") == fetched
    _writes(sandbox, "Tin sau khi nối lại")
    expect(page.locator("#messages")).to_contain_text("Tin sau khi nối lại", timeout=LIVE)
    page.wait_for_function("() => window.__opens >= 4", timeout=LIVE)
    # It should have kept what did not change: the thread's message, its top, and the
    # row of the conversation nobody wrote to.
    assert page.evaluate(KEPT, f"#m-{first.pk}") and page.evaluate(KEPT, "#thread-head")
    assert page.evaluate(KEPT, mai_row)
    page.screenshot(path=str(output_dir / "inbox-parts-reconnected.png"), full_page=True)


def test_a_push_after_a_fetch_that_brought_part_of_it_adds_the_rest(
    agent_on, sandbox, worker, output_dir
):
    """A page's fetch between two of the reader's rounds brings it messages the next push
    also carries (from the message the feed last saw): the page adds only the rest, and
    its marks stay what the server counts, so its next fetch is a delta, not the whole."""
    import json
    import re

    from zalohub.inbox import live_parts, push

    son = _writes(sandbox, "Tin một")
    feed = push.ThreadFeed(son.pk, "en")
    assert feed.advance() == ""  # where the feed starts: "Tin một"
    _writes(sandbox, "Tin hai")
    page = agent_on(son)  # the page shows both: "Tin hai" is its latest
    page.context.add_init_script(CAPTURE_STREAM)
    page.reload()
    page.wait_for_function("() => window.__source && window.zalohubInbox")
    expect(page.locator("#messages")).to_contain_text("Tin hai")
    first = Message.objects.get(text="Tin một")
    assert page.evaluate(KEEP, f"#m-{first.pk}")
    # The page fetches nothing more by itself: what it shows next is the push.
    page.route(re.compile(r"/inbox/c/\d+/thread/"), lambda route: route.abort())
    # An image: a message without text, which the page's counts count apart.
    customers.customer_send_message(
        sandbox, oa_id=OA_SUPPORT_ID, user_id=SON_SUPPORT_USER_ID, kind="image"
    )
    image = wait_for(lambda: Message.objects.filter(kind="image").first(), "the image stored")
    assert image.text == ""
    _writes(sandbox, "Tin ba")
    third = Message.objects.get(text="Tin ba")
    event = feed.advance()
    sent = json.loads(event.split("data: ", 1)[1])
    assert sent["after"] == first.pk and len(sent["messages"]) == 3  # hai, the blank, ba
    page.evaluate(
        "data => window.__source.dispatchEvent(new MessageEvent('append', {data}))",
        json.dumps(sent),
    )
    # It should add what it lacked, once, in the customer's group...
    expect(page.locator("#messages")).to_contain_text("Tin ba")
    expect(page.locator("#messages .ib-bubble", has_text="Tin hai")).to_have_count(1)
    expect(page.locator("#messages .ib-in .ib-group-head")).to_have_count(1)
    marks = page.evaluate(
        "() => { const m = document.querySelector('#messages');"
        " return [m.dataset.latestId, m.dataset.firstId, m.dataset.entryId, m.dataset.base]; }"
    )
    # ...with the marks the server gives a thread of those messages...
    son.refresh_from_db()
    assert marks[0] == str(third.pk)
    assert marks[3] == live_parts.thread_base(son, int(marks[1]), third.pk, int(marks[2]))
    # ...so that its next fetch draws only what changed.
    page.unroute(re.compile(r"/inbox/c/\d+/thread/"))
    page.evaluate("() => window.zalohubInbox.refreshThread()")
    page.wait_for_timeout(500)
    assert page.evaluate(KEPT, f"#m-{first.pk}")
    page.screenshot(path=str(output_dir / "inbox-parts-partway.png"))


def test_a_push_that_comes_during_a_fetch_shows_at_once_and_never_twice(
    agent_on, sandbox, worker, output_dir
):
    """A push that reaches the page while its thread's fetch is on the way shows at once,
    and the fetch's answer, which brings the same messages, draws none of them twice."""
    import json
    import re

    from zalohub.inbox import push

    son = _writes(sandbox, "Tin một")
    feed = push.ThreadFeed(son.pk, "en")
    assert feed.advance() == ""  # where the feed starts: "Tin một"
    page = agent_on(son)
    page.context.add_init_script(CAPTURE_STREAM)
    page.reload()
    page.wait_for_function("() => window.__source && window.zalohubInbox")
    held: list = []
    page.route(re.compile(r"/inbox/c/\d+/thread/"), lambda route: held.append(route))
    _writes(sandbox, "Tin hai")
    _writes(sandbox, "Tin ba")
    # The page's fetch of its thread is on the way (held here)...
    page.evaluate("() => { window.zalohubInbox.refreshThread(); }")
    wait_for(lambda: held, "the thread's fetch sent")
    # ...when the push of the same two messages comes down the stream.
    sent = feed.advance()
    page.evaluate(
        "data => window.__source.dispatchEvent(new MessageEvent('append', {data}))",
        sent.split("data: ", 1)[1].strip(),
    )
    # It should show them at once, without waiting for the fetch...
    expect(page.locator("#messages")).to_contain_text("Tin ba")
    with page.expect_response(re.compile(r"/inbox/c/\d+/thread/")):
        for route in held:
            route.continue_()
    page.unroute(re.compile(r"/inbox/c/\d+/thread/"))
    # ...and, once the fetch's answer is drawn, each message still once.
    page.wait_for_timeout(500)
    expect(page.locator("#messages .ib-bubble", has_text="Tin hai")).to_have_count(1)
    expect(page.locator("#messages .ib-bubble", has_text="Tin ba")).to_have_count(1)
    latest = Message.objects.get(text="Tin ba").pk
    assert page.evaluate("() => document.querySelector('#messages').dataset.latestId") == str(
        latest
    )
    assert json.loads(sent.split("data: ", 1)[1])["latest"] == latest
