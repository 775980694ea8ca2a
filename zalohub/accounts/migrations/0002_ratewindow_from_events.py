# RateWindow moves here from events with the rate limiter; its table (created by
# events 0001, kept as events_ratewindow) is not touched: state only.

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0001_initial"),
        ("events", "0001_initial"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="RateWindow",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True,
                                primary_key=True,
                                serialize=False,
                                verbose_name="ID",
                            ),
                        ),
                        ("app_id", models.CharField(max_length=64)),
                        ("window_start", models.DateTimeField()),
                        ("count", models.PositiveIntegerField(default=0)),
                        ("exhausted", models.BooleanField(default=False)),
                    ],
                    options={
                        "db_table": "events_ratewindow",
                        "constraints": [
                            models.UniqueConstraint(
                                fields=("app_id", "window_start"), name="events_ratewindow_unique"
                            )
                        ],
                    },
                ),
            ],
            database_operations=[],
        ),
    ]
