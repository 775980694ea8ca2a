"""Data-removal requests: recorded from ``user_withdraw``, confirmed (or dismissed) by a
Zalo Admin. The removal is one transaction in which every app that keeps something
about the person anonymizes it in its own tables (``core.removal``): partner link (and
partner, when no other OA links to it), messages, attachments, events, rejected webhook
requests, API log rows, the staff's notes and mentions, the merge journal, ZBS sends,
webhook deliveries, kept API answers, the admin's history. The request keeps the audit:
counts per table, who, when, never the data.
"""

from typing import Any

from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from zalohub.core.removal import Person, remove_person
from zalohub.events.models import PENDING, ProcessingState, ZaloEvent
from zalohub.partners.models import Partner, PartnerPhone, ZaloPartnerLink
from zalohub.partners.removal import partners_merged_into
from zalohub.privacy.models import DataRemovalRequest, subject_ref


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


def removal_subject(req: DataRemovalRequest) -> Person:
    """Who the request removes, with every id, name and phone that names them, read
    before anything is removed (``core.removal``)."""
    link = (
        ZaloPartnerLink.objects.filter(oa_id=req.oa_id, zalo_user_id=req.zalo_user_id)
        .select_related("partner", "oa")
        .first()
    )
    oa_zalo_id = link.oa.oa_id if link else req.oa.oa_id
    if link is None:
        return Person(
            request_id=req.pk, oa_pk=req.oa_id, oa_zalo_id=oa_zalo_id, zalo_user_id=req.zalo_user_id
        )
    partner_pk = link.partner_id
    merged = partners_merged_into(partner_pk) if partner_pk else []
    partners = Partner.objects.filter(pk__in=[partner_pk, *merged])
    others = ZaloPartnerLink.objects.filter(partner_id=partner_pk).exclude(pk=link.pk)
    return Person(
        request_id=req.pk,
        oa_pk=req.oa_id,
        oa_zalo_id=oa_zalo_id,
        zalo_user_id=req.zalo_user_id,
        link_pk=link.pk,
        partner_pk=partner_pk,
        partner_removed=bool(partner_pk) and not others.exists(),
        merged_partner_pks=tuple(merged),
        user_id_by_app=link.user_id_by_app,
        names=tuple(
            {link.display_name, link.user_alias, req.subject_name}
            | set(partners.values_list("name", flat=True))
        ),
        phones=tuple(
            PartnerPhone.objects.filter(partner__in=partners)
            .order_by("pk")
            .values_list("number", flat=True)
            .distinct()
        ),
        emails=tuple(partners.exclude(email="").values_list("email", flat=True)),
    )


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
        person = removal_subject(req)
        # Every app removes the person from its own tables, by position (core.removal).
        report = remove_person(person)
        link = ZaloPartnerLink.objects.filter(pk=person.link_pk or 0).first()
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
