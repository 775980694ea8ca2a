"""Zalo's side of a template's life: the reviewer, quality and quota changes, receipts.

Each change is made in the sandbox's memory and told to the hub as Zalo tells it, with
a signed webhook (API.md §3.5): ``change_template_status``, ``change_template_quality``,
``change_template_quota``, ``change_oa_daily_quota``, and the ZNS delivery receipt
``user_received_message`` with the send's ``tracking_id`` (§3.6).

A submitted template is reviewed after ``review.delay`` seconds (None: only when a test
or the demo says so). The decision is the next one queued, else the sandbox's own rule:
a body with a raw link or a phone number is rejected, as Zalo's reviewers do.
"""

import re
from typing import Any

from zalohub.sandbox import payloads
from zalohub.sandbox.customers import Emitted, emit
from zalohub.sandbox.state import SandboxState
from zalohub.sandbox.znsbook import Decision, ZnsSend

QUALITIES = ("HIGH", "MEDIUM", "LOW", "UNDEFINED")
STATUSES = ("ENABLE", "PENDING_REVIEW", "REJECT", "DISABLE", "DELETE")
_LINK = re.compile(r"https?://|www\.", re.IGNORECASE)
_PHONE = re.compile(r"(?<!\d)(?:\+?84|0)\d{8,10}(?!\d)")
# Zalo's reasons are Vietnamese free text (API.md §3.5); these are the sandbox's.
REASON_CONTENT = "Nội dung chứa liên kết hoặc số điện thoại; hãy dùng nút hoặc tham số"
REASON_QUALITY = "Mẫu tin bị tạm khóa do chất lượng thấp"
REASON_QUOTA = "Mẫu tin vượt hạn mức gửi trong ngày"


class ReviewError(ValueError):
    pass


def _ms(state: SandboxState) -> str:
    return str(int(state.now() * 1000))


def _body_text(template: dict[str, Any]) -> str:
    layout = template.get("layout") or {}
    texts: list[str] = []
    for part in ("header", "body"):
        for component in (layout.get(part) or {}).get("components") or []:
            for value in component.values() if isinstance(component, dict) else []:
                if isinstance(value, dict) and isinstance(value.get("value"), str):
                    texts.append(value["value"])
    return "\n".join(texts)


def _emit(state: SandboxState, oa_id: str, payload: dict[str, Any]) -> Emitted:
    def build(app_id: str, by_app: str) -> dict[str, Any]:
        return {"oa_id": oa_id, "app_id": app_id, **payload, "timestamp": _ms(state)}

    return Emitted(str(payload["event_name"]), "", emit(state, oa_id=oa_id, build=build))


def _template(state: SandboxState, template_id: str) -> tuple[str, dict[str, Any]]:
    found = state.zns.find_template(str(template_id))
    if found is None:
        raise ReviewError(f"no template {template_id}")
    return found


def set_status(
    state: SandboxState, *, template_id: str, status: str, reason: str = ""
) -> Emitted | None:
    """Move a template to ``status`` and say so; None when it already was there."""
    if status not in STATUSES:
        raise ReviewError(f"status must be one of {STATUSES}")
    with state.lock:
        oa_id, template = _template(state, template_id)
        previous = template["status"]
        if previous == status:
            return None
        template["status"] = status
        template["reason"] = reason if status in ("REJECT", "DISABLE") else ""

    def build(app_id: str, by_app: str) -> dict[str, Any]:
        return payloads.template_status(
            app_id=app_id,
            oa_id=oa_id,
            template_id=str(template_id),
            previous=previous,
            status=status,
            reason=reason,
            timestamp=_ms(state),
        )

    return Emitted("change_template_status", "", emit(state, oa_id=oa_id, build=build))


def review(
    state: SandboxState, *, template_id: str, decision: str | None = None, reason: str = ""
) -> Emitted | None:
    """Approve or reject a template that waits for review (None: nothing waited)."""
    with state.lock:
        _oa, template = _template(state, template_id)
        if template["status"] != "PENDING_REVIEW":
            return None
        if decision is None:
            queued = state.zns.review.queue.pop(0) if state.zns.review.queue else None
            if queued is not None:
                decision, reason = queued.decision, queued.reason
            elif _LINK.search(_body_text(template)) or _PHONE.search(_body_text(template)):
                decision, reason = "reject", REASON_CONTENT
            else:
                decision = "approve"
    if decision not in ("approve", "reject"):
        raise ReviewError("decision must be approve or reject")
    if decision == "reject":
        return set_status(
            state, template_id=template_id, status="REJECT", reason=reason or REASON_CONTENT
        )
    return set_status(state, template_id=template_id, status="ENABLE")


def queue_decisions(state: SandboxState, decisions: list[dict[str, Any]]) -> None:
    with state.lock:
        for item in decisions:
            state.zns.review.queue.append(
                Decision(decision=str(item.get("decision")), reason=str(item.get("reason") or ""))
            )


def after_submit(state: SandboxState, template_id: str) -> None:
    """A template was created or edited: review it later, if the reviewer is automatic."""
    delay = state.zns.review.delay
    if delay is not None:
        state.webhooks.call_later(delay, lambda: review(state, template_id=template_id))


def set_quality(state: SandboxState, *, template_id: str, quality: str) -> list[Emitted]:
    """Zalo rates the template; a LOW template is disabled for quality (API.md §4.3)."""
    if quality not in QUALITIES:
        raise ReviewError(f"quality must be one of {QUALITIES}")
    with state.lock:
        oa_id, template = _template(state, template_id)
        template["templateQuality"] = quality
    emitted = [
        _emit(
            state,
            oa_id,
            {
                "event_name": "change_template_quality",
                "template_id": str(template_id),
                "quality": quality,
            },
        )
    ]
    if quality == "LOW" and template["status"] == "ENABLE":
        done = set_status(state, template_id=template_id, status="DISABLE", reason=REASON_QUALITY)
        emitted += [done] if done else []
    return emitted


def set_template_quota(
    state: SandboxState, *, template_id: str, daily: int, disable: bool = False
) -> list[Emitted]:
    """A template's own daily limit changes (its exact event payload is unconfirmed,
    API.md §8: the sandbox sends ``quota: {prev_value, new_value}``, numbers as strings
    as in Zalo's other webhooks and the hub's fixture; "" for no previous limit)."""
    with state.lock:
        oa_id, template = _template(state, template_id)
        previous = template.get("dailyQuota")
        template["dailyQuota"] = int(daily)
    emitted = [
        _emit(
            state,
            oa_id,
            {
                "event_name": "change_template_quota",
                "template_id": str(template_id),
                "quota": {"prev_value": _number(previous), "new_value": str(int(daily))},
            },
        )
    ]
    if disable:
        done = set_status(state, template_id=template_id, status="DISABLE", reason=REASON_QUOTA)
        emitted += [done] if done else []
    return emitted


def _number(value: int | None) -> str:
    return "" if value is None else str(value)


def set_daily_quota(
    state: SandboxState, *, oa_id: str, daily: int | None = None, remaining: int | None = None
) -> Emitted | None:
    """Change the OA's daily quota (told with ``change_oa_daily_quota``) or what is left."""
    if oa_id not in state.oas:
        raise ReviewError(f"no OA {oa_id}")
    with state.lock:
        quota = state.zns.quota(oa_id, state.now())
        previous = quota.daily
        if daily is not None:
            quota.daily = max(0, int(daily))
        if remaining is not None:
            quota.used = max(0, quota.daily - max(0, int(remaining)))
        changed = quota.daily != previous
    if not changed:
        return None
    # S6 spells the OA field "oaId" (API.md §3.5, unconfirmed); the flat oa_id is kept too.
    payload = {
        "event_name": "change_oa_daily_quota",
        "oaId": oa_id,
        "quota": {"prev_value": _number(previous), "new_value": str(quota.daily)},
    }
    return _emit(state, oa_id, payload)


def mark_delivered(state: SandboxState, msg_id: str) -> Emitted | None:
    """The phone got the template message: the ZNS receipt, once (API.md §3.6)."""
    with state.lock:
        send = state.zns.find_send(msg_id)
        if send is None or send.status != "sent":
            return None
        send.status, send.delivery_time = "received", int(state.now() * 1000)
        oa_id = send.oa_id
    oa_sends = state.webhooks.config.receipt_sender == "oa"

    def build(app_id: str, by_app: str) -> dict[str, Any]:
        return payloads.zns_received(
            app_id=app_id,
            oa_id=oa_id,
            recipient=send.recipient,
            msg_id=send.msg_id,
            tracking_id=send.tracking_id,
            delivery_time=str(send.delivery_time),
            timestamp=_ms(state),
            oa_sends=oa_sends,
        )

    deliveries = emit(state, oa_id=oa_id, build=build, app_ids=[send.app_id])
    return Emitted("user_received_message", msg_id, deliveries)


def schedule_receipt(state: SandboxState, send: ZnsSend) -> None:
    delay = state.webhooks.config.receipt_delay
    if delay is not None:
        state.webhooks.call_later(delay, lambda: mark_delivered(state, send.msg_id))


def deliver_all(state: SandboxState, oa_id: str | None = None) -> list[Emitted]:
    with state.lock:
        ids = [s.msg_id for s in state.zns.all_sends(oa_id) if s.status == "sent"]
    return [e for e in (mark_delivered(state, i) for i in ids) if e is not None]
