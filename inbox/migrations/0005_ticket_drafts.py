import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('inbox', '0004_inbox_views'),
    ]

    operations = [
        migrations.AddField(
            model_name='agentpreference',
            name='conversation_order',
            field=models.CharField(choices=[('oldest', 'Oldest first'), ('newest', 'Newest first')], default='oldest', max_length=8),
        ),
        migrations.CreateModel(
            name='TicketDraft',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('ticket_id', models.BigIntegerField()),
                ('body', models.TextField(blank=True)),
                ('public', models.BooleanField(default=True)),
                ('changes', models.JSONField(blank=True, default=dict)),
                ('uploads', models.JSONField(blank=True, default=list)),
                ('updated_at', models.DateTimeField()),
                ('agent', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='drafts', to='inbox.agentaccount')),
            ],
            options={
                'indexes': [models.Index(fields=['updated_at'], name='draft_age')],
                'constraints': [models.UniqueConstraint(fields=('agent', 'ticket_id'), name='one_draft_per_ticket')],
            },
        ),
    ]
