from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("exports", "0004_superseded_at"),
    ]

    operations = [
        migrations.AddField(
            model_name="exportjob",
            name="size",
            field=models.PositiveBigIntegerField(blank=True, null=True),
        ),
    ]
