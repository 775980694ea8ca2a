"""The sandbox's OA tags, conversation history, per-user quota and user-data events
(issue 16 §8-§12, §14-§15), over raw HTTP as Zalo's documentation describes them."""

import json

from zalohub.sandbox.world import OA_SUPPORT_ID, SON_SUPPORT_USER_ID

MAI = "5830174629118340317"


def _get(wire, token: str, path: str, data: dict | None = None) -> dict:
    params = {"data": json.dumps(data)} if data is not None else None
    response = wire.http.get(
        f"{wire.base}/openapi/{path}", params=params, headers={"access_token": token}
    )
    assert response.status_code == 200 and "X-RateLimit-Remain" in response.headers
    return response.json()


def _post(wire, token: str, path: str, body: dict) -> dict:
    response = wire.http.post(
        f"{wire.base}/openapi/{path}", json=body, headers={"access_token": token}
    )
    assert response.status_code == 200
    return response.json()


def _bodies(wire, event_name: str) -> list[dict]:
    found = wire.deliveries(event_name=event_name)["deliveries"]
    return [json.loads(d["body"]) for d in found]


def test_tags_are_listed_set_and_removed_and_each_change_is_a_webhook(wire):
    token = wire.connect()["access_token"]
    # It should list the OA's tags as Zalo does: a list of names.
    assert _get(wire, token, "v2.0/oa/tag/gettagsofoa") == {
        "data": ["Khách VIP"],
        "error": 0,
        "message": "Success",
    }
    tag = {"user_id": MAI, "tag_name": "Đại lý"}
    assert _post(wire, token, "v2.0/oa/tag/tagfollower", tag)["error"] == 0
    assert "Đại lý" in _get(wire, token, "v2.0/oa/tag/gettagsofoa")["data"]
    # It should tell the apps: add_user_to_tag with tag.user_ids and tag.name, flat oa_id.
    (added,) = _bodies(wire, "add_user_to_tag")
    assert added["tag"] == {"user_ids": [MAI], "name": "Đại lý"}
    assert added["oa_id"] == OA_SUPPORT_ID and added["timestamp"].isdigit()
    detail = wire.user_detail(token, MAI).json()["data"]
    assert detail["tags_and_notes_info"]["tag_names"] == ["Đại lý"]
    assert _post(wire, token, "v2.0/oa/tag/rmfollowerfromtag", tag)["error"] == 0
    (removed,) = _bodies(wire, "remove_user_from_tag")
    assert removed["tag"] == {"user_ids": [MAI], "name": "Đại lý"}
    assert _post(wire, token, "v2.0/oa/tag/rmtag", {"tag_name": "Khách VIP"})["error"] == 0
    (deleted,) = _bodies(wire, "remove_tag")
    assert deleted["tag"] == {"name": "Khách VIP"}
    # The OA keeps a tag nobody carries (it was created); the deleted one is gone.
    assert _get(wire, token, "v2.0/oa/tag/gettagsofoa")["data"] == ["Đại lý"]
    # It should refuse what Zalo refuses: no tag name, an unknown user, an unknown tag.
    assert _post(wire, token, "v2.0/oa/tag/tagfollower", {"user_id": MAI})["error"] == -201
    unknown = {"user_id": "1", "tag_name": "x"}
    assert _post(wire, token, "v2.0/oa/tag/tagfollower", unknown)["error"] == -201
    assert _post(wire, token, "v2.0/oa/tag/rmtag", {"tag_name": "nope"})["error"] == -201


def test_history_lists_recent_chats_and_a_conversation_newest_first(wire, sandbox):
    token = wire.connect()["access_token"]
    first = wire.customer("message", oa_id=OA_SUPPORT_ID, user_id=MAI, text="Cho tôi hỏi giá")
    sandbox.advance_clock(1)
    sent = wire.send_text(token, MAI, "Dạ, giá là 200.000đ")
    sandbox.advance_clock(1)
    wire.customer("message", oa_id=OA_SUPPORT_ID, user_id=SON_SUPPORT_USER_ID, text="Chào shop")
    items = _get(wire, token, "v2.0/oa/conversation", {"user_id": MAI, "offset": 0, "count": 10})
    mine = items["data"]
    # It should give the user's messages either way, newest first, in Zalo's item shape.
    assert [i["message_id"] for i in mine] == [sent["data"]["message_id"], first["msg_id"]]
    assert mine[0]["src"] == 0 and mine[0]["message"] == "Dạ, giá là 200.000đ"
    assert mine[0]["from_id"] == OA_SUPPORT_ID and mine[0]["to_id"] == MAI
    assert mine[1]["src"] == 1 and mine[1]["message"] == "Cho tôi hỏi giá"
    assert mine[1]["from_display_name"] == "Trần Thị Mai" and mine[1]["type"] == "text"
    assert isinstance(mine[1]["time"], int)
    recent = _get(wire, token, "v2.0/oa/listrecentchat", {"offset": 0, "count": 10})["data"]
    # One item per conversation: its latest message.
    assert [i["message"] for i in recent] == ["Chào shop", "Dạ, giá là 200.000đ"]
    # At most 10 a request, as Zalo.
    too_many = {"offset": 0, "count": 11}
    assert _get(wire, token, "v2.0/oa/listrecentchat", too_many)["error"] == -210


def test_the_per_user_quota_follows_the_last_interaction(wire, sandbox):
    token = wire.connect()["access_token"]
    wire.customer("message", oa_id=OA_SUPPORT_ID, user_id=MAI, text="Xin chào")
    fresh = _post(wire, token, "v3.0/oa/quota/message", {"user_id": MAI})["data"]
    # Inside 48 hours: a free reply is left; last_interaction is an epoch-ms string.
    assert fresh["cs_reply"] == {"remain": 8, "total": 8}
    assert fresh["last_interaction"].isdigit() and len(fresh["last_interaction"]) == 13
    sandbox.advance_clock(3 * 86400)
    token = wire.connect()["access_token"]  # the first one has expired meanwhile
    billed = _post(wire, token, "v3.0/oa/quota/message", {"user_id": MAI})["data"]
    assert billed["cs_reply"] == {"remain": 0, "total": 8}
    sandbox.advance_clock(5 * 86400)
    token = wire.connect()["access_token"]
    closed = _post(wire, token, "v3.0/oa/quota/message", {"user_id": MAI})["data"]
    assert closed["cs_reply"] == {"remain": 0, "total": 0}
    assert _post(wire, token, "v3.0/oa/quota/message", {"user_id": "1"})["error"] == -201


def test_user_data_events_withdraw_feedback_and_the_vietnamese_gender(wire):
    wire.customer("withdraw", oa_id=OA_SUPPORT_ID, user_id=MAI)
    (withdraw,) = _bodies(wire, "user_withdraw")
    assert withdraw["oa_id"] == OA_SUPPORT_ID and withdraw["user_id"] == MAI
    assert withdraw["user_id_by_app"] and withdraw["app_id"]
    wire.customer(
        "feedback", oa_id=OA_SUPPORT_ID, msg_id="7e4c33cfc20b05575c18", rate=4, note="Tốt"
    )
    (feedback,) = _bodies(wire, "user_feedback")
    # It should send the documented shape: no user, the rated message's msg_id.
    assert set(feedback) == {"event_name", "message", "app_id", "oa_id", "timestamp"}
    assert feedback["message"]["msg_id"] == "7e4c33cfc20b05575c18"
    assert feedback["message"]["rate"] == 4 and feedback["message"]["rating_type"] == "csat"
    wire.customer("submit_info", oa_id=OA_SUPPORT_ID, user_id=MAI)
    (info,) = _bodies(wire, "user_submit_info")
    assert info["info"]["gender"] == "Nam"
    wire.customer("tag", oa_id=OA_SUPPORT_ID, user_id=MAI, tag="Hà Nội")
    (tagged,) = _bodies(wire, "add_user_to_tag")
    assert tagged["tag"] == {"user_ids": [MAI], "name": "Hà Nội"}
    bad = wire.control("POST", "customers/tag", {"oa_id": OA_SUPPORT_ID, "action": "zap"})
    assert bad.status_code == 400


def test_oa_info_has_the_package_fields(wire):
    data = wire.getoa(wire.connect()["access_token"]).json()["data"]
    assert data["package_name"] and data["package_valid_through_date"].count("/") == 2
    assert "package_auto_renew_date" in data and "linked_ZCA" in data
