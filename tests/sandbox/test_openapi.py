"""The OA API host: getoa and user/detail shapes, token checks, per-app rate limit."""

import re

from zalohub.sandbox.world import (
    APP_SALES_ID,
    APP_SUPPORT_ID,
    OA_SUPPORT_ID,
    SON_BY_APP,
    SON_PHONE,
    SON_SALES_USER_ID,
    SON_SUPPORT_USER_ID,
)

USER_FIELDS = {
    "user_id",
    "user_id_by_app",
    "user_external_id",
    "display_name",
    "user_alias",
    "is_sensitive",
    "user_last_interaction_date",
    "user_is_follower",
    "avatar",
    "avatars",
    "dynamic_param",
    "tags_and_notes_info",
}


def test_getoa_describes_the_tokens_oa(wire):
    response = wire.getoa(wire.connect()["access_token"])
    body = response.json()
    # It should wrap the OA's profile in Zalo's success envelope.
    assert response.status_code == 200
    assert body["error"] == 0 and body["message"] == "Success"
    data = body["data"]
    assert data["oa_id"] == data["oaid"] == OA_SUPPORT_ID
    assert data["name"] == "Support OA"
    assert data["description"] and data["oa_alias"] and data["cate_name"]
    assert data["is_verified"] is True and data["oa_type"] == 2
    assert isinstance(data["num_follower"], int)
    # It should serve avatar and cover from the sandbox, as absolute URLs.
    for url in (data["avatar"], data["cover"]):
        assert url.startswith(f"{wire.base}/_sandbox/avatar/")
        assert wire.http.get(url).headers["content-type"] == "image/svg+xml"


def test_mr_son_is_a_different_user_in_each_oa(wire):
    support = wire.connect(APP_SUPPORT_ID)["access_token"]
    sales = wire.connect(APP_SALES_ID)["access_token"]
    on_support = wire.user_detail(support, SON_SUPPORT_USER_ID).json()["data"]
    on_sales = wire.user_detail(sales, SON_SALES_USER_ID).json()["data"]
    # It should give him one user_id per OA and one user_id_by_app per app.
    assert on_support["display_name"] == on_sales["display_name"] == "Nguyễn Văn Sơn"
    assert on_support["user_id"] == SON_SUPPORT_USER_ID
    assert on_sales["user_id"] == SON_SALES_USER_ID
    assert on_support["user_id_by_app"] == SON_BY_APP[APP_SUPPORT_ID]
    assert on_sales["user_id_by_app"] == SON_BY_APP[APP_SALES_ID]
    assert on_support["user_id_by_app"] != on_sales["user_id_by_app"]
    # It should share his phone with the Sales OA only.
    assert on_sales["shared_info"]["phone"] == SON_PHONE
    assert set(on_sales["shared_info"]) == {"address", "city", "district", "phone", "name"}
    assert "shared_info" not in on_support
    # It should not know the Sales OA's id for him on the Support OA.
    assert wire.user_detail(support, SON_SALES_USER_ID).json() == {
        "error": -201,
        "message": "user_id is invalid!",
    }


def test_user_detail_has_zalos_fields_and_formats(wire):
    token = wire.connect()["access_token"]
    data = wire.user_detail(token, SON_SUPPORT_USER_ID).json()["data"]
    assert set(data) >= USER_FIELDS
    assert re.fullmatch(r"\d\d/\d\d/\d{4}", data["user_last_interaction_date"])
    assert data["user_is_follower"] is True and data["is_sensitive"] is False
    assert set(data["avatars"]) == {"120", "240"}
    assert data["avatars"]["240"].startswith(f"{wire.base}/_sandbox/avatar/")
    assert set(data["tags_and_notes_info"]) == {"notes", "tag_names"}


def test_the_interaction_date_follows_the_sandbox_clock_in_vietnam_time(wire, sandbox):
    token = wire.connect()["access_token"]
    user = sandbox.users[OA_SUPPORT_ID][SON_SUPPORT_USER_ID]
    user["last_interaction"] = 1_700_000_000  # 2023-11-14 22:13 UTC = 15/11 05:13 in Hanoi
    data = wire.user_detail(token, SON_SUPPORT_USER_ID).json()["data"]
    assert data["user_last_interaction_date"] == "15/11/2023"


def test_user_detail_refuses_a_missing_or_broken_data_param(wire):
    token = wire.connect()["access_token"]
    for raw in ("", "not json", "[1, 2]", '{"user": "x"}', '{"user_id": true}'):
        body = wire.user_detail(token, data=raw).json()
        assert body["error"] == -201, raw
        assert "data" not in body


def test_it_accepts_a_numeric_user_id(wire):
    token = wire.connect()["access_token"]
    body = wire.user_detail(token, data=f'{{"user_id": {SON_SUPPORT_USER_ID}}}').json()
    assert body["data"]["user_id"] == SON_SUPPORT_USER_ID


def test_it_refuses_a_missing_unknown_or_misspelled_token(wire):
    token = wire.connect()["access_token"]
    invalid = {"error": -216, "message": "Access token is invalid"}
    assert wire.getoa(None).json() == invalid
    assert wire.getoa("never-issued").json() == invalid
    # It should not take the token as a bearer or under a dashed name.
    assert (
        wire.http.get(
            f"{wire.base}/openapi/v2.0/oa/getoa", headers={"Authorization": f"Bearer {token}"}
        ).json()
        == invalid
    )
    assert (
        wire.http.get(f"{wire.base}/openapi/v2.0/oa/getoa", headers={"access-token": token}).json()
        == invalid
    )


def test_every_answer_carries_the_rate_limit_headers(wire, sandbox):
    token = wire.connect()["access_token"]
    first, second = wire.getoa(token), wire.user_detail(token, SON_SUPPORT_USER_ID)
    # It should count calls per app per minute, whatever the endpoint.
    assert first.headers["X-RateLimit-Limit"] == "4000"
    assert first.headers["X-RateLimit-Remain"] == "3999"
    assert second.headers["X-RateLimit-Remain"] == "3998"
    # It should count the other app separately, and report the full limit to strangers.
    other = wire.getoa(wire.connect(APP_SALES_ID)["access_token"])
    assert other.headers["X-RateLimit-Remain"] == "3999"
    assert wire.getoa("never-issued").headers["X-RateLimit-Remain"] == "4000"


def test_it_answers_minus_32_past_the_limit_until_the_next_minute(wire, sandbox):
    token = wire.connect()["access_token"]
    sandbox.rate_limit = 3
    sandbox.advance_clock(60 - sandbox.now() % 60 + 1)  # start of a fresh minute
    remains = [wire.getoa(token).headers["X-RateLimit-Remain"] for _ in range(3)]
    assert remains == ["2", "1", "0"]
    over = wire.getoa(token)
    assert over.json() == {"error": -32, "message": "Your application reached limit call api"}
    assert over.headers["X-RateLimit-Remain"] == "0"
    # It should let the same app through again once the minute turns.
    sandbox.advance_clock(60)
    assert wire.getoa(token).json()["error"] == 0


def test_it_counts_calls_by_route_and_app(wire, sandbox):
    token = wire.connect()["access_token"]
    wire.getoa(token)
    wire.user_detail(token, SON_SUPPORT_USER_ID)
    assert sandbox.call_count("oa") == 2
    assert sandbox.call_count("oa.user") == 1
    assert sandbox.call_count("oauth") == 2  # consent answer + code exchange
    assert sandbox.call_count("*") == 4
    assert [c.app_id for c in sandbox.calls if c.route.startswith("oa.")] == [APP_SUPPORT_ID] * 2
    assert sandbox.calls[-1].route == "oa.user.detail"
