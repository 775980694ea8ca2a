"""What a confirmed data removal does to the events app's tables (``core.removal``): the
person's messages lose their text, attachments and user id; their stored events are
emptied (events that name them among others lose only their id); rejected webhook
requests kept for inspection that name them lose their body."""

import json
from typing import Any

from django.db.models import F, Q, Value
from django.db.models.functions import Replace
from django.utils.translation import gettext_lazy as _

from zalohub.core.removal import Counts, Person, register_remover, slices
from zalohub.events.models import Message, RejectedRequest, ZaloEvent


def _messages(person: Person) -> tuple[list[int], Counts]:
    recipients = person.recipients
    mine = Q(oa_id=person.oa_pk, zalo_user_id__in=list(recipients))
    if person.link_pk is not None:
        mine |= Q(oa_id=person.oa_pk, partner_link_id=person.link_pk)
    ids = list(Message.objects.filter(mine).order_by("pk").values_list("pk", flat=True))
    attachments = texts = 0
    for batch in slices(ids):
        rows = Message.objects.filter(pk__in=batch)
        attachments += sum(len(a or []) for a in rows.values_list("attachments", flat=True))
        texts += rows.exclude(text="").count()
        for old, new in recipients.items():
            rows.filter(zalo_user_id=old).update(zalo_user_id=new)
        rows.update(text="", attachments=[], quote_msg_id="")
    return ids, {"messages": len(ids), "message_texts": texts, "attachments": attachments}


def _events(person: Person, message_ids: list[int]) -> int:
    tombstone = json.dumps({"removed": True, "data_removal_request": person.request_id})
    changed = 0
    for old, new in person.recipients.items():
        ids = list(
            ZaloEvent.objects.filter(oa_id=person.oa_pk, zalo_user_id=old).values_list(
                "pk", flat=True
            )
        )
        for batch in slices(ids):
            changed += ZaloEvent.objects.filter(pk__in=batch).update(
                raw_body=tombstone,
                headers={},
                zalo_user_id=new,
                conversation_key=f"{person.oa_zalo_id}:{new}"[:100],
            )
    for batch in slices(message_ids):  # the sends to them (a ZNS send's body has the values)
        changed += (
            ZaloEvent.objects.filter(message_id__in=batch)
            .exclude(raw_body=tombstone)
            .update(raw_body=tombstone, headers={})
        )
    # Events that name the person among others (a tag given to several users): their ids
    # are replaced, the rest of the event stays. One scan finds them all.
    names = Q()
    replaced: Any = F("raw_body")
    for needle in person.ids:
        names |= Q(raw_body__contains=needle)
        replaced = Replace(replaced, Value(needle), Value(person.placeholder))
    ids = list(ZaloEvent.objects.filter(names, oa_id=person.oa_pk).values_list("pk", flat=True))
    for batch in slices(ids):
        changed += ZaloEvent.objects.filter(pk__in=batch).update(raw_body=replaced)
    return changed


def _rejected(person: Person) -> int:
    """Refused webhook requests are kept, bounded, for inspection: a body that names the
    person (their message, their id) goes; the row and its counts stay."""
    names = Q()
    for needle in person.ids:
        names |= Q(body__contains=needle)
    if not names:
        return 0
    ids = list(RejectedRequest.objects.filter(names).values_list("pk", flat=True))
    for batch in slices(ids):
        for pk, headers in RejectedRequest.objects.filter(pk__in=batch).values_list(
            "pk", "headers"
        ):
            RejectedRequest.objects.filter(pk=pk).update(
                body="", headers=person.scrub_json(headers)
            )
    return len(ids)


@register_remover(
    "events",
    position=20,
    labels={
        "messages": _("Messages anonymized"),
        "message_texts": _("Message texts removed"),
        "attachments": _("Attachments removed"),
        "events": _("Zalo events emptied"),
        "rejected_requests": _("Rejected webhook requests emptied"),
    },
)
def remove(person: Person) -> Counts:
    message_ids, counts = _messages(person)
    counts["events"] = _events(person, message_ids)
    counts["rejected_requests"] = _rejected(person)
    return counts
