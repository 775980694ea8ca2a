"""Fills in the reports' per-day summary (issue 19, ``inbox.report_summary``) from the
report facts: every OA's days derived by the function ``zalohub report_facts`` runs
(``report_summary.rebuild``), a month of one OA at a time.

Not atomic: each day written commits on its own, so a large database is not locked for
the whole backfill; a run cut short is completed by ``zalohub report_facts``. Backwards
leaves the rows to 0009's removal of the table."""

from django.db import migrations


def forwards(apps, schema_editor):
    from zalohub.inbox.report_summary import rebuild

    rebuild(apps=apps)


class Migration(migrations.Migration):
    atomic = False

    dependencies = [("inbox", "0009_report_day")]

    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
