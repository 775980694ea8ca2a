"""Contract: the hub's real client against the sandbox, over HTTP, for every call it makes.

Each client call must work, and every way it can fail must reach the caller as a
ZaloError of the right kind: RETRYABLE (back off), AUTH (refresh), PERMANENT (give up).
"""

from collections.abc import Callable, Iterator

import pytest

from tests.sandbox.wire import make_verifier
from zalohub.apilog import services as apilog_services
from zalohub.sandbox.world import (
    APP_SALES_ID,
    APP_SUPPORT_ID,
    OA_SALES_ID,
    OA_SUPPORT_ID,
    SON_PHONE,
    SON_SALES_USER_ID,
    SON_SUPPORT_USER_ID,
)
from zalohub.zalo import ErrorKind, ZaloClient, ZaloError
from zalohub.zalo.oauth import code_challenge
from zalohub.zalo.transport import Call, ZaloTransport, add_recorder, remove_recorder

SECRET = "sandbox-secret-app-a"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


@pytest.fixture
def calls() -> Iterator[list[Call]]:
    """What the client's transport saw; the hub's DB logger is unplugged (no database here)."""
    seen: list[Call] = []
    remove_recorder(apilog_services.record_call)
    add_recorder(seen.append)
    yield seen
    remove_recorder(seen.append)
    add_recorder(apilog_services.record_call)


def _client(base: str, timeout: float = 5.0) -> ZaloClient:
    return ZaloClient(
        oauth_url=f"{base}/oauth",
        openapi_url=f"{base}/openapi",
        business_url=f"{base}/business",
        transport=ZaloTransport(timeout=timeout, connect_timeout=2.0),
    )


@pytest.fixture
def client(wire, calls) -> Iterator[ZaloClient]:
    zalo = _client(wire.base)
    yield zalo
    zalo.transport.close()


def _connect(client: ZaloClient, wire, app_id: str = APP_SUPPORT_ID, secret: str = SECRET):
    verifier = make_verifier()
    url = client.oauth.authorization_url(
        app_id=app_id,
        redirect_uri="http://127.0.0.1:9/cb",
        code_challenge=code_challenge(verifier),
        state="s",
    )
    page = wire.http.get(url)
    assert page.status_code == 200, page.text[:300]
    params = wire.approve(
        app_id=app_id,
        verifier=verifier,
        redirect_uri="http://127.0.0.1:9/cb",
        oa_id={APP_SUPPORT_ID: OA_SUPPORT_ID, APP_SALES_ID: OA_SALES_ID}[app_id],
    )
    return client.oauth.exchange_code(
        app_id=app_id, secret_key=secret, code=params["code"], code_verifier=verifier
    )


def test_exchange_code_and_refresh(client, wire, calls):
    grant = _connect(client, wire)
    assert grant.access_token and grant.refresh_token and grant.expires_in == 90000
    fresh = client.oauth.refresh(
        app_id=APP_SUPPORT_ID, secret_key=SECRET, refresh_token=grant.refresh_token
    )
    assert fresh.refresh_token != grant.refresh_token
    assert [c.endpoint for c in calls] == ["oauth.access_token.code", "oauth.access_token.refresh"]


def test_oa_profile_and_user_detail(client, wire, calls):
    support = _connect(client, wire).access_token
    sales = _connect(client, wire, APP_SALES_ID, "sandbox-secret-app-b").access_token
    profile = client.oa.get_oa_profile(access_token=support)
    assert (profile.oa_id, profile.name) == (OA_SUPPORT_ID, "Support OA")
    assert profile.avatar.startswith(wire.base) and profile.is_verified
    son = client.oa.get_user_detail(access_token=sales, user_id=SON_SALES_USER_ID)
    assert son.display_name == "Nguyễn Văn Sơn" and son.shared_phone == SON_PHONE
    assert son.is_follower is True and son.user_id_by_app
    assert (
        client.oa.get_user_detail(access_token=support, user_id=SON_SUPPORT_USER_ID).shared_phone
        == ""
    )
    # It should read Zalo's rate-limit headers off every OA call.
    assert calls[-1].rate_limit == (4000, 3998)


def test_user_detail_gives_what_the_oas_staff_set_on_zalo(client, wire, sandbox):
    sales = _connect(client, wire, APP_SALES_ID, "sandbox-secret-app-b").access_token
    support = _connect(client, wire).access_token
    with sandbox.lock:
        # Zalo's documented sample sends notes: [""] for a user without any.
        sandbox.users[OA_SUPPORT_ID][SON_SUPPORT_USER_ID]["notes"] = ["", "Gọi lại sau 17h"]
    tuan = client.oa.get_user_detail(access_token=sales, user_id="7726501938446120844")
    son = client.oa.get_user_detail(access_token=support, user_id=SON_SUPPORT_USER_ID)
    # It should read the alias, tags and notes, without empty entries.
    assert (tuan.display_name, tuan.user_alias) == ("Võ Minh Tuấn", "Anh Tuấn (đại lý Quận 7)")
    assert son.tag_names == ("Khách VIP",) and son.notes == ("Gọi lại sau 17h",)
    assert tuan.tag_names == () and tuan.notes == ()


# Every client call, as (name, route, callable given a connected client and its tokens).
Action = Callable[[ZaloClient, dict], object]
ACTIONS: dict[str, tuple[str, Action]] = {
    "refresh": (
        "oauth.access_token",
        lambda c, t: c.oauth.refresh(
            app_id=APP_SUPPORT_ID, secret_key=SECRET, refresh_token=t["refresh"]
        ),
    ),
    "getoa": ("oa.getoa", lambda c, t: c.oa.get_oa_profile(access_token=t["access"])),
    "user_detail": (
        "oa.user.detail",
        lambda c, t: c.oa.get_user_detail(access_token=t["access"], user_id=SON_SUPPORT_USER_ID),
    ),
    "send_message": (
        "oa.message.cs",
        lambda c, t: c.oa.send_message(
            access_token=t["access"],
            recipient={"user_id": SON_SUPPORT_USER_ID},
            message={"text": "Chào anh"},
        ),
    ),
    "upload": (
        "oa.upload.image",
        lambda c, t: c.oa.upload(
            access_token=t["access"],
            kind="image",
            filename="a.png",
            content=PNG,
            content_type="image/png",
        ),
    ),
}


@pytest.fixture
def tokens(client, wire) -> dict:
    grant = _connect(client, wire)
    return {"access": grant.access_token, "refresh": grant.refresh_token}


def _raised(action: Action, client: ZaloClient, tokens: dict) -> ZaloError:
    with pytest.raises(ZaloError) as caught:
        action(client, tokens)
    return caught.value


@pytest.mark.parametrize("name", ACTIONS)
@pytest.mark.parametrize("mode", ["http_500", "http_503", "http_429"])
def test_server_trouble_is_retryable(client, tokens, sandbox, name, mode):
    route, action = ACTIONS[name]
    sandbox.add_fault(route, mode, retry_after=3)
    error = _raised(action, client, tokens)
    assert error.kind is ErrorKind.RETRYABLE, error
    assert error.http_status == int(mode[-3:])
    if mode == "http_429":
        assert error.retry_after == 3


@pytest.mark.parametrize("name", ACTIONS)
def test_a_timeout_is_retryable(wire, tokens, sandbox, calls, name):
    route, action = ACTIONS[name]
    sandbox.add_fault(route, "timeout", delay=0.6, times=1)
    impatient = _client(wire.base, timeout=0.2)
    try:
        error = _raised(action, impatient, tokens)
    finally:
        impatient.transport.close()
    assert error.kind is ErrorKind.RETRYABLE and error.http_status is None


def test_the_rate_limit_is_retryable(client, tokens, sandbox):
    sandbox.rate_limit = 0
    error = _raised(ACTIONS["getoa"][1], client, tokens)
    assert (error.code, error.kind) == (-32, ErrorKind.RETRYABLE)


def test_a_dead_access_token_is_an_auth_error(client, tokens, sandbox):
    # Unknown token: -216.
    error = _raised(ACTIONS["getoa"][1], client, {"access": "never-issued"})
    assert (error.code, error.kind) == (-216, ErrorKind.AUTH)
    # Expired token: -220.
    sandbox.advance_clock(25 * 3600 + 1)
    for name in ("getoa", "user_detail"):
        error = _raised(ACTIONS[name][1], client, tokens)
        assert (error.code, error.kind) == (-220, ErrorKind.AUTH)


def test_a_superseded_access_token_is_an_auth_error(client, tokens):
    client.oauth.refresh(app_id=APP_SUPPORT_ID, secret_key=SECRET, refresh_token=tokens["refresh"])
    error = _raised(ACTIONS["getoa"][1], client, tokens)
    assert (error.code, error.kind) == (-220, ErrorKind.AUTH)


def test_a_spent_refresh_token_is_an_auth_error(client, tokens):
    ACTIONS["refresh"][1](client, tokens)
    error = _raised(ACTIONS["refresh"][1], client, tokens)
    assert (error.code, error.kind) == (-14014, ErrorKind.AUTH)
    assert "refresh token" in error.message.lower()


def test_a_wrong_secret_is_permanent(client, tokens, wire):
    with pytest.raises(ZaloError) as caught:
        _connect(client, wire, secret="not-the-secret")
    assert (caught.value.code, caught.value.kind) == (-14004, ErrorKind.PERMANENT)
    with pytest.raises(ZaloError) as caught:
        client.oauth.refresh(
            app_id=APP_SUPPORT_ID, secret_key="nope", refresh_token=tokens["refresh"]
        )
    assert (caught.value.code, caught.value.kind) == (-14004, ErrorKind.PERMANENT)


def test_a_bad_code_is_permanent(client, wire):
    with pytest.raises(ZaloError) as caught:
        client.oauth.exchange_code(
            app_id=APP_SUPPORT_ID, secret_key=SECRET, code="forged", code_verifier=make_verifier()
        )
    assert (caught.value.code, caught.value.kind) == (-14005, ErrorKind.PERMANENT)


def test_an_unknown_user_is_permanent(client, tokens):
    with pytest.raises(ZaloError) as caught:
        client.oa.get_user_detail(access_token=tokens["access"], user_id=SON_SALES_USER_ID)
    assert (caught.value.code, caught.value.kind) == (-201, ErrorKind.PERMANENT)


def test_send_message_and_uploads(client, tokens, sandbox, calls):
    access = tokens["access"]
    sent = ACTIONS["send_message"][1](client, tokens)
    # It should read Zalo's answer into the message id, user and send time.
    [kept] = sandbox.mailbox.sent_messages()
    assert (sent.message_id, sent.user_id) == (kept.message_id, SON_SUPPORT_USER_ID)
    assert sent.sent_time_ms == kept.sent_time and sent.quota["quota_type"] == "reply"
    attachment_id = ACTIONS["upload"][1](client, tokens)
    file_token = client.oa.upload(
        access_token=access,
        kind="file",
        filename="bao-gia.pdf",
        content=b"%PDF-1.4 quote",
        content_type="application/pdf",
    )
    assert attachment_id in sandbox.mailbox.uploads and file_token in sandbox.mailbox.uploads
    image = {
        "attachment": {
            "type": "template",
            "payload": {
                "template_type": "media",
                "elements": [{"media_type": "image", "attachment_id": attachment_id}],
            },
        }
    }
    file = {"attachment": {"type": "file", "payload": {"token": file_token}}}
    for message in (image, file):
        client.oa.send_message(
            access_token=access, recipient={"user_id": SON_SUPPORT_USER_ID}, message=message
        )
    assert [m.kind for m in sandbox.mailbox.sent_messages()] == ["text", "image", "file"]
    assert [c.endpoint for c in calls][-5:] == [
        "oa.message.cs",
        "oa.upload.image",
        "oa.upload.file",
        "oa.message.cs",
        "oa.message.cs",
    ]


@pytest.mark.parametrize(
    ("user_id", "code"), [("5830174629118340528", -213), (SON_SALES_USER_ID, -201)]
)
def test_a_recipient_zalo_refuses_reaches_the_caller(client, tokens, user_id, code):
    with pytest.raises(ZaloError) as caught:
        client.oa.send_message(
            access_token=tokens["access"], recipient={"user_id": user_id}, message={"text": "x"}
        )
    expected = ErrorKind.BLOCKED if code == -213 else ErrorKind.PERMANENT
    assert (caught.value.code, caught.value.kind) == (code, expected)


def test_an_oversize_upload_is_permanent(client, tokens):
    with pytest.raises(ZaloError) as caught:
        client.oa.upload(
            access_token=tokens["access"],
            kind="image",
            filename="big.png",
            content=PNG + b"0" * (1024 * 1024),
            content_type="image/png",
        )
    assert (caught.value.code, caught.value.kind) == (-210, ErrorKind.PERMANENT)
