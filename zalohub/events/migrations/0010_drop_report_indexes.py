"""The inbox reports no longer read the messages table (issue 19): they aggregate facts
the inbox writes with each message and timeline entry (``inbox.report_facts``, inbox/0006
and 0007). The two indexes events/0009 added for them go: every webhook's INSERT paid for
``events_msg_thread_dir``, and the facts' own lookups (one per new conversation, first
reply and agent reply, at write time) read ``events_msg_thread``.

Not atomic: on PostgreSQL the indexes are dropped CONCURRENTLY, without blocking the
webhooks' writes; elsewhere they are ordinary DROP INDEXes. Backwards builds them again
(CONCURRENTLY on PostgreSQL)."""

from django.db import migrations, models
from django.db.models import Q

INDEXES = [
    models.Index(
        fields=["oa", "zalo_user_id", "direction", "created_at", "id"],
        name="events_msg_thread_dir",
    ),
    models.Index(
        fields=["oa", "created_at"],
        name="events_msg_agent_replies",
        condition=Q(sent_by__isnull=False),
    ),
]
POSTGRESQL = [
    'CREATE INDEX CONCURRENTLY IF NOT EXISTS "events_msg_thread_dir" ON "events_message" '
    '("oa_id", "zalo_user_id", "direction", "created_at", "id")',
    'CREATE INDEX CONCURRENTLY IF NOT EXISTS "events_msg_agent_replies" ON "events_message" '
    '("oa_id", "created_at") WHERE "sent_by_id" IS NOT NULL',
]


def forwards(apps, schema_editor):
    for index in INDEXES:
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.execute(f'DROP INDEX CONCURRENTLY IF EXISTS "{index.name}"')
        else:
            schema_editor.remove_index(apps.get_model("events", "Message"), index)


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        for sql in POSTGRESQL:
            schema_editor.execute(sql)
        return
    for index in INDEXES:
        schema_editor.add_index(apps.get_model("events", "Message"), index)


class Migration(migrations.Migration):
    atomic = False

    dependencies = [("events", "0009_message_thread_direction_index")]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.RemoveIndex(model_name="message", name=index.name) for index in INDEXES
            ],
            database_operations=[migrations.RunPython(forwards, backwards)],
        )
    ]
