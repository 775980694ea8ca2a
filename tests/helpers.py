"""Driving Zalo's (sandbox) consent page over HTTP, as a browser would, without one; and
other small pieces the tests share."""

import asyncio
import contextlib
import threading
import time
from collections.abc import Callable, Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from html.parser import HTMLParser
from urllib.parse import parse_qsl, urljoin, urlsplit

import httpx
from django.db import connection, transaction
from django.utils import timezone


class _FormParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.action = ""
        self.fields: dict[str, str] = {}
        self.radios: list[str] = []
        self.buttons: dict[str, tuple[str, str]] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form" and not self.action:
            self.action = a.get("action", "")
        elif tag == "input" and a.get("type") == "hidden":
            self.fields[a["name"]] = a.get("value", "")
        elif tag == "input" and a.get("type") == "radio" and a.get("name") == "oa_id":
            self.radios.append(a.get("value", ""))
        elif tag in ("button", "input") and a.get("id") in ("approve", "deny"):
            self.buttons[a["id"]] = (a.get("name", ""), a.get("value", ""))


def consent(url: str, *, action: str = "approve", oa_id: str | None = None) -> dict[str, str]:
    """Open Zalo's consent URL, press Approve or Deny, return the callback's query params."""
    with httpx.Client(follow_redirects=False, timeout=5) as http:
        page = http.get(url)
        page.raise_for_status()
        form = _FormParser()
        form.feed(page.text)
        data = dict(form.fields)
        data["oa_id"] = oa_id or (form.radios[0] if form.radios else "")
        name, value = form.buttons[action]
        if name:
            data[name] = value
        answer = http.post(urljoin(url, form.action or url), data=data)
    assert answer.status_code in (302, 303), answer.text[:500]
    return dict(parse_qsl(urlsplit(answer.headers["location"]).query))


def consent_page(url: str) -> httpx.Response:
    with httpx.Client(follow_redirects=False, timeout=5) as http:
        return http.get(url)


FIXTURES = __import__("pathlib").Path(__file__).parent / "fixtures" / "zalo"


def fixture(name: str, **replace: str) -> str:
    """A Zalo payload from tests/fixtures/zalo/<event>__<variant>.json, as raw text."""
    text = (FIXTURES / f"{name}.json").read_text()
    for old, new in replace.items():
        text = text.replace(old, new)
    return text


def zalo_signature(*, first: str, raw: str, timestamp: str, key: str, prefix: bool = True) -> str:
    """Zalo's documented MAC, computed here independently of the hub's code."""
    import hashlib

    mac = hashlib.sha256(f"{first}{raw}{timestamp}{key}".encode()).hexdigest()
    return f"mac={mac}" if prefix else mac


def post_webhook(
    client,
    app_id: str,
    raw: str | bytes,
    *,
    key: str | None,
    first: str | None = None,
    prefix: bool = True,
    **headers: str,
):
    """POST a webhook the way Zalo does: raw JSON body, signature header over the bytes."""
    import json

    text = raw.decode() if isinstance(raw, bytes) else raw
    extra = {f"HTTP_{k.upper()}": v for k, v in headers.items()}
    if key is not None:
        try:
            timestamp = str(json.loads(text).get("timestamp", ""))
        except (ValueError, AttributeError):
            timestamp = ""
        extra["HTTP_X_ZEVENT_SIGNATURE"] = zalo_signature(
            first=first or app_id, raw=text, timestamp=timestamp, key=key, prefix=prefix
        )
    return client.post(
        f"/zalo/webhook/{app_id}/", data=raw, content_type="application/json", **extra
    )


@contextlib.contextmanager
def held_elsewhere(work: Callable[[], object]) -> Iterator[None]:
    """Run ``work`` in a transaction of another thread (its own connection) and keep that
    transaction open, with the row locks it took, while the block runs; commit it after."""
    holding, release = threading.Event(), threading.Event()

    def run() -> None:
        try:
            with transaction.atomic():
                work()
                holding.set()
                release.wait(30)
        finally:
            connection.close()

    thread = threading.Thread(target=run)
    thread.start()
    assert holding.wait(30), "the other transaction did not get its locks"
    try:
        yield
    finally:
        release.set()
        thread.join(30)


def on_one_day(span: timedelta) -> datetime:
    """Now, or, less than ``span`` after the site's midnight, the minute before it: a test
    that puts rows up to ``span`` before "now" and counts them by local day (reports,
    charts) keeps them on one day whenever it runs."""
    now = timezone.now()
    midnight = timezone.localtime(now).replace(hour=0, minute=0, second=0, microsecond=0)
    return now if now - midnight >= span else midnight - timedelta(minutes=1)


def clear_of_the_minutes_end(seconds: float = 10.0) -> None:
    """Wait, when the rate limit's minute ends within ``seconds``, until the next one
    begins: a test that makes a few requests counted by the minute (the API keys' limit)
    keeps them in one window whenever it runs."""
    from zalohub.accounts.ratelimit import seconds_to_next_window

    left = seconds_to_next_window()
    if left < seconds:
        time.sleep(left + 0.05)


def run_on_its_own_loop[T](coroutine: Coroutine[object, object, T]) -> T:
    """asyncio.run in a thread of its own: a browser test earlier in the run leaves
    Playwright's event loop running in this one (as a server runs streams off it)."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coroutine).result()
