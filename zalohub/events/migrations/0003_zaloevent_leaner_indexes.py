# Fewer indexes on events_zaloevent: every webhook's INSERT updates each of them.
#
# Dropped, and why no query needs them:
# - app_id (the FK's automatic index): events_unique_dedupe (app_id, dedupe_key) starts
#   with app_id and serves every lookup by app (the webhook self-test's probe lookup,
#   PROTECT's check when an app is deleted).
# - oa_id (the FK's automatic index): events_oa_time (oa_id, received_at DESC) starts with
#   oa_id and serves every lookup by OA (diagnostics' webhook, sends, token and trend
#   checks, the bundle, the admin's OA filter, SET_NULL when an OA is deleted).
# - event_name and zalo_user_id "_like" indexes (varchar_pattern_ops, PostgreSQL only):
#   made by db_index=True for LIKE 'prefix%'. No query filters these columns by prefix;
#   the admin's search is icontains ('%term%'), which no btree serves.
#   The plain btrees stay (renamed events_event_name and events_user, now declared in
#   Meta.indexes): the admin's event and customer filters, the probe lookup.
# - message_id (the FK's automatic index) becomes events_of_message, partial on
#   message_id IS NOT NULL: every lookup is by a given message (the event form's related
#   events, ZBS sends, SET_NULL when a message is deleted), which implies NOT NULL, and
#   a new webhook's row has no message yet, so its INSERT no longer touches it.
# Kept: the primary key, events_unique_dedupe (redelivery), events_ready and
# events_conversation (the queue's claim), events_leased (the sweeper; not touched by
# an INSERT), events_oa_time, received_at (the admin list's order, date hierarchy and
# customer filter's recent rows).
#
# The database side is written by hand so that no index is rebuilt and no FK constraint
# re-validated (Django's AlterField would re-add the FK constraints on PostgreSQL and
# remake the table on SQLite): PostgreSQL drops and renames, and builds the partial
# index CONCURRENTLY (so webhooks keep being inserted meanwhile); SQLite drops and
# creates. Hence a non-atomic migration; each statement can run again after a failure.

import django.db.models.deletion
from django.db import migrations, models

TABLE = "events_zaloevent"
OLD = {
    "app": "events_zaloevent_app_id_b241deac",
    "oa": "events_zaloevent_oa_id_967f762f",
    "event_name": "events_zaloevent_event_name_5de850f8",
    "zalo_user_id": "events_zaloevent_zalo_user_id_591b848e",
    "message": "events_zaloevent_message_id_6e64e3a9",
}
MESSAGE_INDEX = f'"events_of_message" ON "{TABLE}" ("message_id") WHERE "message_id" IS NOT NULL'


def forwards(apps, schema_editor):
    run = schema_editor.execute
    postgres = schema_editor.connection.vendor == "postgresql"
    if postgres:
        run(f"CREATE INDEX CONCURRENTLY IF NOT EXISTS {MESSAGE_INDEX}")
    else:
        run(f"CREATE INDEX IF NOT EXISTS {MESSAGE_INDEX}")
    for field in ("app", "oa", "message"):
        run(f'DROP INDEX IF EXISTS "{OLD[field]}"')
    for field, new in (("event_name", "events_event_name"), ("zalo_user_id", "events_user")):
        if postgres:
            run(f'DROP INDEX IF EXISTS "{OLD[field]}_like"')
            run(f'ALTER INDEX IF EXISTS "{OLD[field]}" RENAME TO "{new}"')
        else:
            run(f'DROP INDEX IF EXISTS "{OLD[field]}"')
            run(f'CREATE INDEX IF NOT EXISTS "{new}" ON "{TABLE}" ("{field}")')


def backwards(apps, schema_editor):
    run = schema_editor.execute
    postgres = schema_editor.connection.vendor == "postgresql"
    for field, new in (("event_name", "events_event_name"), ("zalo_user_id", "events_user")):
        if postgres:
            run(f'ALTER INDEX IF EXISTS "{new}" RENAME TO "{OLD[field]}"')
            run(
                f'CREATE INDEX IF NOT EXISTS "{OLD[field]}_like" ON "{TABLE}" '
                f'("{field}" varchar_pattern_ops)'
            )
        else:
            run(f'DROP INDEX IF EXISTS "{new}"')
            run(f'CREATE INDEX IF NOT EXISTS "{OLD[field]}" ON "{TABLE}" ("{field}")')
    for field in ("app", "oa", "message"):
        run(f'CREATE INDEX IF NOT EXISTS "{OLD[field]}" ON "{TABLE}" ("{field}_id")')
    run('DROP INDEX IF EXISTS "events_of_message"')


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("accounts", "0001_initial"),
        ("events", "0002_message_partner_link"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[migrations.RunPython(forwards, backwards, atomic=False)],
            state_operations=[
                migrations.AlterField(
                    model_name="zaloevent",
                    name="app",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="events",
                        to="accounts.zaloapp",
                        verbose_name="app",
                    ),
                ),
                migrations.AlterField(
                    model_name="zaloevent",
                    name="event_name",
                    field=models.CharField(max_length=64, verbose_name="event"),
                ),
                migrations.AlterField(
                    model_name="zaloevent",
                    name="message",
                    field=models.ForeignKey(
                        blank=True,
                        db_index=False,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="events",
                        to="events.message",
                        verbose_name="message",
                    ),
                ),
                migrations.AlterField(
                    model_name="zaloevent",
                    name="oa",
                    field=models.ForeignKey(
                        blank=True,
                        db_index=False,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="events",
                        to="accounts.officialaccount",
                        verbose_name="official account",
                    ),
                ),
                migrations.AlterField(
                    model_name="zaloevent",
                    name="zalo_user_id",
                    field=models.CharField(blank=True, max_length=64, verbose_name="Zalo user ID"),
                ),
                migrations.AddIndex(
                    model_name="zaloevent",
                    index=models.Index(fields=["event_name"], name="events_event_name"),
                ),
                migrations.AddIndex(
                    model_name="zaloevent",
                    index=models.Index(fields=["zalo_user_id"], name="events_user"),
                ),
                migrations.AddIndex(
                    model_name="zaloevent",
                    index=models.Index(
                        condition=models.Q(("message__isnull", False)),
                        fields=["message"],
                        name="events_of_message",
                    ),
                ),
            ],
        ),
    ]
