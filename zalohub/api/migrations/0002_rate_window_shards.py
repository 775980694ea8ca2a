from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("api", "0001_api_keys_idempotency"),
    ]

    operations = [
        migrations.RemoveConstraint(model_name="apiratewindow", name="api_rate_unique"),
        migrations.AddField(
            model_name="apiratewindow",
            name="shard",
            field=models.PositiveSmallIntegerField(default=0),
        ),
        migrations.AddConstraint(
            model_name="apiratewindow",
            constraint=models.UniqueConstraint(
                fields=("key", "window_start", "shard"), name="api_rate_shard_unique"
            ),
        ),
    ]
