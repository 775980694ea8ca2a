"""The reports' per-day summary (issue 19, ``inbox.report_summary``): the page read from it
says exactly what the facts give (``reports.build_from_facts``), on randomized facts; a
summary row changed behind the hub's back is found by ``zalohub report_facts --check``,
counted, and repaired; the hub's own changes (new holder, removed user, deleted
conversation) keep it in step without a rebuild."""

import io
import random
from datetime import timedelta

import pytest
from django.contrib.auth.models import User
from django.core.management import CommandError, call_command
from django.utils import timezone

from zalohub.accounts.models import OfficialAccount, ZaloApp
from zalohub.events.models import Direction, Message
from zalohub.inbox import report_days, report_facts, report_summary, reports, services
from zalohub.inbox.models import AgentReply, Conversation, ReportDay, Status, TimelineEntry
from zalohub.inbox.report_views import human

from .conftest import conversation_of

pytestmark = pytest.mark.django_db

DAYS = 10


def _moment(rng: random.Random, now):  # type: ignore[no-untyped-def]
    return now - timedelta(seconds=rng.uniform(0, DAYS * 86400))


@pytest.fixture
def facts():
    """Two OAs, three agents, 150 conversations over ten days with random facts: first
    responses (some unanswered, some credited to the holder, ties), resolutions (some
    by nobody, some not stamped yet), agent replies in and outside the free window."""
    rng = random.Random(19)
    app = ZaloApp.objects.create(name="Report", app_id="1919", secret_key="s")
    oas = [OfficialAccount.objects.create(app=app, name=f"OA {n}", oa_id=f"19{n}") for n in (1, 2)]
    agents = [User.objects.create_user(f"rep-{n}", password="x") for n in range(3)]
    now = timezone.now()
    people = [None, *agents]
    conversations = []
    for i in range(150):
        created = _moment(rng, now)
        first_in = created + timedelta(seconds=rng.uniform(0, 600)) if i % 10 else None
        replied = first_in is not None and rng.random() < 0.7
        # One in five answered after exactly 240 s: ties in the medians.
        wait = 240.0 if i % 5 == 0 else rng.uniform(1, 3 * 86400)
        conversations.append(
            Conversation(
                oa=oas[i % 2],
                zalo_user_id=f"u{i}",
                created_at=created,
                assigned_to=rng.choice(people),
                first_inbound_at=first_in,
                first_reply_at=first_in + timedelta(seconds=wait) if replied else None,
                first_replier=rng.choice(people) if replied else None,
            )
        )
    Conversation.objects.bulk_create(conversations)
    entries = []
    for conversation in Conversation.objects.order_by("pk"):
        if rng.random() < 0.6:
            at = conversation.created_at + timedelta(seconds=rng.uniform(60, 2 * 86400))
            entries.append(
                TimelineEntry(
                    conversation=conversation,
                    kind=TimelineEntry.Kind.STATUS,
                    status=Status.RESOLVED,
                    actor=rng.choice(people),
                    created_at=at,
                    opened_at=None if rng.random() < 0.1 else conversation.created_at,
                )
            )
    TimelineEntry.objects.bulk_create(entries)
    messages = Message.objects.bulk_create(
        Message(
            oa=oas[n % 2],
            direction=Direction.OUTBOUND,
            zalo_user_id=f"u{n}",
            text="Dạ",
            zalo_msg_id=f"rep{n}",
            sent_by=rng.choice(agents),
            created_at=_moment(rng, now),
        )
        for n in range(300)
    )
    AgentReply.objects.bulk_create(
        AgentReply(
            message=m,
            oa_id=m.oa_id,
            agent=rng.choice(people),
            created_at=m.created_at,
            outside_window=rng.random() < 0.3,
        )
        for m in messages
    )
    # The facts were written by hand: the summary is derived from them.
    report_summary.rebuild()
    return {"oas": oas, "agents": agents}


def _periods(facts) -> list[reports.Filters]:  # type: ignore[no-untyped-def]
    today = timezone.localdate()
    oas = tuple(oa.pk for oa in facts["oas"])
    one, agent = (facts["oas"][1].pk,), facts["agents"][0].pk

    def period(days: int, oa_ids=oas, agent_id=None, ago: int = 0):  # type: ignore[no-untyped-def]
        end = today - timedelta(days=ago)
        return reports.Filters(oa_ids, agent_id, end - timedelta(days=days - 1), end)

    return [
        period(DAYS + 2),
        period(7),
        period(3, one),
        period(DAYS + 2, agent_id=agent),
        period(4, one, agent, ago=2),
        period(1),
    ]


def _shown(report: reports.Report) -> list:
    """Every number the page, its charts and its CSV show, bucket by bucket."""

    def numbers(b: reports.Bucket) -> tuple:
        return (
            b.new,
            b.resolved,
            b.replies,
            b.outside_window,
            b.first_response_median,
            b.resolution_median,
            human(b.first_response_median),
            human(b.resolution_median),
        )

    return [
        sorted((str(k), numbers(b)) for k, b in report.days.items()),
        sorted((str(k), numbers(b)) for k, b in report.agents.items()),
        sorted((str(k), numbers(b)) for k, b in report.oas.items()),
        numbers(report.total),
        reports.csv_rows(report),
    ]


def test_it_shows_exactly_what_the_facts_give(facts):
    for filters in _periods(facts):
        # It should read the summary, and give the facts' numbers exactly (medians too).
        assert report_days.serves(filters)
        from_summary = report_days.build(filters)
        assert _shown(from_summary) == _shown(reports.build_from_facts(filters)), filters
        assert _shown(reports.build(filters)) == _shown(from_summary)
    # The randomized facts hold what the comparison needs to mean something.
    whole = reports.build_from_facts(_periods(facts)[0]).total
    assert whole.new == 150 and whole.resolved > 50 and whole.replies == 300
    assert None in reports.build_from_facts(_periods(facts)[0]).agents
    assert 0 < whole.outside_window < whole.replies


def test_a_tampered_summary_is_found_and_repaired(facts):
    # The facts derived from the messages first (the fixture wrote them by hand), so that
    # only the summary differs below.
    call_command("report_facts", stdout=io.StringIO())
    assert report_facts.rebuild(fix=False).total == 0
    filters = _periods(facts)[0]
    rows = list(ReportDay.objects.exclude(resolutions=b"").order_by("pk")[:3])
    # A count raised, a duration moved by a microsecond, a row gone, a row added.
    ReportDay.objects.filter(pk=rows[0].pk).update(new=rows[0].new + 1)
    moved = list(report_summary.unpack(rows[1].resolutions))
    moved[0] += 1e-6
    ReportDay.objects.filter(pk=rows[1].pk).update(resolutions=report_summary.pack(moved))
    ReportDay.objects.filter(pk=rows[2].pk).delete()
    ReportDay.objects.create(
        day=timezone.localdate() - timedelta(days=DAYS + 1),
        oa=facts["oas"][0],
        agent_id=facts["agents"][0].pk,
        replies=2,
    )
    # It should no longer give the facts' numbers...
    assert _shown(reports.build(filters)) != _shown(reports.build_from_facts(filters))
    # ...and the check should count the four rows, nothing else, and refuse...
    drift = report_facts.rebuild(fix=False)
    assert drift.summary_rows == 4 and drift.total == 4
    said = io.StringIO()
    with pytest.raises(CommandError):
        call_command("report_facts", "--check", stdout=said)
    assert "per-day summary rows: 4." in said.getvalue()
    # ...and the rebuild repair them.
    call_command("report_facts", stdout=io.StringIO())
    assert report_facts.rebuild(fix=False).total == 0
    assert _shown(reports.build(filters)) == _shown(reports.build_from_facts(filters))


def test_it_keeps_in_step_with_the_hubs_changes(customer_writes, member, agent, connected_oa):
    lan = User.objects.create_user("lan", password="x", is_staff=True)
    today = timezone.localdate()
    filters = reports.Filters((connected_oa.pk,), None, today, today)
    # It should count a new conversation at once, for nobody while nobody holds it...
    customer_writes("Cho hỏi giá")
    son = conversation_of()
    assert report_facts.rebuild(fix=False).total == 0
    assert reports.build(filters).agents[None].new == 1
    # ...for its new holder while nobody has answered it...
    services.conversation_assign(conversation=son, assignee=lan, actor=agent)
    assert report_facts.rebuild(fix=False).total == 0
    assert reports.build(filters).agents[lan.pk].new == 1
    # ...for nobody again when the holder's account is removed...
    lan.delete()
    assert report_facts.rebuild(fix=False).total == 0
    assert reports.build(filters).agents[None].new == 1
    # ...for whoever the admin's form gives it to...
    son.assigned_to = agent
    son.save()
    assert report_facts.rebuild(fix=False).total == 0
    assert reports.build(filters).agents[agent.pk].new == 1
    # ...and no more once it is deleted.
    son.delete()
    assert report_facts.rebuild(fix=False).total == 0
    assert reports.build(filters).total.new == 0
    assert _shown(reports.build(filters)) == _shown(reports.build_from_facts(filters))
