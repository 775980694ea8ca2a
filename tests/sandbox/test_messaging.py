"""OA messages (message/cs) and uploads on the openapi host, with Zalo's rules."""

import pytest

from zalohub.sandbox.world import (
    APP_SALES_ID,
    OA_SUPPORT_ID,
    SON_SALES_USER_ID,
    SON_SUPPORT_USER_ID,
)

MAI = "5830174629118340317"  # Support OA, last interaction 3 days ago
HA = "5830174629118340528"  # Support OA, not a follower, silent for 10 days
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
PDF = b"%PDF-1.4\n" + b"x" * 64
DAY = 24 * 3600


@pytest.fixture
def token(wire) -> str:
    return wire.connect()["access_token"]


def _image(**element: str) -> dict:
    return {
        "attachment": {
            "type": "template",
            "payload": {
                "template_type": "media",
                "elements": [{"media_type": "image", **element}],
            },
        }
    }


def test_it_sends_a_text_and_answers_as_the_docs_show(wire, sandbox, token):
    response = wire.send_cs(
        token, {"recipient": {"user_id": SON_SUPPORT_USER_ID}, "message": {"text": "Chào anh"}}
    )
    body = response.json()
    # It should answer the documented envelope, with the OA's rate-limit headers.
    assert (body["error"], body["message"]) == (0, "Success")
    data = body["data"]
    assert set(data) == {"quota", "message_id", "user_id", "sent_time"}
    assert data["user_id"] == SON_SUPPORT_USER_ID
    assert len(data["message_id"]) == 20
    assert data["sent_time"].isdigit() and len(data["sent_time"]) == 13
    assert data["quota"] == {"quota_type": "reply", "remain": "8", "total": "8"}
    assert response.headers["X-RateLimit-Limit"] == "4000"
    assert response.headers["X-RateLimit-Remain"].isdigit()
    # It should keep what it received, per OA.
    [sent] = sandbox.mailbox.sent_messages(oa_id=OA_SUPPORT_ID)
    assert (sent.message_id, sent.message, sent.status) == (
        data["message_id"],
        {"text": "Chào anh"},
        "sent",
    )
    listed = wire.control("GET", "messages", None).json()
    assert listed["count"] == 1 and listed["messages"][0]["kind"] == "text"
    assert sandbox.call_count("oa.message.cs") == 1


def test_it_bills_between_48_hours_and_7_days(wire, token):
    assert wire.send_text(token, MAI)["data"]["quota"]["quota_type"] == "sub_quota"


def test_it_refuses_a_user_who_is_not_the_oas(wire, token):
    # It should not know another OA's id for the same person, nor a made-up one.
    for user_id in (SON_SALES_USER_ID, "123", ""):
        assert wire.send_text(token, user_id) == {"error": -201, "message": "user_id is invalid!"}


def test_it_refuses_a_user_who_does_not_follow(wire, token):
    assert wire.send_text(token, HA) == {"error": -213, "message": "User has not followed OA"}


def test_it_refuses_a_user_silent_for_more_than_7_days(wire, sandbox, token):
    sandbox.advance_clock(8 * DAY)
    token = wire.connect()["access_token"]  # the first one expired with the clock
    assert wire.send_text(token, SON_SUPPORT_USER_ID) == {
        "error": -230,
        "message": "User has not interacted with the OA in the past 7 days",
    }
    # It should open the window again once the customer writes.
    wire.customer("message", oa_id=OA_SUPPORT_ID, user_id=SON_SUPPORT_USER_ID, text="Alo")
    assert wire.send_text(token, SON_SUPPORT_USER_ID)["error"] == 0
    assert len(sandbox.mailbox.sent_messages()) == 1


def test_it_takes_2000_characters_and_no_more(wire, token):
    assert wire.send_text(token, SON_SUPPORT_USER_ID, "a" * 2000)["error"] == 0
    too_long = wire.send_text(token, SON_SUPPORT_USER_ID, "a" * 2001)
    assert too_long == {"error": -201, "message": "text is invalid!"}


@pytest.mark.parametrize(
    "message",
    [{}, {"text": ""}, {"text": 5}, "hello", {"attachment": {"type": "audio", "payload": {}}}],
)
def test_it_refuses_a_malformed_message(wire, sandbox, token, message):
    body = wire.send_cs(token, {"recipient": {"user_id": SON_SUPPORT_USER_ID}, "message": message})
    assert body.json()["error"] in (-201, -233)
    assert sandbox.mailbox.sent_messages() == []


def test_it_sends_an_image_by_url_or_uploaded_id(wire, sandbox, token):
    by_url = wire.send_cs(
        token,
        {"recipient": {"user_id": SON_SUPPORT_USER_ID}, "message": _image(url="https://x/a.jpg")},
    ).json()
    assert by_url["error"] == 0
    upload = wire.upload(token, "image", "a.png", PNG, "image/png").json()
    attachment_id = upload["data"]["attachment_id"]
    by_id = wire.send_cs(
        token,
        {
            "recipient": {"user_id": SON_SUPPORT_USER_ID},
            "message": {"text": "Ảnh mẫu", **_image(attachment_id=attachment_id)},
        },
    ).json()
    assert by_id["error"] == 0
    assert [m.kind for m in sandbox.mailbox.sent_messages()] == ["image", "image"]
    unknown = wire.send_cs(
        token,
        {"recipient": {"user_id": SON_SUPPORT_USER_ID}, "message": _image(attachment_id="nope")},
    ).json()
    assert unknown == {"error": -201, "message": "attachment_id is invalid!"}


def test_it_sends_a_file_by_its_token_until_it_expires(wire, sandbox, token):
    file_token = wire.upload(token, "file", "bao-gia.pdf", PDF, "application/pdf").json()
    message = {"attachment": {"type": "file", "payload": {"token": file_token["data"]["token"]}}}
    body = {"recipient": {"user_id": SON_SUPPORT_USER_ID}, "message": message}
    assert wire.send_cs(token, body).json()["error"] == 0
    # It should forget uploads after 7 days (-100), as Zalo does.
    sandbox.advance_clock(7 * DAY + 60)
    wire.customer("message", oa_id=OA_SUPPORT_ID, user_id=SON_SUPPORT_USER_ID)
    token = wire.connect()["access_token"]
    expired = wire.send_cs(token, body).json()
    assert expired == {"error": -100, "message": "attachment_id was expired"}


def test_it_replies_to_a_customers_message_by_its_id(wire, sandbox, token):
    said = wire.customer("message", oa_id=OA_SUPPORT_ID, user_id=SON_SUPPORT_USER_ID)
    body = {"recipient": {"message_id": said["msg_id"]}, "message": {"text": "Dạ vâng"}}
    assert wire.send_cs(token, body).json()["data"]["user_id"] == SON_SUPPORT_USER_ID


@pytest.mark.parametrize("kind", ["transaction", "promotion"])
def test_it_answers_the_retired_uid_messages_with_an_error(wire, sandbox, token, kind):
    response = wire.http.post(
        f"{wire.base}/openapi/v3.0/oa/message/{kind}",
        json={"recipient": {"user_id": SON_SUPPORT_USER_ID}, "message": {"text": "x"}},
        headers={"access_token": token},
    )
    assert response.json() == {"error": -209, "message": "Not supported this api"}
    assert sandbox.call_count(f"oa.message.{kind}") == 1
    assert sandbox.mailbox.sent_messages() == []


def test_it_checks_the_token_and_counts_the_call(wire, sandbox):
    body = wire.send_cs("forged", {"recipient": {"user_id": SON_SUPPORT_USER_ID}})
    assert body.json()["error"] == -216
    assert sandbox.call_count("oa.message.cs") == 1


def test_faults_armed_by_the_clients_endpoint_names_fire(wire, sandbox, token):
    sandbox.add_fault("oa.message.cs", "zalo_error", code=-230, times=1)
    sandbox.add_fault("oa.upload.image", "http_503", times=1)
    assert wire.send_text(token, SON_SUPPORT_USER_ID)["error"] == -230
    assert wire.upload(token, "image", "a.png", PNG, "image/png").status_code == 503
    assert sandbox.mailbox.sent_messages() == []


@pytest.mark.parametrize(
    ("kind", "name", "content", "field"),
    [
        ("image", "a.jpg", b"\xff\xd8\xff\xe0" + b"0" * 32, "attachment_id"),
        ("image", "a.png", PNG, "attachment_id"),
        ("gif", "a.gif", b"GIF89a" + b"0" * 32, "attachment_id"),
        ("file", "a.pdf", PDF, "token"),
        ("file", "a.docx", b"PK\x03\x04" + b"0" * 32, "token"),
        ("file", "a.csv", b"ma,ten\n1,Son\n", "token"),
    ],
)
def test_it_accepts_the_documented_upload_types(wire, sandbox, token, kind, name, content, field):
    body = wire.upload(token, kind, name, content, "application/octet-stream").json()
    assert body["error"] == 0 and set(body["data"]) == {field}
    assert sandbox.mailbox.uploads[body["data"][field]].oa_id == OA_SUPPORT_ID


@pytest.mark.parametrize(
    ("kind", "name", "content", "expected"),
    [
        ("image", "a.png", PNG + b"0" * (1024 * 1024), -210),
        ("file", "a.pdf", PDF + b"0" * (5 * 1024 * 1024), -210),
        ("image", "a.gif", b"GIF89a000", -201),
        ("image", "a.png", b"not a png at all", -201),
        ("file", "a.exe", b"MZ" + b"0" * 32, -201),
    ],
)
def test_it_refuses_oversize_or_wrong_uploads(wire, sandbox, token, kind, name, content, expected):
    body = wire.upload(token, kind, name, content, "application/octet-stream").json()
    assert body["error"] == expected and "data" not in body
    assert sandbox.mailbox.uploads == {}


def test_it_wants_the_multipart_field_named_file(wire, token):
    response = wire.http.post(
        f"{wire.base}/openapi/v2.0/oa/upload/image",
        files={"image": ("a.png", PNG, "image/png")},
        headers={"access_token": token},
    )
    assert response.json() == {"error": -201, "message": "file is invalid!"}


def test_an_upload_belongs_to_its_oa(wire, token):
    attachment_id = wire.upload(token, "image", "a.png", PNG, "image/png").json()["data"][
        "attachment_id"
    ]
    sales = wire.connect(APP_SALES_ID)["access_token"]
    body = {
        "recipient": {"user_id": SON_SALES_USER_ID},
        "message": _image(attachment_id=attachment_id),
    }
    assert wire.send_cs(sales, body).json()["error"] == -201
