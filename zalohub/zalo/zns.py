"""ZBS Template Message (formerly ZNS): templates, quota and sends, on the business host
(by phone) and on the OA host (by UID)."""

from dataclasses import dataclass, field
from typing import Any

from zalohub.zalo.bodies import TemplateMessage
from zalohub.zalo.transport import ZaloTransport

# Zalo's list filter takes integers for the template statuses.
STATUS_FILTER = {"ENABLE": 1, "PENDING_REVIEW": 2, "REJECT": 3, "DISABLE": 4}


@dataclass(frozen=True)
class TemplateSend:
    msg_id: str
    sent_time_ms: int | None
    quota: dict[str, Any] = field(default_factory=dict)
    sending_mode: str | None = None  # "1" normal, "3" beyond quota; Zalo may send null


@dataclass(frozen=True)
class OAQuality:
    """The OA's ZNS send quality: HIGH, MEDIUM, LOW or UNDEFINED."""

    current: str  # the last 48 hours
    last_7_days: str


def _count(value: Any) -> int | None:
    try:
        return max(0, int(str(value))) if value not in (None, "") else None
    except ValueError:
        return None


def reported_quota(sent: TemplateSend) -> tuple[int | None, int | None]:
    """The OA's daily and remaining ZNS quota as a send's answer reports them; (None,
    None) when it reports none. Zalo has answered an accepted send with
    ``"sending_mode": null`` and both quota strings ``"0"`` (API.md §4.2): a send it
    just accepted cannot have had a daily quota of 0, so a daily 0 is no quota at all,
    and the remaining "0" beside it no figure either."""
    daily = _count(sent.quota.get("dailyQuota"))
    remaining = _count(sent.quota.get("remainingQuota", sent.quota.get("remain")))
    if daily == 0:
        return None, None
    return daily, remaining


class ZNSAPI:
    def __init__(self, transport: ZaloTransport, business_url: str, openapi_url: str) -> None:
        self._t = transport
        self._base = business_url
        self._openapi = openapi_url

    def _call(
        self,
        method: str,
        path: str,
        endpoint: str,
        access_token: str,
        *,
        params: dict | None = None,
        body: dict | None = None,
    ) -> dict:
        return self._t.request(
            method,
            f"{self._base}{path}",
            endpoint=endpoint,
            headers={"access_token": access_token},
            params={k: str(v) for k, v in (params or {}).items()} or None,
            json_body=body,
        )

    def list_templates(
        self, *, access_token: str, offset: int = 0, limit: int = 100, status: str | None = None
    ) -> tuple[list[dict], int]:
        params: dict[str, Any] = {"offset": offset, "limit": limit}
        if status:
            params["status"] = STATUS_FILTER[status]
        body = self._call("GET", "/template/all", "zns.template.all", access_token, params=params)
        items = body.get("data") or []
        total = (body.get("metadata") or {}).get("total", len(items))
        return list(items), int(total)

    def template_detail(self, *, access_token: str, template_id: str) -> dict[str, Any]:
        body = self._call(
            "GET",
            "/template/info/v2",
            "zns.template.info",
            access_token,
            params={"template_id": template_id},
        )
        return body.get("data") or {}

    def create_template(self, *, access_token: str, payload: dict[str, Any]) -> dict[str, Any]:
        body = self._call(
            "POST", "/template/create", "zns.template.create", access_token, body=payload
        )
        return body.get("data") or {}

    def edit_template(self, *, access_token: str, payload: dict[str, Any]) -> dict[str, Any]:
        body = self._call("POST", "/template/edit", "zns.template.edit", access_token, body=payload)
        return body.get("data") or {}

    def quota(self, *, access_token: str) -> dict[str, Any]:
        return self._call("GET", "/message/quota", "zns.quota", access_token).get("data") or {}

    def quality(self, *, access_token: str) -> OAQuality:
        data = self._call("GET", "/quality", "zns.quality", access_token).get("data") or {}
        return OAQuality(
            current=str(data.get("oaCurrentQuality") or "UNDEFINED"),
            last_7_days=str(data.get("oa7dayQuality") or "UNDEFINED"),
        )

    def message_status(self, *, access_token: str, message_id: str) -> dict[str, Any]:
        body = self._call(
            "GET",
            "/message/status",
            "zns.message.status",
            access_token,
            params={"message_id": message_id},
        )
        return body.get("data") or {}

    def send_by_phone(
        self,
        *,
        access_token: str,
        phone: str,
        template_id: str,
        template_data: dict[str, Any],
        tracking_id: str,
        development: bool = False,
    ) -> TemplateSend:
        payload = TemplateMessage(
            phone=phone,
            template_id=template_id,
            template_data=template_data,
            tracking_id=tracking_id,
            development=development,
        ).body()
        data = (
            self._call(
                "POST", "/message/template", "zns.message.template", access_token, body=payload
            ).get("data")
            or {}
        )
        return read_send(data, "msg_id")

    def send_by_uid(
        self,
        *,
        access_token: str,
        user_id: str,
        template_id: str,
        template_data: dict[str, Any],
        tracking_id: str = "",
    ) -> TemplateSend:
        # The same idempotency key as a send by phone, when there is one.
        payload = TemplateMessage(
            user_id=user_id,
            template_id=template_id,
            template_data=template_data,
            tracking_id=tracking_id,
        ).body()
        body = self._t.request(
            "POST",
            f"{self._openapi}/v3.0/oa/message/template",
            endpoint="oa.message.template",
            headers={"access_token": access_token},
            json_body=payload,
        )
        return read_send(body.get("data") or {}, "message_id")


def read_send(data: dict[str, Any], id_field: str) -> TemplateSend:
    sent = data.get("sent_time")
    quota = data.get("quota")
    return TemplateSend(
        msg_id=str(data.get(id_field) or ""),
        sent_time_ms=int(sent) if sent not in (None, "") else None,
        quota=quota if isinstance(quota, dict) else {},
        sending_mode=None if data.get("sending_mode") is None else str(data["sending_mode"]),
    )
