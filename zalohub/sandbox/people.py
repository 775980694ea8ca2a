"""The sandbox's OA tags, conversation history, per-user quota and quota assets (API.md
§5), and the
user-data events Zalo sends about them: tag changes, a rating answer (``user_feedback``)
and a person's data-removal request (``user_withdraw``).

Tag calls change the world and emit the tag webhook to every linked app, as a change in
Zalo's OA manager does; ``oa_tag`` (control) is that staff change itself.
"""

import hashlib
import json
from datetime import datetime, timedelta
from typing import Any

from django.http import HttpRequest, HttpResponse

from zalohub.sandbox import responses
from zalohub.sandbox.customers import DeliveryOptions, Emitted, _customer, emit
from zalohub.sandbox.messaging import FREE_WINDOW, SEND_WINDOW
from zalohub.sandbox.openapi import VIETNAM, _data_param, oa_api
from zalohub.sandbox.state import SandboxState
from zalohub.sandbox.tokens import AccessGrant

PAGE = 10  # listrecentchat and conversation: at most 10 a request (API.md §6)


def _ms(state: SandboxState) -> str:
    return str(int(state.now() * 1000))


def oa_tags(state: SandboxState, oa_id: str) -> list[str]:
    """The OA's tags: those created on it, and any a follower carries."""
    with state.lock:
        names = list(state.oas[oa_id].get("tags") or [])
        for user in state.users.get(oa_id, {}).values():
            names += [t for t in user["tag_names"] if t not in names]
        return names


def _tag_event(state: SandboxState, oa_id: str, name: str, tag: dict[str, Any]) -> Emitted:
    stamp = _ms(state)

    def build(app_id: str, by_app: str) -> dict[str, Any]:
        return {
            "oa_id": oa_id,
            "event_name": name,
            "tag": tag,
            "app_id": app_id,
            "timestamp": stamp,
        }

    return Emitted(name, "", emit(state, oa_id=oa_id, build=build))


def change_tag(
    state: SandboxState, *, oa_id: str, tag: str, user_id: str = "", action: str = "add"
) -> Emitted:
    """``add`` (tag the user; the tag is created if new), ``remove`` (untag the user) or
    ``delete`` (the tag leaves the OA and every follower); the webhook follows."""
    with state.changing():
        oa = state.oas[oa_id]
        tags = oa.setdefault("tags", [])
        if action == "delete":
            for user in state.users.get(oa_id, {}).values():
                user["tag_names"] = [t for t in user["tag_names"] if t != tag]
            oa["tags"] = [t for t in tags if t != tag]
            return _tag_event(state, oa_id, "remove_tag", {"name": tag})
        user = _customer(state, oa_id, user_id)
        if action == "add":
            if tag not in tags:
                tags.append(tag)
            if tag not in user["tag_names"]:
                user["tag_names"] = [*user["tag_names"], tag]
            name = "add_user_to_tag"
        else:
            user["tag_names"] = [t for t in user["tag_names"] if t != tag]
            name = "remove_user_from_tag"
    return _tag_event(state, oa_id, name, {"user_ids": [user_id], "name": tag})


def _json(request: HttpRequest) -> dict[str, Any] | None:
    try:
        body = json.loads(request.body)
    except ValueError:
        return None
    return body if isinstance(body, dict) else None


def _tag_call(request: HttpRequest, state: SandboxState, grant: AccessGrant, action: str) -> Any:
    body = _json(request)
    tag = body.get("tag_name") if body else None
    if not isinstance(tag, str) or not tag.strip():
        return responses.oa_error(-201, "tag_name is invalid!")
    user_id = str(body.get("user_id") or "") if body else ""
    if action != "delete" and user_id not in state.users.get(grant.oa_id, {}):
        return responses.oa_error(-201)
    if action == "delete" and tag not in oa_tags(state, grant.oa_id):
        return responses.oa_error(-201, "tag is not exist!")
    change_tag(state, oa_id=grant.oa_id, tag=tag.strip(), user_id=user_id, action=action)
    return responses.oa_ok({})


@oa_api("oa.tag.list")
def tag_list(request: HttpRequest, state: SandboxState, grant: AccessGrant) -> HttpResponse:
    return responses.oa_ok(oa_tags(state, grant.oa_id))


@oa_api("oa.tag.tagfollower", methods=("POST",))
def tag_follower(request: HttpRequest, state: SandboxState, grant: AccessGrant) -> HttpResponse:
    return _tag_call(request, state, grant, "add")


@oa_api("oa.tag.rmfollowerfromtag", methods=("POST",))
def untag_follower(request: HttpRequest, state: SandboxState, grant: AccessGrant) -> HttpResponse:
    return _tag_call(request, state, grant, "remove")


@oa_api("oa.tag.rmtag", methods=("POST",))
def remove_tag(request: HttpRequest, state: SandboxState, grant: AccessGrant) -> HttpResponse:
    return _tag_call(request, state, grant, "delete")


# --- history ---------------------------------------------------------------------------
def _history(
    request: HttpRequest, state: SandboxState, oa_id: str, user_id: str | None
) -> list[dict[str, Any]]:
    """The OA's messages either way, newest first, in the items' shape (API.md §5)."""
    oa = state.oas[oa_id]
    users = state.users.get(oa_id, {})
    items: list[tuple[int, dict[str, Any]]] = []

    def item(msg_id: str, from_user: bool, uid: str, text: str, kind: str, at: int) -> None:
        user = users.get(uid, {})
        person = (
            user.get("display_name", ""),
            responses.absolute(request, user.get("avatar") or ""),
        )
        page = (oa["name"], responses.absolute(request, oa.get("avatar") or ""))
        sender, receiver = (person, page) if from_user else (page, person)
        items.append(
            (
                at,
                {
                    "src": 1 if from_user else 0,
                    "time": at,
                    "type": kind,
                    "message": text,
                    "message_id": msg_id,
                    "from_id": uid if from_user else oa_id,
                    "to_id": oa_id if from_user else uid,
                    "from_display_name": sender[0],
                    "from_avatar": sender[1],
                    "to_display_name": receiver[0],
                    "to_avatar": receiver[1],
                },
            )
        )

    with state.lock:
        for m in state.mailbox.inbound.values():
            if m.oa_id == oa_id and user_id in (None, m.user_id):
                kind = m.event_name.removeprefix("user_send_")
                item(m.msg_id, True, m.user_id, m.text, kind, m.timestamp)
        for s in state.mailbox.sent_messages(oa_id=oa_id, user_id=user_id):
            text = s.message.get("text") if isinstance(s.message, dict) else ""
            item(s.message_id, False, s.user_id, str(text or ""), s.kind, s.sent_time)
    items.sort(key=lambda pair: pair[0], reverse=True)
    return [i for _, i in items]


def _page(data: dict[str, Any]) -> tuple[int, int] | None:
    offset, count = data.get("offset", 0), data.get("count", PAGE)
    if not all(isinstance(v, int) and not isinstance(v, bool) for v in (offset, count)):
        return None
    if offset < 0 or not 1 <= count <= PAGE:
        return None
    return offset, count


@oa_api("oa.listrecentchat")
def recent_chats(request: HttpRequest, state: SandboxState, grant: AccessGrant) -> HttpResponse:
    data = _data_param(request)
    page = _page(data) if data is not None else None
    if page is None:
        return responses.oa_error(-210)
    latest: dict[str, dict[str, Any]] = {}
    for item in _history(request, state, grant.oa_id, None):
        user = item["from_id"] if item["src"] == 1 else item["to_id"]
        latest.setdefault(user, item)
    chats = list(latest.values())
    return responses.oa_ok(chats[page[0] : page[0] + page[1]])


@oa_api("oa.conversation")
def conversation(request: HttpRequest, state: SandboxState, grant: AccessGrant) -> HttpResponse:
    data = _data_param(request)
    page = _page(data) if data is not None else None
    user_id = str((data or {}).get("user_id") or "")
    if page is None:
        return responses.oa_error(-210)
    if user_id not in state.users.get(grant.oa_id, {}):
        return responses.oa_error(-201)
    items = _history(request, state, grant.oa_id, user_id)
    return responses.oa_ok(items[page[0] : page[0] + page[1]])


# The OA's paid consultation messages (the 48 h-7 d replies Zalo bills as "sub_quota").
SUB_QUOTA_TOTAL = 2000


def _assets(state: SandboxState, oa_id: str, body: dict[str, Any]) -> HttpResponse:
    """The quota assets ``quota_owner`` holds (API.md §5), filtered by ``product_type``
    and ``quota_type``: the OA's consultation sub-quota, less the billed replies sent;
    the demo world's apps hold none."""
    owner = body.get("quota_owner")
    if owner not in ("OA", "App"):
        return responses.oa_error(-201, "quota_owner is invalid!")
    with state.lock:
        billed = sum(
            1 for m in state.mailbox.sent_messages(oa_id=oa_id) if m.quota_type == "sub_quota"
        )
        now = state.now()
    month_end = datetime.fromtimestamp(now, VIETNAM).replace(day=28) + timedelta(days=4)
    asset = {
        "asset_id": hashlib.sha256(f"cs-{oa_id}".encode()).hexdigest()[:20],
        "product_type": "cs",
        "quota_type": "sub_quota",
        "valid_through": (month_end - timedelta(days=month_end.day)).strftime("%d/%m/%Y"),
        "total": SUB_QUOTA_TOTAL,
        "remain": max(0, SUB_QUOTA_TOTAL - billed),
    }
    wanted = all(body.get(k) in (None, asset[k]) for k in ("product_type", "quota_type"))
    return responses.oa_ok([asset] if owner == "OA" and wanted else [])


@oa_api("oa.quota.message", methods=("POST",))
def user_quota(request: HttpRequest, state: SandboxState, grant: AccessGrant) -> HttpResponse:
    """The per-user quota (API.md §5): a free reply is left inside 48 h of the last
    interaction; ``last_interaction`` as an epoch-ms string. With ``quota_owner``
    instead of ``user_id``: the owner's quota assets."""
    body = _json(request) or {}
    if "quota_owner" in body:
        return _assets(state, grant.oa_id, body)
    user = state.users.get(grant.oa_id, {}).get(str(body.get("user_id") or ""))
    if user is None:
        return responses.oa_error(-201)
    with state.lock:
        last = user["last_interaction"]
        now = state.now()
    free = last is not None and now - float(last) <= FREE_WINDOW
    open_ = last is not None and now - float(last) <= SEND_WINDOW
    return responses.oa_ok(
        {
            "last_interaction": str(int(float(last) * 1000)) if last is not None else "",
            "cs_reply": {"remain": 8 if free else 0, "total": 8 if open_ else 0},
            "promotion": {
                "daily_remain": 1,
                "daily_total": 1,
                "monthly_remain": 4,
                "monthly_total": 4,
            },
        }
    )


# --- user-data events --------------------------------------------------------------------
def customer_withdraw(
    state: SandboxState, *, oa_id: str, user_id: str, options: DeliveryOptions | None = None
) -> Emitted:
    """The person asks, through Zalo, that the OA remove their data (``user_withdraw``).
    Zalo's payload is not published: the sandbox sends the management envelope with the
    user as ``user_id`` (and ``user_id_by_app``), as ``user_click_chatnow`` does."""
    with state.lock:
        user = _customer(state, oa_id, user_id)
    stamp = _ms(state)

    def build(app_id: str, by_app: str) -> dict[str, Any]:
        event: dict[str, Any] = {"oa_id": oa_id, "user_id": user_id}
        if by_app:
            event["user_id_by_app"] = by_app
        event.update({"event_name": "user_withdraw", "app_id": app_id, "timestamp": stamp})
        return event

    deliveries = emit(state, oa_id=oa_id, build=build, user=user, options=options)
    return Emitted("user_withdraw", "", deliveries)


def customer_feedback(
    state: SandboxState,
    *,
    oa_id: str,
    msg_id: str,
    rate: int = 5,
    note: str = "",
    feedbacks: list[str] | None = None,
    tracking_id: str = "",
    options: DeliveryOptions | None = None,
) -> Emitted:
    """The customer answered a rating message (``user_feedback``, API.md §3.5): no user
    in it, only the rated message's ``msg_id`` and ``tracking_id``."""
    stamp = _ms(state)
    message = {
        "rating_type": "csat",
        "option": "five_emotions",
        "note": note,
        "rate": rate,
        "submit_time": stamp,
        "msg_id": msg_id,
        "feedbacks": list(feedbacks or []),
        "tracking_id": tracking_id,
    }

    def build(app_id: str, by_app: str) -> dict[str, Any]:
        return {
            "event_name": "user_feedback",
            "message": message,
            "app_id": app_id,
            "oa_id": oa_id,
            "timestamp": stamp,
        }

    return Emitted("user_feedback", msg_id, emit(state, oa_id=oa_id, build=build, options=options))


ACTIONS = ("withdraw", "feedback", "tag")


def control_action(
    state: SandboxState, action: str, body: dict[str, Any], options: DeliveryOptions
) -> Emitted:
    """``/_sandbox/customers/<action>``: ``withdraw`` (oa_id, user_id), ``feedback``
    (oa_id, msg_id, rate, note, feedbacks, tracking_id), ``tag`` (oa_id, tag, user_id,
    action: add | remove | delete), as a change in Zalo's OA manager."""
    oa_id = str(body.get("oa_id", ""))
    if oa_id not in state.oas:
        raise ValueError(f"unknown OA {oa_id}")
    if action == "withdraw":
        return customer_withdraw(
            state, oa_id=oa_id, user_id=str(body.get("user_id", "")), options=options
        )
    if action == "feedback":
        rate = body.get("rate", 5)
        feedbacks = body.get("feedbacks") or []
        if not isinstance(rate, int) or not isinstance(feedbacks, list):
            raise ValueError("rate must be a number and feedbacks a list")
        return customer_feedback(
            state,
            oa_id=oa_id,
            msg_id=str(body.get("msg_id", "")),
            rate=rate,
            note=str(body.get("note") or ""),
            feedbacks=[str(f) for f in feedbacks],
            tracking_id=str(body.get("tracking_id") or ""),
            options=options,
        )
    how = str(body.get("action") or "add")
    tag = str(body.get("tag") or "").strip()
    if how not in ("add", "remove", "delete") or not tag:
        raise ValueError("tag needs a tag and an action: add, remove or delete")
    return change_tag(state, oa_id=oa_id, tag=tag, user_id=str(body.get("user_id", "")), action=how)
