"""Where the events come from: the hooks of the apps that own them, each turned into
Outgoing items and queued in the transaction that made them (outgoing.emit).

- events.hooks: messages stored (a customer's: message.received) and Zalo State changes
  (message.status_changed);
- zbs.hooks: template status and quality, quota (template.*, quota.changed);
- partners.hooks: partners and links created, merges and their undoing (partner.*,
  partner_link.created);
- the OA watch (watch.py): an OA's status and health level (oa.*)."""

from collections.abc import Sequence
from typing import Any

from django.utils import timezone

from zalohub.events.hooks import StateChange, on_message_state_changed, on_message_stored
from zalohub.events.models import Direction, Message
from zalohub.partners import hooks as partner_hooks
from zalohub.partners.models import MergeJournal, Partner, ZaloPartnerLink
from zalohub.webhooks.outgoing import Outgoing, emit
from zalohub.zbs import hooks as zbs_hooks


def message_data(m: Message) -> dict[str, Any]:
    return {
        "message_id": m.pk,
        "oa_id": m.oa_id,
        "zalo_user_id": m.zalo_user_id,
        "partner_link_id": m.partner_link_id,
        "kind": m.kind,
        "text": m.text,
        "attachments": m.attachments,
        "zalo_msg_id": m.zalo_msg_id,
        "created_at": m.created_at,
    }


def _stored(messages: Sequence[Message]) -> None:
    emit(
        [
            Outgoing("message.received", message_data(m), oa_id=m.oa_id, at=m.created_at)
            for m in messages
            if m.direction == Direction.INBOUND
        ]
    )


def _changed(changes: Sequence[StateChange]) -> None:
    emit(
        [
            Outgoing(
                "message.status_changed",
                {
                    "message_id": c.message.pk,
                    "oa_id": c.message.oa_id,
                    "zalo_msg_id": c.message.zalo_msg_id,
                    "kind": c.message.kind,
                    "previous": c.previous,
                    "state": c.state,
                    "at": c.at,
                },
                oa_id=c.message.oa_id,
                at=c.at,
            )
            for c in changes
        ]
    )


def _template(change: zbs_hooks.TemplateChange) -> None:
    t = change.template
    data: dict[str, Any] = {
        "template_id": t.pk,
        "oa_id": t.oa_id,
        "zalo_template_id": t.zalo_template_id,
        "name": t.name,
        "previous": change.previous,
    }
    if change.what == "status":
        data.update(status=change.current, zalo_status=t.zalo_status, reason=t.reject_reason)
    else:
        data.update(quality=change.current)
    emit([Outgoing(f"template.{change.what}_changed", data, oa_id=t.oa_id)])


def _quota(change: zbs_hooks.QuotaChange) -> None:
    data = {
        "oa_id": change.oa_id,
        "template_id": change.template.pk if change.template else None,
        "daily_quota": change.daily_quota,
        "remaining_quota": change.remaining_quota,
    }
    emit([Outgoing("quota.changed", data, oa_id=change.oa_id)])


def _partners(partners: Sequence[Partner]) -> None:
    emit(
        [
            Outgoing(
                "partner.created",
                {
                    "partner_id": p.pk,
                    "name": p.name,
                    "is_shadow": p.is_shadow,
                    "external_refs": p.external_refs,
                    "created_at": p.created_at,
                },
            )
            for p in partners
        ]
    )


def _links(links: Sequence[ZaloPartnerLink]) -> None:
    emit(
        [
            Outgoing(
                "partner_link.created",
                {
                    "link_id": link.pk,
                    "partner_id": link.partner_id,
                    "oa_id": link.oa_id,
                    "zalo_user_id": link.zalo_user_id,
                    "display_name": link.display_name,
                    "link_method": link.link_method,
                },
                oa_id=link.oa_id,
            )
            for link in links
        ]
    )


def _merge(event_type: str, journal: MergeJournal) -> None:
    at = journal.undone_at if event_type == "partner.unmerged" else journal.created_at
    data = {
        "journal_id": journal.pk,
        "survivor_id": journal.survivor_id,
        "merged_id": journal.merged_id,
        "at": at or timezone.now(),
    }
    emit([Outgoing(event_type, data)])


def _merged(journal: MergeJournal) -> None:
    _merge("partner.merged", journal)


def _unmerged(journal: MergeJournal) -> None:
    _merge("partner.unmerged", journal)


def connect() -> None:
    on_message_stored(_stored)
    on_message_state_changed(_changed)
    zbs_hooks.on_template_changed(_template)
    zbs_hooks.on_quota_changed(_quota)
    partner_hooks.on_partners_created(_partners)
    partner_hooks.on_links_created(_links)
    partner_hooks.on_merged(_merged)
    partner_hooks.on_unmerged(_unmerged)
