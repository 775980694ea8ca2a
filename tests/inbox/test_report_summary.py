"""The reports' per-day summary (issue 19, ``inbox.report_summary``): the page read from it
says exactly what the facts give (``reports.build_from_facts``), on randomized facts; a
summary row changed behind the hub's back is found by ``zalohub report_facts --check``,
counted, and repaired; the hub's own changes (new holder, removed user, deleted
conversation) keep it in step without a rebuild: the changes' transactions only mark
their days, the background task derives them (without deriving, and without a lock), a
mark made while the task derives is not lost, and a page is exact before the task runs."""

import io
import random
from datetime import timedelta

import pytest
from django.contrib.auth.models import User
from django.core.management import CommandError, call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
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


def _settled() -> None:
    """What the worker does after the changes' commit: run the summary's task."""
    report_summary.settle_report_days.call()


def test_it_keeps_in_step_with_the_hubs_changes(customer_writes, member, agent, connected_oa):
    lan = User.objects.create_user("lan", password="x", is_staff=True)
    today = timezone.localdate()
    filters = reports.Filters((connected_oa.pk,), None, today, today)
    # It should count a new conversation at once, for nobody while nobody holds it...
    customer_writes("Cho hỏi giá")
    son = conversation_of()
    _settled()
    assert report_facts.rebuild(fix=False).total == 0
    assert reports.build(filters).agents[None].new == 1
    # ...for its new holder while nobody has answered it...
    services.conversation_assign(conversation=son, assignee=lan, actor=agent)
    _settled()
    assert report_facts.rebuild(fix=False).total == 0
    assert reports.build(filters).agents[lan.pk].new == 1
    # ...for nobody again when the holder's account is removed...
    lan.delete()
    _settled()
    assert report_facts.rebuild(fix=False).total == 0
    assert reports.build(filters).agents[None].new == 1
    # ...for whoever the admin's form gives it to...
    son.assigned_to = agent
    son.save()
    _settled()
    assert report_facts.rebuild(fix=False).total == 0
    assert reports.build(filters).agents[agent.pk].new == 1
    # ...and no more once it is deleted.
    son.delete()
    _settled()
    assert report_facts.rebuild(fix=False).total == 0
    assert reports.build(filters).total.new == 0
    assert _shown(reports.build(filters)) == _shown(reports.build_from_facts(filters))


def _same(oa_id, day) -> bool:  # type: ignore[no-untyped-def]
    """Whether the summary holds the day as the facts now give it."""
    held, derived = (
        {key: cell.values() for key, cell in cells(oa_id, day, day).items()}
        for cells in (report_summary.stored, report_summary.derive)
    )
    return held == derived


def _marks():  # type: ignore[no-untyped-def]
    from zalohub.inbox.models import ReportDayDirty

    return ReportDayDirty.objects


def test_a_stored_batch_only_marks_its_day(customer_writes, connected_oa):
    # It should neither lock the day nor derive it while storing the batch that creates
    # a conversation: no advisory lock, no statement on the summary's table...
    with CaptureQueriesContext(connection) as stored:
        customer_writes("Cho hỏi giá")
    statements = [q["sql"] for q in stored.captured_queries]
    assert not [sql for sql in statements if "pg_advisory" in sql]
    assert not [sql for sql in statements if '"inbox_reportday"' in sql]
    # ...only mark it (one INSERT), the task deriving it later.
    marking = [sql for sql in statements if '"inbox_reportdaydirty"' in sql]
    assert len(marking) == 1 and marking[0].startswith("INSERT")
    today = (timezone.localdate(), connected_oa.pk)
    assert set(_marks().values_list("day", "oa_id")) == {today}
    assert not ReportDay.objects.exists()
    _settled()
    assert not _marks().exists()
    assert ReportDay.objects.get().new == 1
    assert report_facts.rebuild(fix=False).total == 0


def test_a_marked_day_is_exact_on_the_page_before_the_task_runs(
    facts, django_capture_on_commit_callbacks
):
    from django_tasks_db.models import DBTaskResult

    filters = _periods(facts)[0]
    oa, agent = facts["oas"][0], facts["agents"][1]
    before = _shown(reports.build(filters))
    # A new conversation, answered by an agent, and an older one handed to her.
    with django_capture_on_commit_callbacks(execute=True):
        Conversation.objects.create(
            oa=oa,
            zalo_user_id="late",
            assigned_to=agent,
            first_inbound_at=timezone.now() - timedelta(minutes=5),
            first_reply_at=timezone.now(),
            first_replier=agent,
        )
        old = Conversation.objects.filter(
            oa=oa, first_replier__isnull=True, created_at__lt=timezone.now() - timedelta(days=2)
        ).earliest("created_at")
        old.assigned_to = agent
        old.save()
    day = timezone.localdate()
    marked = set(_marks().values_list("day", "oa_id"))
    assert (day, oa.pk) in marked and len(marked) == 2
    # The summary still holds those days as they were...
    for d, oa_id in marked:
        assert not _same(oa_id, d)
    # ...the page already says what the facts say, and differs from before.
    assert report_days.serves(filters)
    for period in _periods(facts):
        assert _shown(reports.build(period)) == _shown(reports.build_from_facts(period)), period
    assert _shown(reports.build(filters)) != before
    # The task was enqueued after the commit (once), and its run clears the marks.
    waiting = DBTaskResult.objects.filter(task_path__endswith="settle_report_days")
    assert waiting.count() == 1
    _settled()
    assert not _marks().exists()
    for d, oa_id in marked:
        assert _same(oa_id, d)
    # (the fixture's facts are hand-written: only the summary is compared)
    assert report_summary.rebuild(fix=False) == 0


def test_a_mark_made_while_the_task_derives_is_not_lost(facts, monkeypatch):
    oa = facts["oas"][1]
    day = timezone.localdate()
    report_summary.mark([(day, oa.pk)])
    derive, calls = report_summary.derive, []

    def derive_meanwhile(oa_id, first, last, apps=None):  # type: ignore[no-untyped-def]
        found = derive(oa_id, first, last)
        calls.append((oa_id, first))
        if len(calls) == 1:
            # A conversation stored after the task read the facts: it marks the day.
            Conversation.objects.create(oa=oa, zalo_user_id="meanwhile")
        return found

    monkeypatch.setattr(report_summary, "derive", derive_meanwhile)
    report_summary.settle()
    # It should derive the day again for the mark made meanwhile, so the summary has it.
    assert calls == [(oa.pk, day), (oa.pk, day)]
    assert not _marks().exists()
    monkeypatch.undo()
    assert _same(oa.pk, day)
    # (the fixture's facts are hand-written: only the summary is compared)
    assert report_summary.rebuild(fix=False) == 0


def test_commits_close_together_enqueue_one_task_due_after_them_without_asking_the_queue(
    connected_oa, monkeypatch, django_capture_on_commit_callbacks
):
    from django_tasks_db.models import DBTaskResult

    tasks = DBTaskResult.objects.filter(task_path__endswith="settle_report_days")
    today = (timezone.localdate(), connected_oa.pk)
    # It should enqueue the task after the first commit that marks a day, due after it...
    committed = timezone.now()
    with django_capture_on_commit_callbacks(execute=True):
        report_summary.mark([today])
    (first,) = tasks.all()
    assert first.run_after > committed
    # ...and after the next ones while that task waits, neither look at the queue nor
    # enqueue another (the task, not started, will read their marks).
    with CaptureQueriesContext(connection) as marking:
        for _ in range(3):
            with django_capture_on_commit_callbacks(execute=True):
                report_summary.mark([today])
    queue = DBTaskResult._meta.db_table
    assert [q["sql"] for q in marking.captured_queries if queue in q["sql"]] == []
    assert tasks.count() == 1
    # Once that task is due (it may have read the marks already), a commit enqueues the
    # next, due after it.
    later = first.run_after
    monkeypatch.setattr(report_summary.wake, "clock", lambda: later)
    with django_capture_on_commit_callbacks(execute=True):
        report_summary.mark([today])
    assert tasks.count() == 2
    assert tasks.exclude(pk=first.pk).get().run_after > later


def test_a_run_under_constant_ingest_stops_at_its_cap_and_its_follow_up_settles_the_rest(
    facts, monkeypatch
):
    from django_tasks_db.models import DBTaskResult

    oa = facts["oas"][1]
    day = timezone.localdate()
    report_summary.mark([(day, oa.pk)])
    derive, calls, clock = report_summary.derive, [], [0.0]
    ceiling = 3 * report_summary.SETTLE_SECONDS  # where an uncapped run would go on

    def derive_under_ingest(oa_id, first, last, apps=None):  # type: ignore[no-untyped-def]
        found = derive(oa_id, first, last)
        calls.append((oa_id, first))
        clock[0] += 1.0  # each derivation takes a second of the run
        if len(calls) < ceiling:
            # A conversation stored meanwhile: the day is marked again, every time.
            Conversation.objects.create(oa=oa, zalo_user_id=f"busy-{len(calls)}")
        return found

    monkeypatch.setattr(report_summary, "derive", derive_under_ingest)
    monkeypatch.setattr(report_summary, "monotonic", lambda: clock[0])
    report_summary.settle_report_days.call()
    # It should stop once it has worked its seconds, the day still marked...
    assert calls == [(oa.pk, day)] * report_summary.SETTLE_SECONDS
    assert _marks().filter(day=day, oa_id=oa.pk).exists()
    # ...having enqueued the task that goes on.
    (follow_up,) = DBTaskResult.objects.filter(task_path__endswith="settle_report_days")
    monkeypatch.undo()
    follow_up.task.call()  # as a worker runs it
    # The follow-up should settle what was left: no mark, the day as the facts give it.
    assert not _marks().exists()
    assert _same(oa.pk, day)
    # (the fixture's facts are hand-written: only the summary is compared)
    assert report_summary.rebuild(fix=False) == 0
