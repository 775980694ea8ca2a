"""Inbox query benchmark: 1M messages, 100k partners on PostgreSQL; p95 per query.

Run:  .venv/bin/python bench/inbox_queries.py [--messages 1000000] [--partners 100000]
      [--quick] [--repeat 300] [--reuse] [--database zalohub_bench_inbox] [--explain]
      [--only "report:"]

It creates the database ``zalohub_bench_inbox`` (or ``--database``) on 127.0.0.1:5432
(dropped first), migrates it, and loads with COPY: 4 OAs, N partners with one Zalo link each, one
conversation per link (as the inbox's sync keeps them) and M messages spread over the
conversations (a few busy ones, most with a handful), 10% of conversations assigned to
the agent, 70% to one of 20 other agents, whose replies they are. Each conversation's
timeline holds what the reports read: its assignment, and for two in three a Resolved
entry (one in nine reopened by the customer and resolved again). Then it times the
queries the inbox pages run, through the same service
functions: the conversation list (all OAs as an admin, one OA, mine, unassigned), a
thread, the live-update cursor, and a search. The baseline, measured in the same run,
is one message fetched by primary key; the ratio says how many such lookups a query
costs. Target (issue 5): p95 under 50 ms for the list and thread queries; (issue 18)
the same for searches, served by the trigram indexes of ``zalohub.inbox.search``;
(issue 19) p95 under 200 ms for the reports' queries (``zalohub.inbox.reports``: first
response, resolution, replies outside the free window; the whole page by day, agent and
OA over 7, 30 and 92 days, all OAs or one OA and one agent, read from the per-day
summary ``zalohub.inbox.report_summary``; and, as their baseline in the same run, the
same pages aggregated from the facts). ``--explain`` prints PostgreSQL's plan of each
report query over the facts once.
"""

import argparse
import os
import random
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DB = "zalohub_bench_inbox"
URL = f"postgres://postgres@127.0.0.1:5432/{DB}"
TARGET_MS = 50.0
REPORT_TARGET_MS = 200.0  # issue 19
AGENTS = 20  # besides bench-agent: the team the reports break down
# Searches (issue 18, item 10): a phrase said in one message in RARE_EVERY.
RARE = "giao hàng nhanh"
RARE_EVERY = 10_000
NOW = "2026-11-23 00:00:00+00"


def _use_database(name: str) -> None:
    global DB, URL
    DB = name
    URL = f"postgres://postgres@127.0.0.1:5432/{DB}"


def _recreate_database() -> None:
    import psycopg

    with psycopg.connect("host=127.0.0.1 user=postgres dbname=postgres", autocommit=True) as c:
        c.execute(f'DROP DATABASE IF EXISTS "{DB}" WITH (FORCE)')
        c.execute(f'CREATE DATABASE "{DB}"')
    env = {**os.environ, "DATABASE_URL": URL}
    subprocess.run(
        [str(ROOT / ".venv/bin/zalohub"), "migrate", "-v", "0"], check=True, env=env, cwd=ROOT
    )


def _stamp(minutes_ago: int) -> str:
    from datetime import datetime, timedelta

    base = datetime.fromisoformat(NOW)
    return (base - timedelta(minutes=minutes_ago)).isoformat()


def _load(partners: int, messages: int) -> dict:
    from django.contrib.auth.models import User
    from django.db import connection

    from zalohub.accounts.models import OfficialAccount, ZaloApp
    from zalohub.inbox.models import OAMembership

    app = ZaloApp.objects.create(name="Bench", app_id="9999", secret_key="s")
    oas = [OfficialAccount.objects.create(app=app, name=f"OA {i}", oa_id=str(i)) for i in range(4)]
    admin = User.objects.create_superuser("bench-admin", password="x")
    agent = User.objects.create_user("bench-agent", password="x", is_staff=True)
    for oa in oas[:2]:
        OAMembership.objects.create(user=agent, oa=oa)
    team = [
        User.objects.create_user(f"bench-agent-{n}", password="x", is_staff=True)
        for n in range(1, AGENTS + 1)
    ]
    OAMembership.objects.bulk_create(
        [OAMembership(user=member, oa=oa) for member in team for oa in oas]
    )

    def holder(i: int) -> int | None:
        """Who holds conversation i (and wrote its replies): None for one in five."""
        if i % 10 == 0:
            return agent.pk
        return team[i % AGENTS].pk if i % 10 < 8 else None

    rng = random.Random(5)
    # Messages per conversation: a long tail (a few conversations with thousands).
    weights = [1.0 / (1 + (i % 1000)) ** 0.5 for i in range(partners)]
    total = sum(weights)
    counts = [max(1, int(w / total * messages)) for w in weights]
    counts[0] += messages - sum(counts)
    with connection.cursor() as cursor:
        raw = cursor.cursor
        _server_defaults(raw)
        with raw.copy(
            "COPY partners_partner (id, name, name_key, email, notes, external_refs, is_shadow,"
            " created_at, updated_at) FROM STDIN"
        ) as copy:
            for i in range(1, partners + 1):
                name = f"Khách hàng {i}"
                copy.write_row((i, name, f"hang khach {i}", "", "", "{}", False, NOW, NOW))
        with raw.copy(
            "COPY partners_zalopartnerlink (id, partner_id, oa_id, app_id, zalo_user_id,"
            " user_id_by_app, display_name, avatar, is_follower, last_interaction_at,"
            " sync_error, is_shadow, link_method, evidence, created_at) FROM STDIN"
        ) as copy:
            for i in range(1, partners + 1):
                oa = oas[i % 4]
                copy.write_row(
                    (
                        i,
                        i,
                        oa.pk,
                        app.pk,
                        f"u{i}",
                        f"a{i}",
                        f"Zalo {i}",
                        "",
                        True,
                        NOW,
                        "",
                        True,
                        "new_shadow",
                        "{}",
                        NOW,
                    )
                )
        message_id = 0
        # conversation -> (last id, age, inbound age, messages): ages in minutes before NOW
        last_ids: list[tuple[int, int, int, int]] = []
        with raw.copy(
            "COPY events_message (id, oa_id, direction, zalo_user_id, partner_link_id, kind,"
            " text, attachments, zalo_msg_id, quote_msg_id, zalo_state, failure_reason,"
            " created_at, sent_by_id) FROM STDIN"
        ) as copy:
            for i in range(1, partners + 1):
                oa = oas[i % 4]
                age = rng.randint(0, 60 * 24 * 30)
                n = counts[i - 1]
                replier = holder(i)
                for k in range(n):
                    message_id += 1
                    inbound = k % 2 == 0
                    copy.write_row(
                        (
                            message_id,
                            oa.pk,
                            "in" if inbound else "out",
                            f"u{i}",
                            i,
                            "text",
                            _text(message_id, k, i),
                            "[]",
                            f"m{message_id}",
                            "",
                            "" if inbound else "read",
                            "",
                            _stamp(age + (n - k)),
                            None if inbound else replier,
                        ),
                    )
                last_ids.append((message_id, age + 1, age + 1 + (n % 2 == 0), n))
        with raw.copy(
            "COPY inbox_conversation (id, oa_id, zalo_user_id, partner_link_id, last_message_id,"
            " last_message_at, last_inbound_at, unread_count, assigned_to_id, updated_at,"
            " created_at, status) FROM STDIN"
        ) as copy:
            for i in range(1, partners + 1):
                last, age, inbound_age, n = last_ids[i - 1]
                assigned = holder(i)
                copy.write_row(
                    (
                        i,
                        oas[i % 4].pk,
                        f"u{i}",
                        i,
                        last,
                        _stamp(age),
                        _stamp(inbound_age),
                        i % 3,
                        assigned,
                        _stamp(age),
                        _stamp(age + n),  # its first message
                        "resolved" if i % 3 else "open",
                    )
                )
        _load_timeline(raw, partners, last_ids, holder)
        # The reports' facts (inbox.report_facts) of the rows COPY loaded, derived as the
        # migration that introduced them fills them in (its time is the backfill's).
        from zalohub.inbox.report_facts import rebuild

        started = time.perf_counter()
        rebuild()
        print(
            f"  report facts and summary derived in {time.perf_counter() - started:.1f} s",
            flush=True,
        )
        for table in (
            "partners_partner",
            "partners_zalopartnerlink",
            "events_message",
            "inbox_conversation",
            "inbox_timelineentry",
        ):
            sequence = f"pg_get_serial_sequence('{table}', 'id')"
            cursor.execute(f"SELECT setval({sequence}, (SELECT MAX(id) FROM {table}))")
            cursor.execute(f"ANALYZE {table}")
        for table in (
            "inbox_conversation",
            "inbox_timelineentry",
            "inbox_agentreply",
            "inbox_reportday",
        ):
            cursor.execute(f"VACUUM ANALYZE {table}")  # the facts' rows, as autovacuum leaves them
    return {"oas": oas, "admin": admin, "agent": agent, "team": team, "messages": message_id}


def _load_timeline(raw, partners: int, last_ids: list, holder) -> None:  # type: ignore[no-untyped-def]
    """What the reports read besides the messages: each held conversation's assignment
    when it arrived; two in three resolved by their holder some minutes after the last
    message, one in nine of them first resolved mid-thread and reopened by the customer."""
    entry = 0

    def row(i: int, kind: str, actor, status: str, assignee, minutes_ago: int) -> tuple:  # type: ignore[no-untyped-def]
        nonlocal entry
        entry += 1
        return (entry, i, kind, actor, status, assignee, "", _stamp(max(0, minutes_ago)))

    with raw.copy(
        "COPY inbox_timelineentry (id, conversation_id, kind, actor_id, status, assignee_id,"
        " text, created_at) FROM STDIN"
    ) as copy:
        for i in range(1, partners + 1):
            _last, age, _inbound, n = last_ids[i - 1]
            held = holder(i)
            if held is not None:
                copy.write_row(row(i, "assigned", None, "", held, age + n - 1))
            if not i % 3:
                continue
            if i % 9 == 1 and n > 2:
                copy.write_row(row(i, "status", held, "resolved", None, age + n // 2 + 1))
                copy.write_row(row(i, "status", None, "open", None, age + n // 2))
            copy.write_row(row(i, "status", held, "resolved", None, age - (i % 240)))


def _text(message_id: int, k: int, i: int) -> str:
    """A message's text; one in RARE_EVERY also says RARE (what the rare search finds)."""
    if message_id % RARE_EVERY == 0:
        return f"Cho tôi hỏi {RARE} không? ({k}, {i})"
    return f"Tin nhắn {k} của khách {i}"


def _server_defaults(raw) -> None:  # type: ignore[no-untyped-def]
    """The loaded tables' columns the COPYs below do not name (added since this bench was
    written) get their model default as a server default, so the COPYs fill them."""
    import json

    from django.apps import apps
    from psycopg import sql

    for label in (
        "partners.Partner",
        "partners.ZaloPartnerLink",
        "events.Message",
        "inbox.Conversation",
    ):
        model = apps.get_model(label)
        for field in model._meta.concrete_fields:
            if field.null or field.primary_key:
                continue
            value = field.get_default()  # "" for a text field without a default
            computed = field.has_default() and callable(field.default)
            if value is None or (computed and field.default not in (dict, list)):
                continue
            if isinstance(value, (dict, list)):
                value = json.dumps(value)
            raw.execute(
                sql.SQL("ALTER TABLE {} ALTER COLUMN {} SET DEFAULT {}").format(
                    sql.Identifier(model._meta.db_table),
                    sql.Identifier(field.column),
                    sql.Literal(value),
                )
            )


def _loaded() -> dict:
    """What _load returns, read back from the database an earlier run loaded."""
    from django.contrib.auth.models import User

    from zalohub.accounts.models import OfficialAccount
    from zalohub.events.models import Message

    return {
        "oas": list(OfficialAccount.objects.order_by("pk")),
        "admin": User.objects.get(username="bench-admin"),
        "agent": User.objects.get(username="bench-agent"),
        "team": list(User.objects.filter(username__startswith="bench-agent-").order_by("pk")),
        "messages": Message.objects.count(),
    }


def _time(fn: Callable[[], object], repeat: int) -> list[float]:
    fn()  # warm
    runs = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        runs.append((time.perf_counter() - start) * 1000)
    return runs


def _p95(runs: list[float]) -> float:
    return statistics.quantiles(runs, n=100)[94]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=1_000_000)
    parser.add_argument("--partners", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=300)
    parser.add_argument("--quick", action="store_true", help="100k messages, 10k partners")
    parser.add_argument(
        "--reuse", action="store_true", help="time the database the last run loaded, as it is"
    )
    parser.add_argument("--database", default=DB, help=f"the database to (re)create, {DB}")
    parser.add_argument("--explain", action="store_true", help="print the reports' plans")
    parser.add_argument(
        "--only", default="", help="time only the cases whose name starts so (and the baseline)"
    )
    args = parser.parse_args()
    _use_database(args.database)
    messages, partners = (100_000, 10_000) if args.quick else (args.messages, args.partners)
    print(f"Loading {messages:,} messages, {partners:,} partners into {DB} ...", flush=True)
    # The hub refuses to start on PostgreSQL without keys: one for this run (and the
    # migrate it starts).
    from cryptography.fernet import Fernet

    os.environ.setdefault("ZALOHUB_ENCRYPTION_KEYS", Fernet.generate_key().decode())
    if not args.reuse:
        _recreate_database()
    os.environ["DATABASE_URL"] = URL
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "zalohub.settings")
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from zalohub.events.models import Message
    from zalohub.inbox import reports, services, stream
    from zalohub.inbox.models import Conversation
    from zalohub.inbox.present import group_messages

    started = time.perf_counter()
    world = _loaded() if args.reuse else _load(partners, messages)
    print(f"  loaded in {time.perf_counter() - started:.1f} s", flush=True)
    admin, agent, oas = world["admin"], world["agent"], world["oas"]
    rng = random.Random(7)
    conversation_ids = list(Conversation.objects.values_list("pk", flat=True))
    busiest = Conversation.objects.get(pk=1)

    def listing(**kwargs) -> Callable[[], object]:
        return lambda: [services.display_name(c) for c in services.conversation_list(**kwargs)]

    def thread(conversation: Conversation | None = None) -> Callable[[], object]:
        def run() -> object:
            target = conversation or Conversation.objects.select_related(
                "partner_link__partner"
            ).get(pk=rng.choice(conversation_ids))
            return group_messages(services.thread_messages(target), customer="x")

        return run

    scope_all = stream.Scope(oa_ids=tuple(o.pk for o in oas), conversation_id=1)
    # The reports (issue 19) over the last days of the loaded month, as the page asks.
    last_day = date.fromisoformat(NOW[:10]) - timedelta(days=1)
    all_oas = tuple(o.pk for o in oas)

    def period(days: int, oa_ids: tuple[int, ...] = all_oas, agent_id: int | None = None):  # type: ignore[no-untyped-def]
        start = last_day - timedelta(days=days - 1)
        return reports.Filters(oa_ids=oa_ids, agent_id=agent_id, start=start, end=last_day)

    week, month, longest = period(7), period(30), period(92)
    one_agent = world["team"][1].pk  # holds conversations of every OA

    def one_oa_one_agent() -> object:
        return reports.build(period(7, (oas[rng.randint(0, 3)].pk,), one_agent))

    L, R = TARGET_MS, REPORT_TARGET_MS
    cases: list[tuple[str, Callable[[], object], float | None]] = [
        (
            "baseline: one message by pk",
            lambda: Message.objects.get(pk=rng.randint(1, world["messages"])),
            None,
        ),
        ("list, all OAs (admin)", listing(user=admin), L),
        (
            "list, one OA (agent)",
            lambda: listing(user=agent, oa_id=oas[rng.randint(0, 1)].pk)(),
            L,
        ),
        ("list, mine (agent)", listing(user=agent, scope="mine"), L),
        (
            "list, unassigned, one OA (admin)",
            lambda: listing(user=admin, oa_id=oas[rng.randint(0, 3)].pk, scope="unassigned")(),
            L,
        ),
        ("thread, random conversation", thread(), L),
        (f"thread, busiest ({busiest_count(busiest):,} msgs)", thread(busiest), L),
        ("live cursor (stream tick)", lambda: stream.cursor_now(scope_all), L),
        ("search: a partner's name", listing(user=admin, query="Khách hàng 4242"), L),
        ("search: a rare phrase in messages", listing(user=admin, query=RARE), L),
        ("search: nothing matches", listing(user=admin, query="zzqxj"), L),
        (
            "search: a phrase, one OA (agent)",
            lambda: listing(user=agent, oa_id=oas[rng.randint(0, 1)].pk, query=RARE)(),
            L,
        ),
        # Said in one message of most conversations: a result set, not an index, decides.
        ("search: a common phrase (no target)", listing(user=admin, query="Tin nhắn 7 "), None),
        ("report: first responses, 7 days", lambda: reports.first_response_stats(week), R),
        ("report: resolutions, 7 days", lambda: reports.resolution_stats(week), R),
        ("report: reply counts (outside window), 7 d", lambda: reports.reply_counts(week), R),
        ("report: page (day/agent/OA), 7 days", lambda: reports.build(week), R),
        ("report: page, one OA + one agent, 7 d", one_oa_one_agent, R),
        ("report: page, 30 days", lambda: reports.build(month), R),
        ("report: CSV, 30 days", lambda: reports.csv_rows(reports.build(month)), R),
        ("report: page, 92 days (the longest)", lambda: reports.build(longest), R),
        # The same pages aggregated from the facts, as before the per-day summary: the
        # baseline of the lines above, in the same run (no target: not what pages run).
        ("report: page from the facts, 7 days", lambda: reports.build_from_facts(week), None),
        ("report: page from the facts, 30 days", lambda: reports.build_from_facts(month), None),
        ("report: page from the facts, 92 days", lambda: reports.build_from_facts(longest), None),
    ]
    if args.explain:
        _explain(reports, week)
    print()
    print(f"{'query':<44}{'p50 ms':>9}{'p95 ms':>9}{'max ms':>9}{'ratio':>8}")
    base = None
    failed = []
    for label, fn, target in cases:
        if args.only and base is not None and not label.startswith(args.only):
            continue
        repeat = args.repeat if target or base is None else max(20, args.repeat // 10)
        if target == REPORT_TARGET_MS:
            repeat = max(20, args.repeat // 5)  # a report is asked for far less often
        runs = _time(fn, repeat)
        p95 = _p95(runs)
        base = base or p95
        mark = ""
        if target:
            mark = "  ok" if p95 < target else "  SLOW"
            if p95 >= target:
                failed.append(label)
        print(
            f"{label:<44}{statistics.median(runs):>9.2f}{p95:>9.2f}{max(runs):>9.2f}"
            f"{p95 / base:>8.1f}{mark}"
        )
    print()
    print(
        f"messages {world['messages']:,}; partners {partners:,}; conversations "
        f"{len(conversation_ids):,}; repeat {args.repeat}"
    )
    print(
        f"targets: p95 < {TARGET_MS:.0f} ms (list, thread, search), < {REPORT_TARGET_MS:.0f} ms"
        " (reports) -> " + ("met" if not failed else f"NOT met: {failed}")
    )
    return 0 if not failed else 1


def _explain(reports, filters) -> None:  # type: ignore[no-untyped-def]
    """PostgreSQL's plan of each report query, run once (EXPLAIN ANALYZE, BUFFERS)."""
    from django.db import connection, transaction

    captured: list[tuple[str, object]] = []

    def keep(run, sql, params, many, context):  # type: ignore[no-untyped-def]
        captured.append((sql, params))
        return run(sql, params, many, context)

    for fn in (reports.first_response_stats, reports.resolution_stats, reports.reply_counts):
        with connection.execute_wrapper(keep):
            fn(filters)
    with transaction.atomic(), connection.cursor() as cursor:
        for sql, params in captured:
            if not sql.lstrip().upper().startswith("SELECT"):
                cursor.execute(sql, params)  # the report's SET LOCAL jit = off, as it ran
                continue
            cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql, params)
            print("\n".join(row[0] for row in cursor.fetchall()), end="\n\n")


def busiest_count(conversation) -> int:  # type: ignore[no-untyped-def]
    from zalohub.events.models import Message

    return Message.objects.filter(
        oa_id=conversation.oa_id, zalo_user_id=conversation.zalo_user_id
    ).count()


if __name__ == "__main__":
    sys.exit(main())
