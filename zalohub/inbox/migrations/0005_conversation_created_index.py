"""Indexes for the inbox reports (issue 19): the new conversations of a period, per OA;
a conversation's status entries in order (when was it last opened before a resolution).

Not atomic: on PostgreSQL the indexes are built CONCURRENTLY, without blocking the inbox's
writes; elsewhere they are ordinary CREATE INDEXes."""

from django.db import migrations, models

INDEXES = [
    ("conversation", models.Index(fields=["oa", "created_at"], name="inbox_conv_oa_created")),
    (
        "timelineentry",
        models.Index(
            fields=["conversation", "kind", "status", "created_at", "id"],
            name="inbox_timeline_conv_status",
        ),
    ),
]


# The same indexes on PostgreSQL, built CONCURRENTLY.
POSTGRESQL = [
    'CREATE INDEX CONCURRENTLY IF NOT EXISTS "inbox_conv_oa_created" ON "inbox_conversation" '
    '("oa_id", "created_at")',
    'CREATE INDEX CONCURRENTLY IF NOT EXISTS "inbox_timeline_conv_status" '
    'ON "inbox_timelineentry" ("conversation_id", "kind", "status", "created_at", "id")',
]


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        for sql in POSTGRESQL:
            schema_editor.execute(sql)
        return
    for model_name, index in INDEXES:
        schema_editor.add_index(apps.get_model("inbox", model_name), index)


def backwards(apps, schema_editor):
    for model_name, index in INDEXES:
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.execute(f'DROP INDEX CONCURRENTLY IF EXISTS "{index.name}"')
        else:
            schema_editor.remove_index(apps.get_model("inbox", model_name), index)


class Migration(migrations.Migration):
    atomic = False

    dependencies = [("inbox", "0004_message_text_search")]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AddIndex(model_name=name, index=index) for name, index in INDEXES
            ],
            database_operations=[migrations.RunPython(forwards, backwards)],
        )
    ]
