"""Data-removal requests: recorded from ``user_withdraw``, confirmed (or dismissed) by a
Zalo Admin. The removal is one transaction: the person's partner link, messages (text
and attachments, the pictures staff sent them), stored events, conversation and the API
log rows that name them are anonymized; their partner too when no other OA links to it.
The request keeps the audit: counts, who, when, never the data.
"""

import json
from typing import Any

from django.db import transaction
from django.db.models import Q, Value
from django.db.models.functions import Replace
from django.utils import timezone
from django.utils.translation import gettext as _

from zalohub.apilog.models import ApiLog
from zalohub.events.models import PENDING, Message, ProcessingState, ZaloEvent
from zalohub.inbox.models import Conversation, SentImage
from zalohub.partners.models import (
    IdentityDecision,
    NameSource,
    Partner,
    ZaloPartnerLink,
    ZaloTagging,
)
from zalohub.privacy.models import DataRemovalRequest, subject_ref

REMOVED_NAME = "Removed customer %(n)d"  # stored like the "Zalo user" placeholder


class RemovalRefused(Exception):
    """The request cannot be carried out now; the message says why and what to do."""


def removal_request_record(*, event: ZaloEvent) -> DataRemovalRequest:
    """The request ``event`` carries: one per person and OA while one is waiting (Zalo
    sends the event to every app of the OA, and may deliver it again)."""
    assert event.oa is not None
    ref = subject_ref(event.oa.oa_id, event.zalo_user_id)
    waiting = DataRemovalRequest.objects.filter(
        oa=event.oa, subject_ref=ref, status=DataRemovalRequest.Status.PENDING
    ).first()
    if waiting is not None:
        return waiting
    link = (
        ZaloPartnerLink.objects.filter(oa=event.oa, zalo_user_id=event.zalo_user_id)
        .select_related("partner")
        .first()
    )
    # As stored ("Zalo user 340317" is shown in each reader's language).
    name = (link.partner.name if link.partner_id else link.display_name) if link else ""
    request, _created = DataRemovalRequest.objects.get_or_create(
        event=event,
        defaults={
            "oa": event.oa,
            "zalo_user_id": event.zalo_user_id,
            "subject_ref": ref,
            "subject_name": name[:200],
            "link": link,
            "requested_at": event.received_at or timezone.now(),
        },
    )
    return request


def _scrub_messages(oa_id: int, old: str, new: str) -> dict[str, int]:
    messages = Message.objects.filter(oa_id=oa_id, zalo_user_id=old)
    ids = list(messages.values_list("pk", flat=True))
    attachments = sum(len(a or []) for a in messages.values_list("attachments", flat=True))
    texts = messages.exclude(text="").count()
    images, _per_model = SentImage.objects.filter(message_id__in=ids).delete()
    Message.objects.filter(pk__in=ids).update(
        text="", attachments=[], quote_msg_id="", zalo_user_id=new
    )
    conversations = Conversation.objects.filter(oa_id=oa_id, zalo_user_id=old).update(
        zalo_user_id=new
    )
    return {
        "messages": len(ids),
        "message_texts": texts,
        "attachments": attachments,
        "sent_images": images,
        "conversations": conversations,
    }


def _scrub_events(oa_id: int, old: str, new: str, request_pk: int) -> int:
    events = ZaloEvent.objects.filter(
        Q(oa_id=oa_id, zalo_user_id=old) | Q(message__oa_id=oa_id, message__zalo_user_id=new)
    )
    body = json.dumps({"removed": True, "data_removal_request": request_pk})
    emptied = events.update(
        raw_body=body, headers={}, zalo_user_id=new, conversation_key=f"{oa_id}:{new}"[:100]
    )
    # Events that only name the person among others (a tag given to several users):
    # their id is replaced, the rest of the event stays.
    named = ZaloEvent.objects.filter(oa_id=oa_id, raw_body__contains=old)
    return emptied + named.update(raw_body=Replace("raw_body", Value(old), Value(new)))


def _scrub_api_logs(oa_id: int, old: str) -> int:
    logs = ApiLog.objects.filter(
        Q(url__contains=old) | Q(request_body__contains=old) | Q(response_body__contains=old),
        oa_id=oa_id,
    )
    changed = 0
    for log in logs.only("pk", "url"):
        ApiLog.objects.filter(pk=log.pk).update(
            url=log.url.split("?", 1)[0], request_body="[removed]", response_body="[removed]"
        )
        changed += 1
    return changed


def _scrub_link(link: ZaloPartnerLink, new: str, request_pk: int) -> dict[str, Any]:
    tags = ZaloTagging.objects.filter(link=link).delete()[0]
    ZaloPartnerLink.objects.filter(pk=link.pk).update(
        zalo_user_id=new,
        user_id_by_app="",
        display_name="",
        avatar="",
        user_alias="",
        tag_names=[],
        zalo_notes=[],
        evidence={},
        is_sensitive=None,
        sync_error="",
        sync_error_i18n=None,
        profile_due_at=None,
    )
    IdentityDecision.objects.filter(link=link).update(evidence={})
    others = ZaloPartnerLink.objects.filter(partner_id=link.partner_id).exclude(pk=link.pk)
    if others.exists():
        partner = "kept"  # it is the customer of other OAs too: their data stays there
    else:
        partner = "anonymized"
        Partner.objects.filter(pk=link.partner_id).update(
            name=REMOVED_NAME % {"n": request_pk},
            name_key="",
            name_source=NameSource.STAFF,
            email="",
            notes="",
            external_refs={},
            updated_at=timezone.now(),
        )
        Partner.objects.get(pk=link.partner_id).phones.all().delete()
        IdentityDecision.objects.filter(partner_id=link.partner_id).update(evidence={})
    return {"link": True, "tags": tags, "partner": partner, "other_links": others.count()}


def removal_confirm(*, request: DataRemovalRequest, actor: Any) -> DataRemovalRequest:
    """Carry out the removal (a Zalo Admin confirmed it). RemovalRefused when it was
    decided already, or while events of the person still wait to be processed."""
    with transaction.atomic():
        req = DataRemovalRequest.objects.select_for_update().get(pk=request.pk)
        if req.status != DataRemovalRequest.Status.PENDING:
            raise RemovalRefused(_("This request was decided already."))
        old, oa_id = req.zalo_user_id, req.oa_id
        waiting = ZaloEvent.objects.filter(
            Q(processing_state__in=PENDING) | Q(processing_state=ProcessingState.PROCESSING),
            oa_id=oa_id,
            zalo_user_id=old,
        ).count()
        if waiting:
            raise RemovalRefused(
                _(
                    "%(n)d event(s) of this person still wait to be processed: confirm again "
                    "once they are (Zalo Events shows them)."
                )
                % {"n": waiting}
            )
        new = f"removed-{req.pk}"
        report: dict[str, Any] = _scrub_messages(oa_id, old, new)
        report["events"] = _scrub_events(oa_id, old, new, req.pk)
        report["api_logs"] = _scrub_api_logs(oa_id, old)
        link = ZaloPartnerLink.objects.filter(oa_id=oa_id, zalo_user_id=old).first()
        report.update(_scrub_link(link, new, req.pk) if link else {"link": False})
        now = timezone.now()
        same = DataRemovalRequest.objects.filter(
            oa_id=oa_id, subject_ref=req.subject_ref, status=DataRemovalRequest.Status.PENDING
        )
        same.update(
            status=DataRemovalRequest.Status.REMOVED,
            zalo_user_id="",
            subject_name="",
            decided_at=now,
            decided_by=actor,
            report=report,
            link=link,
        )
    req.refresh_from_db()
    return req


def removal_dismiss(*, request: DataRemovalRequest, actor: Any) -> DataRemovalRequest:
    """Not carried out (a request sent by mistake, already handled elsewhere)."""
    done = DataRemovalRequest.objects.filter(
        pk=request.pk, status=DataRemovalRequest.Status.PENDING
    ).update(
        status=DataRemovalRequest.Status.DISMISSED, decided_at=timezone.now(), decided_by=actor
    )
    if not done:
        raise RemovalRefused(_("This request was decided already."))
    request.refresh_from_db()
    return request
