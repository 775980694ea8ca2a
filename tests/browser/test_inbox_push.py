"""Pages on a real `zalohub serve` get the customer's new message pushed down their
stream (inbox.push), drawn in their language, and keep only the rows their filters let
through: with every fetch of the list and the thread refused, it still shows, with the
list's counts, and the conversation open on a page is read."""

import re
import urllib.request

import pytest
from django.conf import settings

from tests.conftest import _person
from tests.core.serveproc import ServeProc, send_webhook, session_cookie
from tests.events.workerproc import Worker, wait_until
from zalohub.core.roles import CS_AGENT
from zalohub.events.models import Message
from zalohub.inbox.models import Conversation, OAMembership

pytestmark = pytest.mark.django_db(transaction=True)

FETCHES = re.compile(r"/inbox/(list|c/\d+/thread)/")


def _open(browser, server: ServeProc, cookie: str, path: str, locale: str):  # type: ignore[no-untyped-def]
    context = browser.new_context(locale=locale, viewport={"width": 1400, "height": 900})
    context.add_cookies(
        [{"name": settings.SESSION_COOKIE_NAME, "value": cookie, "url": server.url}]
    )
    context.add_init_script(
        "window.__streams = 0; const O = window.EventSource; window.EventSource = function (u, i) {"
        " const s = new O(u, i); s.addEventListener('open', () => { window.__streams += 1; });"
        " return s; };"
    )
    page = context.new_page()
    page.set_default_timeout(20_000)
    page.goto(server.url + path)
    assert page.url == server.url + path, page.url  # logged in, not sent to log in
    page.wait_for_function("window.__streams >= 1")
    return page


def _stored(n: int) -> Message:
    assert wait_until(lambda: Message.objects.filter(zalo_msg_id=f"m-{n}").exists(), timeout=30)
    return Message.objects.get(zalo_msg_id=f"m-{n}")


def test_new_messages_are_pushed_to_the_pages_that_show_them(
    browser, agent, zalo_app, connected_oa, tmp_path
):
    colleague = _person("colleague", [CS_AGENT])
    for user in (agent, colleague):
        OAMembership.objects.create(user=user, oa=connected_oa)
    worker = Worker(tmp_path, "push")
    # No page fetches on its own for 10 minutes after a push: what shows was pushed.
    server = ServeProc(tmp_path, threads=4, extra_env={"ZALOHUB_INBOX_LIVE_FETCH_SECONDS": "600"})
    server.url = f"http://127.0.0.1:{server.port}"  # type: ignore[attr-defined]
    pages = []
    try:
        assert send_webhook(server.port, zalo_app, 1) == 200
        conversation = Conversation.objects.get(zalo_user_id=_stored(1).zalo_user_id)
        thread = _open(
            browser, server, session_cookie(agent), f"/inbox/c/{conversation.pk}/", "en-US"
        )
        resolved = _open(browser, server, session_cookie(agent), "/inbox/?status=resolved", "en-US")
        vietnamese = _open(browser, server, session_cookie(colleague), "/inbox/", "vi-VN")
        pages = [thread, resolved, vietnamese]
        # A second customer writes while fetches still go through: once it shows, each
        # page's stream is read and its feeds have started.
        assert send_webhook(server.port, zalo_app, 2) == 200
        second = Conversation.objects.get(zalo_user_id=_stored(2).zalo_user_id)
        for page in (thread, vietnamese):
            page.locator(f'#conversation-list [data-conversation="{second.pk}"]').wait_for()

        refused: list[str] = []
        for page in pages:
            page.route(FETCHES, lambda route: (refused.append(route.request.url), route.abort()))
        # The first customer writes again: every page that shows the conversation gets
        # the row, and the page on it the message too, from its stream alone.
        assert send_webhook(server.port, zalo_app, 3, user=1, text="Pushed text") == 200
        _stored(3)
        row = f'#conversation-list [data-conversation="{conversation.pk}"]'
        for page in (thread, vietnamese):
            page.locator(row, has_text="Pushed text").wait_for()
        thread.locator("#messages .ib-bubble", has_text="Pushed text").wait_for()
        # Drawn once for every page, then made the page's own: its link keeps its query,
        # its current mark, and the OA's name where the page shows every OA.
        assert "current" in (thread.locator(row).get_attribute("class") or "")
        assert "current" not in (vietnamese.locator(row).get_attribute("class") or "")
        # In the page's language.
        assert "Unassigned" in thread.locator(row).inner_text()
        assert "Chưa phân công" in vietnamese.locator(row).inner_text()
        # The Resolved tab keeps out an open conversation's row.
        assert resolved.locator(row).count() == 0
        # The conversation open on a page is read, though its fetches never got through.
        assert wait_until(lambda: Conversation.objects.get(pk=conversation.pk).unread_count == 0)
        # A third customer: the tabs' counts and the OA's unread messages come pushed.
        assert send_webhook(server.port, zalo_app, 4, user=3, text="Third") == 200
        _stored(4)
        opened = Conversation.objects.filter(oa=connected_oa, status="open").count()
        unread = sum(Conversation.objects.values_list("unread_count", flat=True))
        assert opened == 3 and unread == 2  # the second's and the third's first message
        for page in pages:
            page.locator("#status-open .ib-tab-count", has_text=str(opened)).wait_for()
            badge = page.locator(f"#oa-{connected_oa.pk} .ib-count")
            badge.filter(has_text=str(unread)).wait_for()
        vietnamese.locator("#conversation-list li.ib-row").nth(2).wait_for()
        # The reader's rounds are timed for the operator, by phase (read, push).
        scraped = urllib.request.urlopen(f"{server.url}/metrics", timeout=10).read().decode()
        for phase in ("read", "push"):
            count = re.search(
                rf'zalohub_inbox_round_seconds_count{{phase="{phase}"}} (\S+)', scraped
            )
            assert count and float(count.group(1)) > 0, phase
        for page in pages:
            page.screenshot(path=str(tmp_path / f"push-{pages.index(page)}.png"))
    finally:
        for page in pages:
            page.context.close()
        server.stop_quietly()
        worker.stop_quietly()
