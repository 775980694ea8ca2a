"""Indexes for the inbox reports (issue 19): a thread's messages of one direction in
order, with the id that breaks ties, so "the first customer message", "the first agent
reply after it" and "the customer's last message before this reply" each read one index
entry instead of sorting the thread; and the agents' replies of a period per OA (partial:
only messages an agent wrote, which webhooks never add).

Not atomic: on PostgreSQL the indexes are built CONCURRENTLY, without blocking the webhooks'
writes to a large messages table; elsewhere they are ordinary CREATE INDEXes."""

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
# The same indexes on PostgreSQL, built CONCURRENTLY.
POSTGRESQL = [
    'CREATE INDEX CONCURRENTLY IF NOT EXISTS "events_msg_thread_dir" ON "events_message" '
    '("oa_id", "zalo_user_id", "direction", "created_at", "id")',
    'CREATE INDEX CONCURRENTLY IF NOT EXISTS "events_msg_agent_replies" ON "events_message" '
    '("oa_id", "created_at") WHERE "sent_by_id" IS NOT NULL',
]


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        for sql in POSTGRESQL:
            schema_editor.execute(sql)
        return
    for index in INDEXES:
        schema_editor.add_index(apps.get_model("events", "Message"), index)


def backwards(apps, schema_editor):
    for index in INDEXES:
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.execute(f'DROP INDEX CONCURRENTLY IF EXISTS "{index.name}"')
        else:
            schema_editor.remove_index(apps.get_model("events", "Message"), index)


class Migration(migrations.Migration):
    atomic = False

    dependencies = [("events", "0008_zaloevent_request_id")]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AddIndex(model_name="message", index=index) for index in INDEXES
            ],
            database_operations=[migrations.RunPython(forwards, backwards)],
        )
    ]
