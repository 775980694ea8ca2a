"""The demo world the sandbox plays: two Zalo apps, two OAs, a handful of customers.

A world is plain JSON (lists of apps, OAs and per-OA users) so that a test can build a
variant with ``{**demo_world(), ...}`` and the control endpoint can accept one over HTTP.

Ids follow Zalo's shapes (long numeric strings) but are made up. As on Zalo, a person has
one ``user_id`` per OA and one ``user_id_by_app`` per app (API.md §7): Mr. Son below is
two user records, one per OA, carrying the same ``user_id_by_app`` map.
"""

import copy
import time
from typing import Any

APP_SUPPORT_ID = "2740017350155010001"
APP_SALES_ID = "2740017350155010002"
OA_SUPPORT_ID = "4310500000000000001"
OA_SALES_ID = "4310500000000000002"

# Mr. Son follows both OAs; tests and the demo script refer to him by these ids.
SON_SUPPORT_USER_ID = "5830174629118340101"
SON_SALES_USER_ID = "7726501938446120202"
SON_BY_APP = {APP_SUPPORT_ID: "3104458812290771301", APP_SALES_ID: "3104458812290772402"}
SON_PHONE = "84912345678"

_HOUR = 3600
_DAY = 24 * _HOUR


def _avatar(key: str) -> str:
    # A path on the sandbox itself; responses turn it into an absolute URL, so no
    # external host is ever named and the world does not depend on the sandbox's port.
    return f"/_sandbox/avatar/{key}.svg"


def _user(
    *,
    oa_id: str,
    user_id: str,
    person: str,
    display_name: str,
    by_app: dict[str, str],
    is_follower: bool = True,
    ago: int,
    shared_info: dict[str, str] | None = None,
    user_alias: str = "",
    tag_names: list[str] | None = None,
) -> dict[str, Any]:
    return {
        "oa_id": oa_id,
        "user_id": user_id,
        # Sandbox-only label tying one person's records together across OAs; Zalo has none.
        "person": person,
        "user_id_by_app": dict(by_app),
        "display_name": display_name,
        "user_alias": user_alias,
        "avatar": _avatar(person),
        "is_follower": is_follower,
        "is_sensitive": False,
        # Seconds before "now"; demo_world() turns it into the epoch `last_interaction`.
        "ago": ago,
        "shared_info": dict(shared_info or {}),
        "tag_names": list(tag_names or []),
        "notes": [],
    }


_SON_SALES_INFO = {
    "name": "Nguyễn Văn Sơn",
    "phone": SON_PHONE,
    "address": "12 Trần Duy Hưng",
    "city": "Hà Nội",
    "district": "Cầu Giấy",
}

_TEMPLATE: dict[str, Any] = {
    "rate_limit_per_minute": 4000,
    "apps": [
        {
            "app_id": APP_SUPPORT_ID,
            "name": "zalohub Support App",
            "secret_key": "sandbox-secret-app-a",
            "oa_secret_key": "sandbox-oa-secret-a",
            "redirect_uris": [],  # empty: any callback is accepted (the hub's URL varies)
            "pinned_code_challenge": None,
            "oa_ids": [OA_SUPPORT_ID],
        },
        {
            "app_id": APP_SALES_ID,
            "name": "zalohub Sales App",
            "secret_key": "sandbox-secret-app-b",
            "oa_secret_key": "sandbox-oa-secret-b",
            "redirect_uris": [],
            "pinned_code_challenge": None,
            "oa_ids": [OA_SALES_ID],
        },
    ],
    "oas": [
        {
            "oa_id": OA_SUPPORT_ID,
            "name": "Support OA",
            "description": "Kênh chăm sóc khách hàng: hỗ trợ đơn hàng, bảo hành và đổi trả.",
            "oa_alias": "zalohub.support",
            "avatar": _avatar("support-oa"),
            "cover": _avatar("support-cover"),
            "is_verified": True,
            "oa_type": 2,  # 2 = enterprise, 4 = government (API.md §5)
            "cate_name": "Dịch vụ khách hàng",
            "num_follower": 1284,
            "app_ids": [APP_SUPPORT_ID],
        },
        {
            "oa_id": OA_SALES_ID,
            "name": "Sales OA",
            "description": "Tư vấn bán hàng, báo giá và chương trình khuyến mãi mới nhất.",
            "oa_alias": "zalohub.sales",
            "avatar": _avatar("sales-oa"),
            "cover": _avatar("sales-cover"),
            "is_verified": False,
            "oa_type": 2,
            "cate_name": "Bán lẻ",
            "num_follower": 563,
            "app_ids": [APP_SALES_ID],
        },
    ],
    "users": [
        _user(
            oa_id=OA_SUPPORT_ID,
            user_id=SON_SUPPORT_USER_ID,
            person="nguyen-van-son",
            display_name="Nguyễn Văn Sơn",
            by_app=SON_BY_APP,
            ago=2 * _HOUR,
            tag_names=["Khách VIP"],
        ),
        _user(
            oa_id=OA_SALES_ID,
            user_id=SON_SALES_USER_ID,
            person="nguyen-van-son",
            display_name="Nguyễn Văn Sơn",
            by_app=SON_BY_APP,
            ago=26 * _HOUR,
            shared_info=_SON_SALES_INFO,
        ),
        _user(
            oa_id=OA_SUPPORT_ID,
            user_id="5830174629118340317",
            person="tran-thi-mai",
            display_name="Trần Thị Mai",
            by_app={APP_SUPPORT_ID: "3104458812290779917"},
            ago=3 * _DAY,
            shared_info={
                "name": "Trần Thị Mai",
                "phone": "84987654321",
                "city": "Đà Nẵng",
                "district": "Hải Châu",
                "address": "45 Bạch Đằng",
            },
        ),
        _user(
            oa_id=OA_SUPPORT_ID,
            user_id="5830174629118340528",
            person="pham-thu-ha",
            display_name="Phạm Thu Hà",
            by_app={APP_SUPPORT_ID: "3104458812290770528"},
            # Unfollowed and silent for 10 days: outside the 7-day consultation window.
            is_follower=False,
            ago=10 * _DAY,
        ),
        _user(
            oa_id=OA_SALES_ID,
            user_id="7726501938446120733",
            person="le-hoang-nam",
            display_name="Lê Hoàng Nam",
            by_app={APP_SALES_ID: "3104458812290776733"},
            ago=40 * 60,
        ),
        _user(
            oa_id=OA_SALES_ID,
            user_id="7726501938446120844",
            person="vo-minh-tuan",
            display_name="Võ Minh Tuấn",
            by_app={APP_SALES_ID: "3104458812290778844"},
            ago=5 * _DAY,
            user_alias="Anh Tuấn (đại lý Quận 7)",
        ),
    ],
}


def demo_world(now: float | None = None) -> dict[str, Any]:
    """A fresh, JSON-able copy of the demo world, its interaction times relative to now.

    Fixed epoch times would drift out of Zalo's 48-hour and 7-day windows as the demo
    ages, so each user's ``last_interaction`` is stamped when the world is made.
    """
    world = copy.deepcopy(_TEMPLATE)
    stamp = int(time.time() if now is None else now)
    for user in world["users"]:
        user["last_interaction"] = stamp - user.pop("ago")
    return world


DEMO_WORLD: dict[str, Any] = demo_world()
