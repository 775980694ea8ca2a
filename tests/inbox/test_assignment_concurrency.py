"""Parallel arrivals on PostgreSQL (issue 19): threads, each with its own connection and
transaction, assign at once; no conversation is assigned twice and no agent goes over
capacity. Also the pipeline itself: two workers drain customers' first messages at once."""

import threading
from collections import Counter

import pytest
from django.contrib.auth.models import User
from django.db import connection, transaction
from django.test import Client
from django.utils import timezone

from tests.helpers import post_webhook
from zalohub.events.processing.queue import drain
from zalohub.inbox import assignment
from zalohub.inbox.models import (
    Agent,
    AssignmentMode,
    Conversation,
    InboxPolicy,
    OAMembership,
    Status,
    TimelineEntry,
)

from .conftest import user_payload

pytestmark = pytest.mark.django_db(transaction=True)


def _postgresql_only() -> None:
    if connection.vendor != "postgresql":
        pytest.skip("row locks are PostgreSQL's; SQLite has one writer at a time anyway")


def _agents(oa, capacities: list[int]) -> list[User]:
    users = []
    for n, capacity in enumerate(capacities):
        user = User.objects.create_user(f"cs{n}", password="x")
        OAMembership.objects.create(user=user, oa=oa)
        Agent.objects.create(user=user, capacity=capacity, last_seen_at=timezone.now())
        users.append(user)
    return users


def _in_threads(jobs: list, *, timeout: float = 60) -> list[BaseException]:
    start = threading.Barrier(len(jobs))
    errors: list[BaseException] = []

    def run(job) -> None:
        try:
            start.wait(timeout)
            job()
        except BaseException as exc:  # reported by the test, not lost in the thread
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(job,)) for job in jobs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout)
    return errors


@pytest.mark.parametrize("mode", [AssignmentMode.ROUND_ROBIN, AssignmentMode.LEAST_OPEN])
def test_parallel_assigners_never_double_assign_or_exceed_capacity(connected_oa, mode):
    _postgresql_only()
    InboxPolicy.objects.create(oa=connected_oa, assignment=mode)
    agents = _agents(connected_oa, [3, 2, 4])
    conversations = [
        Conversation.objects.create(oa=connected_oa, zalo_user_id=f"77{n:08d}") for n in range(24)
    ]
    arrivals = [assignment.Arrival(c.pk, connected_oa.pk, None) for c in conversations]

    def assign(chunk: list[assignment.Arrival]):
        def job() -> None:
            with transaction.atomic():
                assignment.auto_assign(chunk)

        return job

    # Eight assigners; each conversation is offered to two of them.
    jobs = [assign(arrivals[i * 3 : i * 3 + 6] or arrivals[:3]) for i in range(8)]
    assert _in_threads(jobs) == []

    held = Counter(
        Conversation.objects.filter(assigned_to__isnull=False).values_list(
            "assigned_to_id", flat=True
        )
    )
    # It should fill every capacity exactly (9 places for 24 conversations)...
    assert held == {agents[0].pk: 3, agents[1].pk: 2, agents[2].pk: 4}
    # ...and assign each conversation once: one timeline entry per assigned conversation.
    entries = Counter(
        TimelineEntry.objects.filter(kind=TimelineEntry.Kind.ASSIGNED).values_list(
            "conversation_id", flat=True
        )
    )
    assert sum(entries.values()) == 9 and set(entries.values()) == {1}


def test_two_workers_drain_first_messages_within_capacity(zalo_app, connected_oa):
    _postgresql_only()
    InboxPolicy.objects.create(oa=connected_oa, assignment=AssignmentMode.ROUND_ROBIN)
    agents = _agents(connected_oa, [5, 5])
    client = Client()
    for n in range(30):
        raw = user_payload(f"Khách {n}", user_id=f"88{n:08d}")
        response = post_webhook(client, zalo_app.app_id, raw, key=zalo_app.oa_secret_key)
        assert response.status_code == 200
    assert _in_threads([lambda: drain(worker_id="w1"), lambda: drain(worker_id="w2")]) == []
    drain()
    assert Conversation.objects.count() == 30
    held = Counter(
        Conversation.objects.filter(status=Status.OPEN, assigned_to__isnull=False).values_list(
            "assigned_to_id", flat=True
        )
    )
    # It should give each agent exactly their capacity, never more, whatever the race.
    assert held == {agents[0].pk: 5, agents[1].pk: 5}
    assert TimelineEntry.objects.filter(kind=TimelineEntry.Kind.ASSIGNED).count() == 10
