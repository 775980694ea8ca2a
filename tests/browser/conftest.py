"""Headless Debian Chromium driven by Playwright, against Django's live server."""

import os
import shutil
from collections.abc import Iterator

import pytest

CHROMIUM = os.environ.get("ZALOHUB_CHROMIUM", "/usr/bin/chromium")
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    if not (os.path.exists(CHROMIUM) or shutil.which(CHROMIUM)):
        message = f"Chromium not found at {CHROMIUM} (apt-get install chromium)"
        if os.environ.get("ZALOHUB_REQUIRE_BROWSER") == "1":
            pytest.fail(message)
        pytest.skip(message)
    os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser, live_server, settings) -> Iterator[object]:
    # Links the hub builds for Zalo (the OAuth callback) must point at this live server.
    settings.PUBLIC_URL = live_server.url
    context = browser.new_context(locale="en-US", viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield page
    context.close()


LOCALES = {"en": "en-US", "vi": "vi-VN"}


@pytest.fixture
def admin_page(browser, live_server) -> Iterator[object]:
    """``admin_page(language, username="it-admin", superuser=False)``: a page logged in
    as a Zalo Admin with the Zalo Events grant, 1400 px wide, in that language (the walk
    the issues ask for). The user is created on first use."""
    from django.contrib.auth.models import Group, User

    from zalohub.core.roles import ZALO_ADMIN, ZALO_EVENTS

    contexts = []

    def open_page(language: str, username: str = "it-admin", superuser: bool = False):  # type: ignore[no-untyped-def]
        user = User.objects.filter(username=username).first()
        if user is None:
            user = User.objects.create_user(
                username, password=f"pw-{username}", is_staff=True, is_superuser=superuser
            )
            user.groups.set(Group.objects.filter(name__in=[ZALO_ADMIN, ZALO_EVENTS]))
        context = browser.new_context(
            locale=LOCALES[language], viewport={"width": 1400, "height": 900}
        )
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(15_000)
        page.goto(f"{live_server.url}/admin/login/")
        page.fill("#id_username", username)
        page.fill("#id_password", f"pw-{username}")
        page.click("input[type=submit]")
        page.wait_for_selector("#user-tools")
        assert page.locator("html").get_attribute("lang") == language
        return page

    yield open_page
    for context in contexts:
        context.close()
