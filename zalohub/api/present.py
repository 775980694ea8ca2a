"""Rows as the API shows them.

Each ``*Out`` schema names most of its fields after the row's own attributes: ``_out``
copies those, and each row type's builder gives only what differs (the API's ``id`` and
``oa`` for ``pk`` and ``oa_id``, reasons in the reader's language, related rows)."""

from typing import Any

from ninja import Schema

from zalohub.accounts.models import OfficialAccount
from zalohub.api import schemas as s
from zalohub.core.stored_text import shown_reason
from zalohub.events.models import EventAttempt, Message, ZaloEvent
from zalohub.inbox.models import Conversation
from zalohub.inbox.services import display_name
from zalohub.partners.models import IdentityDecision, Partner, ZaloPartnerLink
from zalohub.zbs.models import Template


def _out[Out: Schema](schema: type[Out], row: Any, **given: Any) -> Out:
    """``schema`` from ``given``, and its other fields read off ``row`` by name (``id``
    is the row's pk; ``oa`` its OA's)."""
    own = {"id": row.pk, "oa": getattr(row, "oa_id", None)}
    for name in schema.model_fields:
        if name not in given:
            given[name] = own[name] if name in own else getattr(row, name)
    return schema(**given)


def _partner_id(row: Message | Conversation) -> int | None:
    link = row.partner_link
    return link.partner_id if link else None


def oa(row: OfficialAccount) -> s.OaOut:
    health = getattr(row, "health", None)
    return _out(
        s.OaOut,
        row,
        health=health.level if health else None,
        health_computed_at=health.computed_at if health else None,
        last_error=shown_reason(row, "last_error"),
    )


def template(row: Template) -> s.TemplateOut:
    params = [dict(p) for p in row.params if isinstance(p, dict)]
    return _out(s.TemplateOut, row, quality=row.quality or "", params=params)


def message(row: Message) -> s.MessageOut:
    return _out(
        s.MessageOut,
        row,
        partner_id=_partner_id(row),
        failure_reason=shown_reason(row, "failure_reason"),
    )


def attempt(row: EventAttempt) -> s.AttemptOut:
    return _out(s.AttemptOut, row, error_message=shown_reason(row, "error_message"))


def event(row: ZaloEvent) -> s.EventOut:
    return _out(
        s.EventOut,
        row,
        zalo_state=row.message.zalo_state if row.message else "",
        error_message=shown_reason(row, "error_message"),
        message=message(row.message) if row.message else None,
        attempt_log=[attempt(a) for a in row.attempt_log.all()],
    )


def conversation(row: Conversation) -> s.ConversationOut:
    return _out(
        s.ConversationOut,
        row,
        partner_id=_partner_id(row),
        display_name=display_name(row),
        assigned_to=row.assigned_to.get_username() if row.assigned_to else None,
    )


def partner(row: Partner) -> s.PartnerOut:
    phones = [_out(s.PhoneOut, p) for p in row.phones.all()]
    external_refs = dict(row.external_refs or {})
    return _out(s.PartnerOut, row, name=row.shown_name, external_refs=external_refs, phones=phones)


def link(row: ZaloPartnerLink) -> s.LinkOut:
    return _out(s.LinkOut, row)


def decision(row: IdentityDecision) -> s.DecisionOut:
    evidence = row.evidence if isinstance(row.evidence, dict) else {"value": row.evidence}
    return _out(s.DecisionOut, row, evidence=dict(evidence))
