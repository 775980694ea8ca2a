"""The sandbox's user list (``user/getlist``), the OA's quota assets (``quota/message`` by
``quota_owner``), the OA's ZNS quality (``GET /quality``) and the buttons a template
detail lists (API.md §4.3, §5), over raw HTTP and through the hub's client."""

import json
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta, timezone

import pytest

from tests.sandbox.test_zns import TEMPLATE, Zns
from zalohub.sandbox.world import OA_SUPPORT_ID, SON_SUPPORT_USER_ID
from zalohub.zalo import ZaloClient
from zalohub.zalo.bodies import TemplateButton, TemplateParam, TemplateRequest
from zalohub.zalo.transport import ZaloTransport

MAI = "5830174629118340317"  # wrote 3 days ago
HA = "5830174629118340528"  # unfollowed, silent for 10 days
VIETNAM = timezone(timedelta(hours=7))


@pytest.fixture
def client(wire) -> Iterator[ZaloClient]:
    zalo = ZaloClient(
        oauth_url=f"{wire.base}/oauth",
        openapi_url=f"{wire.base}/openapi",
        business_url=f"{wire.base}/business",
        transport=ZaloTransport(timeout=5.0, connect_timeout=2.0),
    )
    yield zalo
    zalo.transport.close()


def _users(wire, token: str, **data: object) -> dict:
    response = wire.http.get(
        f"{wire.base}/openapi/v3.0/oa/user/getlist",
        params={"data": json.dumps(data)},
        headers={"access_token": token},
    )
    assert response.status_code == 200
    return response.json()


def _ids(answer: dict) -> set[str]:
    return {u["user_id"] for u in answer["data"]["users"]}


def _day(epoch: float) -> date:
    return datetime.fromtimestamp(epoch, UTC).astimezone(VIETNAM).date()


def test_it_lists_the_oas_users_by_follow_tag_and_last_interaction(wire, sandbox, client):
    token = wire.connect()["access_token"]
    every = _users(wire, token, offset=0, count=15)
    # It should answer Zalo's page: the total, the page size asked, the offset, the ids.
    assert (every["data"]["total"], every["data"]["count"], every["data"]["offset"]) == (3, 15, 0)
    assert _ids(every) == {SON_SUPPORT_USER_ID, MAI, HA}
    # It should filter by follow, by tag and by the last interaction's period...
    assert _ids(_users(wire, token, is_follower="true")) == {SON_SUPPORT_USER_ID, MAI}
    assert _ids(_users(wire, token, is_follower="false")) == {HA}
    assert _ids(_users(wire, token, tag_name="Khách VIP")) == {SON_SUPPORT_USER_ID}
    assert _ids(_users(wire, token, last_interaction_period="L7D")) == {SON_SUPPORT_USER_ID, MAI}
    ha_day = _day(sandbox.users[OA_SUPPORT_ID][HA]["last_interaction"]).strftime("%Y_%m_%d")
    assert _ids(_users(wire, token, last_interaction_period=f"{ha_day}:{ha_day}")) == {HA}
    # ... page through them, and refuse what Zalo refuses.
    second = _users(wire, token, offset=1, count=1)
    assert len(second["data"]["users"]) == 1 and second["data"]["total"] == 3
    assert _users(wire, token, count=51)["error"] == -210
    assert _users(wire, token, offset=9952)["error"] == -210
    assert _users(wire, token, count="15")["error"] == -201
    assert _users(wire, token, last_interaction_period="LAST_WEEK")["error"] == -201
    # It should be what the hub's client reads.
    page = client.oa.list_users(access_token=token, is_follower=True, count=1)
    assert (page.total, page.count, len(page.user_ids)) == (2, 1, 1)
    assert page.user_ids[0] in {SON_SUPPORT_USER_ID, MAI}


def _assets(wire, token: str, **body: object) -> dict:
    response = wire.http.post(
        f"{wire.base}/openapi/v3.0/oa/quota/message", json=body, headers={"access_token": token}
    )
    assert response.status_code == 200
    return response.json()


def test_the_oas_quota_assets_count_the_billed_replies(wire, sandbox, client):
    token = wire.connect()["access_token"]
    [asset] = _assets(wire, token, quota_owner="OA")["data"]
    # It should list the OA's consultation sub-quota, valid to the month's last day.
    assert (asset["product_type"], asset["quota_type"]) == ("cs", "sub_quota")
    assert (asset["total"], asset["remain"]) == (2000, 2000)
    valid = datetime.strptime(asset["valid_through"], "%d/%m/%Y").date()
    assert valid.month == _day(sandbox.now()).month and (valid + timedelta(days=1)).day == 1
    # A reply inside 48 h is free; Mai's, 3 days on, is billed to the sub-quota.
    for user in (SON_SUPPORT_USER_ID, MAI):
        sent = wire.send_text(token, user)
        assert sent["error"] == 0, sent
    assert _assets(wire, token, quota_owner="OA")["data"][0]["remain"] == 1999
    # It should filter by product and owner, and refuse an unknown owner.
    assert _assets(wire, token, quota_owner="OA", product_type="transaction")["data"] == []
    assert _assets(wire, token, quota_owner="App")["data"] == []
    assert _assets(wire, token, quota_owner="Me")["error"] == -201
    # It should be what the hub's client reads.
    [read] = client.history.quota_assets(access_token=token, product_type="cs")
    assert (read.remain, read.total, read.valid_through) == (1999, 2000, valid)


def test_the_oas_zns_quality_is_what_zalo_last_rated(wire, client):
    token = wire.connect()["access_token"]

    def quality() -> dict:
        answer = wire.http.get(f"{wire.base}/business/quality", headers={"access_token": token})
        return answer.json()["data"]

    # It should start HIGH both for 48 hours and 7 days.
    assert quality() == {"oaCurrentQuality": "HIGH", "oa7dayQuality": "HIGH"}
    rated = wire.control("POST", "zns/oa_quality", {"oa_id": OA_SUPPORT_ID, "current": "LOW"})
    assert rated.status_code == 200
    assert quality() == {"oaCurrentQuality": "LOW", "oa7dayQuality": "HIGH"}
    both = {"oa_id": OA_SUPPORT_ID, "current": "MEDIUM", "week": "LOW"}
    assert wire.control("POST", "zns/oa_quality", both).status_code == 200
    read = client.zns.quality(access_token=token)
    assert (read.current, read.last_7_days) == ("MEDIUM", "LOW")
    # It should refuse a quality Zalo does not have, and an unknown OA.
    for bad in ({"oa_id": OA_SUPPORT_ID, "current": "GOOD"}, {"oa_id": "1", "current": "LOW"}):
        assert wire.control("POST", "zns/oa_quality", bad).status_code == 400
    expired = wire.http.get(f"{wire.base}/business/quality", headers={"access_token": "x"})
    assert expired.json()["error"] == -124


def test_a_template_detail_lists_the_buttons_submitted_and_a_reason_only_when_rejected(wire):
    zns = Zns(wire)
    request = TemplateRequest(
        name="Xác nhận đơn hàng",
        template_type=1,
        tag=1,
        body_text="Đơn <order_code> đã được xác nhận",
        note="",
        tracking_id="tpl-b",
        params=[TemplateParam(name="order_code", type=4, sample_value="DH1", max_length=10)],
        buttons=[
            TemplateButton(type=1, title="Xem đơn", content="https://shop.example.vn/d"),
            TemplateButton(type=2, title="Gọi CSKH", content="84912345678"),
        ],
    ).body()
    template_id = zns.call("POST", "template/create", request)["data"]["template_id"]
    detail = zns.call("GET", "template/info/v2", template_id=template_id)["data"]
    # It should list the buttons as Zalo's detail does, and no reason while pending.
    assert detail["listButtons"] == [
        {"type": 1, "title": "Xem đơn", "content": "https://shop.example.vn/d"},
        {"type": 2, "title": "Gọi CSKH", "content": "84912345678"},
    ]
    assert "reason" not in detail
    plain = zns.call("POST", "template/create", TEMPLATE)["data"]["template_id"]
    assert zns.call("GET", "template/info/v2", template_id=plain)["data"]["listButtons"] == []
    zns.control("review", template_id=template_id, decision="reject", reason="Nút gọi sai số")
    rejected = zns.call("GET", "template/info/v2", template_id=template_id)["data"]
    assert rejected["reason"] == "Nút gọi sai số"
