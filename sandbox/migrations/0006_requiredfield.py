from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("sandbox", "0005_ticket_custom_values"),
    ]

    operations = [
        migrations.CreateModel(
            name="RequiredField",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("field_id", models.BigIntegerField(unique=True)),
            ],
        ),
    ]
