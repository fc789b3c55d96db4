"""The new-ticket form's server-side draft and the Idempotency-Key it sends under."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('inbox', '0006_activity_reads'),
    ]

    operations = [
        migrations.CreateModel(
            name='TicketCreateDraft',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('form_id', models.CharField(max_length=32, unique=True)),
                ('attempt', models.PositiveIntegerField(default=1)),
                ('fields', models.JSONField(blank=True, default=dict)),
                ('sent_key', models.CharField(blank=True, max_length=100)),
                ('sent_body', models.JSONField(blank=True, null=True)),
                ('sent_at', models.DateTimeField(blank=True, null=True)),
                ('unconfirmed', models.BooleanField(default=False)),
                ('ticket_id', models.BigIntegerField(blank=True, null=True)),
                ('created_at', models.DateTimeField(auto_now_add=True)),
                ('updated_at', models.DateTimeField(auto_now=True)),
                ('agent', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='ticket_create_drafts', to='inbox.agentaccount')),
            ],
            options={
                'indexes': [models.Index(fields=['agent', '-updated_at'], name='create_draft_newest_first')],
            },
        ),
    ]
