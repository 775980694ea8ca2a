"""The business host ("business.openapi.zalo.me"): ZBS templates, quota, sends by phone
(API.md §4), and the template send by UID on the OA host (``v3.0/oa/message/template``).

Every business route goes through ``zns_api``: the call is counted (template sends by
phone are outside the OA rate limit, §6), an armed fault fires, and the
``access_token`` header must be a live token (``-124`` otherwise, §4.5).

Sends are idempotent by ``tracking_id``: a second send with a tracking id this OA has
already used answers the first send's ``msg_id`` again and delivers nothing, so a
client that retries after an unknown outcome never reaches the customer twice.
"""

import json
import re
from collections.abc import Callable
from functools import wraps
from typing import Any

from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.views.decorators.csrf import csrf_exempt

from zalohub.sandbox import error_texts, responses, reviewer
from zalohub.sandbox.calls import zalo_call, zalo_header
from zalohub.sandbox.mailbox import new_msg_id
from zalohub.sandbox.openapi import oa_api
from zalohub.sandbox.state import SandboxState, get_state
from zalohub.sandbox.tokens import AccessGrant, TokenRejected
from zalohub.sandbox.znsbook import CREATE_LIMIT, ZnsSend

# Zalo's error messages, every code of API.md §4.5 (not translated).
ZNS_MESSAGES = error_texts.ZNS_MESSAGES
STATUS_BY_FILTER = {"1": "ENABLE", "2": "PENDING_REVIEW", "3": "REJECT", "4": "DISABLE"}
_PHONE = re.compile(r"^\+?84\d{9,10}$")
MAX_TRACKING_ID = 48

ZnsView = Callable[[HttpRequest, SandboxState, AccessGrant], HttpResponse]


def zns_error(code: int, message: str | None = None) -> HttpResponse:
    return responses.zns_error(code, message)


def zns_ok(data: Any, **extra: Any) -> HttpResponse:
    return responses.json({"error": 0, "message": "Success", "data": data, **extra})


def zns_api(route: str, *, methods: tuple[str, ...] = ("GET",)) -> Callable[[ZnsView], Any]:
    def decorate(view: ZnsView) -> Callable[[HttpRequest], HttpResponse]:
        @csrf_exempt
        @wraps(view)
        def wrapper(request: HttpRequest) -> HttpResponse:
            if request.method not in methods:
                return HttpResponseNotAllowed(list(methods))
            state = get_state()
            token = zalo_header(request, "access_token")
            with state.lock:
                app_id = state.tokens.app_of(token) if token else None
            if fault := zalo_call(state, route, app_id=app_id, style="zns"):
                return fault
            try:
                with state.lock:
                    grant = state.tokens.check_access(token, state.now())
            except TokenRejected:
                return zns_error(-124)
            return view(request, state, grant)

        return wrapper

    return decorate


def _body(request: HttpRequest) -> dict[str, Any] | HttpResponse:
    if not request.body.strip():
        return zns_error(-121)
    try:
        body = json.loads(request.body)
    except ValueError:
        return zns_error(-122)
    return body if isinstance(body, dict) else zns_error(-122)


def _detail(request: HttpRequest, template: dict[str, Any]) -> dict[str, Any]:
    keys = (
        "templateId",
        "templateName",
        "status",
        "reason",
        "listParams",
        "listButtons",
        "timeout",
        "previewUrl",
        "templateQuality",
        "templateTag",
        "price_sdt",
        "price_uid",
        "price",
    )
    detail = {k: template.get(k) for k in keys}
    if not detail["reason"]:
        # Only a rejected or disabled template has a reason; Zalo's ENABLE sample has none.
        del detail["reason"]
    # An absolute URL, as Zalo's (account.zalo.cloud/znspreview/...), the page this sandbox
    # serves for it.
    detail["previewUrl"] = responses.absolute(request, str(template.get("previewUrl") or ""))
    return detail


@zns_api("zns.template.all")
def template_all(request: HttpRequest, state: SandboxState, grant: AccessGrant) -> HttpResponse:
    wanted = STATUS_BY_FILTER.get(request.GET.get("status", ""))
    try:
        offset = max(0, int(request.GET.get("offset", "0")))
        limit = min(100, max(1, int(request.GET.get("limit", "100"))))
    except ValueError:
        return zns_error(-132)
    with state.lock:
        items = [
            {
                # One type in the list and the detail, as Zalo's: the detail's string.
                "templateId": str(t["templateId"]),
                "templateName": t["templateName"],
                "createdTime": t["createdTime"],
                "status": t["status"],
                "templateQuality": t["templateQuality"],
            }
            for t in state.zns.templates.get(grant.oa_id, {}).values()
            if wanted is None or t["status"] == wanted
        ]
    return zns_ok(items[offset : offset + limit], metadata={"total": len(items)})


@zns_api("zns.template.info")
def template_info(request: HttpRequest, state: SandboxState, grant: AccessGrant) -> HttpResponse:
    template_id = request.GET.get("template_id", "")
    with state.lock:
        template = state.zns.template(grant.oa_id, template_id)
        if template is None:
            return zns_error(-117 if state.zns.find_template(template_id) else -109)
        return zns_ok(_detail(request, template))


def _checked_payload(body: dict[str, Any]) -> dict[str, Any] | HttpResponse:
    name = body.get("template_name")
    if not isinstance(name, str) or not 10 <= len(name) <= 60:
        return zns_error(-132, "template_name must be 10-60 characters")
    if body.get("template_type") not in (1, 2, 3, 4, 5) or body.get("tag") not in (1, 2, 3):
        return zns_error(-132, "template_type or tag is invalid")
    if body.get("template_type") == 5 and body.get("tag") != 2:
        return zns_error(-132, "a service rating template needs tag 2")
    params = body.get("params") or []
    if not isinstance(params, list) or not all(
        isinstance(p, dict) and p.get("name") for p in params
    ):
        return zns_error(-132, "params is invalid")
    if not isinstance(body.get("layout"), dict):
        return zns_error(-132, "layout is invalid")
    return body


def _list_params(params: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        {
            "name": str(p["name"]),
            "require": True,
            "type": "NUMBER" if p.get("type") in (10, 14) else "STRING",
            "maxLength": int(p.get("max_length") or 30),
            "minLength": 0,
            "acceptNull": False,
        }
        for p in params
    ]


def _list_buttons(layout: dict[str, Any]) -> list[dict[str, Any]]:
    """The layout's footer buttons as the detail lists them: ``{type, title, content}``."""
    footer = layout.get("footer")
    components = footer.get("components") if isinstance(footer, dict) else None
    found = []
    for component in components if isinstance(components, list) else []:
        buttons = component.get("BUTTONS") if isinstance(component, dict) else None
        items = buttons.get("items") if isinstance(buttons, dict) else None
        for item in items if isinstance(items, list) else []:
            if isinstance(item, dict):
                kind = item.get("type")
                found.append(
                    {
                        "type": kind if isinstance(kind, int) and not isinstance(kind, bool) else 1,
                        "title": str(item.get("title") or ""),
                        "content": str(item.get("content") or ""),
                    }
                )
    return found


def _save(state: SandboxState, oa_id: str, template_id: str, body: dict[str, Any]) -> dict:
    template = {
        "templateId": template_id,
        "templateName": body["template_name"],
        "createdTime": int(state.now() * 1000),
        "status": "PENDING_REVIEW",
        "reason": "",
        "template_type": body["template_type"],
        "layout": body["layout"],
        "listParams": _list_params(body.get("params") or []),
        "listButtons": _list_buttons(body["layout"]),
        "timeout": 7200000,
        "previewUrl": f"/_sandbox/zns/preview/{template_id}",
        "templateQuality": "UNDEFINED",
        "templateTag": {1: "TRANSACTION", 2: "CUSTOMER_CARE", 3: "PROMOTION"}[body["tag"]],
        # Zalo's detail has the price by phone and by user id (API.md §4.3).
        "price_sdt": "300",
        "price_uid": "210",
        "price": "300",
        "dailyQuota": None,
    }
    state.zns.templates.setdefault(oa_id, {})[template_id] = template
    return template


def _created(template: dict[str, Any]) -> HttpResponse:
    return zns_ok(
        {
            "template_id": template["templateId"],
            "template_name": template["templateName"],
            "template_type": template["template_type"],
            "template_status": template["status"],
            "price": template["price"],
        }
    )


@zns_api("zns.template.create", methods=("POST",))
def template_create(request: HttpRequest, state: SandboxState, grant: AccessGrant) -> HttpResponse:
    body = _body(request)
    if isinstance(body, HttpResponse):
        return body
    checked = _checked_payload(body)
    if isinstance(checked, HttpResponse):
        return checked
    with state.lock:
        quota = state.zns.quota(grant.oa_id, state.now())
        if quota.creates >= CREATE_LIMIT:
            return zns_error(-160)
        quota.creates += 1
        template = _save(state, grant.oa_id, state.zns.new_template_id(), checked)
    reviewer.after_submit(state, template["templateId"])
    return _created(template)


@zns_api("zns.template.edit", methods=("POST",))
def template_edit(request: HttpRequest, state: SandboxState, grant: AccessGrant) -> HttpResponse:
    body = _body(request)
    if isinstance(body, HttpResponse):
        return body
    template_id = str(body.get("template_id") or "")
    with state.lock:
        existing = state.zns.template(grant.oa_id, template_id)
        if existing is None:
            return zns_error(-109)
        if existing["status"] != "REJECT":  # only rejected templates can be edited (§4.3)
            return zns_error(-1091)
    checked = _checked_payload(body)
    if isinstance(checked, HttpResponse):
        return checked
    with state.lock:
        quota = state.zns.quota(grant.oa_id, state.now())
        if quota.edits >= CREATE_LIMIT:
            return zns_error(-160)
        quota.edits += 1
        template = _save(state, grant.oa_id, template_id, checked)
        template["createdTime"] = existing["createdTime"]
    reviewer.after_submit(state, template_id)
    return _created(template)


@zns_api("zns.quota")
def message_quota(request: HttpRequest, state: SandboxState, grant: AccessGrant) -> HttpResponse:
    with state.lock:
        quota = state.zns.quota(grant.oa_id, state.now())
        return zns_ok(
            {
                "dailyQuota": quota.daily,
                "remainingQuota": quota.remaining,
                "dailyQuotaPromotion": None,
                "remainingQuotaPromotion": None,
                "monthlyPromotionQuota": 125,
                "remainingMonthlyPromotionQuota": 125,
                "estimatedNextMonthPromotionQuota": 2000,
            }
        )


@zns_api("zns.message.status")
def message_status(request: HttpRequest, state: SandboxState, grant: AccessGrant) -> HttpResponse:
    with state.lock:
        send = state.zns.find_send(request.GET.get("message_id", ""))
        if send is None or send.oa_id != grant.oa_id:
            return zns_ok({"delivery_time": "", "message": "Message not found", "status": -1})
        if send.status == "sent":
            return zns_ok({"delivery_time": "", "message": "Not delivered yet", "status": 0})
        return zns_ok(
            {
                "delivery_time": str(send.delivery_time),
                "message": "The message was delivered to the user's phone",
                "status": 1,
            }
        )


def _check_send(
    state: SandboxState, grant: AccessGrant, body: dict[str, Any], recipient: str
) -> HttpResponse | dict[str, Any]:
    """Zalo's checks in order: template, its data, refusals, quotas (caller holds lock)."""
    template_id = str(body.get("template_id") or "")
    template = state.zns.template(grant.oa_id, template_id)
    if template is None:
        return zns_error(-117 if state.zns.find_template(template_id) else -109)
    if template["status"] == "DISABLE" and template["templateQuality"] == "LOW":
        return zns_error(-146)
    if template["status"] != "ENABLE":
        return zns_error(-131)
    data = body.get("template_data")
    if not isinstance(data, dict):
        return zns_error(-111 if data is None else -112, "Template data is invalid")
    for param in template["listParams"]:
        value = data.get(param["name"])
        if value in (None, ""):
            return zns_error(-1122, f"Missing parameter: {param['name']}")
        if len(str(value)) > int(param["maxLength"]):
            return zns_error(-1121, f"Parameter {param['name']} exceeds max length")
        if param["type"] == "NUMBER" and not re.fullmatch(r"[\d.,]+", str(value)):
            return zns_error(-1124, f"Parameter {param['name']} is invalid format")
    if code := state.zns.refusals.get(recipient):
        return zns_error(code)
    quota = state.zns.quota(grant.oa_id, state.now())
    if quota.remaining <= 0:
        return zns_error(-144)
    if template.get("dailyQuota") == 0:
        return zns_error(-147)
    return template


def _send(
    state: SandboxState, grant: AccessGrant, body: dict[str, Any], channel: str, recipient: str
) -> ZnsSend | HttpResponse:
    tracking_id = str(body.get("tracking_id") or "")
    if len(tracking_id) > MAX_TRACKING_ID:
        return zns_error(-132, "tracking_id is too long")
    with state.lock:
        if tracking_id and (first := state.zns.by_tracking.get((grant.oa_id, tracking_id))):
            sent = state.zns.find_send(first)
            if sent is not None:  # a retry: the first send's answer, nothing delivered again
                return sent
        checked = _check_send(state, grant, body, recipient)
        if isinstance(checked, HttpResponse):
            return checked
        quota = state.zns.quota(grant.oa_id, state.now())
        quota.used += 1
        sent = ZnsSend(
            msg_id=new_msg_id(),
            oa_id=grant.oa_id,
            app_id=grant.app_id,
            channel=channel,
            recipient=recipient,
            template_id=str(body["template_id"]),
            template_data=dict(body["template_data"]),
            tracking_id=tracking_id,
            sent_time=int(state.now() * 1000),
        )
        state.zns.record_send(sent)
    reviewer.schedule_receipt(state, sent)
    return sent


@zns_api("zns.message.template", methods=("POST",))
def message_template(request: HttpRequest, state: SandboxState, grant: AccessGrant) -> HttpResponse:
    body = _body(request)
    if isinstance(body, HttpResponse):
        return body
    phone = str(body.get("phone") or "")
    if not _PHONE.match(phone):
        return zns_error(-108)
    sent = _send(state, grant, body, "phone", phone.lstrip("+"))
    if isinstance(sent, HttpResponse):
        return sent
    with state.lock:
        quota = state.zns.quota(grant.oa_id, state.now())
        # Zalo has answered accepted sends with no mode and a quota of "0" of "0" (API.md
        # §4.2, captured 2025-10): an OA set so answers that way.
        unreported = bool(state.oas[grant.oa_id].get("zns_answer_without_quota"))
    figures = ("0", "0") if unreported else (str(quota.daily), str(quota.remaining))
    return zns_ok(
        {
            "msg_id": sent.msg_id,
            "sent_time": str(sent.sent_time),
            "sending_mode": None if unreported else "1",
            "quota": {"dailyQuota": figures[0], "remainingQuota": figures[1]},
        }
    )


@oa_api("oa.message.template", methods=("POST",))
def message_template_uid(
    request: HttpRequest, state: SandboxState, grant: AccessGrant
) -> HttpResponse:
    body = _body(request)
    if isinstance(body, HttpResponse):
        return body
    user_id = str(body.get("user_id") or "")
    with state.lock:
        known = user_id in state.users.get(grant.oa_id, {})
    if not known:  # UIDs are per OA (API.md §7)
        return responses.oa_error(-201)
    sent = _send(state, grant, body, "uid", user_id)
    if isinstance(sent, HttpResponse):
        return sent
    with state.lock:
        quota = state.zns.quota(grant.oa_id, state.now())
    return responses.json(
        {
            "error": 0,
            "message": "Success",
            "data": {
                "message_id": sent.msg_id,
                "user_id": user_id,
                "sent_time": str(sent.sent_time),
                "quota": {"quota_type": "purchase_quota", "remain": quota.remaining},
            },
        }
    )
