"""The OA API host ("openapi"): OA profile, user detail and the user list (API.md §2.1,
§5, §6).

Every route here goes through ``oa_api``: the call is counted against the app's
per-minute limit, an armed fault fires, the ``access_token`` header is checked, and the
answer carries ``X-RateLimit-Limit`` / ``X-RateLimit-Remain`` whatever happened.
"""

import json
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta, timezone
from functools import wraps
from typing import Any

from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.views.decorators.csrf import csrf_exempt

from zalohub.sandbox import responses
from zalohub.sandbox.calls import zalo_call, zalo_header
from zalohub.sandbox.state import SandboxState, get_state
from zalohub.sandbox.tokens import AccessGrant, TokenRejected

# Zalo is a Vietnamese service and formats dates in Vietnam's time (UTC+7, no DST).
VIETNAM = timezone(timedelta(hours=7))

OAView = Callable[[HttpRequest, SandboxState, AccessGrant], HttpResponse]


def oa_api(route: str, *, methods: tuple[str, ...] = ("GET",)) -> Callable[[OAView], Any]:
    def decorate(view: OAView) -> Callable[[HttpRequest], HttpResponse]:
        @csrf_exempt
        @wraps(view)
        def wrapper(request: HttpRequest) -> HttpResponse:
            if request.method not in methods:
                return HttpResponseNotAllowed(list(methods))
            state = get_state()
            token = zalo_header(request, "access_token")
            with state.lock:
                app_id = state.tokens.app_of(token) if token else None
            # A token Zalo never issued belongs to no app, so it spends no app's quota.
            left = state.spend_rate(app_id) if app_id else state.rate_limit
            response = _serve(request, state, route, token, app_id, left, view)
            response["X-RateLimit-Limit"] = str(state.rate_limit)
            response["X-RateLimit-Remain"] = str(max(0, left))
            return response

        return wrapper

    return decorate


def _serve(
    request: HttpRequest,
    state: SandboxState,
    route: str,
    token: str,
    app_id: str | None,
    left: int,
    view: OAView,
) -> HttpResponse:
    if fault := zalo_call(state, route, app_id=app_id, style="oa"):
        return fault
    if left < 0:
        return responses.oa_error(-32)
    try:
        with state.lock:
            grant = state.tokens.check_access(token, state.now())
    except TokenRejected as rejected:
        return responses.oa_error(rejected.code)
    if grant.oa_id not in state.oas:
        return responses.oa_error(-205)
    return view(request, state, grant)


def _data_param(request: HttpRequest) -> dict[str, Any] | None:
    """GET endpoints take one URL-encoded JSON object in ``data`` (API.md §2.1)."""
    try:
        data = json.loads(request.GET.get("data", ""))
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


@oa_api("oa.getoa")
def getoa(request: HttpRequest, state: SandboxState, grant: AccessGrant) -> HttpResponse:
    oa = state.oas[grant.oa_id]
    return responses.oa_ok(
        {
            # The docs name the field "oaid" (API.md §5), the brief for this sandbox
            # "oa_id": both are sent so a client reading either works.
            "oa_id": grant.oa_id,
            "oaid": grant.oa_id,
            "name": oa["name"],
            "description": oa["description"],
            "oa_alias": oa["oa_alias"],
            "is_verified": bool(oa["is_verified"]),
            "oa_type": oa["oa_type"],
            "cate_name": oa["cate_name"],
            "num_follower": oa["num_follower"],
            "avatar": responses.absolute(request, oa["avatar"]),
            "cover": responses.absolute(request, oa["cover"]),
            # The OA's package (API.md §5): a world OA may set them, else a plausible one.
            "package_name": oa.get("package_name", "Gói Nâng cao"),
            "package_valid_through_date": oa.get(
                "package_valid_through_date", _interaction_date(state.now() + 365 * 86400)
            ),
            "package_auto_renew_date": oa.get("package_auto_renew_date", ""),
            "linked_ZCA": oa.get("linked_ZCA", ""),
        }
    )


def _interaction_date(epoch: float | None) -> str:
    if epoch is None:
        return ""
    return datetime.fromtimestamp(epoch, UTC).astimezone(VIETNAM).strftime("%d/%m/%Y")


def _sized(url: str, size: int) -> str:
    return f"{url}{'&' if '?' in url else '?'}size={size}"


@oa_api("oa.user.detail")
def user_detail(request: HttpRequest, state: SandboxState, grant: AccessGrant) -> HttpResponse:
    data = _data_param(request)
    if data is None:
        return responses.oa_error(-201, "data is invalid!")
    raw_id = data.get("user_id")
    # User ids are per OA (API.md §7): another OA's id for the same person is unknown here.
    user_id = str(raw_id) if isinstance(raw_id, str | int) and not isinstance(raw_id, bool) else ""
    user = state.users.get(grant.oa_id, {}).get(user_id)
    if user is None:
        return responses.oa_error(-201)
    avatar = responses.absolute(request, user["avatar"]) if user["avatar"] else ""
    body: dict[str, Any] = {
        "user_id": user_id,
        "user_id_by_app": user["user_id_by_app"].get(grant.app_id, ""),
        "user_external_id": "",
        "display_name": user["display_name"],
        "user_alias": user["user_alias"],
        "is_sensitive": bool(user["is_sensitive"]),
        "user_last_interaction_date": _interaction_date(user["last_interaction"]),
        "user_is_follower": bool(user["is_follower"]),
        "avatar": _sized(avatar, 120) if avatar else "",
        "avatars": {"120": _sized(avatar, 120), "240": _sized(avatar, 240)} if avatar else {},
        "dynamic_param": "",
        # Zalo's documented answer for a user without notes is notes: [""].
        "tags_and_notes_info": {
            "notes": list(user["notes"]) or [""],
            "tag_names": list(user["tag_names"]),
        },
    }
    shared = user["shared_info"]
    if shared:
        # A captured real answer has no shared_info for a user who never submitted any.
        body["shared_info"] = {
            key: shared.get(key, "") for key in ("address", "city", "district", "phone", "name")
        }
    return responses.oa_ok(body)


# user/getlist (API.md §5): at most 50 a page, 10,000 users a query (offset <= 9951).
MAX_LIST_COUNT = 50
MAX_LIST_OFFSET = 9951
PERIODS = {"TODAY": 0, "YESTERDAY": 1, "L7D": 6, "L30D": 29}


def _period(name: str, now: float) -> tuple[date, date] | None:
    """The Vietnam days ``last_interaction_period`` names, first and last; None if bad."""
    today = datetime.fromtimestamp(now, UTC).astimezone(VIETNAM).date()
    if name in PERIODS:
        last = today - timedelta(days=1) if name == "YESTERDAY" else today
        return today - timedelta(days=PERIODS[name]), last
    try:
        first, last = (datetime.strptime(p, "%Y_%m_%d").date() for p in name.split(":"))
    except ValueError:
        return None
    return (first, last) if first <= last else None


def _listed(user: dict[str, Any], data: dict[str, Any], days: tuple[date, date] | None) -> bool:
    follower = str(data.get("is_follower", "")).lower()
    if follower in ("true", "false") and bool(user["is_follower"]) != (follower == "true"):
        return False
    if data.get("tag_name") and data["tag_name"] not in user["tag_names"]:
        return False
    if days is not None:
        last = user["last_interaction"]
        if last is None:
            return False
        day = datetime.fromtimestamp(float(last), UTC).astimezone(VIETNAM).date()
        return days[0] <= day <= days[1]
    return True


@oa_api("oa.user.getlist")
def user_list(request: HttpRequest, state: SandboxState, grant: AccessGrant) -> HttpResponse:
    """The OA's users, optionally only followers (``is_follower`` "true"/"false"), those
    with ``tag_name``, or those who last interacted in ``last_interaction_period``."""
    data = _data_param(request)
    if data is None:
        return responses.oa_error(-201, "data is invalid!")
    offset, count = data.get("offset", 0), data.get("count", 15)
    if not all(isinstance(v, int) and not isinstance(v, bool) for v in (offset, count)):
        return responses.oa_error(-201, "offset or count is invalid!")
    if not 0 <= offset <= MAX_LIST_OFFSET or not 1 <= count <= MAX_LIST_COUNT:
        return responses.oa_error(-210)
    days = None
    if data.get("last_interaction_period"):
        days = _period(str(data["last_interaction_period"]), state.now())
        if days is None:
            return responses.oa_error(-201, "last_interaction_period is invalid!")
    with state.lock:
        users = state.users.get(grant.oa_id, {})
        found = [uid for uid, user in users.items() if _listed(user, data, days)]
    page = found[offset : offset + count]
    return responses.oa_ok(
        {
            "total": len(found),
            "count": count,
            "offset": offset,
            "users": [{"user_id": uid} for uid in page],
        }
    )
