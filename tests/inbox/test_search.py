"""The inbox's text search from an index: FTS5 on SQLite, trigram GIN on PostgreSQL."""

import pytest
from django.core.management.sql import emit_post_migrate_signal
from django.db import connection

from tests.inbox.conftest import conversation_of
from zalohub.events.models import Direction, Message
from zalohub.inbox import search, services
from zalohub.inbox.models import Conversation
from zalohub.partners.models import Partner, ZaloPartnerLink

sqlite_only = pytest.mark.skipif(connection.vendor != "sqlite", reason="the FTS5 index is SQLite's")
postgres_only = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="the trigram indexes are PostgreSQL's"
)


def found(admin, query: str) -> list[str]:
    return [c.zalo_user_id for c in services.conversation_list(user=admin, query=query)]


def test_it_finds_conversations_by_what_was_said(db, connected_oa, customer_writes, admin):
    customer_writes("Shop còn ÁO KHOÁC size L không?")
    customer_writes("Cảm ơn shop", user_id="5830174629118340317")
    son = conversation_of()
    # It should find a phrase inside a message, whatever its case (Vietnamese capitals
    # too), and only the conversation that said it.
    assert found(admin, "áo khoác") == [son.zalo_user_id]
    assert found(admin, "size l") == [son.zalo_user_id]
    assert found(admin, "Cảm ơn") == ["5830174629118340317"]
    assert found(admin, "giao hàng") == []
    # It should take a query with quotes and FTS5 syntax as plain text.
    assert found(admin, '"áo" OR size*') == []
    # It should still answer a query too short for an index (two characters).
    assert found(admin, "ÁO") == [son.zalo_user_id]


def test_it_follows_messages_as_they_change_and_go(db, connected_oa, customer_writes, admin):
    message = customer_writes("Đơn hàng số 4471 chưa tới")
    assert found(admin, "4471") == [message.zalo_user_id]
    # It should find the new text once a message's text changes, and not the old one.
    Message.objects.filter(pk=message.pk).update(text="Đã nhận được hàng")
    assert found(admin, "4471") == []
    assert found(admin, "nhận được") == [message.zalo_user_id]
    # It should forget a deleted message.
    Conversation.objects.filter(last_message=message).update(last_message=None)
    Message.objects.filter(pk=message.pk).delete()
    assert found(admin, "nhận được") == []


def test_it_keeps_each_oa_to_its_own_messages(db, connected_oa, other_oa, customer_writes, admin):
    customer_writes("Hỏi về bảo hành")
    user = conversation_of().zalo_user_id
    # The same user id in another OA, who said something else.
    Message.objects.create(
        oa=other_oa, direction=Direction.INBOUND, zalo_user_id=user, text="Chào Sales"
    )
    Conversation.objects.get_or_create(oa=other_oa, zalo_user_id=user)
    # It should match the (OA, user) pair that said it, not the user in every OA.
    assert [c.oa for c in services.conversation_list(user=admin, query="bảo hành")] == [
        connected_oa
    ]


@sqlite_only
def test_sqlite_answers_from_fts5_and_puts_dropped_triggers_back(
    db, connected_oa, customer_writes, admin
):
    customer_writes("Mã giảm giá TET2027")
    # It should answer from the FTS5 table: the query goes through MATCH.
    assert "inbox_message_fts MATCH" in str(search.messages_containing("TET2027").query)
    # Django rebuilding events_message drops its triggers: migrate puts them back and
    # rebuilds the index from the table, so what was said meanwhile is found too.
    with connection.cursor() as cursor:
        for suffix in ("ai", "ad", "au"):
            cursor.execute(f"DROP TRIGGER inbox_message_fts_{suffix}")
    customer_writes("Said while the triggers were gone: HOAN TIEN", user_id="111")
    assert found(admin, "HOAN TIEN") == []
    assert search.ensure_message_fts(connection) is True
    assert found(admin, "hoan tien") == ["111"]
    assert search.ensure_message_fts(connection) is False  # nothing missing now
    # It should do so after every migrate (the post_migrate signal).
    with connection.cursor() as cursor:
        cursor.execute("DROP TRIGGER inbox_message_fts_ai")
    emit_post_migrate_signal(verbosity=0, interactive=False, db=connection.alias)
    customer_writes("Mã giảm giá TET2028", user_id="222")
    assert found(admin, "TET2028") == ["222"]
    assert found(admin, "TET2027") == [conversation_of().zalo_user_id]


@postgres_only
@pytest.mark.parametrize(
    ("table", "column", "index"),
    [(t, c, i) for i, t, c in search.TRIGRAM_INDEXES],
)
def test_postgres_answers_from_the_trigram_indexes(db, table, column, index):
    # It should have the index, and the planner should use it for Django's icontains
    # (UPPER(col::text) LIKE UPPER(...)) when a scan is not cheaper.
    with connection.cursor() as cursor:
        cursor.execute("SELECT indexdef FROM pg_indexes WHERE indexname = %s", [index])
        [(definition,)] = cursor.fetchall()
        assert "gin" in definition and "gin_trgm_ops" in definition
        # Left with bitmap scans only (those need an index that answers the condition).
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("SET LOCAL enable_indexscan = off")
        models = {
            "events_message": Message,
            "partners_partner": Partner,
            "partners_zalopartnerlink": ZaloPartnerLink,
        }
        plan = models[table].objects.filter(**{f"{column}__icontains": "giao hàng"}).explain()
    assert index in plan, plan
