"""What a confirmed data removal does to the inbox's tables (``core.removal``): the
pictures staff sent the person, their conversations (their user id replaced), the
private notes on those conversations (emptied: a note quotes or describes the customer)
and the mentions of those notes (read: nothing is left to open), and notes elsewhere on
the OA that name them (the name, phone or id replaced).

The search index needs nothing of its own: on PostgreSQL the trigram indexes follow
the emptied columns; on SQLite the FTS5 triggers (``inbox.search``) take the old text
out of the index when events empties a message's text, so it is no longer found."""

from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from zalohub.core.removal import Counts, Person, register_remover, slices
from zalohub.events.models import Message
from zalohub.inbox.models import Conversation, Mention, SentImage, TimelineEntry


def _sent_images(person: Person) -> int:
    mine = Q(oa_id=person.oa_pk, zalo_user_id__in=list(person.recipients))
    if person.link_pk is not None:
        mine |= Q(oa_id=person.oa_pk, partner_link_id=person.link_pk)
    ids = list(Message.objects.filter(mine).values_list("pk", flat=True))
    removed = 0
    for batch in slices(ids):
        removed += SentImage.objects.filter(message_id__in=batch).delete()[0]
    return removed


def _notes(person: Person, conversation_ids: list[int]) -> Counts:
    now = timezone.now()
    notes = TimelineEntry.objects.filter(
        conversation_id__in=conversation_ids, kind=TimelineEntry.Kind.NOTE
    ).exclude(text="")
    note_ids = list(notes.values_list("pk", flat=True))
    mentions = 0
    for batch in slices(note_ids):
        TimelineEntry.objects.filter(pk__in=batch).update(text="")
        mentions += Mention.objects.filter(entry_id__in=batch, read_at__isnull=True).update(
            read_at=now
        )
    # Notes on other conversations of the OA that name the person.
    names = Q()
    for needle in person.needles:
        names |= Q(text__contains=needle)
    elsewhere = 0
    if names:
        others = list(
            TimelineEntry.objects.filter(names, conversation__oa_id=person.oa_pk)
            .exclude(conversation_id__in=conversation_ids)
            .values_list("pk", "text")
        )
        for pk, text in others:
            TimelineEntry.objects.filter(pk=pk).update(text=person.scrub(text))
        elsewhere = len(others)
    return {"staff_notes": len(note_ids) + elsewhere, "mentions": mentions}


def _conversations(person: Person) -> tuple[list[int], int]:
    ids = []
    for old, new in person.recipients.items():
        pk = (
            Conversation.objects.filter(oa_id=person.oa_pk, zalo_user_id=old)
            .values_list("pk", flat=True)
            .first()
        )
        if pk is not None:
            Conversation.objects.filter(pk=pk).update(zalo_user_id=new, updated_at=timezone.now())
            ids.append(pk)
    return ids, len(ids)


@register_remover(
    "inbox",
    position=10,
    labels={
        "sent_images": _("Pictures sent by staff removed"),
        "conversations": _("Conversations anonymized"),
        "staff_notes": _("Staff notes emptied"),
        "mentions": _("Mentions of those notes closed"),
    },
)
def remove(person: Person) -> Counts:
    counts: Counts = {"sent_images": _sent_images(person)}
    conversation_ids, counts["conversations"] = _conversations(person)
    counts.update(_notes(person, conversation_ids))
    return counts
