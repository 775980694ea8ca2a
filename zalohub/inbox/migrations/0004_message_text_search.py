"""The inbox's text search indexes (zalohub.inbox.search): trigram GIN indexes on
PostgreSQL, an FTS5 table kept in step by triggers on SQLite. Database objects only: the
models do not declare them (SQLite rebuilds a table with the indexes its model declares,
and knows no GIN), so Django's migration state is unchanged.

Not atomic: on PostgreSQL the indexes are built CONCURRENTLY, without blocking the
webhooks' and the inbox's writes on a large table."""

from django.contrib.postgres.operations import TrigramExtension
from django.db import migrations

FTS = "inbox_message_fts"
SQLITE_FORWARDS = [
    f"CREATE VIRTUAL TABLE IF NOT EXISTS {FTS} USING fts5("
    "text, content='events_message', content_rowid='id', tokenize='trigram')",
    f"CREATE TRIGGER IF NOT EXISTS {FTS}_ai AFTER INSERT ON events_message BEGIN "
    f"INSERT INTO {FTS}(rowid, text) VALUES (new.id, new.text); END",
    f"CREATE TRIGGER IF NOT EXISTS {FTS}_ad AFTER DELETE ON events_message BEGIN "
    f"INSERT INTO {FTS}({FTS}, rowid, text) VALUES ('delete', old.id, old.text); END",
    f"CREATE TRIGGER IF NOT EXISTS {FTS}_au AFTER UPDATE OF text ON events_message BEGIN "
    f"INSERT INTO {FTS}({FTS}, rowid, text) VALUES ('delete', old.id, old.text); "
    f"INSERT INTO {FTS}(rowid, text) VALUES (new.id, new.text); END",
    f"INSERT INTO {FTS}({FTS}) VALUES ('rebuild')",
]
SQLITE_BACKWARDS = [
    f"DROP TRIGGER IF EXISTS {FTS}_ai",
    f"DROP TRIGGER IF EXISTS {FTS}_ad",
    f"DROP TRIGGER IF EXISTS {FTS}_au",
    f"DROP TABLE IF EXISTS {FTS}",
]
# (index name, table, column): UPPER(column), the expression Django's icontains compares.
# Plain SQL rather than GinIndex(OpClass(Upper(...))): OpClass renders inside an index
# only with django.contrib.postgres installed, which the hub does not need otherwise.
TRIGRAM = [
    ("inbox_msg_text_trgm", "events_message", "text"),
    ("inbox_partner_name_trgm", "partners_partner", "name"),
    ("inbox_link_name_trgm", "partners_zalopartnerlink", "display_name"),
]


def forwards(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        for name, table, column in TRIGRAM:
            schema_editor.execute(
                f'CREATE INDEX CONCURRENTLY IF NOT EXISTS "{name}" ON "{table}" '
                f'USING gin (UPPER("{column}") gin_trgm_ops)'
            )
    elif vendor == "sqlite":
        for sql in SQLITE_FORWARDS:
            schema_editor.execute(sql)


def backwards(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        for name, _table, _column in TRIGRAM:
            schema_editor.execute(f'DROP INDEX CONCURRENTLY IF EXISTS "{name}"')
    elif vendor == "sqlite":
        for sql in SQLITE_BACKWARDS:
            schema_editor.execute(sql)


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("events", "0007_rejected_reason_codes"),
        ("inbox", "0003_team_status_assignment_notes"),
        ("partners", "0006_failure_reason_codes"),
    ]

    operations = [
        TrigramExtension(),  # PostgreSQL only (it checks the vendor itself)
        migrations.RunPython(forwards, backwards, elidable=False),
    ]
