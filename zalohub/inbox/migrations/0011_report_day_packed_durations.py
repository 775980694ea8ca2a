"""The summary's durations as packed doubles instead of JSON (issue 19): a month's took
most of a report page's time to parse (bench/inbox_queries.py). The columns are made
again, empty, and every day derived again from the facts, as in 0010 (not atomic: each
day commits on its own; a run cut short is completed by ``zalohub report_facts``)."""

from django.db import migrations, models


def forwards(apps, schema_editor):
    from zalohub.inbox.report_summary import rebuild

    rebuild(apps=apps)


class Migration(migrations.Migration):
    atomic = False

    dependencies = [("inbox", "0010_report_day_backfill")]

    operations = [
        migrations.RemoveField(model_name="reportday", name="first_responses"),
        migrations.RemoveField(model_name="reportday", name="resolutions"),
        migrations.AddField(
            model_name="reportday",
            name="first_responses",
            field=models.BinaryField(default=b"", verbose_name="first response times (s)"),
        ),
        migrations.AddField(
            model_name="reportday",
            name="resolutions",
            field=models.BinaryField(default=b"", verbose_name="resolution times (s)"),
        ),
        migrations.RunPython(forwards, migrations.RunPython.noop),
    ]
