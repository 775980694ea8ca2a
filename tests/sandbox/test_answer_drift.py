"""Zalo's published API answers (``api_*`` samples) against the sandbox and the hub's client.

For each sample, the hub's real client makes its call to the sandbox over loopback HTTP,
and the sandbox's answer must have the sample's key paths, types and nesting (values
differ; list elements are compared by their shape). Then the same client makes the same
call to a loopback server that answers with the sample's bytes, and must read it into the
same typed result as the sandbox's answer: the same class, each field of the same type,
filled or empty alike (an error: the same code, kind and HTTP status).

Kept on purpose (the sandbox follows the other source):
- ``api_oauth_v4_error__invalid_refresh_token``: the sample is a Go test's mock (its
  source says "a mock, not a confirmed capture") with ``message``, ``access_token`` and
  ``refresh_token`` beside ``error``/``error_name``. The sandbox answers token errors as
  the live capture in API.md §1.6 does: ``error``, ``error_name``, ``error_description``,
  ``error_reason``, ``ref_doc``. The hub reads both into the same ZaloError.

Not covered here, for want of a sample: the template list (``template/all``), OA
profile (``getoa``), tags and conversation history; ``test_client_contract.py`` and
``test_zns.py`` test those calls against the sandbox.
"""

import dataclasses
import json
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from tests.sandbox.test_wire_drift import _shape
from tests.sandbox.test_zns import PHONE, TEMPLATE, Zns
from tests.sandbox.wire import SECRETS, make_verifier
from zalohub.apilog import services as apilog_services
from zalohub.sandbox.world import APP_SUPPORT_ID, SON_SUPPORT_USER_ID, demo_world
from zalohub.zalo import ZaloClient, ZaloError
from zalohub.zalo.transport import Call, ZaloTransport, add_recorder, remove_recorder

SAMPLES = Path(__file__).parents[1] / "fixtures" / "zalo_samples"
REFERENCE = Path(__file__).resolve().parents[3] / "shared" / "zalo" / "samples"
API_SAMPLES = sorted(SAMPLES.glob("api_*.json"))
SECRET = SECRETS[APP_SUPPORT_ID]
MAI = "5830174629118340317"  # Support OA; shared her address and phone, no tags
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
BUTTONS = [
    {"type": 1, "title": "Xem đơn hàng", "content": "https://shop.example.vn/don/DH8821"},
    {"type": 2, "title": "Gọi CSKH", "content": "84912345678"},
]

# The difference kept on purpose (see the module's docstring): (only in the sample, only
# in the sandbox's answer).
KEPT = {
    "api_oauth_v4_error__invalid_refresh_token.json": (
        {(".message", "str"), (".access_token", "str"), (".refresh_token", "str")},
        {(".error_description", "str"), (".error_reason", "str"), (".ref_doc", "str")},
    ),
}


# --- the sandbox's side: what to set up, then the client's call ---------------------------
Context = dict[str, Any]


@dataclass(frozen=True)
class Case:
    prepare: Callable[[Any], Context]  # given the Wire (raw HTTP to the sandbox)
    call: Callable[[ZaloClient, Context], object]


def _connected(wire) -> Context:
    return {"token": wire.connect()["access_token"]}


def _zns(wire, **template: object) -> Context:
    zns = Zns(wire)
    template_id = zns.approved(**template)
    return {"token": zns.token, "template_id": template_id, "zns": zns}


def _code(wire) -> Context:
    verifier = make_verifier()
    return {"code": wire.approve(verifier=verifier)["code"], "verifier": verifier}


def _spent_refresh_token(wire) -> Context:
    spent = wire.connect()["refresh_token"]
    assert "access_token" in wire.by_refresh(spent)
    return {"refresh_token": spent}


def _silent_for_8_days(wire) -> Context:
    # Mai last wrote 3 days ago: 8 days on, she is outside the 7-day window.
    assert wire.control("POST", "clock", {"advance_seconds": 8 * 86400}).status_code == 200
    return _connected(wire)


def _mai_with_alias(wire) -> Context:
    world = demo_world()
    [mai] = [u for u in world["users"] if u["user_id"] == MAI]
    mai["user_alias"] = "Chị Mai (Đà Nẵng)"  # what the OA's staff named her on Zalo
    assert wire.control("POST", "reset", world).status_code == 200
    return _connected(wire)


def _delivered(wire) -> Context:
    ctx = _zns(wire)
    sent = ctx["zns"].send(ctx["template_id"], tracking_id="status-1")
    assert sent["error"] == 0, sent
    ctx["zns"].control("deliver")
    return {**ctx, "msg_id": sent["data"]["msg_id"]}


def _with_buttons(wire) -> Context:
    layout = {**TEMPLATE["layout"], "footer": {"components": [{"BUTTONS": {"items": BUTTONS}}]}}
    return _zns(wire, layout=layout)


DATA = {"order_code": "DH8821"}


def _template_send(send: Callable[[ZaloClient], Callable[..., object]], **to: str) -> Case:
    """A ZNS send of an approved template with ``DATA``, by the route ``send`` picks (by
    UID or by phone), to the recipient and with the tracking id in ``to``."""
    return Case(
        _zns,
        lambda c, x: send(c)(
            access_token=x["token"], template_id=x["template_id"], template_data=DATA, **to
        ),
    )


CASES: dict[str, Case] = {
    "api_oauth_v4_oa_access_token__response.json": Case(
        _code,
        lambda c, x: c.oauth.exchange_code(
            app_id=APP_SUPPORT_ID, secret_key=SECRET, code=x["code"], code_verifier=x["verifier"]
        ),
    ),
    "api_oauth_v4_error__invalid_refresh_token.json": Case(
        _spent_refresh_token,
        lambda c, x: c.oauth.refresh(
            app_id=APP_SUPPORT_ID, secret_key=SECRET, refresh_token=x["refresh_token"]
        ),
    ),
    "api_message_cs__response.json": Case(
        _connected,
        lambda c, x: c.oa.send_message(
            access_token=x["token"],
            recipient={"user_id": SON_SUPPORT_USER_ID},
            message={"text": "Chào anh Sơn"},
        ),
    ),
    "api_oa_error__-230_not_interacted_7_days.json": Case(
        _silent_for_8_days,
        lambda c, x: c.oa.send_message(
            access_token=x["token"], recipient={"user_id": MAI}, message={"text": "Chào chị"}
        ),
    ),
    "api_message_template_uid__response.json": _template_send(
        lambda c: c.zns.send_by_uid, user_id=SON_SUPPORT_USER_ID, tracking_id="uid-1"
    ),
    "api_quota_message__oa_assets.json": Case(
        _connected, lambda c, x: c.history.quota_assets(access_token=x["token"])
    ),
    "api_upload_image__response.json": Case(
        _connected,
        lambda c, x: c.oa.upload(
            access_token=x["token"],
            kind="image",
            filename="don-hang.png",
            content=PNG,
            content_type="image/png",
        ),
    ),
    "api_user_detail__official_doc.json": Case(
        _mai_with_alias, lambda c, x: c.oa.get_user_detail(access_token=x["token"], user_id=MAI)
    ),
    "api_user_getlist__response.json": Case(
        _connected, lambda c, x: c.oa.list_users(access_token=x["token"], count=15)
    ),
    "api_zns_error__-124_access_token_invalid.json": Case(
        lambda wire: {"token": "never-issued"}, lambda c, x: c.zns.quota(access_token=x["token"])
    ),
    "api_zns_message_quota__response.json": Case(
        _connected, lambda c, x: c.zns.quota(access_token=x["token"])
    ),
    "api_zns_message_status__response.json": Case(
        _delivered,
        lambda c, x: c.zns.message_status(access_token=x["token"], message_id=x["msg_id"]),
    ),
    "api_zns_message_template__response_doc.json": _template_send(
        lambda c: c.zns.send_by_phone, phone=PHONE, tracking_id="phone-1"
    ),
    "api_zns_quality__response.json": Case(
        _connected, lambda c, x: c.zns.quality(access_token=x["token"])
    ),
    "api_zns_template_info_v2__response.json": Case(
        _with_buttons,
        lambda c, x: c.zns.template_detail(access_token=x["token"], template_id=x["template_id"]),
    ),
}


# --- the sample's side: a loopback server that answers with the sample's bytes -----------
class Replay:
    """Answers every request with ``body`` (HTTP 200, as Zalo answers its errors too)."""

    def __init__(self) -> None:
        self.body = b"{}"
        replay = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                self.send_response(200)
                self.send_header("Content-Type", "application/json; charset=utf-8")
                self.send_header("Content-Length", str(len(replay.body)))
                self.end_headers()
                self.wfile.write(replay.body)

            do_GET = do_POST = _answer

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def _client(base: str) -> ZaloClient:
    return ZaloClient(
        oauth_url=f"{base}/oauth",
        openapi_url=f"{base}/openapi",
        business_url=f"{base}/business",
        transport=ZaloTransport(timeout=5.0, connect_timeout=2.0),
    )


@pytest.fixture
def calls() -> Iterator[list[Call]]:
    """What the client's transport saw; the hub's DB logger is unplugged (no database here)."""
    seen: list[Call] = []
    remove_recorder(apilog_services.record_call)
    add_recorder(seen.append)
    yield seen
    remove_recorder(seen.append)
    add_recorder(apilog_services.record_call)


@pytest.fixture
def replay() -> Iterator[Replay]:
    server = Replay()
    yield server
    server.close()


def _result(call: Callable[[ZaloClient, Context], object], base: str, ctx: Context) -> object:
    client = _client(base)
    try:
        return call(client, ctx)
    except ZaloError as error:
        return error
    finally:
        client.transport.close()


def _typed(value: Any) -> Any:
    """What the hub's typed result is made of: class, and per field its type and whether
    it is filled; a dict by its key paths and types; an error by code, kind and status."""
    if isinstance(value, ZaloError):
        return ("ZaloError", value.code, value.kind, value.http_status)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        fields = dataclasses.fields(value)
        return (
            type(value).__name__,
            tuple((f.name, _typed(getattr(value, f.name))) for f in fields if f.compare),
        )
    if isinstance(value, dict):
        return ("dict", frozenset(_shape(value)))
    if isinstance(value, list | tuple):
        return (type(value).__name__, frozenset(_typed(v) for v in value))
    if isinstance(value, str):
        return ("str", value != "")
    return type(value).__name__


@pytest.mark.parametrize("path", API_SAMPLES, ids=lambda p: p.name)
def test_the_sandbox_answers_as_the_sample_and_the_hub_reads_both_alike(path, wire, calls, replay):
    sample = json.loads(path.read_text())
    case = CASES[path.name]
    ctx = case.prepare(wire)
    ours = _result(case.call, wire.base, ctx)
    [answered] = [c for c in calls if c.url.startswith(wire.base)]
    answer = json.loads(answered.response_body)
    # It should answer with the sample's key paths, types and nesting...
    only_sample, only_sandbox = KEPT.get(path.name, (set(), set()))
    assert _shape(sample) - _shape(answer) == only_sample, answer
    assert _shape(answer) - _shape(sample) == only_sandbox, answer
    # ... and the hub's client should read the sample as it reads the sandbox's answer.
    replay.body = path.read_bytes()
    theirs = _result(case.call, replay.url, ctx)
    assert _typed(ours) == _typed(theirs), (ours, theirs)


def test_every_published_api_sample_is_here_unchanged_and_has_a_case():
    # It should hold every API answer the shared reference publishes, byte for byte...
    assert len(API_SAMPLES) >= 15
    if REFERENCE.is_dir():
        published = {p.name for p in REFERENCE.glob("api_*.json")}
        assert published <= {p.name for p in API_SAMPLES}
        for path in API_SAMPLES:
            if (REFERENCE / path.name).exists():
                assert path.read_bytes() == (REFERENCE / path.name).read_bytes(), path.name
    # ... and go through the sandbox and the hub for each.
    assert {p.name for p in API_SAMPLES} == set(CASES)
    assert set(KEPT) <= set(CASES)
