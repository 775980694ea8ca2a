"""What the team's inbox adds to the list and the thread (issue 19): status tabs with
counts, mentions, the timeline among the messages, saved replies with their variables."""

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db.models import Q
from django.http import HttpRequest

from zalohub.inbox import access, assignment, team
from zalohub.inbox.models import (
    AssignmentMode,
    Conversation,
    Label,
    SavedReply,
    Status,
    TimelineEntry,
)
from zalohub.inbox.present import Group

STATUS_TABS = [Status.OPEN, Status.PENDING, Status.SNOOZED, Status.RESOLVED]


def status_filter(request: HttpRequest) -> str:
    status = request.GET.get("status", Status.OPEN)
    return status if status in Status.values else Status.OPEN


def list_extras(request: HttpRequest, filters: dict[str, Any]) -> dict[str, Any]:
    """Status tabs with counts (within the OA and scope chosen), unread mentions, the
    conversations assigned to me (the page notifies new ones), my away switch."""
    qs = Conversation.objects.filter(oa__in=access.visible_oas(request.user))
    if filters["oa_id"] is not None:
        qs = qs.filter(oa_id=filters["oa_id"])
    if filters["scope"] == "mine":
        qs = qs.filter(assigned_to_id=request.user.pk)
    elif filters["scope"] == "unassigned":
        qs = qs.filter(assigned_to__isnull=True)
    counts = team.status_counts(qs)
    mine = Conversation.objects.filter(
        assigned_to_id=request.user.pk, status=Status.OPEN
    ).values_list("pk", flat=True)
    agent = assignment.agent_of(request.user)
    return {
        "status_tabs": [(s, Status(s).label, counts[s]) for s in STATUS_TABS],
        "mentions": list(team.mentions_unread(request.user)[:20]),
        "mine_ids": ",".join(str(pk) for pk in mine[:500]),
        "away": agent.away,
    }


@dataclass
class Entry:
    """A timeline entry as the thread shows it, between the message groups."""

    entry: TimelineEntry
    is_entry: bool = True

    @property
    def started_at(self) -> datetime:
        return self.entry.created_at

    @property
    def who(self) -> str:
        actor = self.entry.actor
        return actor.get_username() if actor else ""

    @property
    def kind(self) -> str:
        return self.entry.kind

    @property
    def status_label(self) -> str:
        status = self.entry.status
        return str(Status(status).label) if status in Status.values else status


def with_timeline(groups: list[Group], conversation: Conversation) -> list[Any]:
    """The message groups with the timeline's entries in time order among them."""
    entries = list(
        TimelineEntry.objects.filter(conversation=conversation)
        .select_related("actor", "assignee")
        .order_by("-created_at", "-id")[:200]
    )
    return thread_items(groups, list(reversed(entries)))


def thread_items(groups: list[Group], entries: list[TimelineEntry]) -> list[Any]:
    """Message groups and timeline entries (oldest first) in the thread's order."""
    items: list[Any] = [*groups, *(Entry(e) for e in entries)]
    items.sort(key=lambda item: item.started_at)
    return items


def saved_replies(
    request: HttpRequest, conversation: Conversation, customer: str
) -> list[dict[str, str]]:
    """The OA's and the shared saved replies for the composer's / menu, with the
    variables already filled in for this conversation."""
    agent = request.user.get_full_name() or request.user.get_username()  # type: ignore[union-attr]
    values = {
        "customer_name": customer,
        "agent_name": agent,
        "oa_name": conversation.oa.name,
    }
    rows = SavedReply.objects.filter(Q(oa__isnull=True) | Q(oa_id=conversation.oa_id))
    replies = []
    for reply in rows.order_by("shortcut")[:200]:
        text = reply.text
        for key, value in values.items():
            text = text.replace("{{" + key + "}}", value).replace("{{ " + key + " }}", value)
        replies.append({"shortcut": reply.shortcut, "text": text})
    return replies


def thread_extras(request: HttpRequest, conversation: Conversation, name: str) -> dict[str, Any]:
    team.mentions_mark_read(user=request.user, conversation=conversation)
    return {
        "status_choices": STATUS_TABS,
        "saved_replies": saved_replies(request, conversation, name),
        "labels_all": list(Label.objects.all()),
        "labels_on": set(conversation.labels.values_list("pk", flat=True)),
        "colleagues": list(team.colleagues(conversation)),
        "assignment_mode": AssignmentMode(assignment.policy_of(conversation.oa_id)).label,
    }
