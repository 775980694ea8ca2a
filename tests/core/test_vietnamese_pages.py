"""Every page of the demo reads in Vietnamese: no English word outside an allow-list.

The demo's world is built the way a user builds it (OAs authorized on the sandbox's
consent page, customers simulated through signed webhooks, replies, templates through
the sandbox's reviewer, a broken OA, duplicates and a merge), then every page an admin
and an agent can reach is requested with the Vietnamese language and its visible text
is checked word by word.
"""

import json
import re
import time
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import django
import httpx
import pytest
from django.conf import settings
from django.contrib.auth.models import User
from django.core.management import call_command
from django.test import Client
from django.urls import reverse
from django.utils import translation

from tests.helpers import consent, fixture, post_webhook
from zalohub.accounts.models import OfficialAccount
from zalohub.accounts.oauth import oauth_complete, oauth_start
from zalohub.accounts.tokens import oa_refresh_token
from zalohub.demo import seed_demo
from zalohub.diagnostics.services import health_refresh
from zalohub.events.models import Direction, ZaloEvent
from zalohub.events.outbound.oa_message import PENDING, message_send, send_outbound
from zalohub.events.processing.queue import drain
from zalohub.partners.duplicates import duplicates_scan
from zalohub.partners.merge import partner_merge
from zalohub.partners.models import (
    DuplicateSuggestion,
    MergeJournal,
    Partner,
    PartnerPhone,
    ZaloPartnerLink,
)
from zalohub.sandbox import payloads, reviewer
from zalohub.sandbox.simulate import run_scenario
from zalohub.sandbox.world import APP_SUPPORT_ID, OA_SUPPORT_ID, SON_PHONE
from zalohub.zbs.bulk import bulk_run, bulk_start
from zalohub.zbs.models import BulkSend, Template
from zalohub.zbs.sending import TemplateSendRefused, template_send
from zalohub.zbs.services import template_submit
from zalohub.zbs.starters import STARTERS, template_from_starter

pytestmark = pytest.mark.django_db(transaction=True)

UNKNOWN_USER = "5830174629118349999"

# Pages of one shape (an event's change form, a template's) are checked this many times:
# enough to meet each state the demo puts them in, without reading hundreds of rows.
PER_SHAPE = 4
# Query parameters that only sort, page or carry a list's filters into a form.
SKIP_PARAMS = {"o", "p", "_changelist_filters", "_popup", "_to_field", "all", "e", "_facets"}
# Never followed: leaving the hub, logging out, switching language, the live stream.
SKIP_PATHS = ("/admin/logout/", "/i18n/", "/static/", "/inbox/events/", "/zalo/")


class _Text(HTMLParser):
    """The words a person reads: text outside script/style and the labelling
    attributes (title, placeholder, aria-label, a button's value).

    Not read: raw payloads and bodies (``pre``/``code``: data exactly as Zalo sent it),
    and the options of Django's permission pickers (permission names are rows Django
    writes in English when it migrates: "Can add ...")."""

    SKIP = {"script", "style", "template", "pre", "code"}
    SKIP_SELECTS = {"permissions", "user_permissions", "permissions_old", "user_permissions_old"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.links: list[str] = []
        self._skipping: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag in self.SKIP or (tag == "select" and a.get("name") in self.SKIP_SELECTS):
            self._skipping.append(tag)
        if tag == "a" and a.get("href"):
            self.links.append(a["href"])
        if self._skipping:
            return
        for name in ("title", "placeholder", "aria-label"):
            if a.get(name):
                self.parts.append(a[name])
        if tag == "input" and a.get("type") in ("submit", "button", "reset") and a.get("value"):
            self.parts.append(a["value"])

    def handle_endtag(self, tag: str) -> None:
        if self._skipping and self._skipping[-1] == tag:
            self._skipping.pop()

    def handle_data(self, data: str) -> None:
        if not self._skipping and data.strip():
            self.parts.append(data)


_SITE = Path(django.__file__).parent
LOCALE = Path(settings.BASE_DIR) / "zalohub" / "locale" / "vi" / "LC_MESSAGES" / "django.po"
VI_CATALOGUES = [
    LOCALE,
    Path(settings.BASE_DIR) / "zalohub" / "locale_django" / "vi" / "LC_MESSAGES" / "django.po",
    _SITE / "conf" / "locale" / "vi" / "LC_MESSAGES" / "django.po",
    _SITE / "contrib" / "admin" / "locale" / "vi" / "LC_MESSAGES" / "django.po",
    _SITE / "contrib" / "auth" / "locale" / "vi" / "LC_MESSAGES" / "django.po",
]
# Words that stay as they are in Vietnamese: brands, protocols, the product's name.
ALLOWED = {
    "zalo",
    "zbs",
    "zns",
    "oa",
    "oas",
    "oauth",
    "api",
    "url",
    "id",
    "uid",
    "pkce",
    "zalohub",
    "http",
    "https",
    "json",
    "webhook",
    "webhooks",
    "otp",
    "csv",
    # HTTP methods, as an API log names a call ("GET oa.user.detail").
    "get",
    "post",
    # A loanword Vietnamese customers write ("Alo shop ơi"): their messages are data.
    "shop",
}
# The demo's own data, written as the demo writes it: OA and app names, role (group)
# names, logins. Taken out of the text before its words are read.
ALLOWED_PHRASES = [
    "zalohub Support App",
    "zalohub Sales App",
    "Support OA",
    "Sales OA",
    "CS Agent",
    "Zalo Events",
    "Zalo Admin",
    "admin",
    "agent",
    # Django names the rows of a many-to-many table in English when it starts (the
    # name is built at import, before any language is active): shown on delete pages.
    "Group-permission relationships",
    "Group-permission relationship",
    "User-group relationships",
    "User-group relationship",
    "User-permission relationships",
    "User-permission relationship",
]
# Template parameter names are identifiers Zalo keeps (<amount>), not words.
PARAMETERS = {p["name"] for s in STARTERS for p in s.params}


def _po_strings(path: Path, field: str) -> list[str]:
    """Every msgid or msgstr of a .po file, continuation lines joined."""
    text = path.read_text()
    pattern = rf'^{field}(?:\[\d\])? ((?:".*"\n?)+)'
    return ["".join(re.findall(r'"(.*)"', m)) for m in re.findall(pattern, text, re.M)]


_PLACEHOLDER = re.compile(r"%\(\w+\)[sdf]|\{\w*\}|%[sd]")


def english_words() -> set[str]:
    """Every word of the catalogue's English msgids (what the UI says in English)."""
    words: set[str] = set()
    for msgid in _po_strings(LOCALE, "msgid"):
        words |= {w.lower() for w in _WORD.findall(_PLACEHOLDER.sub(" ", msgid)) if len(w) > 1}
    return words


def vietnamese_words() -> set[str]:
    """Every word of the Vietnamese translations, ours and Django's: an ASCII word that
    Vietnamese also uses ("in", "do", "to") is not counted as English."""
    words: set[str] = set()
    for path in VI_CATALOGUES:
        for msgstr in _po_strings(path, "msgstr"):
            words |= {w.lower() for w in _WORD.findall(_PLACEHOLDER.sub(" ", msgstr))}
    return words


# A chunk of text that is a code, not words: identifiers, URLs, paths, keys, numbers,
# and masked secrets (the user page shows a password hash's salt as "oR*****": its
# visible letters are random and now and then spell an English word).
_CODE = re.compile(r"[_/@=\\{}\[\]<>#]|\w\.\w|://|\d|\*\*")
# A line of JSON (a task's return value, headers): data, shown as stored.
_JSON = re.compile(r'^\s*(?:[{\[]|"[^"]*"\s*[:,]?\s*$|"[^"]*":)')
_WORD = re.compile(r"[A-Za-z]+(?:'[a-z]+)?")


def english_in(text: str, *, english: set[str], vietnamese: set[str]) -> list[str]:
    """The English words of ``text``, each with the line it stands in."""
    found = []
    for phrase in ALLOWED_PHRASES:
        text = re.sub(rf"\b{re.escape(phrase)}\b", " ", text)
    for line in text.splitlines():
        if _JSON.match(line):
            continue
        for chunk in line.split():
            if _CODE.search(chunk):
                continue
            for word in _WORD.findall(chunk):
                low = word.lower()
                known = low in vietnamese or low in ALLOWED or low in PARAMETERS
                if low in english and not known:
                    found.append(f"{word} («{line.strip()[:80]}»)")
    return found


def _shape(path: str, query: dict[str, str]) -> str:
    return re.sub(r"/\d+/", "/#/", path) + "?" + ",".join(sorted(query))


def crawl(client: Client, starts: list[str]) -> Iterator[tuple[str, str]]:
    """(url, visible text) of every page reachable from ``starts`` by links."""
    seen_urls: set[str] = set()
    shapes: dict[str, int] = {}
    queue = list(starts)
    while queue:
        url = queue.pop(0)
        parts = urlsplit(url)
        query = dict(parse_qsl(parts.query))
        key = parts.path + "?" + parts.query
        if key in seen_urls or any(parts.path.startswith(p) for p in SKIP_PATHS):
            continue
        # One filter at a time: each filter's choices are read once, not every combination.
        if (
            set(query) & SKIP_PARAMS
            or len(query) > 1
            or any(
                "__" in k
                for k in query
                if "exact" not in k and k.endswith(("gte", "lt", "day", "month", "year"))
            )
        ):
            continue
        shape = _shape(parts.path, query)
        if shapes.get(shape, 0) >= PER_SHAPE:
            continue
        seen_urls.add(key)
        shapes[shape] = shapes.get(shape, 0) + 1
        response = client.get(key)
        assert response.status_code in (200, 302, 403), (url, response.status_code)
        if response.status_code != 200 or response.streaming:
            continue
        if not response.get("Content-Type", "").startswith("text/html"):
            continue
        parser = _Text()
        parser.feed(response.content.decode())
        yield key, "\n".join(parser.parts)
        for href in parser.links:
            link = urlsplit(href)
            if link.scheme or link.netloc or not (link.path or "").startswith("/"):
                if link.scheme or link.netloc or not link.query:
                    continue
                href = parts.path + "?" + link.query  # a filter link relative to the page
            queue.append(href.split("#")[0])


def _run_worker_tasks() -> None:
    """What a worker does with queued tasks: run every one that is due, then stop."""
    call_command(
        "db_worker", queue_name="*", batch=True, reload=False, startup_delay=False, verbosity=0
    )


def _send_due() -> None:
    due = ZaloEvent.objects.filter(direction=Direction.OUTBOUND, processing_state__in=PENDING)
    for pk in due.order_by("id").values_list("pk", flat=True):
        send_outbound(event_id=pk, worker_id="test")


def build_demo(sandbox_server, sandbox) -> None:  # type: ignore[no-untyped-def]
    """The demo after the README's walk, with something in every state."""
    seed_demo()
    support = OfficialAccount.objects.get(name="Support OA")
    # A customer writes before the Support OA is authorized: processing fails.
    raw = fixture("user_send_text__official")
    post_webhook(Client(), APP_SUPPORT_ID, raw, key=support.app.oa_secret_key)
    drain()
    for oa in OfficialAccount.objects.order_by("pk"):
        oauth_complete(app_id=oa.app.app_id, params=consent(oauth_start(oa=oa)))
    run_scenario(
        sandbox_url=sandbox_server.base_url,
        # Nothing listens there: the test relays the signed deliveries to the hub itself.
        hub="http://127.0.0.1:9",
        scenario="all",
        duplicate=1,
        corrupt="signature",
        wait=0,
    )
    _relay(sandbox)
    support.refresh_from_db()
    # A customer Zalo has no profile for: a shadow contact keeps the placeholder name.
    payload = payloads.user_send(
        app_id=APP_SUPPORT_ID,
        oa_id=OA_SUPPORT_ID,
        user_id=UNKNOWN_USER,
        by_app="3104458812290779999",
        kind="text",
        msg_id="vi-unknown-1",
        timestamp=str(int(time.time() * 1000)),
        text="Alo shop ơi",
    )
    raw = json.dumps(payload, ensure_ascii=False)
    post_webhook(Client(), APP_SUPPORT_ID, raw, key=support.app.oa_secret_key)
    drain()
    # Replies: one delivered, one refused by Zalo, one waiting to retry after a 503.
    links = list(ZaloPartnerLink.objects.select_related("oa").order_by("pk")[:3])
    assert len(links) == 3, "the simulation should bring at least three customers"
    faults = [None, ("zalo_error", {"code": -230}), ("http_503", {})]
    texts = ["Dạ, đơn hàng đã giao hôm qua ạ.", "Báo giá tháng 11", "Cảm ơn anh chị."]
    for link, fault, text in zip(links, faults, texts, strict=True):
        if fault:
            sandbox.add_fault("oa.message.cs", fault[0], times=1, **fault[1])
        message_send(oa=link.oa, user_id=link.zalo_user_id, text=text)
        _send_due()
    # Templates: every starter copied, one approved, one rejected, one left in Draft.
    templates = [template_from_starter(oa=support, key=s.key) for s in STARTERS]
    approved, rejected, draft = templates[0], templates[1], templates[2]
    for template, decision in ((approved, "approve"), (rejected, "reject")):
        template_submit(template=template)
        reviewer.review(
            sandbox,
            template_id=template.zalo_template_id,
            decision=decision,
            reason="Nội dung chưa rõ ràng" if decision == "reject" else "",
        )
    _relay(sandbox)
    approved.refresh_from_db()
    assert approved.status == Template.Status.APPROVED
    partners = list(Partner.objects.filter(merged_into__isnull=True).order_by("pk"))
    params = {p["name"]: p.get("sample", "1") for p in approved.params}
    template_send(partner=partners[0], template=approved, params=params)
    with pytest.raises(TemplateSendRefused):
        template_send(partner=partners[0], template=draft, params=params)
    bulk_run(bulk=bulk_start(template=approved, partners=partners, params=params, enqueue=False))
    _run_worker_tasks()
    # A broken OA: the Sales OA's tokens expire and Zalo refuses to refresh them.
    sales = OfficialAccount.objects.get(name="Sales OA")
    httpx.post(
        f"{sandbox_server.base_url}/_sandbox/scenarios/expired_token", json={"oa_id": sales.oa_id}
    )
    # The hub sees it at its next call (as after Sync OA Profile): the OA turns Error.
    oa_refresh_token(oa=sales, force=True)
    for oa in OfficialAccount.objects.order_by("pk"):
        health_refresh(oa=oa)
    # Duplicates found, one pair merged.
    # Staff typed Mr. Son in twice (the seed's duplicate case): one merged, one left open.
    for name in ("Nguyễn Văn Sơn", "Nguyen Van Son"):
        typed = Partner.objects.create(name=name, is_shadow=False)
        PartnerPhone.objects.create(partner=typed, number=SON_PHONE, source="manual")
    duplicates_scan()
    suggestion = DuplicateSuggestion.objects.order_by("pk").first()
    assert suggestion is not None, "the scan should suggest the duplicates"
    partner_merge(survivor=suggestion.first, merged=suggestion.second)


_relayed: set[int] = set()


def _relay(sandbox) -> None:  # type: ignore[no-untyped-def]
    """Post each signed delivery the sandbox made, as Zalo sent it, to the hub; process."""
    client = Client()
    for delivery in sandbox.webhooks.deliveries():
        if delivery.id in _relayed:
            continue
        _relayed.add(delivery.id)
        extra = {f"HTTP_{k.upper().replace('-', '_')}": v for k, v in delivery.headers.items()}
        extra.pop("HTTP_CONTENT_TYPE", None)
        client.post(
            f"/zalo/webhook/{delivery.app_id}/",
            data=delivery.body,
            content_type="application/json",
            **extra,
        )
    drain()


def _client(username: str) -> Client:
    client = Client(HTTP_ACCEPT_LANGUAGE="vi")
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "vi"
    client.force_login(User.objects.get(username=username))
    return client


@pytest.fixture
def demo(sandbox_server, sandbox) -> Iterator[None]:
    config = sandbox.webhooks.config
    before = (config.time_factor, config.receipt_delay)
    build_demo(sandbox_server, sandbox)
    yield
    # The sandbox lives for the session: its deliveries done, its pace as it was.
    sandbox.webhooks.wait_idle(10)
    config.update(time_factor=before[0], receipt_delay=before[1])


def _check(username: str, starts: list[str]) -> tuple[list[str], list[str], str]:
    """(pages read, each English word found with its line and the first page showing
    it, every page's text)."""
    english, vietnamese = english_words(), vietnamese_words()
    urls, leftovers, texts = [], {}, []
    # The requests switch this thread to Vietnamese: the tests after these must not
    # inherit it.
    with translation.override(translation.get_language()):
        for url, text in crawl(_client(username), starts):
            urls.append(url)
            texts.append(text)
            for found in english_in(text, english=english, vietnamese=vietnamese):
                # The same line on many rows (or pages) is one leftover.
                leftovers.setdefault(re.sub(r"\d+", "#", found), url)
    return urls, [f"{found} on {url}" for found, url in leftovers.items()], "\n".join(texts)


def _reached(urls: list[str], pattern: str) -> bool:
    return any(re.search(pattern, url) for url in urls)


# The custom pages, besides the index, every list and every form: each must be read.
ADMIN_PAGES = [
    r"^/admin/\?",
    r"^/admin/accounts/officialaccount/\d+/change/",
    r"^/admin/diagnostics/healthsnapshot/\?",
    r"^/admin/diagnostics/healthsnapshot/escalation/",
    r"^/admin/zbs/template/oa/\d+/dashboard/",
    r"^/admin/zbs/template/oa/\d+/starters/",
    r"^/admin/zbs/template/\d+/send/",
    r"^/admin/zbs/template/\d+/bulk/",
    r"^/admin/zbs/template/bulk/\d+/",
    r"^/admin/partners/zalopartnerlink/audit/\d+/",
    r"^/admin/partners/mergejournal/\d+/change/",
    r"^/admin/events/zaloevent/\d+/change/",
    r"^/inbox/c/\d+/",
]
AGENT_PAGES = [r"^/inbox/\?", r"^/inbox/c/\d+/"]


def _admin_starts() -> list[str]:
    """The index and inbox, and the pages only a button (a form) leads to."""
    approved = Template.objects.get(status=Template.Status.APPROVED)
    starts = ["/admin/", "/inbox/"]
    starts += [reverse(f"admin:zbs_template_{n}", args=[approved.pk]) for n in ("send", "bulk")]
    starts += [
        reverse("admin:zbs_template_bulk_progress", args=[b.pk]) for b in BulkSend.objects.all()
    ]
    starts += [
        reverse("admin:partners_mergejournal_change", args=[j.pk])
        for j in MergeJournal.objects.all()
    ]
    return starts


def test_every_page_an_admin_reaches_reads_in_vietnamese(demo):
    urls, leftovers, text = _check("admin", _admin_starts())
    print(f"\nadmin: {len(urls)} pages in vi, allow-list of {len(ALLOWED)} words")
    # It should render the whole admin: the index, lists, forms and the custom pages.
    missing = [p for p in ADMIN_PAGES if not _reached(urls, p)]
    assert missing == [], f"not reached: {missing}"
    # It should name the customer Zalo gave no profile for in Vietnamese.
    assert f"Người dùng Zalo {UNKNOWN_USER[-6:]}" in text
    # It should show no English word outside the allow-list.
    assert leftovers == [], "\n".join(leftovers)


def test_every_page_an_agent_reaches_reads_in_vietnamese(demo):
    urls, leftovers, text = _check("agent", ["/admin/", "/inbox/"])
    print(f"\nagent: {len(urls)} pages in vi")
    missing = [p for p in AGENT_PAGES if not _reached(urls, p)]
    assert missing == [], f"not reached: {missing}"
    assert f"Người dùng Zalo {UNKNOWN_USER[-6:]}" in text
    assert leftovers == [], "\n".join(leftovers)


def test_the_checker_finds_english_and_passes_vietnamese():
    english, vietnamese = english_words(), vietnamese_words()
    # It should flag an English UI word, and not a Vietnamese one, a brand or a code.
    found = english_in("Retry processing", english=english, vietnamese=vietnamese)
    assert [f.split()[0] for f in found] == ["Retry", "processing"]
    text = "Thử xử lý lại Zalo OA user_send_text https://x.example/y 84912345678"
    assert english_in(text, english=english, vietnamese=vietnamese) == []
    # A masked secret is data: a salt whose shown letters happen to spell "or".
    masked = "thuật toán: pbkdf2_sha256 muối: oR******************** băm: ab12**********"
    assert english_in(masked, english=english, vietnamese=vietnamese) == []
    assert english_in("oR retry", english=english, vietnamese=vietnamese) != []


def test_a_stored_failure_reason_reads_in_the_readers_language():
    from zalohub.core.stored_text import Reason, reason, shown
    from zalohub.partners.models import shown_name
    from zalohub.zbs.models import Template

    draft = "The template “Nhắc lịch hẹn” is Draft, not Approved: it cannot be sent."
    refused = Reason(
        "Zalo error %(code)s: %(message)s",
        {"code": -230, "message": "User has not interacted with the OA in the past 7 days"},
        -230,
    )
    not_approved = reason(
        "The template “%(name)s” is %(status)s, not Approved: it cannot be sent.",
        name="Nhắc lịch hẹn",
        status=Template.Status.DRAFT.label,
    )
    with translation.override("vi"):
        # It should explain a Zalo code in Vietnamese, not repeat Zalo's English message.
        zalo = refused.render()
        assert zalo == "Lỗi Zalo -230: Khách hàng chưa tương tác với OA trong 7 ngày qua."
        # It should render one of the hub's own reasons, its labels too.
        assert not_approved.render().startswith("Mẫu “Nhắc lịch hẹn” đang ở trạng thái Nháp")
        # It should name a shadow contact's placeholder in Vietnamese.
        assert shown_name("Zalo user 340317") == "Người dùng Zalo 340317"
    with translation.override("en"):
        # It should read the same reason in English (the template's name is data).
        assert not_approved.render() == draft
        assert shown_name("Người dùng Zalo 340317") == "Zalo user 340317"
        # It should leave a row's text without a stored reason (typed by a person) as it was.
        assert shown("stuck since Monday", None) == "stuck since Monday"
        assert shown_name("Zalo user Sơn") == "Zalo user Sơn"
