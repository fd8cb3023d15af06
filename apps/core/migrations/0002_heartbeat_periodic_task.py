from django.db import migrations

TASK_NAME = "Heartbeat (every minute)"


def create_heartbeat_task(apps, schema_editor):
    IntervalSchedule = apps.get_model("django_celery_beat", "IntervalSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    every_minute, _ = IntervalSchedule.objects.get_or_create(every=1, period="minutes")
    PeriodicTask.objects.get_or_create(
        name=TASK_NAME,
        defaults={
            "task": "core.heartbeat",
            "interval": every_minute,
            "description": "Shows beat and a worker are alive.",
        },
    )


def delete_heartbeat_task(apps, schema_editor):
    apps.get_model("django_celery_beat", "PeriodicTask").objects.filter(name=TASK_NAME).delete()


class Migration(migrations.Migration):
    """Beat's periodic tasks live in the database (editable in the admin), created here, never per row."""

    dependencies = [("core", "0001_initial"), ("django_celery_beat", "0019_alter_periodictasks_options")]
    operations = [migrations.RunPython(create_heartbeat_task, delete_heartbeat_task)]
