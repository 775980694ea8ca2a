"""zalo.bodies spells each request body as Zalo takes it (API.md §2, §4)."""

import dataclasses

import pytest
from hypothesis import given
from hypothesis import strategies as st

from zalohub.zalo.bodies import (
    TemplateButton,
    TemplateMessage,
    TemplateParam,
    TemplateRequest,
    oa_message,
    oa_message_parts,
    oa_message_request,
)


def test_it_builds_each_consultation_message_kind():
    assert oa_message("text", text="Chào anh") == {"text": "Chào anh"}
    image = oa_message("image", text="Ảnh", attachment={"attachment_id": "a1", "x": 1})
    # It should send an image as a media template element, keeping only Zalo's keys.
    assert image == {
        "attachment": {
            "type": "template",
            "payload": {
                "template_type": "media",
                "elements": [{"media_type": "image", "attachment_id": "a1"}],
            },
        },
        "text": "Ảnh",
    }
    assert "text" not in oa_message("image", attachment={"url": "http://127.0.0.1/i.jpg"})
    assert oa_message("file", attachment={"token": "t1"}) == {
        "attachment": {"type": "file", "payload": {"token": "t1"}}
    }
    with pytest.raises(ValueError):
        oa_message("sticker")
    assert oa_message_request(user_id="78", message={"text": "a"}) == {
        "recipient": {"user_id": "78"},
        "message": {"text": "a"},
    }


def test_it_builds_a_template_message_by_phone_or_by_user_id():
    common = {"template_id": "301234", "template_data": {"order": "DH1"}, "tracking_id": "t-1"}
    by_phone = TemplateMessage(phone="84912345678", **common).body()
    assert by_phone == {"phone": "84912345678", **common}
    assert next(iter(by_phone)) == "phone"
    assert TemplateMessage(phone="849", development=True, **common).body()["mode"] == (
        "development"
    )
    # It should send by user id on the OA host, with the tracking id only when there is one.
    assert TemplateMessage(user_id="78", **common).body() == {"user_id": "78", **common}
    untracked = TemplateMessage(
        user_id="78", template_id="301234", template_data={}, tracking_id=""
    )
    assert "tracking_id" not in untracked.body()


def test_it_builds_a_template_request():
    request = TemplateRequest(
        name="Xác nhận đơn",
        template_type=1,
        tag=1,
        body_text="Đơn <order> đã xác nhận",
        note="",
        tracking_id="tpl-7",
        params=[TemplateParam(name="order", type=4, sample_value="DH1", max_length=10)],
        buttons=[TemplateButton(type=1, title="Xem", content="https://example.com")],
    )
    body = request.body()
    assert body["layout"]["body"]["components"] == [
        {"PARAGRAPH": {"value": "Đơn <order> đã xác nhận"}}
    ]
    assert body["layout"]["footer"]["components"][0]["BUTTONS"]["items"] == [
        {"type": 1, "title": "Xem", "content": "https://example.com"}
    ]
    assert body["params"] == [{"type": 4, "name": "order", "sample_value": "DH1", "max_length": 10}]
    # It should name the template only when editing a rejected one.
    assert "template_id" not in body
    edited = dataclasses.replace(request, template_id="301234").body()
    assert edited["template_id"] == "301234"


_TEXTS = st.text(max_size=40)
_IDS = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-_/.:", min_size=1, max_size=30)


@given(
    case=st.one_of(
        st.tuples(st.just("text"), _TEXTS, st.none()),
        st.tuples(
            st.just("image"),
            _TEXTS,
            st.one_of(
                st.fixed_dictionaries({"attachment_id": _IDS}),
                st.fixed_dictionaries({"url": _IDS}),
            ),
        ),
        st.tuples(st.just("file"), st.just(""), st.fixed_dictionaries({"token": _IDS})),
    )
)
def test_a_message_object_gives_back_its_text_and_attachment(case):
    # An API send is kept as the body Zalo will get (its event's raw body); the worker
    # makes the send's message from it again (``oa_message.accepted_queue``).
    kind, text, attachment = case
    assert oa_message_parts(kind, oa_message(kind, text=text, attachment=attachment)) == (
        text,
        attachment,
    )
