"""Rows as the API shows them."""

from zalohub.accounts.models import OfficialAccount
from zalohub.api import schemas as s
from zalohub.core.stored_text import shown_reason
from zalohub.events.models import Message, ZaloEvent
from zalohub.inbox.models import Conversation
from zalohub.inbox.services import display_name
from zalohub.partners.models import IdentityDecision, Partner, ZaloPartnerLink
from zalohub.zbs.models import Template


def oa(row: OfficialAccount) -> s.OaOut:
    health = getattr(row, "health", None)
    return s.OaOut(
        id=row.pk,
        oa_id=row.oa_id,
        name=row.name,
        status=row.status,
        token_valid=row.token_valid,
        token_expires_at=row.token_expires_at,
        refresh_token_expires_at=row.refresh_token_expires_at,
        health=health.level if health else None,
        health_computed_at=health.computed_at if health else None,
        last_error=shown_reason(row, "last_error"),
    )


def template(row: Template) -> s.TemplateOut:
    return s.TemplateOut(
        id=row.pk,
        zalo_template_id=row.zalo_template_id,
        name=row.name,
        tag=row.tag,
        quality=row.quality or "",
        price=row.price,
        params=[dict(p) for p in row.params if isinstance(p, dict)],
        body=row.body,
    )


def message(row: Message) -> s.MessageOut:
    link = row.partner_link
    return s.MessageOut(
        id=row.pk,
        oa=row.oa_id,
        direction=row.direction,
        kind=row.kind,
        text=row.text,
        zalo_user_id=row.zalo_user_id,
        partner_id=link.partner_id if link else None,
        zalo_state=row.zalo_state,
        zalo_msg_id=row.zalo_msg_id,
        failure_reason=shown_reason(row, "failure_reason"),
        created_at=row.created_at,
        sent_at=row.sent_at,
        delivered_at=row.delivered_at,
        read_at=row.read_at,
    )


def event(row: ZaloEvent) -> s.EventOut:
    return s.EventOut(
        id=row.pk,
        oa=row.oa_id,
        direction=row.direction,
        event_name=row.event_name,
        processing_state=row.processing_state,
        zalo_state=row.message.zalo_state if row.message else "",
        outcome=row.outcome,
        attempts=row.attempts,
        error_category=row.error_category,
        error_message=shown_reason(row, "error_message"),
        received_at=row.received_at,
        processed_at=row.processed_at,
        message=message(row.message) if row.message else None,
        attempt_log=[
            s.AttemptOut(
                number=a.number,
                result=a.result,
                started_at=a.started_at,
                finished_at=a.finished_at,
                error_code=a.error_code,
                error_message=shown_reason(a, "error_message"),
            )
            for a in row.attempt_log.all()
        ],
    )


def conversation(row: Conversation) -> s.ConversationOut:
    link = row.partner_link
    return s.ConversationOut(
        id=row.pk,
        oa=row.oa_id,
        zalo_user_id=row.zalo_user_id,
        partner_id=link.partner_id if link else None,
        display_name=display_name(row),
        last_message_at=row.last_message_at,
        unread_count=row.unread_count,
        assigned_to=row.assigned_to.get_username() if row.assigned_to else None,
    )


def partner(row: Partner) -> s.PartnerOut:
    return s.PartnerOut(
        id=row.pk,
        name=row.shown_name,
        email=row.email,
        is_shadow=row.is_shadow,
        external_refs=dict(row.external_refs or {}),
        phones=[
            s.PhoneOut(number=p.number, verified=p.verified, source=p.source)
            for p in row.phones.all()
        ],
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def link(row: ZaloPartnerLink) -> s.LinkOut:
    return s.LinkOut(
        id=row.pk,
        partner_id=row.partner_id,
        oa=row.oa_id,
        zalo_user_id=row.zalo_user_id,
        display_name=row.display_name,
        is_follower=row.is_follower,
        is_shadow=row.is_shadow,
        link_method=row.link_method,
        last_interaction_at=row.last_interaction_at,
        created_at=row.created_at,
    )


def decision(row: IdentityDecision) -> s.DecisionOut:
    return s.DecisionOut(
        id=row.pk,
        kind=row.kind,
        partner_id=row.partner_id,
        link_id=row.link_id,
        evidence=dict(row.evidence) if isinstance(row.evidence, dict) else {"value": row.evidence},
        created_at=row.created_at,
    )
