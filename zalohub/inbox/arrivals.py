"""What a customer's message does to its conversation besides the summary (issue 19):
a pending, snoozed or resolved conversation is open again (rollup's upsert sets it, in
the same statement), its timeline says so, and a new or reopened conversation goes to an
available agent where the OA assigns automatically. Runs inside the batch's transaction.
"""

from collections.abc import Iterable, Sequence
from datetime import datetime
from functools import partial

from django.db import transaction
from django.utils import timezone

from zalohub.core import periodic
from zalohub.inbox import assignment, live
from zalohub.inbox.models import WAKES_ON_CUSTOMER, Conversation, Status, TimelineEntry

# Why the hub itself reopened a conversation (a status entry's text, shown translated).
REOPENED_BY_CUSTOMER = "customer"
REOPENED_BY_SNOOZE = "snooze"

Before = dict[tuple[int, str], tuple[int, str, int | None]]


def conversations_before(keys: Iterable[tuple[int, str]]) -> Before:
    """(pk, status, assignee) of the conversations that already exist, by (OA, user)."""
    wanted = set(keys)
    if not wanted:
        return {}
    rows = Conversation.objects.filter(
        oa_id__in={k[0] for k in wanted}, zalo_user_id__in={k[1] for k in wanted}
    ).values_list("oa_id", "zalo_user_id", "pk", "status", "assigned_to_id")
    return {
        (oa, user): (pk, status, holder)
        for oa, user, pk, status, holder in rows
        if (oa, user) in wanted
    }


def customer_wrote(*, before: Before, keys: Sequence[tuple[int, str]]) -> None:
    """After rollup folded customer messages in: conversations that were pending,
    snoozed or resolved are open again (the upsert did it), say so in their timeline, and
    new or reopened ones go to an available agent where the OA assigns automatically."""
    now = timezone.now()
    arrivals: list[assignment.Arrival] = []
    reopened: list[TimelineEntry] = []
    new_keys = [key for key in keys if key not in before]
    for key in keys:
        if key in before:
            pk, status, holder = before[key]
            if status in WAKES_ON_CUSTOMER:
                reopened.append(
                    TimelineEntry(
                        conversation_id=pk,
                        kind=TimelineEntry.Kind.STATUS,
                        status=Status.OPEN,
                        text=REOPENED_BY_CUSTOMER,
                        created_at=now,
                    )
                )
                arrivals.append(assignment.Arrival(pk, key[0], holder))
    if new_keys:
        found = Conversation.objects.filter(
            oa_id__in={k[0] for k in new_keys}, zalo_user_id__in={k[1] for k in new_keys}
        ).values_list("pk", "oa_id", "zalo_user_id", "assigned_to_id")
        wanted = set(new_keys)
        arrivals += [
            assignment.Arrival(pk, oa_id, holder)
            for pk, oa_id, user_id, holder in found
            if (oa_id, user_id) in wanted
        ]
    TimelineEntry.objects.bulk_create(reopened)
    if arrivals:
        assignment.auto_assign(arrivals, now)


@periodic.register("inbox.wake_snoozed", every_seconds=15)
def wake_snoozed(now: datetime | None = None) -> int:
    """Snoozed conversations whose time came are open again (a periodic job)."""
    now = now or timezone.now()
    with transaction.atomic():
        due = list(
            Conversation.objects.select_for_update(skip_locked=True)
            .filter(status=Status.SNOOZED, snoozed_until__lte=now)
            .values_list("pk", "oa_id", "assigned_to_id")
        )
        if not due:
            return 0
        Conversation.objects.filter(pk__in=[row[0] for row in due]).update(
            status=Status.OPEN, snoozed_until=None, updated_at=now
        )
        TimelineEntry.objects.bulk_create(
            TimelineEntry(
                conversation_id=pk,
                kind=TimelineEntry.Kind.STATUS,
                status=Status.OPEN,
                text=REOPENED_BY_SNOOZE,
                created_at=now,
            )
            for pk, _oa, _holder in due
        )
        assignment.auto_assign([assignment.Arrival(*row) for row in due], now)
        for oa_id in sorted({row[1] for row in due}):
            transaction.on_commit(partial(live.notify, oa_id))
    return len(due)
