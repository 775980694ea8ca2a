# The rate limiter moved beside the Zalo client (zalohub.accounts.ratelimit) with its
# model; the table stays where it is (accounts.RateWindow keeps db_table), so this only
# changes Django's state.

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0002_ratewindow_from_events"),
        ("events", "0004_rejected_request_allowances"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[migrations.DeleteModel(name="RateWindow")],
            database_operations=[],
        ),
    ]
