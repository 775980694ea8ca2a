"""Fills in the report facts (issue 19) of the rows that existed before inbox/0006: each
conversation's first response, each Resolved entry's ``opened_at``, an AgentReply per
message an agent wrote, derived from the messages and the timeline by the same function
``zalohub report_facts`` runs (``inbox.report_facts.rebuild``), in batches of 2,000 rows.

Not atomic: each batch commits on its own, so a large database is not locked for the
whole backfill; a run cut short is completed by running the migration's function again
(``zalohub report_facts``). Backwards leaves the columns to 0006's removal."""

from django.db import migrations


def forwards(apps, schema_editor):
    from zalohub.inbox.report_facts import rebuild

    rebuild(apps=apps)


class Migration(migrations.Migration):
    atomic = False

    dependencies = [("inbox", "0006_report_facts")]

    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
