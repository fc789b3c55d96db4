"""Sessions that end for good at sign-out, and the periodic re-check of an agent's role."""

from __future__ import annotations

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("inbox", "0002_agentaccount_activities_seen_at"),
    ]

    operations = [
        migrations.AddField(
            model_name="agentaccount",
            name="session_generation",
            field=models.PositiveIntegerField(default=0),
        ),
        migrations.AddField(
            model_name="agentaccount",
            name="last_checked_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
    ]
