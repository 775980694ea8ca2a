"""What the API takes and answers (the OpenAPI's components)."""

from datetime import datetime
from typing import Annotated, Any, Literal

from ninja import Schema
from pydantic import Field, model_validator

MAX_ID = 2_147_483_647
Id = Annotated[int, Field(ge=1, le=MAX_ID)]
# Any text but NUL, which no database column holds.
Text = Annotated[str, Field(pattern=r"^[^\x00]*$")]
ShortText = Annotated[str, Field(max_length=200, pattern=r"^[^\x00]*$")]
System = Annotated[str, Field(min_length=1, max_length=40, pattern=r"^[A-Za-z0-9_.\-]+$")]
Reference = Annotated[str, Field(min_length=1, max_length=100, pattern=r"^[^\x00]+$")]
ZaloUserId = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[0-9A-Za-z_\-]+$")]
Phone = Annotated[str, Field(max_length=30, pattern=r"^[0-9+ ().\-]*$")]
Email = Annotated[str, Field(max_length=254, pattern=r"^[^\x00\s@]+@[^\x00\s@]+\.[^\x00\s@]+$")]
Username = Annotated[str, Field(min_length=1, max_length=150, pattern=r"^[^\x00]+$")]
ParamName = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[^\x00]+$")]
ParamValue = Annotated[str, Field(max_length=500, pattern=r"^[^\x00]*$")] | int | float
TrackingId = Annotated[str, Field(min_length=1, max_length=48, pattern=r"^[A-Za-z0-9_\-]+$")]


# ---- official accounts, templates, quota ---------------------------------------------


class OaOut(Schema):
    id: int
    oa_id: str
    name: str
    status: str
    token_valid: bool
    token_expires_at: datetime | None
    refresh_token_expires_at: datetime | None
    health: str | None = Field(description="green, amber or red; null before the first check")
    health_computed_at: datetime | None
    last_error: str


class OaPage(Schema):
    items: list[OaOut]
    next_cursor: str | None


class TemplateOut(Schema):
    id: int
    zalo_template_id: str
    name: str
    tag: int
    quality: str
    price: str
    params: list[dict[str, Any]]
    body: str


class TemplatePage(Schema):
    items: list[TemplateOut]
    next_cursor: str | None


class QuotaOut(Schema):
    oa: int
    daily_quota: int | None
    remaining_quota: int | None
    quota_synced_at: datetime | None


# ---- messages and events ---------------------------------------------------------------


class MessageOut(Schema):
    id: int
    oa: int
    direction: str
    kind: str
    text: str
    zalo_user_id: str
    partner_id: int | None
    zalo_state: str
    zalo_msg_id: str
    failure_reason: str
    created_at: datetime
    sent_at: datetime | None
    delivered_at: datetime | None
    read_at: datetime | None


class MessagePage(Schema):
    items: list[MessageOut]
    next_cursor: str | None


class AttemptOut(Schema):
    number: int
    result: str
    started_at: datetime
    finished_at: datetime | None
    error_code: int | None
    error_message: str


class EventOut(Schema):
    id: int
    oa: int | None
    direction: str
    event_name: str
    processing_state: str
    zalo_state: str
    outcome: str
    attempts: int
    error_category: str
    error_message: str
    received_at: datetime
    processed_at: datetime | None
    message: MessageOut | None
    attempt_log: list[AttemptOut]


class Recipient(Schema):
    partner_id: Id | None = None
    link_id: Id | None = None
    user_id: ZaloUserId | None = None

    @model_validator(mode="after")
    def one_of(self) -> "Recipient":
        given = [v for v in (self.partner_id, self.link_id, self.user_id) if v is not None]
        if len(given) != 1:
            raise ValueError("give exactly one of partner_id, link_id, user_id")
        return self


class Attachment(Schema):
    url: Annotated[str, Field(max_length=1000, pattern=r"^https?://[^\x00\s]+$")] | None = None
    attachment_id: Annotated[str, Field(max_length=200, pattern=r"^[^\x00]+$")] | None = None
    token: Annotated[str, Field(max_length=500, pattern=r"^[^\x00]+$")] | None = None
    name: ShortText | None = None


class MessageSendIn(Schema):
    oa: Id
    to: Recipient
    kind: Literal["text", "image", "file"] = "text"
    text: Annotated[str, Field(max_length=2000, pattern=r"^[^\x00]*$")] = ""
    attachment: Attachment | None = None
    confirm_unverified: bool = Field(
        False, description="Send to an unverified shadow contact anyway."
    )


class Accepted(Schema):
    event_id: int
    # Null until a worker has stored the message of a send accepted as its event alone.
    message_id: int | None
    processing_state: str
    zalo_state: str


class ExternalRef(Schema):
    system: System
    reference: Reference


class TemplateSendIn(Schema):
    oa: Id
    template_id: Id
    partner_id: Id | None = None
    external_ref: ExternalRef | None = None
    params: dict[ParamName, ParamValue] = {}
    route_policy: Literal["uid", "phone", "uid_phone"] | None = None
    phone: Phone | None = None
    tracking_id: TrackingId | None = None

    @model_validator(mode="after")
    def one_partner(self) -> "TemplateSendIn":
        if (self.partner_id is None) == (self.external_ref is None):
            raise ValueError("give exactly one of partner_id, external_ref")
        return self


class TemplateAccepted(Accepted):
    tracking_id: str
    route: str


# ---- conversations ---------------------------------------------------------------------


class ConversationOut(Schema):
    id: int
    oa: int
    zalo_user_id: str
    partner_id: int | None
    display_name: str
    last_message_at: datetime
    unread_count: int
    assigned_to: str | None


class ConversationPage(Schema):
    items: list[ConversationOut]
    next_cursor: str | None


class AssignIn(Schema):
    username: Username | None = Field(
        None, description="The staff user to give it to; null takes it from whoever holds it."
    )


class Done(Schema):
    changed: bool


# ---- partners --------------------------------------------------------------------------


class PhoneOut(Schema):
    number: str
    verified: bool
    source: str


class PartnerOut(Schema):
    id: int
    name: str
    email: str
    is_shadow: bool
    external_refs: dict[str, Any]
    phones: list[PhoneOut]
    created_at: datetime
    updated_at: datetime


class PartnerPage(Schema):
    items: list[PartnerOut]
    next_cursor: str | None


class PartnerUpsertIn(Schema):
    system: System
    reference: Reference
    name: ShortText | None = None
    email: Email | None = None
    phones: list[Phone] = Field(
        [], max_length=10, description="In any form people type them; stored as 84xxxxxxxxx."
    )


class LinkOut(Schema):
    id: int
    partner_id: int
    oa: int
    zalo_user_id: str
    display_name: str
    is_follower: bool | None
    is_shadow: bool
    link_method: str
    last_interaction_at: datetime | None
    created_at: datetime


class LinkPage(Schema):
    items: list[LinkOut]
    next_cursor: str | None


class DecisionOut(Schema):
    id: int
    kind: str
    partner_id: int
    link_id: int | None
    evidence: dict[str, Any]
    created_at: datetime


class DecisionPage(Schema):
    items: list[DecisionOut]
    next_cursor: str | None


class HealthOut(Schema):
    status: Literal["ok"]
    database: Literal["ok"]
