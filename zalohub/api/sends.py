"""Sends (an OA message, a ZNS template: 202 once queued) and what became of them."""

from typing import Any

from django.db import IntegrityError
from django.http import HttpRequest, HttpResponse
from django.utils.translation import gettext as _
from ninja import Header, Path, Router
from ninja.errors import AuthenticationError

from zalohub.accounts.models import OfficialAccount
from zalohub.api import accept, present
from zalohub.api import schemas as s
from zalohub.api.access import (
    KeyAuth,
    count_request,
    need,
    oa_ids,
    rate_limited,
    scoped_oa,
    the_key,
)
from zalohub.api.idempotency import (
    DOC,
    answer,
    idempotent,
    key_valid,
    request_digest,
)
from zalohub.api.keys import key_fresh, key_oa_ids
from zalohub.api.models import ApiKey, Capability
from zalohub.api.partners import partner_by_ref
from zalohub.api.problems import COMMON, POST_ERRORS, ApiProblem, not_found
from zalohub.core import requestid
from zalohub.events.models import Message, ProcessingState, ZaloEvent
from zalohub.events.outbound.oa_message import SendRefused, message_send, send_checks
from zalohub.partners.models import Partner, ZaloPartnerLink
from zalohub.zbs.models import Template, TemplateSend
from zalohub.zbs.sending import TemplateSendRefused, template_send

router = Router(tags=["sends"])
READERS = (Capability.SEND_MESSAGES, Capability.SEND_TEMPLATES, Capability.READ_CONVERSATIONS)
IdempotencyKey = Header(None, alias="Idempotency-Key", description=DOC)


def _user_id(oa: OfficialAccount, to: s.Recipient) -> str:
    if to.user_id is not None:
        return to.user_id
    if to.link_id is not None:
        link = ZaloPartnerLink.objects.filter(pk=to.link_id, oa=oa).first()
        if link is None:
            raise not_found(_("No such Zalo link on this OA."))
        return link.zalo_user_id
    assert to.partner_id is not None  # Recipient holds exactly one of the three
    partner = Partner.objects.filter(pk=to.partner_id).first()
    if partner is None:
        raise not_found(_("No such partner."))
    link = (
        ZaloPartnerLink.objects.filter(oa=oa, partner=partner.resolved())
        .order_by("is_shadow", "-last_interaction_at", "id")
        .first()
    )
    if link is None:
        raise ApiProblem(422, "no_zalo_link", _("The partner has no Zalo link on this OA."))
    return link.zalo_user_id


def _attachment(body: s.MessageSendIn) -> dict[str, Any] | None:
    if body.attachment is None:
        return None
    return {k: v for k, v in body.attachment.model_dump().items() if v}


def _accepted(message: Message) -> s.Accepted:
    event = message.events.order_by("-id").first()
    assert event is not None  # queued with its event, in this transaction
    return s.Accepted(
        event_id=event.pk,
        message_id=message.pk,
        processing_state=event.processing_state,
        zalo_state=message.zalo_state,
    )


def _batched(
    request: HttpRequest, key: ApiKey, body: s.MessageSendIn, idempotency_key: str | None
) -> accept.Send | None:
    """The send as ``accept`` takes it, or None when it needs the careful path: a
    recipient given by partner or link, or anything this process's memory of the key
    refuses, or the send's own checks, all answered there."""
    if (
        body.to.user_id is None
        or not key.can(Capability.SEND_MESSAGES)
        or body.oa not in key_oa_ids(key)
        or (idempotency_key and not key_valid(idempotency_key))
    ):
        return None
    attachment = _attachment(body)
    try:
        send_checks(user_id=body.to.user_id, text=body.text, kind=body.kind, attachment=attachment)
    except SendRefused:
        return None
    return accept.Send(
        key=key,
        oa_id=body.oa,
        user_id=body.to.user_id,
        kind=body.kind,
        text=body.text,
        attachment=attachment,
        confirm_unverified=body.confirm_unverified,
        idempotency_key=idempotency_key or "",
        digest=request_digest(request) if idempotency_key else "",
        request_id=requestid.current(),
    )


def _replayed(key: ApiKey, idempotency_key: str, digest: str) -> HttpResponse | None:
    """The first answer again for a send whose Idempotency-Key is its event's dedupe key
    (``accept``: the row keeps the first request's digest and what its 202 said), 409
    for another body; None when no such send is stored."""
    event = (
        ZaloEvent.objects.filter(dedupe_key=accept.idempotency_dedupe(key.pk, idempotency_key))
        .only("pk", "message_id", "headers")
        .first()
    )
    if event is None:
        return None
    if event.headers.get(accept.DIGEST_HEADER) != digest:
        raise ApiProblem(
            409,
            "idempotency_key_reused",
            _("This Idempotency-Key was used with another request; use a new key."),
        )
    accepted_as = event.headers.get(accept.ACCEPTED_HEADER, ProcessingState.RECEIVED)
    message_id = event.message_id if accepted_as == ProcessingState.QUEUED else None
    again = answer(202, accept.accepted_text(event.pk, message_id, accepted_as), accept.JSON)
    again["Idempotent-Replayed"] = "true"
    return again


# The key from this process's memory: accept checks it again where it stores the send.
@router.post("/messages", response={202: s.Accepted, **POST_ERRORS}, auth=KeyAuth(cached=True))
def message_create(
    request: HttpRequest, body: s.MessageSendIn, idempotency_key: str | None = IdempotencyKey
) -> HttpResponse:
    """Send a text, an image or a file to a partner, a Zalo link or a Zalo user id of
    an OA. 202: accepted; a worker gives it its message (the inbox shows it) and sends
    it. Follow it with GET /events/{event_id}: Processing State Received, then Queued,
    Processing and Processed, and the Zalo State of its message. ``message_id`` is null
    until the worker has stored the message, unless the send was stored with it at once
    (a recipient given by partner or link)."""
    cached = the_key(request)
    send = _batched(request, cached, body, idempotency_key)
    outcome = accept.accept(send) if send is not None else accept.FAILED
    if isinstance(outcome, accept.Limited):
        raise rate_limited(cached, outcome.wait)
    if isinstance(outcome, tuple):
        return answer(*outcome)
    if send is not None and outcome == accept.REPLAY:
        replayed = _replayed(cached, send.idempotency_key, send.digest)
        if replayed is not None:
            return replayed
    # The careful path, one send alone, with the key as the database has it now: a
    # revoked key is 401 before it is counted (it spends nothing of the budget).
    key = key_fresh(cached)
    if key is None:
        raise AuthenticationError
    if outcome == accept.FAILED:  # not counted yet
        count_request(key)
    need(key, Capability.SEND_MESSAGES)
    oa = scoped_oa(key, body.oa)
    digest, name = "", idempotency_key or ""
    if name and key_valid(name):
        digest = request_digest(request)
        replayed = _replayed(key, name, digest)
        if replayed is not None:
            return replayed

    def work() -> tuple[int, s.Accepted]:
        try:
            message = message_send(
                oa=oa,
                user_id=_user_id(oa, body.to),
                text=body.text,
                kind=body.kind,
                attachment=_attachment(body),
                business=True,
                confirm_unverified=body.confirm_unverified,
                dedupe_key=accept.idempotency_dedupe(key.pk, name) if digest else "",
                headers=accept.accepted_headers(name if digest else "", digest, "queued"),
            )
        except SendRefused as exc:
            raise ApiProblem(422, "send_refused", str(exc)) from None
        return 202, _accepted(message)

    try:
        return idempotent(request, key=key, idempotency_key=idempotency_key, handler=work)
    except IntegrityError:
        # Its event's dedupe key taken meanwhile by the same send stored in one row
        # (another process, whose memory of the key let it through): that one's answer.
        replayed = _replayed(key, name, digest) if digest else None
        if replayed is None:
            raise
        return replayed


def _template_partner(key: ApiKey, body: s.TemplateSendIn) -> Partner:
    if body.external_ref is not None:
        found = partner_by_ref(body.external_ref.system, body.external_ref.reference)
    else:
        assert body.partner_id is not None  # TemplateSendIn holds exactly one of the two
        found = Partner.objects.filter(pk=body.partner_id).first()
    if found is None:
        raise not_found(_("No such partner."))
    return found


@router.post("/template-sends", response={202: s.TemplateAccepted, **POST_ERRORS})
def template_send_create(
    request: HttpRequest, body: s.TemplateSendIn, idempotency_key: str | None = IdempotencyKey
) -> HttpResponse:
    """Send an approved ZNS template to a partner (by id or external reference), by the
    route policy given or the OA's (uid, phone, uid_phone). 202: queued. A send that
    cannot go is recorded all the same and answered 422 with its event_id."""
    key = the_key(request)
    need(key, Capability.SEND_TEMPLATES)
    oa = scoped_oa(key, body.oa)
    template = Template.objects.filter(pk=body.template_id, oa=oa).first()
    if template is None:
        raise not_found(_("No such template on this OA."))

    def work() -> tuple[int, s.TemplateAccepted]:
        partner = _template_partner(key, body)
        if body.tracking_id and TemplateSend.objects.filter(tracking_id=body.tracking_id).exists():
            raise ApiProblem(409, "tracking_id_used", _("This tracking_id was sent already."))
        try:
            send = template_send(
                partner=partner,
                template=template,
                params=body.params,
                route_policy=body.route_policy or "",
                phone=body.phone or "",
                tracking_id=body.tracking_id or "",
            )
        except TemplateSendRefused as exc:
            event = exc.send.message.events.order_by("-id").first()
            raise ApiProblem(
                422, "send_refused", exc.message, event_id=event.pk if event else None
            ) from None
        accepted = _accepted(send.message)
        return 202, s.TemplateAccepted(
            **accepted.model_dump(), tracking_id=send.tracking_id, route=send.route
        )

    return idempotent(request, key=key, idempotency_key=idempotency_key, handler=work)


@router.get("/events/{int:event_id}", response={200: s.EventOut, **COMMON})
def event_detail(request: HttpRequest, event_id: int = Path(..., ge=1, le=s.MAX_ID)) -> Any:
    """An event (a send, or a webhook from Zalo): its Processing State, the Zalo State of
    its message, its attempts and its error category."""
    key = the_key(request)
    need(key, *READERS)
    event = (
        ZaloEvent.objects.filter(pk=event_id, oa_id__in=oa_ids(key))
        .select_related("message__partner_link")
        .first()
    )
    if event is None:
        raise not_found()
    return present.event(event)


@router.get("/messages/{int:message_id}", response={200: s.MessageOut, **COMMON})
def message_detail(request: HttpRequest, message_id: int = Path(..., ge=1, le=s.MAX_ID)) -> Any:
    key = the_key(request)
    need(key, *READERS)
    message = (
        Message.objects.filter(pk=message_id, oa_id__in=oa_ids(key))
        .select_related("partner_link")
        .first()
    )
    if message is None:
        raise not_found()
    return present.message(message)
