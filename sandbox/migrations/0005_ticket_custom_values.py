from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("sandbox", "0004_hostile_content"),
    ]

    operations = [
        migrations.AddField(
            model_name="ticket",
            name="custom_values",
            field=models.JSONField(default=dict),
        ),
    ]
