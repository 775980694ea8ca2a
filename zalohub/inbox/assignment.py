"""Who answers a conversation: presence, the OA's policy, capacity (issue 19).

Online means an inbox page open: its live stream touches the agent's ``last_seen_at``
(``seen``) every few seconds, so a closed page goes offline within ``PRESENCE_SECONDS``;
the away switch takes an agent out while the page stays open.

``auto_assign`` runs inside the transaction that stores the customer's message (or that
reopens the conversation). It locks the candidates' Agent rows in user-id order before
counting their open conversations, so two workers or web processes assigning at once
queue behind each other and see each other's assignments: nobody goes over capacity.
The conversation itself changes hands by a conditional UPDATE on the holder it had, so
one conversation is never assigned twice.
"""

import contextlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Count, Q
from django.utils import timezone

from zalohub.inbox import report_summary
from zalohub.inbox.models import (
    Agent,
    AssignmentMode,
    Conversation,
    InboxPolicy,
    OAMembership,
    Status,
    TimelineEntry,
)

PRESENCE_SECONDS = 30
SEEN_EVERY_SECONDS = 5  # a stream writes at most this often


@dataclass(frozen=True)
class Arrival:
    """A conversation a customer's message created or reopened."""

    pk: int
    oa_id: int
    assigned_to_id: int | None


def agent_of(user: Any) -> Agent:
    agent, _created = Agent.objects.get_or_create(user=user)
    return agent


def seen(user_id: int, now: datetime | None = None) -> None:
    """The user's inbox page is open (called by its live stream)."""
    now = now or timezone.now()
    stale = now - timedelta(seconds=SEEN_EVERY_SECONDS)
    touched = Agent.objects.filter(
        Q(last_seen_at__isnull=True) | Q(last_seen_at__lt=stale), user_id=user_id
    ).update(last_seen_at=now)
    if not touched and not Agent.objects.filter(user_id=user_id).exists():
        # The user may have been deleted while their page was open.
        with contextlib.suppress(IntegrityError):
            Agent.objects.get_or_create(user_id=user_id, defaults={"last_seen_at": now})


def set_away(*, user: Any, away: bool) -> None:
    agent = agent_of(user)
    Agent.objects.filter(pk=agent.pk).update(away=away)


def online_q(now: datetime | None = None) -> Q:
    now = now or timezone.now()
    return Q(away=False, last_seen_at__gte=now - timedelta(seconds=PRESENCE_SECONDS))


def is_available(user_id: int | None, now: datetime | None = None) -> bool:
    if user_id is None:
        return False
    return Agent.objects.filter(online_q(now), user_id=user_id).exists()


def policy_of(oa_id: int) -> str:
    mode = InboxPolicy.objects.filter(oa_id=oa_id).values_list("assignment", flat=True).first()
    return mode or AssignmentMode.MANUAL


def _candidates(oa_id: int, now: datetime) -> list[Agent]:
    """The OA's online members, locked in user-id order (one lock order for everyone)."""
    members = OAMembership.objects.filter(oa_id=oa_id, user__is_active=True).values("user_id")
    return list(
        Agent.objects.select_for_update()
        .filter(online_q(now), user_id__in=members)
        .order_by("user_id")
    )


def open_counts(user_ids: Iterable[int]) -> dict[int, int]:
    rows = (
        Conversation.objects.filter(assigned_to_id__in=list(user_ids), status=Status.OPEN)
        .values("assigned_to_id")
        .annotate(n=Count("id"))
        .values_list("assigned_to_id", "n")
    )
    return dict(rows)


def _choose(mode: str, agents: list[Agent], counts: dict[int, int]) -> Agent | None:
    free = [a for a in agents if not a.capacity or counts.get(a.user_id, 0) < a.capacity]
    if not free:
        return None
    never = datetime.min.replace(tzinfo=timezone.get_current_timezone())

    def waited(agent: Agent) -> tuple[datetime, int]:
        return (agent.last_assigned_at or never, agent.user_id)

    if mode == AssignmentMode.LEAST_OPEN:
        return min(free, key=lambda a: (counts.get(a.user_id, 0), *waited(a)))
    return min(free, key=waited)


def _give(arrival: Arrival, agent: Agent, now: datetime) -> bool:
    won = Conversation.objects.filter(pk=arrival.pk, assigned_to_id=arrival.assigned_to_id).update(
        assigned_to_id=agent.user_id, updated_at=now
    )
    if not won:
        return False
    report_summary.conversations_reassigned([arrival.pk])
    Agent.objects.filter(pk=agent.pk).update(last_assigned_at=now)
    agent.last_assigned_at = now
    TimelineEntry.objects.create(
        conversation_id=arrival.pk,
        kind=TimelineEntry.Kind.ASSIGNED,
        assignee_id=agent.user_id,
        created_at=now,
    )
    return True


def auto_assign(arrivals: Sequence[Arrival], now: datetime | None = None) -> dict[int, int]:
    """Assign each arrival whose holder is not available, by its OA's policy; the
    conversations assigned, with their new assignee. Call inside a transaction."""
    now = now or timezone.now()
    done: dict[int, int] = {}
    by_oa: dict[int, list[Arrival]] = {}
    for arrival in arrivals:
        by_oa.setdefault(arrival.oa_id, []).append(arrival)
    for oa_id in sorted(by_oa):
        mode = policy_of(oa_id)
        if mode == AssignmentMode.MANUAL:
            continue
        waiting = [a for a in by_oa[oa_id] if not is_available(a.assigned_to_id, now)]
        if not waiting:
            continue
        with transaction.atomic():
            agents = _candidates(oa_id, now)
            counts = open_counts(a.user_id for a in agents)
            for arrival in sorted(waiting, key=lambda a: a.pk):
                agent = _choose(mode, agents, counts)
                if agent is None:
                    break
                if _give(arrival, agent, now):
                    counts[agent.user_id] = counts.get(agent.user_id, 0) + 1
                    done[arrival.pk] = agent.user_id
    return done
