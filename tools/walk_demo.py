"""Walk the README's demo in headless Chromium, as the house rule asks.

It starts ``./run demo`` on free ports with its own fresh data directory, authorizes both
OAs through the sandbox's consent page as ``admin``, lets the sandbox's customers write
(``./run sandbox simulate --scenario all``), runs the README's flows as the users would
(each step checked for a visible result), then crawls every admin and inbox page reachable
by links as admin, agent and agent2, in English and in Vietnamese, 1400 px wide, with a
full-page screenshot of each. It prints what it found: answers of 400 or more, Django
error pages, browser console and page errors, and English labels left on Vietnamese
pages (the .po's translated msgids, Django admin strings with no Vietnamese, and the
Title Case labels of /work/shared/seeds, appearing as a whole text on the page, a
leading count aside). Text in <pre> and messages is not checked: look at the shots.
Exit status 1 when anything was found.

    .venv/bin/python tools/walk_demo.py test-output/walk            # everything
    .venv/bin/python tools/walk_demo.py out --users agent --max-pages 30

Needs Debian's Chromium (``ZALOHUB_CHROMIUM``, default /usr/bin/chromium) and Playwright
(a dev dependency). Data: ``ZALOHUB_DATA_DIR`` (default /tmp/zd_walk), emptied first.
It is a tool, not a test: pytest never collects it (testpaths = tests).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import traceback
import urllib.request
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit

from zalohub.core import roles

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = os.environ.get("ZALOHUB_CHROMIUM", "/usr/bin/chromium")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-sync"]
PASSWORD = os.environ.get("ZALOHUB_DEMO_PASSWORD", "zalohub-demo")
LOCALES = {"en": "en-US", "vi": "vi-VN"}
WIDTH = 1400
WAIT = 20_000  # ms for a visible result
# Links never followed: leaving, deleting, downloading, switching language, popups.
SKIP = re.compile(
    r"logout|/delete/|/i18n/|\.csv|/csv|export|download|_popup=|/image/|/events/$|/r/\d+/"
)
PO = ROOT / "zalohub/locale/vi/LC_MESSAGES/django.po"
LOCALE_DJANGO = ROOT / "zalohub/locale_django/vi/LC_MESSAGES/django.po"
SEEDS = Path("/work/shared/seeds")
ID = re.compile(r"/(?:\d+|[0-9a-f]{8}-[0-9a-f-]{27})/")  # a pk or a UUID in a path
USERS = {"admin", "agent", "agent2"}  # the demo's logins, shown as they are
# The roles' group names are rows, shown as they are where groups are listed or picked;
# elsewhere "Zalo Events" is a label to translate.
GROUP_PAGES = re.compile(r"/admin/auth/(?:group|user)/")


@dataclass
class Findings:
    pages: Counter[str] = field(default_factory=Counter)
    bad_status: list[tuple[str, int, str, str]] = field(default_factory=list)
    tracebacks: list[tuple[str, str, str]] = field(default_factory=list)
    console: list[tuple[str, str, str]] = field(default_factory=list)
    untranslated: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    steps: list[tuple[str, bool, str]] = field(default_factory=list)


def free_port() -> int:
    """A base port P with P, P+10 (sandbox) and P+20 (the demo's ERP receiver) free."""
    for _ in range(200):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            base = s.getsockname()[1]
        if base > 65000:
            continue
        try:
            for port in (base + 10, base + 20):
                with socket.socket() as s:
                    s.bind(("127.0.0.1", port))
        except OSError:
            continue
        return base
    raise RuntimeError("no free port")


def http(url: str, data: dict[str, Any] | None = None, method: str | None = None) -> str:
    body = json.dumps(data).encode() if data is not None else None
    request = urllib.request.Request(url, data=body, method=method)  # noqa: S310 (loopback)
    if body is not None:
        request.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 (loopback)
        return response.read().decode()


@contextmanager
def demo(data_dir: Path, log: Path) -> Iterator[tuple[str, str]]:
    """``./run demo`` as the README says, on free ports; yields (hub, sandbox)."""
    shutil.rmtree(data_dir, ignore_errors=True)
    port = free_port()
    env = {**os.environ, "ZALOHUB_DATA_DIR": str(data_dir)}
    command = [str(ROOT / "run"), "demo", "--port", str(port), "--sandbox-port", str(port + 10)]
    with log.open("w") as out:
        process = subprocess.Popen(  # noqa: S603 (our own ./run)
            command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    hub, sandbox = f"http://127.0.0.1:{port}", f"http://127.0.0.1:{port + 10}"
    try:
        deadline = time.monotonic() + 300
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"./run demo exited ({process.returncode}); see {log}")
            try:
                http(f"{hub}/healthz")
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"the demo did not answer in 300 s; see {log}") from None
                time.sleep(1)
        yield hub, sandbox
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)


def simulate(hub: str, sandbox: str, data_dir: Path, log: Path) -> None:
    env = {**os.environ, "ZALOHUB_DATA_DIR": str(data_dir)}
    command = [str(ROOT / "run"), "sandbox", "simulate", "--hub", hub, "--sandbox", sandbox]
    with log.open("a") as out:
        out.write(f"\n$ {' '.join(command)} --scenario all\n")
        out.flush()
        subprocess.run(  # noqa: S603 (our own ./run)
            [*command, "--scenario", "all"], cwd=ROOT, env=env, stdout=out, stderr=out, check=True
        )


# -- the English left on Vietnamese pages ------------------------------------------------


def _po_entries(path: Path) -> Iterator[tuple[str, str, bool]]:
    """(msgid, msgstr, fuzzy) of a .po file; plural forms give their first msgstr."""
    entry: dict[str, str] = {}
    key, fuzzy = "", False

    def flush() -> Iterator[tuple[str, str, bool]]:
        if entry.get("msgid"):
            yield entry["msgid"], entry.get("msgstr", entry.get("msgstr[0]", "")), fuzzy

    for line in [*path.read_text(encoding="utf-8").splitlines(), ""]:
        if not line.strip():
            yield from flush()
            entry, key, fuzzy = {}, "", False
        elif line.startswith("#,") and "fuzzy" in line:
            fuzzy = True
        elif line.startswith("#"):
            continue
        elif line.startswith('"'):
            entry[key] = entry.get(key, "") + json.loads(line)
        else:
            key, _, rest = line.partition(" ")
            entry[key] = json.loads(rest)


def django_file() -> str:
    import django

    return str(django.__file__)


def english_labels() -> dict[str, str]:
    """Label text -> where it comes from, for strings that must not show on a vi page."""
    labels: dict[str, str] = {}
    same = set()
    for msgid, msgstr, fuzzy in _po_entries(PO):
        if msgstr == msgid and not fuzzy:
            same.add(msgid)
            continue
        if re.search(r"%|\{|<|\n", msgid) or not re.search(r"[a-z]{3}", msgid):
            continue
        if 3 <= len(msgid) <= 80:
            labels[msgid] = "po (fuzzy)" if fuzzy else "po"
    # Django's own admin strings its Vietnamese catalogue lacks, unless zalohub supplies them.
    admin_locale = Path(django_file()).parent / "contrib/admin/locale"
    known = {
        m
        for po in (admin_locale / "vi/LC_MESSAGES/django.po", LOCALE_DJANGO)
        if po.exists()
        for m, t, _ in _po_entries(po)
        if t
    }
    english = admin_locale / "en/LC_MESSAGES/django.po"
    for msgid, _msgstr, _fuzzy in _po_entries(english) if english.exists() else []:
        plain = not re.search(r"%|\{|<|\n", msgid) and re.search(r"[a-z]{3}", msgid)
        if plain and msgid not in known:
            labels.setdefault(msgid, "django admin (no vi)")
    title = re.compile(r"\b(?:[A-Z][a-zA-Z]+ ){1,4}[A-Z][a-zA-Z]+\b")
    for seed in sorted(SEEDS.glob("*.txt")) if SEEDS.is_dir() else []:
        for phrase in title.findall(seed.read_text(encoding="utf-8")):
            if phrase not in same and not re.search(r"\bOA\b|Viindoo|Son\b|Step", phrase):
                labels.setdefault(phrase, f"seed {seed.name}")
    return labels


TEXTS_JS = """() => {
  const SKIP = "script,style,noscript,template,textarea,pre,code,.ib-text,#raw-payload,#user-tools";
  const ATTRS = "input[type=submit],input[type=button],[placeholder],[title],[aria-label]";
  const out = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let n = walker.nextNode(); n; n = walker.nextNode()) {
    const p = n.parentElement;
    if (!p || p.closest(SKIP)) continue;
    if (!p.getClientRects().length) continue;
    const t = n.textContent.replace(/\\s+/g, ' ').trim();
    if (t) out.push(t);
  }
  for (const e of document.querySelectorAll(ATTRS)) {
    for (const a of ['value', 'placeholder', 'title', 'aria-label']) {
      if (a === 'value' && !/submit|button/.test(e.type || '')) continue;
      const v = (e.getAttribute(a) || '').trim();
      if (v) out.push(v);
    }
  }
  return out;
}"""


# -- the browser ---------------------------------------------------------------------------


class Walker:
    def __init__(self, browser: Any, hub: str, sandbox: str, out: Path, args: Any) -> None:
        self.browser, self.hub, self.sandbox, self.out = browser, hub, sandbox, out
        self.args = args
        self.found = Findings()
        self.api_key_text = ""
        self.labels = english_labels()
        self.shots = 0

    def open(self, username: str, language: str = "en", start: str = "/admin/") -> Any:
        context = self.browser.new_context(
            locale=LOCALES[language],
            viewport={"width": WIDTH, "height": 900},
            accept_downloads=True,
        )
        context.add_cookies([{"name": "django_language", "value": language, "url": self.hub}])
        page = context.new_page()
        page.set_default_timeout(WAIT)
        page.goto(f"{self.hub}/admin/login/?next={start}")
        page.fill("#id_username", username)
        page.fill("#id_password", PASSWORD)
        page.click("input[type=submit]")
        page.wait_for_load_state("load")
        lang = page.locator("html").get_attribute("lang")
        if lang != language:
            print(f"  ! {username}: the page says lang={lang!r}, not {language!r}")
        return page

    def shot(self, page: Any, folder: str, name: str) -> str:
        self.shots += 1
        path = (
            self.out
            / folder
            / f"{self.shots:04d}-{re.sub(r'[^a-z0-9]+', '-', name.lower())[:60]}.png"
        )
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            page.screenshot(path=str(path), full_page=True)
        except Exception as exc:  # a page that went away: say so, keep walking
            print(f"  ! screenshot {path.name}: {exc}")
        return str(path)

    def step(self, name: str, page: Any, action: Callable[[], str | None]) -> bool:
        try:
            detail = " ".join((action() or "").split())[:200]
            ok = True
        except Exception as exc:
            detail, ok = f"{type(exc).__name__}: {str(exc).splitlines()[0][:200]}", False
        path = self.shot(page, "flows", name)
        self.found.steps.append((name, ok, f"{detail} [{path}]"))
        print(f"  {'ok ' if ok else 'FAILED'} {name}: {detail}")
        return ok

    # -- the README's flows ----------------------------------------------------------------

    def oa_pk(self, page: Any, name: str) -> str:
        page.goto(f"{self.hub}/admin/accounts/officialaccount/")
        href = page.locator("#result_list a", has_text=name).first.get_attribute("href")
        return re.search(r"/(\d+)/change/", href or "").group(1)  # type: ignore[union-attr]

    def authorize(self, page: Any, name: str) -> None:
        def run() -> str:
            page.goto(f"{self.hub}/admin/accounts/officialaccount/{self.oa_pk(page, name)}/change/")
            page.click("#btn-authorize")
            page.wait_for_selector("#approve")
            choice = page.locator("label.oa", has_text=name).locator("input")
            if choice.count():
                choice.first.check()
            page.click("#approve")
            page.wait_for_selector(".oa-stage-current.oa-stage-connected")
            return page.locator(".messagelist").inner_text().strip()

        self.step(f"Authorize {name}", page, run)

    def admin_flows_oa(self, page: Any) -> None:
        pk = self.oa_pk(page, "Support OA")
        change = f"{self.hub}/admin/accounts/officialaccount/{pk}/change/"

        def clear() -> str:
            page.goto(change)
            page.click("#btn-clear-session")
            page.click("#confirm-clear")
            return page.locator(".messagelist").inner_text().strip()

        def sync() -> str:
            page.goto(change)
            page.click("#btn-sync-profile")
            text = page.locator(".messagelist").inner_text().strip()
            if page.locator(".messagelist .error").count():
                raise AssertionError(text)
            return text

        self.step("OA: Clear OAuth Session", page, clear)
        self.step("OA: Sync OA Profile", page, sync)

    def events_errors(self, page: Any) -> None:
        def errors() -> str:
            # The worker may not have tried the Sales OA's events yet: wait for them.
            rows = self._filtered_rows(page, "#quick-errors", lambda n: n > 0)
            if not rows:
                raise AssertionError("the Errors filter lists no event")
            return f"{rows} event(s) in Error"

        def retry() -> str:
            page.locator("#result_list tbody tr th a, #result_list tbody tr td a").first.click()
            page.click("#btn-retry")
            return page.locator(".messagelist").inner_text().strip()

        if self.step("Zalo Events: Errors filter (Sales OA not yet authorized)", page, errors):
            self.step("Zalo Events: Retry Processing", page, retry)

    def _filtered_rows(self, page: Any, quick: str, done: Callable[[int], bool]) -> int:
        """The Zalo Events list under a quick filter, read every 3 s until ``done`` holds
        for its row count or 60 s passed: the last count."""
        deadline = time.monotonic() + 60
        while True:
            page.goto(f"{self.hub}/admin/events/zaloevent/")
            page.click(quick)
            page.wait_for_load_state("load")
            rows = page.locator("#result_list tbody tr").count()
            if done(rows) or time.monotonic() > deadline:
                return rows
            time.sleep(3)

    def events_recovered(self, page: Any) -> None:
        def run() -> str:
            rows = self._filtered_rows(page, "#quick-errors", lambda n: n == 0)
            if rows:
                raise AssertionError(f"{rows} event(s) still in Error after 60 s")
            return "no event left in Error once Sales OA is authorized"

        self.step("Zalo Events: waiting events processed after authorizing", page, run)

    def events_failed(self, page: Any) -> None:
        def failed() -> str:
            rows = self._filtered_rows(page, "#quick-failed", lambda n: n > 0)
            if not rows:
                raise AssertionError("the Failed Deliveries filter lists nothing")
            return f"{rows} failed deliver(y/ies)"

        def resend() -> str:
            page.locator("#result_list tbody tr th a, #result_list tbody tr td a").first.click()
            page.click("#btn-resend")
            return page.locator(".messagelist").inner_text().strip()

        def resend_held() -> str:
            # Zalo answers 503 until told otherwise: the resent message keeps retrying,
            # which is when Mark Error applies (a message Zalo reports read is settled).
            http(
                f"{self.sandbox}/_sandbox/faults", {"endpoint": "oa.message.cs", "mode": "http_503"}
            )
            page.goto(f"{self.hub}/admin/events/zaloevent/")
            page.click("#quick-failed")
            page.locator("#result_list tbody tr th a, #result_list tbody tr td a").first.click()
            page.click("#btn-resend")
            return page.locator(".messagelist").inner_text().strip()

        def mark_error() -> str:
            page.click("#btn-mark-error")
            page.fill("#reason", "walk_demo: marked by hand")
            page.click("#confirm-mark-error")
            text = page.locator(".messagelist").inner_text().strip()
            if "error" not in text.lower():
                raise AssertionError(text)
            return text

        if self.step("Zalo Events: Failed Deliveries filter", page, failed):
            self.step("Zalo Events: Resend", page, resend)
            try:
                if self.step("Zalo Events: Resend while Zalo answers 503", page, resend_held):
                    self.step("Zalo Events: Mark Error", page, mark_error)
            finally:
                http(f"{self.sandbox}/_sandbox/faults", method="DELETE")

    def inbox_flows(self, agent: Any, agent2: Any) -> None:
        page = agent

        def open_first() -> str:
            page.goto(f"{self.hub}/inbox/")
            page.locator("#conversation-list .ib-row a").first.click()
            page.wait_for_selector("#reply-text")
            return page.locator("#thread-name").inner_text()

        def reply() -> str:
            page.fill("#reply-text", "Dạ shop đã nhận, em kiểm tra ngay ạ.")
            page.press("#reply-text", "Enter")
            status = page.locator(".ib-out .ib-status").last
            status.filter(has_text=re.compile("Sent|Delivered|Read")).wait_for()
            return status.inner_text()

        def saved_reply() -> str:
            page.type("#reply-text", "/chao")
            page.locator("#saved-menu li").first.wait_for()
            page.press("#reply-text", "Enter")
            text = page.input_value("#reply-text")
            if "{{" in text or not text:
                raise AssertionError(f"not filled in: {text!r}")
            page.press("#reply-text", "Enter")
            return text

        def note() -> str:
            page.click("#mode-note")
            page.fill("#note-text", "@agent2 walk_demo: chị xem giúp đơn này")
            page.press("#note-text", "Enter")
            page.locator("#messages .ib-note", has_text="walk_demo").wait_for()
            return "note shown"

        def mention() -> str:
            agent2.goto(f"{self.hub}/inbox/")
            agent2.locator("#mentions", has_text="agent").wait_for()
            return agent2.locator("#mentions").inner_text().strip()[:100]

        def shortcuts() -> str:
            page.evaluate("document.activeElement && document.activeElement.blur()")
            page.keyboard.press("?")
            page.locator("#shortcuts").wait_for(state="visible")
            text = page.locator("#shortcuts").inner_text()[:80]
            page.keyboard.press("Escape")
            return text

        def snooze() -> str:
            page.select_option("#snooze-until", "customer")
            page.click("#snooze")
            page.locator("#conversation-status", has_text="Snoozed").wait_for()
            return page.locator("#conversation-status").inner_text()

        def resolve() -> str:
            open_first()
            page.click("#resolve")
            page.locator("#conversation-status", has_text="Resolved").wait_for()
            return page.locator("#conversation-status").inner_text()

        def reports() -> str:
            page.click("#reports-link")
            page.locator("#reports h1").wait_for()
            with page.expect_download() as download:
                page.click("#report-csv")
            lines = Path(download.value.path()).read_text().splitlines()
            if not lines or not lines[0].startswith("day,"):
                raise AssertionError(f"CSV starts {lines[:1]}")
            return f"{page.locator('#reports h1').inner_text()}; CSV {len(lines)} lines"

        def failing_reply() -> str:
            # A customer who blocks the OA: Zalo refuses the next reply (-213), for the
            # Failed Deliveries flow.
            http(
                f"{self.sandbox}/_sandbox/faults",
                {"endpoint": "oa.message.cs", "mode": "zalo_error", "code": -213, "times": 2},
            )
            open_first()
            for n in (1, 2):  # one to Resend, one to Mark Error
                page.fill("#reply-text", f"walk_demo: this one fails ({n})")
                page.press("#reply-text", "Enter")
                page.locator(".ib-status-failed").nth(n - 1).wait_for()
            return page.locator(".ib-status-failed").last.inner_text()

        if self.step("Inbox: open a conversation", page, open_first):
            self.step("Inbox: answer", page, reply)
            self.step("Inbox: /chao saved reply", page, saved_reply)
            self.step("Inbox: note with @agent2", page, note)
            self.step("Inbox: agent2 sees the mention", agent2, mention)
            self.step("Inbox: ? lists the shortcuts", page, shortcuts)
            self.step("Inbox: snooze", page, snooze)
            self.step("Inbox: resolve", page, resolve)
            self.step("Inbox: replies Zalo refuses show Failed", page, failing_reply)
        self.step("Inbox: Reports + CSV", page, reports)

    def zbs_flows(self, page: Any) -> None:
        pk = self.oa_pk(page, "Support OA")

        def copy_submit() -> str:
            page.goto(f"{self.hub}/admin/accounts/officialaccount/{pk}/change/")
            page.click("#btn-zbs-templates")
            page.click("#btn-starters")
            page.locator("div.module[id^=starter-] button[type=submit]").first.click()
            page.wait_for_selector("#btn-submit")
            page.click("#btn-submit")
            page.locator(".zbs-stage-current", has_text="Pending").wait_for()
            zid = page.locator(".field-zalo_template_id .readonly").inner_text().strip()
            if not zid:
                raise AssertionError("no Zalo template ID shown")
            return f"Pending, Zalo template ID {zid}"

        def reject_reset() -> str:
            zid = page.locator(".field-zalo_template_id .readonly").inner_text().strip()
            http(
                f"{self.sandbox}/_sandbox/zns/review",
                {"template_id": zid, "decision": "reject", "reason": "walk_demo: logo"},
            )
            deadline = time.monotonic() + 30
            while "Rejected" not in page.locator(".zbs-stage-current").inner_text():
                if time.monotonic() > deadline:
                    raise AssertionError("the template did not turn Rejected")
                time.sleep(2)
                page.reload()
            page.click("#btn-reset")
            page.locator(".zbs-stage-current", has_text="Draft").wait_for()
            return "Rejected, then Draft"

        if self.step("ZBS: copy a starter and Submit to Zalo", page, copy_submit):
            self.step("ZBS: rejected by the sandbox, Reset to Draft", page, reject_reset)

    def admin_misc_flows(self, page: Any) -> None:
        def partner_sync() -> str:
            page.goto(f"{self.hub}/admin/partners/zalopartnerlink/")
            page.locator("#result_list tbody tr th a").first.click()
            page.click("#btn-sync-profile")
            text = page.locator(".messagelist").inner_text().strip()
            if page.locator(".messagelist .error").count():
                raise AssertionError(text)
            return text

        def api_key() -> str:
            page.goto(f"{self.hub}/admin/api/apikey/add/")
            page.fill("#id_name", "walk_demo ERP")
            oas = page.locator("#id_oas")
            if oas.evaluate("e => e.tagName") == "SELECT":
                values = oas.locator("option").evaluate_all("os => os.map(o => o.value)")
                oas.select_option([v for v in values if v])
            else:
                for box in page.locator("input[name=oas]").all():
                    box.check()
            for box in page.locator("input[name=capabilities]").all():
                box.check()
            page.click("input[name=_save]")
            key = page.input_value("#api-key-text")
            if not key.startswith("zh_"):
                raise AssertionError(f"key {key[:6]!r}")
            self.api_key_text = key
            return f"key {key[:6]}… shown once"

        def api_send() -> str:
            # As an ERP would: send with the key just shown, then follow the event until
            # a worker has given it its message and sent it; the admin's event page shows it.
            from zalohub.sandbox.world import OA_SUPPORT_ID, SON_SUPPORT_USER_ID

            auth = {"Authorization": f"Bearer {self.api_key_text}"}
            oas = page.request.get(f"{self.hub}/api/v1/oas", headers=auth).json()["items"]
            support = next(oa["id"] for oa in oas if oa["oa_id"] == OA_SUPPORT_ID)
            body = {
                "oa": support,
                "to": {"user_id": SON_SUPPORT_USER_ID},
                "text": "Đơn DH-WALK đã giao",
            }
            answer = page.request.post(
                f"{self.hub}/api/v1/messages",
                headers={**auth, "Content-Type": "application/json", "Idempotency-Key": "walk-1"},
                data=json.dumps(body),
            )
            if answer.status != 202:
                raise AssertionError(f"{answer.status} {answer.text()[:200]}")
            event_id = answer.json()["event_id"]
            for _ in range(100):
                event = page.request.get(
                    f"{self.hub}/api/v1/events/{event_id}", headers=auth
                ).json()
                if event["processing_state"] == "processed":
                    break
                time.sleep(0.2)
            else:
                raise AssertionError(f"event {event_id} still {event['processing_state']}")
            page.goto(f"{self.hub}/admin/events/zaloevent/{event_id}/change/")
            if "DH-WALK" not in page.content():
                raise AssertionError(f"event {event_id}'s page does not show the message")
            states = f"{event['processing_state']}, Zalo State {event['zalo_state']}"
            return f"202, event {event_id} {states}"

        def webhook_test() -> str:
            page.goto(f"{self.hub}/admin/webhooks/subscription/")
            page.locator("#result_list tbody tr th a").first.click()
            page.click("#btn-send-test")
            return page.locator(".messagelist").inner_text().strip()

        self.step("Partners: Sync Profile on a Zalo partner link", page, partner_sync)
        if self.step("API keys: create a key", page, api_key):
            self.step("API: send a message with the key, a worker sends it", page, api_send)
        self.step("Webhooks: Send test event", page, webhook_test)

    # -- the crawl -------------------------------------------------------------------------

    def crawl(self, username: str, language: str) -> None:
        folder = f"{username}-{language}"
        page = self.open(username, language, "/inbox/" if username != "admin" else "/admin/")
        where = f"{username}/{language}"

        def on_console(message: Any) -> None:
            if message.type == "error":
                self.found.console.append((page.url, f"{where} console: {message.text[:300]}", ""))

        def on_error(error: Any) -> None:
            self.found.console.append((page.url, f"{where} pageerror: {str(error)[:300]}", ""))

        def on_response(response: Any) -> None:
            if (
                response.status >= 400
                and response.url.startswith(self.hub)
                and response.request.resource_type != "document"
            ):
                self.found.bad_status.append(
                    (response.url, response.status, where, f"(subresource of {page.url})")
                )

        page.on("console", on_console)
        page.on("pageerror", on_error)
        page.on("response", on_response)
        queue = [f"{self.hub}/admin/", f"{self.hub}/inbox/"]
        seen: set[str] = set(queue)
        per_pattern: Counter[str] = Counter()
        count = 0
        while queue and count < self.args.max_pages:
            url = queue.pop(0)
            try:
                response = page.goto(url, wait_until="load")
            except Exception as exc:
                if "Download is starting" not in str(exc):
                    self.found.console.append((url, f"{where} navigation: {exc}", ""))
                continue
            page.wait_for_timeout(400)
            count += 1
            self.found.pages[where] += 1
            path = self.shot(page, folder, urlsplit(page.url).path + "-" + urlsplit(page.url).query)
            status = response.status if response else 0
            if status >= 400:
                self.found.bad_status.append((url, status, where, path))
            content = page.content()
            if 'id="traceback"' in content or "Server Error (500)" in content or status >= 500:
                title = page.title()
                self.found.tracebacks.append((url, f"{where}: {title}", path))
            if language == "vi":
                for text in set(page.evaluate(TEXTS_JS)):
                    # "1 entry": a count before the words is not part of the label.
                    words = re.sub(r"^\d+\s+", "", text)
                    if words in USERS or (words in roles.ROLES and GROUP_PAGES.search(url)):
                        continue
                    if words in self.labels:
                        self.found.untranslated[words].add(f"{url} [{path}]")
            for href in page.eval_on_selector_all("a[href]", "as => as.map(a => a.href)"):
                target = urljoin(page.url, href).split("#")[0]
                parts = urlsplit(target)
                if not target.startswith(self.hub) or SKIP.search(target):
                    continue
                if not parts.path.startswith(("/admin/", "/inbox/")) or target in seen:
                    continue
                if parts.path.startswith(("/admin/login", "/admin/logout")):
                    continue
                pattern = ID.sub("/N/", parts.path) + ("?" if parts.query else "")
                if per_pattern[pattern] >= self.args.per_pattern:
                    continue
                per_pattern[pattern] += 1
                seen.add(target)
                queue.append(target)
        print(f"  crawled {count} page(s) as {where} ({len(queue)} left in the queue)")
        page.context.close()


def report(found: Findings) -> int:
    print("\n== pages per user and language")
    for where, n in sorted(found.pages.items()):
        print(f"  {where}: {n}")
    print(f"\n== answers ≥ 400 ({len(found.bad_status)})")
    for url, status, where, path in found.bad_status:
        print(f"  {status} {url} ({where}) {path}")
    print(f"\n== server tracebacks ({len(found.tracebacks)})")
    for url, what, path in found.tracebacks:
        print(f"  {url} {what} {path}")
    print(f"\n== console and page errors ({len(found.console)})")
    for url, what, _ in found.console:
        print(f"  {url} {what}")
    print(f"\n== English on Vietnamese pages ({len(found.untranslated)} string(s))")
    for text, urls in sorted(found.untranslated.items()):
        print(f"  {text!r}: {len(urls)} page(s), e.g. {sorted(urls)[0]}")
    ok = sum(1 for _, good, _ in found.steps if good)
    print(f"\n== flow steps: {ok} ok, {len(found.steps) - ok} failed")
    for name, good, detail in found.steps:
        print(f"  {'ok    ' if good else 'FAILED'} {name}: {detail}")
    problems = (
        found.bad_status
        or found.tracebacks
        or found.console
        or found.untranslated
        or ok < len(found.steps)
    )
    return 1 if problems else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path, help="where the screenshots go")
    parser.add_argument("--users", default="admin,agent,agent2")
    parser.add_argument("--languages", default="en,vi")
    parser.add_argument("--max-pages", type=int, default=200, help="per user and language")
    parser.add_argument("--per-pattern", type=int, default=2, help="URLs per path shape")
    parser.add_argument("--no-flows", action="store_true")
    args = parser.parse_args()
    default = "/tmp/zd_walk"  # noqa: S108 (the house's name for this tool's data)
    data_dir = Path(os.environ.get("ZALOHUB_DATA_DIR", default))
    out = args.out.resolve()
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    log = out / "demo.log"
    from playwright.sync_api import sync_playwright

    with demo(data_dir, log) as (hub, sandbox), sync_playwright() as playwright:
        print(f"demo at {hub}, sandbox {sandbox}, log {log}")
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        walker = Walker(browser, hub, sandbox, out, args)
        try:
            admin = walker.open("admin")
            walker.authorize(admin, "Support OA")
            # Sales OA is authorized after the customers wrote: its events wait in Error,
            # then are processed by themselves (the README's "Events that wait for their OA").
            simulate(hub, sandbox, data_dir, log)
            if not args.no_flows:
                walker.events_errors(admin)
            walker.authorize(admin, "Sales OA")
            if not args.no_flows:
                walker.events_recovered(admin)
                walker.admin_flows_oa(admin)
                agent, agent2 = (
                    walker.open("agent", start="/inbox/"),
                    walker.open("agent2", start="/inbox/"),
                )
                walker.inbox_flows(agent, agent2)
                walker.events_failed(admin)
                walker.zbs_flows(admin)
                walker.admin_misc_flows(admin)
                agent.context.close()
                agent2.context.close()
            admin.context.close()
            for username in args.users.split(","):
                for language in args.languages.split(","):
                    print(f"-- crawling as {username} in {language}")
                    walker.crawl(username, language)
        except Exception:
            traceback.print_exc()
            walker.found.steps.append(("the walk itself", False, "stopped early, see above"))
        finally:
            browser.close()
    return report(walker.found)


if __name__ == "__main__":
    sys.exit(main())
