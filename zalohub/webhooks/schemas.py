"""The payloads subscribers receive, as ninja Schemas with examples, for the OpenAPI
document's ``webhooks`` section (``openapi_webhooks``) and for receivers that want types.

Every delivery is a POST whose JSON body is an envelope ``{"type", "timestamp", "data"}``
signed in the Standard Webhooks format (headers ``webhook-id``, ``webhook-timestamp``,
``webhook-signature``). ``webhook-id`` is the same on every retry of a delivery (and on
a Replay): deduplicate by it."""

from datetime import datetime
from typing import Any, Literal

from ninja import Schema
from pydantic import ConfigDict, Field

AT = "2026-12-06T09:30:00+07:00"


class _MessageData(Schema):
    """What every message event names first."""

    message_id: int
    oa_id: int


class MessageReceived(_MessageData):
    model_config = ConfigDict(
        json_schema_extra={
            "example": {
                "message_id": 812,
                "oa_id": 1,
                "zalo_user_id": "2512460873916385729",
                "partner_link_id": 44,
                "kind": "text",
                "text": "Cho mình hỏi đơn hàng #1024",
                "attachments": [],
                "zalo_msg_id": "a8c1f0e2b3",
                "created_at": AT,
            }
        }
    )
    zalo_user_id: str
    partner_link_id: int | None
    kind: str = Field(description="text, image, file, sticker, link, location, template, …")
    text: str
    attachments: list[dict[str, Any]]
    zalo_msg_id: str
    created_at: datetime


class MessageStatusChanged(_MessageData):
    model_config = ConfigDict(
        json_schema_extra={
            "example": {
                "message_id": 813,
                "oa_id": 1,
                "zalo_msg_id": "b91d2",
                "kind": "text",
                "previous": "sent",
                "state": "read",
                "at": AT,
            }
        }
    )
    zalo_msg_id: str
    kind: str
    previous: str = Field(description="The Zalo State before: on_queue, sent, delivered, …")
    state: str = Field(
        description="The Zalo State now: sent, delivered, received, read, failed; "
        "on_queue again after a Resend"
    )
    at: datetime


class _TemplateChange(Schema):
    """A template's status or quality moved: the template, and the value before."""

    template_id: int
    oa_id: int
    zalo_template_id: str
    name: str
    previous: str


class TemplateStatusChanged(_TemplateChange):
    model_config = ConfigDict(
        json_schema_extra={
            "example": {
                "template_id": 7,
                "oa_id": 1,
                "zalo_template_id": "298745",
                "name": "Xác nhận đơn hàng",
                "previous": "pending",
                "status": "approved",
                "zalo_status": "ENABLE",
                "reason": "",
            }
        }
    )
    status: str = Field(description="draft, pending, approved, rejected, disabled")
    zalo_status: str
    reason: str


class TemplateQualityChanged(_TemplateChange):
    model_config = ConfigDict(
        json_schema_extra={
            "example": {
                "template_id": 7,
                "oa_id": 1,
                "zalo_template_id": "298745",
                "name": "Xác nhận đơn hàng",
                "previous": "HIGH",
                "quality": "MEDIUM",
            }
        }
    )
    quality: str = Field(description="HIGH, MEDIUM, LOW, UNDEFINED")


class QuotaChanged(Schema):
    model_config = ConfigDict(
        json_schema_extra={
            "example": {"oa_id": 1, "template_id": None, "daily_quota": 500, "remaining_quota": 420}
        }
    )
    oa_id: int
    template_id: int | None = Field(description="Set when a template's own daily quota changed")
    daily_quota: int | None
    remaining_quota: int | None


class PartnerCreated(Schema):
    model_config = ConfigDict(
        json_schema_extra={
            "example": {
                "partner_id": 301,
                "name": "Nguyễn Văn An",
                "is_shadow": True,
                "external_refs": {},
                "created_at": AT,
            }
        }
    )
    partner_id: int
    name: str
    is_shadow: bool
    external_refs: dict[str, Any]
    created_at: datetime


class PartnerMerge(Schema):
    model_config = ConfigDict(
        json_schema_extra={
            "example": {"journal_id": 12, "survivor_id": 301, "merged_id": 305, "at": AT}
        }
    )
    journal_id: int
    survivor_id: int
    merged_id: int
    at: datetime


class PartnerLinkCreated(Schema):
    model_config = ConfigDict(
        json_schema_extra={
            "example": {
                "link_id": 44,
                "partner_id": 301,
                "oa_id": 1,
                "zalo_user_id": "2512460873916385729",
                "display_name": "An Nguyễn",
                "link_method": "new_shadow",
            }
        }
    )
    link_id: int
    partner_id: int
    oa_id: int
    zalo_user_id: str
    display_name: str
    link_method: str


class _OAChange(Schema):
    """An OA's status or health level moved: the OA, and the value before."""

    oa_id: int
    zalo_oa_id: str
    name: str
    previous: str


class OAStatusChanged(_OAChange):
    model_config = ConfigDict(
        json_schema_extra={
            "example": {
                "oa_id": 1,
                "zalo_oa_id": "2740017350155010001",
                "name": "Support",
                "previous": "connected",
                "status": "expired",
            }
        }
    )
    status: str = Field(description="draft, connected, expired, error")


class OAHealthChanged(_OAChange):
    model_config = ConfigDict(
        json_schema_extra={
            "example": {
                "oa_id": 1,
                "zalo_oa_id": "2740017350155010001",
                "name": "Support",
                "previous": "green",
                "level": "red",
            }
        }
    )
    level: str = Field(description="green, amber, red")


class TestEvent(Schema):
    model_config = ConfigDict(
        json_schema_extra={
            "example": {
                "subscription_id": 3,
                "message": "A test event from zalohub: your endpoint receives and verifies it.",
            }
        }
    )
    subscription_id: int
    message: str


DATA: dict[str, type[Schema]] = {
    "message.received": MessageReceived,
    "message.status_changed": MessageStatusChanged,
    "template.status_changed": TemplateStatusChanged,
    "template.quality_changed": TemplateQualityChanged,
    "partner.created": PartnerCreated,
    "partner.merged": PartnerMerge,
    "partner.unmerged": PartnerMerge,
    "partner_link.created": PartnerLinkCreated,
    "oa.status_changed": OAStatusChanged,
    "oa.health_changed": OAHealthChanged,
    "quota.changed": QuotaChanged,
    "webhook.test": TestEvent,
}


class Envelope(Schema):
    type: str
    timestamp: datetime
    data: dict[str, Any]


def envelope_schema(event_type: str) -> dict[str, Any]:
    """The JSON Schema of one event's body, with its example."""
    data_schema = DATA[event_type].model_json_schema(ref_template="#/components/schemas/{model}")
    example = data_schema.pop("example", None)
    return {
        "type": "object",
        "required": ["type", "timestamp", "data"],
        "properties": {
            "type": {"type": "string", "const": event_type},
            "timestamp": {"type": "string", "format": "date-time"},
            "data": data_schema,
        },
        "example": {"type": event_type, "timestamp": AT, "data": example},
    }


SIGNATURE_HEADERS = [
    {
        "name": "webhook-id",
        "in": "header",
        "required": True,
        "schema": {"type": "string"},
        "description": "The delivery's id: the same on every retry and Replay; deduplicate by it.",
    },
    {
        "name": "webhook-timestamp",
        "in": "header",
        "required": True,
        "schema": {"type": "string"},
        "description": "Seconds since the epoch of this attempt.",
    },
    {
        "name": "webhook-signature",
        "in": "header",
        "required": True,
        "schema": {"type": "string"},
        "description": "Space-separated v1,<base64 HMAC-SHA256> signatures (Standard Webhooks).",
    },
]


def openapi_webhooks() -> dict[str, Any]:
    """The OpenAPI 3.1 ``webhooks`` object: one POST per event type."""
    return {
        event_type: {
            "post": {
                "summary": event_type,
                "operationId": "webhook_" + event_type.replace(".", "_"),
                "parameters": SIGNATURE_HEADERS,
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": envelope_schema(event_type)}},
                },
                "responses": {
                    "2XX": {"description": "Delivered."},
                    "410": {"description": "Gone: the subscription is disabled."},
                },
            }
        }
        for event_type in DATA
    }


EventType = Literal[
    "message.received",
    "message.status_changed",
    "template.status_changed",
    "template.quality_changed",
    "partner.created",
    "partner.merged",
    "partner.unmerged",
    "partner_link.created",
    "oa.status_changed",
    "oa.health_changed",
    "quota.changed",
]


class SubscriptionIn(Schema):
    name: str
    url: str
    event_types: list[EventType] = Field(default_factory=list, description="Empty: every event")
    oa_ids: list[int] = Field(default_factory=list, description="Empty: every OA")
    rate_per_second: int = 50


class SubscriptionOut(Schema):
    id: int
    name: str
    url: str
    event_types: list[str]
    oa_ids: list[int]
    active: bool
    disabled_reason: str
    rate_per_second: int
    created_at: datetime
